"""Loading: the frame read_contacts builds, its filters, and the parallel scan's guarantees.

Every test runs against the sandbox through its in-process adapter (no sockets), with a
short rate window so that the search budget (5 per window / 10) does not make tests slow.
The truth each load is checked against is the sandbox's own store, decoded by the codec.
"""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from hsframe import baseline
from hsframe.client import Client, Page, connect
from hsframe.config import Settings
from hsframe.errors import HubSpotError
from hsframe.load import (
    DEFAULT_PROPERTIES,
    _Collector,
    _Estimate,
    _filter_groups,
    _Gap,
    _Scan,
    read_contacts,
)
from hsframe.sandbox import CrmSettings, Sandbox
from hsframe.schema import INT, Schema

WINDOW = 1.0  # burst window in seconds: search gets 5 per 0.1 s


def client_for(
    sb: Sandbox,
    cls: type[Client] = Client,
    settings: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Client:
    """A client on the sandbox's in-process adapter (``settings``: Settings fields)."""
    resolved = Settings(token=sb.token, base_url=sb.adapter_url, **(settings or {}))
    return cls(resolved, session=sb.session(), **kwargs)


def truth(sb: Sandbox, client: Client, archived: bool = False) -> pd.DataFrame:
    """The sandbox's contacts, decoded by the codec: what a load must give."""
    schema = Schema.from_definitions(client.property_definitions())
    return schema.decode(sb.contacts(archived=archived))


def low(column: pd.Series) -> pd.Series:
    """Text as HubSpot search compares it: case-insensitively."""
    return column.astype("string").str.lower()


def load(client: Client, **kwargs: Any) -> pd.DataFrame:
    kwargs.setdefault("progress", False)
    return read_contacts(client, **kwargs)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    yield Sandbox(contacts=2_500, window=WINDOW, seed=7)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    with client_for(sandbox) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_baselines() -> Iterator[None]:
    yield
    baseline.clear()


# -- the frame ---------------------------------------------------------------------------------


def test_full_load_equals_the_store(sandbox: Sandbox, client: Client) -> None:
    sandbox.clear_requests()
    frame = load(client)
    expected = truth(sandbox, client)
    assert frame.index.name == "id" and frame.index.dtype == INT
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert list(frame.columns) == [d["name"] for d in client.property_definitions()]
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    statuses = [r.status for r in sandbox.requests]
    assert 429 not in statuses
    searched = sum(1 for r in sandbox.requests if r.path.endswith("/search"))
    assert searched >= 2  # the list walk and search walkers shared the work


def test_attrs_and_baseline(sandbox: Sandbox, client: Client) -> None:
    frame = load(client, properties=["email", "lifecyclestage"], limit=10)
    meta = frame.attrs["hsframe"]
    assert meta["object_type"] == "contacts"
    assert meta["portal_id"] == sandbox.portal_id
    assert meta["properties"] == ["email", "lifecyclestage"]
    assert meta["archived"] is False
    assert pd.Timestamp(meta["loaded_at"]).tzinfo is not None
    assert all(isinstance(v, str | int | bool | list) for v in meta.values())
    base = baseline.get(meta["load_id"])
    pd.testing.assert_frame_equal(base, frame)
    assert baseline.schema(meta["load_id"]) is not None
    frame.loc[frame.index[0], "email"] = "changed@example.com"
    assert baseline.get(meta["load_id"])["email"].iloc[0] != "changed@example.com"


def test_default_properties(client: Client) -> None:
    frame = load(client, properties="default", limit=5)
    assert list(frame.columns) == list(DEFAULT_PROPERTIES)


def test_unknown_properties_warn_and_are_left_out(client: Client) -> None:
    with pytest.warns(UserWarning, match="emial.*nope|nope.*emial"):
        frame = load(client, properties=["email", "emial", "nope"], limit=5)
    assert list(frame.columns) == ["email"]


def test_properties_must_be_all_default_or_names(client: Client) -> None:
    with pytest.raises(ValueError, match="all"):
        load(client, properties="everything")


@pytest.mark.parametrize("limit", [1, 150, 250])
def test_limit_gives_the_lowest_ids(sandbox: Sandbox, client: Client, limit: int) -> None:
    frame = load(client, properties=["email"], limit=limit)
    expected = sandbox.contacts().index.astype(int).sort_values()[:limit]
    assert frame.index.tolist() == expected.tolist()


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_limit_must_be_positive(client: Client, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        load(client, limit=limit)


def test_default_client_is_used(sandbox: Sandbox) -> None:
    connect(token=sandbox.token, base_url=sandbox.adapter_url, session=sandbox.session())
    frame = read_contacts(properties=["email"], limit=3, progress=False)
    assert len(frame) == 3


def test_progress_bar_runs(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    frame = read_contacts(client, properties=["email"], limit=20, progress=True)
    assert len(frame) == 20
    assert "contacts" in capsys.readouterr().err


# -- archived ------------------------------------------------------------------------------------


def test_archived_contacts_come_from_the_list() -> None:
    sb = Sandbox(contacts=300, window=WINDOW)
    with client_for(sb) as client:
        ids = sorted(int(i) for i in sb.contacts().index)[10:25]
        client.batch_archive(ids)
        sb.clear_requests()
        frame = load(client, archived=True)
        assert sorted(frame.index.tolist()) == ids
        assert not any(r.path.endswith("/search") for r in sb.requests)
        live = load(client, properties=["email"])
        assert not set(ids) & set(live.index.tolist())
        assert len(live) == 300 - len(ids)
        assert frame.attrs["hsframe"]["archived"] is True


def test_archived_with_where_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="archived"):
        load(client, archived=True, where={"lifecyclestage": "lead"})


# -- where ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "mask"),
    [
        ({"lifecyclestage": "lead"}, lambda f: low(f["lifecyclestage"]) == "lead"),
        (
            {"lifecyclestage": ["lead", "customer"]},
            lambda f: low(f["lifecyclestage"]).isin(["lead", "customer"]),
        ),
        ({"email": None}, lambda f: f["email"].isna()),
        ({"email": ("has",)}, lambda f: f["email"].notna()),
        (
            {"createdate": (">=", "2020-01-01")},
            lambda f: f["createdate"] >= pd.Timestamp("2020-01-01", tz="UTC"),
        ),
        (
            {"createdate": ("between", "2019-01-01", pd.Timestamp("2021-06-30", tz="UTC"))},
            lambda f: f["createdate"].between(
                pd.Timestamp("2019-01-01", tz="UTC"), pd.Timestamp("2021-06-30", tz="UTC")
            ),
        ),
        (
            {"lifecyclestage": "customer", "hs_email_optout": ("!=", "true")},
            lambda f: (
                (low(f["lifecyclestage"]) == "customer")
                & ~low(f["hs_email_optout"]).eq("true").fillna(False)
            ),
        ),
        (
            [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}
                    ]
                },
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "other"}
                    ]
                },
            ],
            lambda f: low(f["lifecyclestage"]).isin(["lead", "other"]),
        ),
        (
            {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "hs_object_id", "operator": "LT", "value": "1500"}
                        ]
                    }
                ]
            },
            lambda f: f.index < 1500,
        ),
    ],
    ids=["eq", "in", "unset", "has", "gte-date", "between", "and", "raw-groups", "raw-dict"],
)
def test_where_matches_pandas(sandbox: Sandbox, client: Client, where: Any, mask: Any) -> None:
    frame = load(client, where=where)
    everything = truth(sandbox, client)
    expected = everything[mask(everything).fillna(False).astype(bool)]
    assert len(expected) > 0
    assert frame.index.tolist() == expected.index.tolist()
    # Stale enumeration values become categories only where the load saw them.
    pd.testing.assert_frame_equal(frame[expected.columns], expected, check_categorical=False)


