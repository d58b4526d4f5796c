"""The client: endpoints, paging, batches, scopes, the default client, and (against the
sandbox) the whole stack under rotation, missing scopes, 429s, 5xx, drops and HTML bodies."""

from __future__ import annotations

import http.client
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
from urllib3.exceptions import ProtocolError

from hsframe.client import (
    MAX_URL_BYTES,
    READ_SCOPE,
    WRITE_SCOPE,
    BatchResult,
    Client,
    Page,
    TokenInfo,
    connect,
    default_client,
    set_default_client,
)
from hsframe.config import Settings
from hsframe.errors import (
    AuthenticationError,
    ConfigurationError,
    HubSpotError,
    MissingScopesError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from hsframe.sandbox import Sandbox
from hsframe.transport import Transport

Build = Callable[..., Any]
CONTACTS = "/crm/v3/objects/contacts"


def _query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def _client(scripted: Build, steps: list[Any] | None = None, **options: Any) -> Any:
    s = scripted(steps, **options)
    return Client(s.transport), s


# --- scripted: what is sent, and what comes back ------------------------------------------


def test_token_info(scripted: Build, reply: Any, token: str) -> None:
    body = {"hubId": 42, "appId": 7, "userId": 3, "scopes": [READ_SCOPE]}
    client, s = _client(scripted, [reply(200, body)])
    assert client.token_info() == TokenInfo(42, 7, 3, (READ_SCOPE,))
    assert s.adapter.json_sent() == {"tokenKey": token}
    assert s.adapter.sent[0].path_url == "/oauth/v2/private-apps/get/access-token-info"


def test_token_info_without_a_hub_id_is_a_transport_error(scripted: Build, reply: Any) -> None:
    client, _ = _client(scripted, [reply(200, {"scopes": []})])
    with pytest.raises(TransportError, match="hubId"):
        client.token_info()


@pytest.mark.parametrize(
    ("asked", "missing"),
    [
        (("read",), ()),
        (("write",), (WRITE_SCOPE,)),
        (
            ("read", "write", "crm.schemas.contacts.read"),
            (WRITE_SCOPE, "crm.schemas.contacts.read"),
        ),
        ((READ_SCOPE, "read"), ()),
    ],
)
def test_require_scopes(
    scripted: Build, reply: Any, asked: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    body = {"hubId": 42, "scopes": [READ_SCOPE]}
    client, _ = _client(scripted, [reply(200, body)])
    if not missing:
        assert client.require_scopes(*asked).portal_id == 42
        return
    with pytest.raises(MissingScopesError) as caught:
        client.require_scopes(*asked)
    assert caught.value.missing == missing
    text = str(caught.value)
    assert all(scope in text for scope in missing)
    assert "Private Apps" in text and "Scopes" in text


def test_property_definitions_are_fetched_once(scripted: Build, reply: Any) -> None:
    definitions = [
        {
            "name": "email",
            "label": "Email",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "description": "",
            "options": [],
            "hasUniqueValue": True,
            "modificationMetadata": {"readOnlyValue": False},
        },
        {
            "name": "lifecyclestage",
            "label": "Lifecycle Stage",
            "type": "enumeration",
            "fieldType": "radio",
            "groupName": "contactinformation",
            "description": "",
            "options": [
                {"label": "Lead", "value": "lead"},
                {"label": "Customer", "value": "customer"},
            ],
        },
    ]
    client, s = _client(scripted, [reply(200, {"results": definitions})])
    first = client.property_definitions()
    first[0]["name"] = "changed by the caller"
    assert client.property_definitions()[0]["name"] == "email"
    table = client.properties()
    assert len(s.adapter.sent) == 1
    assert s.adapter.sent[0].path_url == "/crm/v3/properties/contacts"
    assert table.index.name == "name"
    assert table.loc["lifecyclestage", "options"] == ["lead", "customer"]
    assert bool(table.loc["email", "unique"]) and not bool(table.loc["email", "read_only"])
    client.property_definitions(refresh=True)
    assert len(s.adapter.sent) == 2


def test_list_page_sends_repeated_properties_and_reads_the_cursor(
    scripted: Build, reply: Any
) -> None:
    body = {"results": [{"id": "1"}], "paging": {"next": {"after": "NTI1Cg%3D%3D", "link": "?"}}}
    client, s = _client(scripted, [reply(200, body)])
    page = client.list_page(["email", "firstname"], after="abc", limit=50, archived=True)
    assert page == Page([{"id": "1"}], "NTI1Cg%3D%3D", None)
    assert _query(s.adapter.sent[0]) == {
        "limit": ["50"],
        "archived": ["true"],
        "after": ["abc"],
        "properties": ["email", "firstname"],
    }


def test_a_lone_property_name_is_one_name(scripted: Build) -> None:
    client, s = _client(scripted)
    client.list_page("email")
    assert _query(s.adapter.sent[0])["properties"] == ["email"]


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limits(scripted: Build, limit: int) -> None:
    client, s = _client(scripted)
    with pytest.raises(ValueError):
        client.list_page(None, limit=limit)
    assert s.adapter.sent == []


def test_a_list_url_too_long_is_refused_before_sending(scripted: Build) -> None:
    client, s = _client(scripted)
    names = [f"custom_property_number_{i:04d}" for i in range(400)]
    assert not client.list_url_fits(names)
    with pytest.raises(ValueError, match="batch_read"):
        client.list_page(names)
    assert s.adapter.sent == []
    assert client.list_url_fits(names[:100])
    client.list_page(names[:100])
    assert len(s.adapter.sent[0].url) <= MAX_URL_BYTES


def test_iter_list_follows_cursors_until_the_last_page(scripted: Build, reply: Any) -> None:
    client, s = _client(
        scripted,
        [
            reply(200, {"results": [{"id": "1"}], "paging": {"next": {"after": "c1"}}}),
            reply(200, {"results": [{"id": "2"}], "paging": {"next": {"after": "c2"}}}),
            reply(200, {"results": [{"id": "3"}]}),
        ],
    )
    pages = list(client.iter_list(["email"], limit=1))
    assert [p.results[0]["id"] for p in pages] == ["1", "2", "3"]
    assert [_query(r).get("after") for r in s.adapter.sent] == [None, ["c1"], ["c2"]]


def test_iter_list_is_lazy(scripted: Build) -> None:
    client, s = _client(scripted)
    pages = client.iter_list(["email"])
    assert s.adapter.sent == []
    next(pages)
    assert len(s.adapter.sent) == 1


def test_a_repeated_cursor_stops_the_walk(scripted: Build, reply: Any) -> None:
    looping = reply(200, {"results": [], "paging": {"next": {"after": "same"}}})
    client, _ = _client(scripted, default=looping)
    with pytest.raises(HubSpotError, match="paging cursor"):
        list(client.iter_list(None))


def test_iter_search_pages_on_the_search_bucket(scripted: Build, reply: Any) -> None:
    client, s = _client(
        scripted,
        [
            reply(
                200,
                {
                    "total": 3,
                    "results": [{"id": "1"}, {"id": "2"}],
                    "paging": {"next": {"after": 2}},
                },
            ),
            reply(200, {"total": 3, "results": [{"id": "3"}]}),
        ],
    )
    body = {"filterGroups": [], "limit": 2, "properties": ["email"]}
    pages = list(client.iter_search(body))
    assert [p.total for p in pages] == [3, 3]
    assert pages[0].after == "2"  # passed back as a string, never parsed
    assert [s.adapter.json_sent(i).get("after") for i in range(2)] == [None, "2"]
    assert body == {"filterGroups": [], "limit": 2, "properties": ["email"]}  # not mutated


def test_iter_search_starts_from_the_bodys_after(scripted: Build, reply: Any) -> None:
    client, s = _client(scripted, [reply(200, {"total": 0, "results": []})])
    list(client.iter_search({"after": "200"}))
    assert s.adapter.json_sent(0) == {"after": "200"}


def test_get_by_email_quotes_the_id(scripted: Build, reply: Any) -> None:
    client, s = _client(scripted, [reply(200, {"id": "9"})])
    assert client.get("a+b@x.com", ["email"], id_property="email") == {"id": "9"}
    assert s.adapter.sent[0].path_url.startswith(f"{CONTACTS}/a%2Bb%40x.com?")
    assert _query(s.adapter.sent[0]) == {"properties": ["email"], "idProperty": ["email"]}


def test_get_with_many_properties_uses_a_batch_read(scripted: Build, reply: Any) -> None:
    names = [f"custom_property_number_{i:04d}" for i in range(400)]
    client, s = _client(
        scripted,
        [reply(200, {"status": "COMPLETE", "results": [{"id": "9"}]}), reply(207, {"results": []})],
    )
    assert client.get(9, names) == {"id": "9"}
    assert s.adapter.sent[0].path_url == f"{CONTACTS}/batch/read?archived=false"
    assert s.adapter.json_sent(0)["properties"] == names
    with pytest.raises(NotFoundError):
        client.get(10, names)


def test_batch_read_body(scripted: Build, reply: Any) -> None:
    body = {
        "status": "COMPLETE",
        "results": [{"id": "1"}],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ["2"]}}],
    }
    client, s = _client(scripted, [reply(207, body)])
    result = client.batch_read([1, "2"], ["email"], id_property="email", archived=True)
    assert result == BatchResult(207, body["results"], body["errors"])
    assert not result.ok
    assert s.adapter.json_sent() == {
        "inputs": [{"id": "1"}, {"id": "2"}],
        "properties": ["email"],
        "propertiesWithHistory": [],
        "idProperty": "email",
    }
    assert _query(s.adapter.sent[0]) == {"archived": ["true"]}


