"""The in-process front door: real requests.Response objects, requests' own exceptions."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hsframe.sandbox.adapter import BASE_URL, SandboxAdapter
from hsframe.sandbox.core import SandboxCore

CONTACTS = "/crm/v3/objects/contacts"


def test_base_url_never_resolves() -> None:
    assert BASE_URL.startswith("https://")
    assert BASE_URL.endswith(".test")


def test_answers_are_real_responses(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    url = f"{BASE_URL}{CONTACTS}/1"
    answer = adapter_session.get(url, headers=bearer(sandbox_core.auth.token))
    assert isinstance(answer, requests.Response)
    assert answer.status_code == 200 and answer.ok
    assert answer.reason == "OK"
    assert answer.url == url
    assert answer.request is not None and answer.request.method == "GET"
    assert answer.encoding == "utf-8"
    assert answer.headers["content-type"] == "application/json;charset=utf-8"
    assert answer.json()["properties"] == {"email": "ann@example.com", "jobtitle": "CEO"}
    assert answer.elapsed.total_seconds() >= 0
    answer.raise_for_status()


def test_error_answers_raise_for_status(
    adapter_session: requests.Session,
) -> None:
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}")
    assert answer.status_code == 401 and answer.reason == "Unauthorized"
    with pytest.raises(requests.HTTPError):
        answer.raise_for_status()


def test_empty_answers(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    answer = adapter_session.delete(
        f"{BASE_URL}{CONTACTS}/1", headers=bearer(sandbox_core.auth.token)
    )
    assert answer.status_code == 204
    assert answer.content == b""


def test_requests_reach_the_core_as_the_server_would_pass_them(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    answer = adapter_session.post(
        f"{BASE_URL}/echo",
        params=[("properties", "a"), ("properties", "b,c"), ("archived", ""), ("x", "/")],
        headers={"X-Custom-Header": "Yes", **bearer(sandbox_core.auth.token)},
        json={"k": 1},
    )
    echo = answer.json()
    assert echo["method"] == "POST"
    assert echo["query"] == {"properties": ["a", "b,c"], "archived": [""], "x": ["/"]}
    assert echo["headers"]["x-custom-header"] == "Yes"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["body"] == '{"k": 1}'


def test_paths_are_percent_decoded(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    adapter_session.get(f"{BASE_URL}/crm/v3/objects/contacts/ann%40example.com")
    assert sandbox_core.requests[-1].path == "/crm/v3/objects/contacts/ann@example.com"


def parts() -> Iterator[bytes]:
    yield b'{"a": '
    yield b"1}"


@pytest.mark.parametrize(
    "data",
    [b'{"a": 1}', '{"a": 1}', io.BytesIO(b'{"a": 1}'), parts()],
    ids=["bytes", "text", "file", "chunks"],
)
def test_every_kind_of_body_arrives_as_bytes(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, data: Any
) -> None:
    answer = adapter_session.post(
        f"{BASE_URL}/echo", data=data, headers=bearer(sandbox_core.auth.token)
    )
    assert answer.json()["body"] == '{"a": 1}'


def test_a_drop_is_a_connection_error_carrying_the_request(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    sandbox_core.faults.inject(drop=True)
    with pytest.raises(requests.ConnectionError) as caught:
        adapter_session.get(f"{BASE_URL}{CONTACTS}")
    assert caught.value.request is not None
    assert sandbox_core.auth.token not in str(caught.value)


def test_a_late_answer_is_a_read_timeout(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    sandbox_core.faults.inject(delay=3.0)
    with pytest.raises(requests.ReadTimeout) as caught:
        adapter_session.get(f"{BASE_URL}{CONTACTS}", timeout=(1.0, 2.0))
    assert isinstance(caught.value, requests.Timeout)
    assert caught.value.request is not None


def test_no_timeout_means_waiting_as_long_as_it_takes(
    sandbox_core: SandboxCore, adapter_session: requests.Session, recorded_sleep: Any
) -> None:
    sandbox_core.faults.inject(delay=30.0)
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}").status_code == 401
    assert recorded_sleep.total == pytest.approx(30.0)


def test_the_adapter_can_be_mounted_on_any_prefix(sandbox_core: SandboxCore) -> None:
    with requests.Session() as session:
        session.mount("https://api.hubapi.com", SandboxAdapter(sandbox_core))
        answer = session.post(
            "https://api.hubapi.com/oauth/v2/private-apps/get/access-token-info",
            json={"tokenKey": sandbox_core.auth.token},
        )
    assert answer.json()["hubId"] == 12345678
    assert "SandboxAdapter" in repr(SandboxAdapter(sandbox_core))