def test_where_with_limit_gives_the_lowest_matching_ids(sandbox: Sandbox, client: Client) -> None:
    frame = load(client, properties=["lifecyclestage"], where={"lifecyclestage": "lead"}, limit=230)
    everything = truth(sandbox, client)
    expected = everything.index[low(everything["lifecyclestage"]) == "lead"][:230]
    assert frame.index.tolist() == expected.tolist()


def test_where_passes_the_10000_result_cap() -> None:
    sb = Sandbox(contacts=10_400, window=WINDOW)
    with client_for(sb) as client:
        frame = load(client, properties=["email"], where={"hs_object_id": (">", 0)})
    assert len(frame) == 10_400 and frame.index.is_unique
    assert 400 not in [r.status for r in sb.requests]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"emial": "x"}, "emial"),
        ({"lifecyclestage": ("~", "x")}, "unknown operator"),
        ({"lifecyclestage": ("between", "a")}, "low and a high"),
        ({"lifecyclestage": ("has", "x")}, "takes no value"),
        ({"lifecyclestage": ("eq", "a", "b")}, "one value"),
        ({"lifecyclestage": (3, "x")}, "operator"),
        ({"createdate": ("=", "soon")}, "createdate"),
        ({"num_notes": ("=", "many")}, "num_notes"),
        ([{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}], "nope"),
        ([{"filters": []}] * 6, "too big"),
        ([{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 9}], "too big"),
        ("lifecyclestage = lead", "dict"),
    ],
)
def test_bad_where_is_refused_before_any_search(
    sandbox: Sandbox, client: Client, where: Any, message: str
) -> None:
    sandbox.clear_requests()
    with pytest.raises((ValueError, HubSpotError), match=message):
        load(client, where=where)
    assert not any(r.path.endswith("/search") for r in sandbox.requests)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"lifecyclestage": "lead"}, {"operator": "EQ", "value": "lead"}),
        ({"num_notes": 3.0}, {"operator": "EQ", "value": "3"}),
        ({"hs_email_optout": False}, {"operator": "EQ", "value": "false"}),
        ({"lifecyclestage": {"lead"}}, {"operator": "IN", "values": ["lead"]}),
        ({"lifecyclestage": ("not in", "lead")}, {"operator": "NOT_IN", "values": ["lead"]}),
        (
            {"email": ("contains", "*@example.com")},
            {"operator": "CONTAINS_TOKEN", "value": "*@example.com"},
        ),
        ({"email": ("NOT_HAS_PROPERTY",)}, {"operator": "NOT_HAS_PROPERTY"}),
        ({"createdate": (">", "2024-01-01")}, {"operator": "GT", "value": "1704067200000"}),
        (
            {"createdate": ("<", pd.Timestamp("2024-01-01 01:00", tz="Europe/Paris"))},
            {"operator": "LT", "value": "1704067200000"},
        ),
        ({"createdate": ("<=", "1704067200000")}, {"operator": "LTE", "value": "1704067200000"}),
        ({"date_of_birth": "1990-05-17"}, {"operator": "EQ", "value": "642902400000"}),
    ],
)
def test_where_values_go_through_the_codec(
    client: Client, where: dict[str, Any], expected: dict[str, Any]
) -> None:
    schema = Schema.from_definitions(client.property_definitions())
    (group,) = _filter_groups(where, schema)
    (only,) = group["filters"]
    assert only == {"propertyName": next(iter(where)), **expected}