@pytest.mark.parametrize(
    "call",
    [
        lambda c, n: c.batch_read(range(n), ["email"]),
        lambda c, n: c.batch_create([{"properties": {}}] * n),
        lambda c, n: c.batch_update([{"id": "1", "properties": {}}] * n),
        lambda c, n: c.batch_upsert([{"id": "a@b.c", "idProperty": "email", "properties": {}}] * n),
        lambda c, n: c.batch_archive(range(n)),
    ],
    ids=["read", "create", "update", "upsert", "archive"],
)
@pytest.mark.parametrize("size", [0, 101])
def test_batches_hold_1_to_100_inputs(scripted: Build, call: Any, size: int) -> None:
    client, s = _client(scripted)
    with pytest.raises(ValueError, match="1 to 100"):
        call(client, size)
    assert s.adapter.sent == []
    call(client, 100)
    assert len(s.adapter.sent) == 1


@pytest.mark.parametrize(
    ("call", "repeated"),
    [
        (lambda c: c.batch_create([{"properties": {}}]), False),
        (lambda c: c.batch_create([{"properties": {}}], retry_unsafe=True), True),
        (lambda c: c.batch_update([{"id": "1", "properties": {}}]), True),
        (
            lambda c: c.batch_upsert([{"id": "a@b.c", "idProperty": "email", "properties": {}}]),
            True,
        ),
        (lambda c: c.batch_archive([1]), True),
        (lambda c: c.batch_read([1], []), True),
        (lambda c: c.search_page({}), True),
        (lambda c: c.token_info(), True),
    ],
)
def test_which_calls_are_repeated_after_a_502(
    scripted: Build, reply: Any, call: Any, repeated: bool
) -> None:
    client, s = _client(scripted, [reply(502), reply(200, {"hubId": 1, "results": []})])
    if repeated:
        call(client)
        assert len(s.adapter.sent) == 2
    else:
        with pytest.raises(ServerError):
            call(client)
        assert len(s.adapter.sent) == 1


def test_batch_archive_answers_204(scripted: Build, reply: Any) -> None:
    client, s = _client(scripted, [reply(204)])
    assert client.batch_archive([1, 2]) == BatchResult(204, [], [])
    assert s.adapter.json_sent() == {"inputs": [{"id": "1"}, {"id": "2"}]}


def test_the_client_repr_masks_the_token(scripted: Build, token: str) -> None:
    client, _ = _client(scripted)
    assert token not in repr(client)
    assert "pat-na1-…beef" in repr(client)


def test_a_transport_and_a_session_do_not_mix(scripted: Build) -> None:
    s = scripted()
    with pytest.raises(ValueError):
        Client(s.transport, session=s.session)


def test_default_client_needs_a_connection() -> None:
    with pytest.raises(ConfigurationError) as caught:
        default_client()
    assert "hs.connect()" in str(caught.value)


def test_connect_sets_the_default_client(token: str) -> None:
    client = connect(token=token, read_timeout=5, tier="free")
    assert default_client() is client
    assert (client.settings.read_timeout, client.settings.tier) == (5, "free")
    set_default_client(None)
    with pytest.raises(ConfigurationError):
        default_client()


def test_connect_reads_the_environment(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:1")
    client = connect()
    assert client.settings.base_url == "http://127.0.0.1:1"
    assert client.settings.token.reveal() == token


def test_connect_without_a_token_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="No HubSpot access token") as caught:
        connect()
    assert "Private Apps" in str(caught.value)