# -- the parallel scan's guarantees ------------------------------------------------------------


class Meddler(Client):
    """A client that lets a test act in the middle of a load, after some searches."""

    def __init__(self, *args: Any, act_after: int, act: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count = itertools.count(1)
        self._act_after = act_after
        self._act = act
        self._lock = threading.Lock()

    def search_page(self, body: Any) -> Page:
        with self._lock:
            if next(self._count) == self._act_after:
                self._act()
        return super().search_page(body)


def test_writes_during_a_load_never_skip_or_repeat_a_contact() -> None:
    sb = Sandbox(contacts=3_000, window=WINDOW, seed=3)
    other = client_for(sb)
    ids = sorted(int(i) for i in sb.contacts().index)
    archived = ids[1000:1400:7] + ids[2000:2400:5]

    def meddle() -> None:
        other.batch_archive(archived[:100])
        other.batch_archive(archived[100:])
        other.batch_create([{"properties": {"email": f"new{i}@example.com"}} for i in range(30)])
        updates = [{"id": str(i), "properties": {"firstname": "Moved"}} for i in ids[1500:1600]]
        other.batch_update(updates)

    client = client_for(sb, Meddler, act_after=4, act=meddle)
    frame = load(client, properties=["email", "firstname"])
    assert frame.index.is_unique
    untouched = set(ids) - set(archived)
    assert untouched <= set(frame.index.tolist())
    client.close()
    other.close()


def test_contacts_created_before_a_lagging_index_catches_up_are_found() -> None:
    offset = [0.0]
    settings = CrmSettings(search_index_lag=30.0)
    sb = Sandbox(
        contacts=2_000, window=WINDOW, settings=settings, clock=lambda: time.time() + offset[0]
    )
    with client_for(sb) as writer:
        created = writer.batch_create(
            [{"properties": {"email": f"fresh{i}@example.com"}} for i in range(5)]
        )
        updated = sorted(int(i) for i in sb.contacts().index)[1_500:1_510]
        writer.batch_update([{"id": str(i), "properties": {"firstname": "New"}} for i in updated])

    def index_catches_up() -> None:
        offset[0] += 60.0

    client = client_for(sb, Meddler, act_after=3, act=index_catches_up)
    frame = load(client, properties=["email", "firstname"])
    client.close()
    assert frame.index.is_unique
    assert set(frame.index.tolist()) == {int(i) for i in sb.contacts().index}
    assert {int(r["id"]) for r in created.results} <= set(frame.index.tolist())
    assert set(updated) <= set(frame.index.tolist())  # as the list or the index had them


class Unordered(Client):
    """A client whose list pages come back in reverse id order."""

    def list_page(self, properties: Any, **kwargs: Any) -> Page:
        page = super().list_page(properties, **kwargs)
        return Page(list(reversed(page.results)), page.after, page.total)


class LongNames(Client):
    """A client that pretends the property names never fit in a list URL."""

    def list_url_fits(self, properties: Any, *, after: str | None = None) -> bool:
        return False


@pytest.mark.parametrize("cls", [Unordered, LongNames], ids=["unordered-list", "long-url"])
def test_scan_is_complete_whatever_the_list_does(sandbox: Sandbox, cls: type[Client]) -> None:
    with client_for(sandbox, cls) as client:
        sandbox.clear_requests()
        frame = load(client)
        expected = truth(sandbox, client)
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    if cls is LongNames:
        assert any(r.path.endswith("/batch/read") for r in sandbox.requests)


@pytest.mark.parametrize("concurrency", [1, 2, 16])
def test_any_concurrency_gives_the_same_frame(sandbox: Sandbox, concurrency: int) -> None:
    with client_for(sandbox, settings={"max_concurrency": concurrency}) as client:
        frame = load(client, properties=["email", "lifecyclestage"])
        expected = truth(sandbox, client)[["email", "lifecyclestage"]]
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("size", [0, 1, 150, 401])
def test_small_portals(size: int) -> None:
    sb = Sandbox(contacts=size, window=WINDOW)
    with client_for(sb) as client:
        frame = load(client, properties=["email"])
        assert len(frame) == size
        assert frame["email"].dtype == "string"
        filtered = load(client, properties=["email"], where={"email": ("has",)})
        assert set(filtered.index) <= set(frame.index)


@pytest.mark.parametrize(
    ("status", "path", "method"),
    [(400, "/search", "POST"), (500, "/crm/v3/objects/contacts", "GET")],
)
def test_an_error_stops_the_load_and_is_raised(status: int, path: str, method: str) -> None:
    sb = Sandbox(contacts=1_000, window=WINDOW)
    with client_for(sb, settings={"max_retries": 0}) as client:
        client.property_definitions()
        sb.inject(status, path=path, method=method, count=3)
        with pytest.raises(HubSpotError) as caught:
            load(client)
    assert caught.value.status == status


def test_no_warnings_on_a_plain_load(client: Client) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(client, properties=["email", "createdate", "num_notes"])


def test_cover_closes_and_shrinks_gaps(client: Client) -> None:
    estimate = _Estimate(100, 5000, 4901, 0.1, began=0.0)
    scan = _Scan(client, [], [], _Collector(None), estimate, True)
    scan.gaps = [_Gap(lo=99, hi=3000), _Gap(lo=2000, hi=None)]

    def spans() -> list[tuple[int, int | None]]:
        return [(g.lo, g.hi) for g in scan.gaps]

    scan._cover(-1, 100)  # below every gap: nothing changes
    assert spans() == [(99, 3000), (2000, None)]
    scan._cover(2500, None)  # the top from 2501: both gaps lose their upper part
    assert spans() == [(99, 2501), (2000, 2501)]
    scan._cover(1999, 2600)  # the upper gap is read
    assert spans() == [(99, 2000)]
    scan._cover(500, 800)  # strictly inside: a gap is only ever shrunk from its ends
    assert spans() == [(99, 2000)]
    scan._cover(99, 1500)
    assert spans() == [(1499, 2000)]
    scan._cover(-1, None)
    assert spans() == []


# -- the index lag: contacts created just before a load ----------------------------------------


class Recorder(Client):
    """A client that keeps, in the order their answers came, the ids each list page gave and
    each search's body and the ids it found (the sandbox's own log holds no bodies)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists: list[list[int]] = []
        self.searches: list[tuple[dict[str, Any], list[int]]] = []
        self._lock = threading.Lock()

    def list_page(self, properties: Any, **kwargs: Any) -> Page:
        page = super().list_page(properties, **kwargs)
        with self._lock:
            self.lists.append([int(r["id"]) for r in page.results])
        return page

    def search_page(self, body: Any) -> Page:
        page = super().search_page(body)
        with self._lock:
            self.searches.append((dict(body), [int(r["id"]) for r in page.results]))
        return page

    def listed(self) -> set[int]:
        return {i for ids in self.lists for i in ids}

    def found_in_open_top(self) -> set[int]:
        """Ids found by searches of the open top: ids above a bound, upwards, no ceiling."""
        return {
            i
            for body, ids in self.searches
            if body["sorts"][0]["direction"] == "ASCENDING"
            and not any(f["operator"] == "LT" for g in body["filterGroups"] for f in g["filters"])
            for i in ids
        }


def create_fresh(sb: Sandbox, count: int = 5) -> set[int]:
    """Contacts created now, just before a load: not in a lagging search index yet."""
    with client_for(sb) as writer:
        created = writer.batch_create(
            [{"properties": {"email": f"fresh{i}@example.com"}} for i in range(count)]
        )
    return {int(r["id"]) for r in created.results}


def list_pages(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r.method == "GET" and r.path == "/crm/v3/objects/contacts")


def slow_portal(lag: float = 0.0) -> Sandbox:
    """6,000 contacts at 50 ms a request: the list walk (61 pages, one after another) needs
    3 s at least, so it cannot reach the top of the id space in the tests' INDEX_LAG."""
    return Sandbox(
        contacts=6_000, window=WINDOW, latency=0.05, settings=CrmSettings(search_index_lag=lag)
    )


class LongRecorder(Recorder, LongNames):
    """A recorder whose list walk reads ids only (and their contacts by batch read)."""


@pytest.mark.parametrize("cls", [Recorder, LongRecorder], ids=["inline", "long-url"])
def test_a_small_portal_is_read_whole_by_the_list_and_waits_for_nothing(
    cls: type[Recorder],
) -> None:
    sb = Sandbox(contacts=450, window=WINDOW, settings=CrmSettings(search_index_lag=3.0))
    created = create_fresh(sb)
    sb.clear_requests()
    with client_for(sb, cls) as client:
        frame = load(client, properties=["email"])
    assert set(frame.index.tolist()) == {int(i) for i in sb.contacts().index}
    assert created <= set(frame.index.tolist())
    # The list walk read on to its end, past the search walkers' ground: that closed the
    # top of the id space, which was never searched, so the load did not wait for the index.
    assert created <= client.listed()
    assert not client.found_in_open_top()
    assert list_pages(sb) == 5
    assert 429 not in [r.status for r in sb.requests]


def test_a_load_quicker_than_the_lag_searches_the_top_once_the_index_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hsframe.load.INDEX_LAG", 1.5)
    sb = slow_portal(lag=1.0)
    created = create_fresh(sb)
    sb.clear_requests()
    with client_for(sb, Recorder) as client:
        frame = load(client, properties=["email"])
    assert set(frame.index.tolist()) == {int(i) for i in sb.contacts().index}
    probe, found = client.searches[0]
    assert probe["sorts"][0]["direction"] == "DESCENDING"
    assert not created & set(found)  # the index lagged when the load began
    assert not created & client.listed()  # the list walk did not get that far
    # Found by the search of the open top: it was answered from an index that held
    # contacts created just before the load, so it was sent after the index's lag.
    assert created <= client.found_in_open_top()
    assert list_pages(sb) < 61
    assert 429 not in [r.status for r in sb.requests]


def test_once_older_than_the_lag_the_list_walk_stops_at_covered_ground(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hsframe.load.INDEX_LAG", 0.0)
    sb = slow_portal()
    with client_for(sb) as client:
        frame = load(client, properties=["email"])
    assert len(frame) == 6_000 and frame.index.is_unique
    assert list_pages(sb) < 60  # the search walkers read the rest
    assert 429 not in [r.status for r in sb.requests]