# --- against the sandbox ------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=300, window=0.5) as sb:
        yield sb


def _http_client(
    sb: Sandbox, token: str | None = None, *, waits: list[float] | None = None, **options: Any
) -> Client:
    """A client over HTTP; ``waits`` records every pause it takes (retries and pacing)."""
    settings = Settings(token=token or sb.token, base_url=sb.url, **options)

    def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)
        time.sleep(seconds)

    return Client(Transport(settings, jitter=lambda: 0.0, sleep=sleep))


def _statuses(sb: Sandbox) -> list[int | None]:
    return [record.status for record in sb.requests]


def test_sandbox_token_info_and_scopes(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client:
        info = client.require_scopes("read", "write")
    assert info.portal_id == sandbox.portal_id
    assert set(info.scopes) >= {READ_SCOPE, WRITE_SCOPE}


def test_sandbox_in_process_session(token: str) -> None:
    sb = Sandbox(contacts=30)
    client = connect(token=sb.token, base_url=sb.adapter_url, session=sb.session())
    pages = list(client.iter_list(["email"], limit=10))
    assert sum(len(p.results) for p in pages) == 30


def test_sandbox_rotation_gives_an_authentication_error_with_the_fix(sandbox: Sandbox) -> None:
    old = sandbox.token
    with _http_client(sandbox, old) as client:
        client.list_page(["email"], limit=1)
        sandbox.rotate_token()
        with pytest.raises(AuthenticationError) as caught:
            client.list_page(["email"], limit=1)
    text = str(caught.value)
    assert "rotated" in text
    assert "Private Apps" in text and "Auth" in text
    assert old not in text and old not in repr(caught.value)
    assert _statuses(sandbox)[-1] == 401  # not retried


def test_sandbox_missing_scope_is_named_before_and_by_hubspot(sandbox: Sandbox) -> None:
    read_only = sandbox.issue_token([READ_SCOPE])
    with _http_client(sandbox, read_only) as client:
        with pytest.raises(MissingScopesError) as before:
            client.require_scopes("write")
        assert before.value.missing == (WRITE_SCOPE,)
        with pytest.raises(MissingScopesError) as after:
            client.batch_update([{"id": "1", "properties": {"firstname": "x"}}])
    assert after.value.status == 403
    assert WRITE_SCOPE in str(after.value)


def test_sandbox_429_storm_is_retried(sandbox: Sandbox) -> None:
    waits: list[float] = []
    with _http_client(sandbox, waits=waits) as client:
        client.list_page(["email"], limit=1)  # learn the sandbox's short window
        sandbox.inject(429, path=CONTACTS, count=3)
        page = client.list_page(["email"], limit=5)
    assert len(page.results) == 5
    assert _statuses(sandbox)[-4:] == [429, 429, 429, 200]
    assert client.transport.stats.rate_limited == 3
    assert len(waits) >= 3
    assert max(waits) <= 0.5  # each wait is capped at the 0.5 s window, not Retry-After: 1


def test_sandbox_search_429_is_retried(sandbox: Sandbox) -> None:
    waits: list[float] = []
    with _http_client(sandbox, waits=waits) as client:
        client.list_page(["email"], limit=1)  # the search window scales with the burst one
        sandbox.inject(429, path="/search", policy="SECONDLY", count=2)
        page = client.search_page({"limit": 10})
    assert page.total == 300
    assert _statuses(sandbox) == [200, 429, 429, 200]
    assert len(waits) >= 2
    assert max(waits) <= 0.05  # each wait is the 0.05 s search window, not Retry-After: 1


def test_sandbox_daily_limit_stops_at_once(sandbox: Sandbox) -> None:
    sandbox.inject(429, policy="DAILY")
    with _http_client(sandbox) as client, pytest.raises(RateLimitError) as caught:
        client.list_page(["email"])
    assert caught.value.policy == "DAILY"
    assert "midnight" in str(caught.value)
    assert _statuses(sandbox) == [429]


def test_sandbox_budget_keeps_a_fast_concurrent_load_429_free() -> None:
    with Sandbox(contacts=200, tier="free", window=0.5) as sb:
        client = _http_client(sb, max_concurrency=8)

        def work(index: int) -> int:
            if index % 4 == 0:
                return len(client.search_page({"limit": 5}).results)
            return len(client.list_page(["email"], limit=5).results)

        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(work, range(320)))
        client.close()
        statuses = _statuses(sb)
    assert counts == [5] * 320
    assert len(statuses) == 320
    assert 429 not in statuses
    assert client.transport.stats.rate_limited == 0


def test_sandbox_5xx_and_html_bodies_are_retried(sandbox: Sandbox) -> None:
    sandbox.inject(500, path=CONTACTS)
    sandbox.inject(502, path=CONTACTS, html=True)
    sandbox.inject(503, path=CONTACTS)
    with _http_client(sandbox) as client:
        assert len(client.list_page(["email"], limit=2).results) == 2
    assert _statuses(sandbox) == [500, 502, 503, 200]


def test_sandbox_retries_stay_within_bounds(sandbox: Sandbox) -> None:
    sandbox.inject(504, path=CONTACTS, count=10)
    with _http_client(sandbox, max_retries=2) as client, pytest.raises(ServerError):
        client.list_page(["email"])
    assert _statuses(sandbox) == [504, 504, 504]


def test_sandbox_html_404_is_a_not_found(sandbox: Sandbox) -> None:
    sandbox.inject(404, path=f"{CONTACTS}/123", html=True)
    with _http_client(sandbox) as client, pytest.raises(NotFoundError, match="non-JSON"):
        client.get(123)


def test_sandbox_missing_contact_is_a_not_found(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client, pytest.raises(NotFoundError) as caught:
        client.get(987654321)
    assert caught.value.category == "OBJECT_NOT_FOUND"


def test_sandbox_dropped_reads_are_retried(sandbox: Sandbox) -> None:
    sandbox.inject(drop=True, path=CONTACTS, count=2)
    with _http_client(sandbox) as client:
        assert client.batch_read(["1001"], ["email"]).results[0]["id"] == "1001"
    assert [r.dropped for r in sandbox.requests] == [True, True, False]


def test_sandbox_dropped_create_is_not_repeated(sandbox: Sandbox) -> None:
    sandbox.inject(drop=True, path="/batch/create", after=True)
    inputs = [{"properties": {"email": "new.person@example.com"}, "objectWriteTraceId": "t1"}]
    with _http_client(sandbox) as client, pytest.raises(TransportError, match="may have"):
        client.batch_create(inputs)
    contacts = sandbox.contacts()
    assert (contacts["email"] == "new.person@example.com").sum() == 1  # created once
    assert len(sandbox.requests) == 1


def test_sandbox_dropped_update_is_repeated(sandbox: Sandbox) -> None:
    sandbox.inject(drop=True, path="/batch/update", after=True)
    with _http_client(sandbox) as client:
        result = client.batch_update([{"id": "1001", "properties": {"firstname": "Zed"}}])
    assert result.status == 200
    assert sandbox.contacts().loc[1001, "firstname"] == "Zed"
    assert [r.dropped for r in sandbox.requests] == [True, False]


def test_sandbox_read_timeout_is_retried(sandbox: Sandbox) -> None:
    sandbox.inject(delay=1.0, path=CONTACTS)
    with _http_client(sandbox, read_timeout=0.2) as client:
        assert client.list_page(["email"], limit=1).results
    assert client.transport.stats.connection_errors == 1


def test_sandbox_207_batches_carry_their_errors(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client:
        read = client.batch_read(["1001", "999999999"], ["email"])
        update = client.batch_update(
            [
                {"id": "1001", "properties": {"firstname": "A"}, "objectWriteTraceId": "a"},
                {"id": "999999999", "properties": {"firstname": "B"}, "objectWriteTraceId": "b"},
            ]
        )
        sandbox.inject(partial=1, path="/batch/create")
        create = client.batch_create(
            [
                {"properties": {"email": f"p{i}@example.com"}, "objectWriteTraceId": f"t{i}"}
                for i in range(3)
            ]
        )
    assert (read.status, len(read.results), len(read.errors)) == (207, 1, 1)
    assert (update.status, len(update.results), len(update.errors)) == (207, 1, 1)
    assert update.errors[0]["category"] == "OBJECT_NOT_FOUND"
    assert (create.status, len(create.results), len(create.errors)) == (207, 2, 1)


def test_sandbox_properties_and_account(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client:
        table = client.properties()
        account = client.account()
    assert isinstance(table, pd.DataFrame)
    assert table.loc["email", "unique"]
    assert table.loc["hs_object_id", "read_only"]
    assert len(table) >= 60
    assert account["portalId"] == sandbox.portal_id


def test_sandbox_walks_and_searches_everything(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client:
        listed = [c["id"] for p in client.iter_list(["email"]) for c in p.results]
        searched = [
            c["id"]
            for p in client.iter_search({"limit": 200, "properties": ["email"]})
            for c in p.results
        ]
    assert len(listed) == len(set(listed)) == 300
    assert sorted(searched) == sorted(listed)


def test_sandbox_get_with_all_properties(sandbox: Sandbox) -> None:
    with _http_client(sandbox) as client:
        names = [p["name"] for p in client.property_definitions()] * 20
        contact = client.get(1001, names)
    assert contact["id"] == "1001"
    assert sandbox.requests[-1].path == f"{CONTACTS}/batch/read"


def test_sandbox_the_token_never_leaks(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    token = sandbox.token
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    with _http_client(sandbox) as client:
        seen += [repr(client), str(client), repr(client.settings), repr(client.transport)]
        seen += [repr(client.transport.budget), repr(client.token_info())]
        for fault in (
            {"status": 500},
            {"status": 502, "html": True},
            {"drop": True},
            {"status": 429},
        ):
            sandbox.inject(path=CONTACTS, **fault)  # type: ignore[arg-type]
        client.list_page(["email"])
        sandbox.inject(500, path="/batch/create", count=1)
        failures: list[BaseException] = []
        for call in (
            lambda: client.batch_create([{"properties": {"email": "x"}}]),
            lambda: client.get(987654321),
            lambda: client.require_scopes("crm.schemas.contacts.write"),
        ):
            try:
                call()
            except HubSpotError as error:
                failures.append(error)
        sandbox.rotate_token()
        try:
            client.token_info()
        except HubSpotError as error:
            failures.append(error)
    assert len(failures) == 4
    for error in failures:
        seen += [str(error), repr(error), repr(getattr(error, "body", None))]
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(record.args) for record in caplog.records]
    assert caplog.records
    assert not [text for text in seen if token in text]


def test_sandbox_concurrent_clients_share_nothing_mutable(sandbox: Sandbox) -> None:
    barrier = threading.Barrier(4)
    with _http_client(sandbox) as client:

        def read(_: int) -> int:
            barrier.wait()
            return len(client.property_definitions())

        with ThreadPoolExecutor(4) as pool:
            sizes = set(pool.map(read, range(4)))
    assert len(sizes) == 1
    assert [r.path for r in sandbox.requests].count("/crm/v3/properties/contacts") == 1


def _traceback_texts(error: BaseException) -> list[str]:
    """The formatted traceback, and the repr of every local variable in hsframe's frames
    of it (what verbose notebook tracebacks show; the test's own frame holds the token)."""
    texts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        tb = seen.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if "hsframe" in Path(frame.f_code.co_filename).parts:
                texts += [f"{name}={value!r}" for name, value in frame.f_locals.items()]
            tb = tb.tb_next
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.mark.parametrize("failure", ["401", "drop", "500"])
def test_tracebacks_and_their_locals_never_show_the_token(
    scripted: Build, reply: Any, token: str, failure: str
) -> None:
    steps = {
        "401": reply(401, {"message": f"Token {token} was rotated", "category": "X"}),
        "drop": _dropped_connection(),
        "500": reply(500, b"<html>token " + token.encode() + b"</html>"),
    }
    client, _ = _client(scripted, [steps[failure]], max_retries=0)
    with pytest.raises(HubSpotError) as caught:
        client.token_info()
    texts = _traceback_texts(caught.value)
    assert len(texts) > 5
    assert not [text for text in texts if token in text]


def _dropped_connection() -> Exception:
    reason = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", reason))
