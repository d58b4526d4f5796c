"""Fault injection: statuses, HTML bodies, drops, partial failures, delays, after-faults."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from hsframe.sandbox.adapter import BASE_URL
from hsframe.sandbox.core import SandboxCore
from hsframe.sandbox.faults import Fault, FaultQueue
from hsframe.sandbox.server import SandboxServer

CONTACTS = "/crm/v3/objects/contacts"
BATCH = f"{CONTACTS}/batch/update"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 200}, "error status"),
        ({"status": 503, "drop": True}, "not both"),
        ({"html": True, "drop": True}, "needs a status"),
        ({"status": 429, "policy": "HOURLY"}, "unknown policy"),
        ({"delay": -1.0}, "negative"),
        ({"partial": 2, "after": True}, "partial"),
        ({"partial": 2, "status": 500}, "partial"),
        ({}, "nothing to inject"),
        ({"after": True}, "nothing to inject"),
    ],
)
def test_inconsistent_faults_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)


def test_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count"):
        FaultQueue().inject(500, count=0)


def test_faults_are_taken_in_order_among_those_that_match() -> None:
    queue = FaultQueue()
    queue.inject(500, path="/a")
    queue.inject(502, path="/b")
    queue.inject(503, path="/a", count=2)
    queue.inject(504)
    assert [fault.status for fault in queue.pending()] == [500, 502, 503, 503, 504]
    assert queue.take("GET", "/x/b/y").status == 502  # substring match
    assert queue.take("GET", "/a").status == 500
    assert queue.take("GET", "/a/1").status == 503
    assert queue.take("GET", "/other").status == 504  # path=None matches anything
    assert queue.take("GET", "/a").status == 503
    assert queue.take("GET", "/a") is None
    assert queue.pending() == []


def test_method_matching_is_case_insensitive() -> None:
    queue = FaultQueue()
    queue.inject(503, method="post")
    assert queue.take("GET", "/x") is None
    assert queue.take("POST", "/x").status == 503


def test_clear_forgets_everything() -> None:
    queue = FaultQueue()
    queue.inject(503, count=3)
    queue.clear()
    assert queue.take("GET", "/") is None


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
        ("SECONDLY", "You have reached your secondly limit."),
        ("DAILY", "You have reached your daily limit."),
    ],
)
def test_injected_429_has_the_body_of_its_policy(
    sandbox_core: SandboxCore,
    adapter_session: requests.Session,
    bearer: Any,
    policy: str,
    message: str,
) -> None:
    sandbox_core.faults.inject(429, policy=policy)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(sandbox_core.auth.token))
    assert answer.status_code == 429
    payload = answer.json()
    assert payload["message"] == message
    assert payload["policyName"] == policy
    assert payload["errorType"] == "RATE_LIMIT"
    assert payload["category"] == "RATE_LIMITS"
    assert "correlationId" in payload
    assert int(answer.headers["Retry-After"]) >= 1
    assert sandbox_core.limiter.daily_used() == 0  # an injected fault is not charged


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_injected_5xx_json(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, status: int
) -> None:
    sandbox_core.faults.inject(status)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(sandbox_core.auth.token))
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("application/json")
    payload = answer.json()
    assert payload["status"] == "error"
    assert payload["message"]
    assert "correlationId" in payload


@pytest.mark.parametrize("status", [429, 502, 503])
def test_injected_html_bodies(
    sandbox_core: SandboxCore, adapter_session: requests.Session, status: int
) -> None:
    sandbox_core.faults.inject(status, html=True)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}")
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError):
        answer.json()


def test_other_statuses_get_a_json_body(
    sandbox_core: SandboxCore, adapter_session: requests.Session
) -> None:
    sandbox_core.faults.inject(418)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}")
    assert answer.status_code == 418
    assert answer.json()["message"] == "I'm a Teapot"


def test_a_fault_answers_instead_of_the_request(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(503, path=f"{CONTACTS}/1", method="PATCH")
    url = f"{BASE_URL}{CONTACTS}/1"
    auth = bearer(sandbox_core.auth.token)
    answer = adapter_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert answer.status_code == 503
    assert fake_crm.contacts["1"]["jobtitle"] == "CEO"  # not processed
    record = sandbox_core.requests[-1]
    assert (record.status, record.injected, record.dropped) == (503, True, False)


def test_an_after_fault_answers_after_the_write(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(502, path=CONTACTS, after=True)
    url = f"{BASE_URL}{CONTACTS}/1"
    auth = bearer(sandbox_core.auth.token)
    answer = adapter_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert answer.status_code == 502
    assert fake_crm.contacts["1"]["jobtitle"] == "CTO"  # the write happened
    assert sandbox_core.limiter.daily_used() == 1  # and was charged


def test_a_dropped_connection_through_the_adapter(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(drop=True, path="/1")
    url = f"{BASE_URL}{CONTACTS}/1"
    auth = bearer(sandbox_core.auth.token)
    with pytest.raises(requests.ConnectionError):
        adapter_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert fake_crm.contacts["1"]["jobtitle"] == "CEO"
    record = sandbox_core.requests[-1]
    assert (record.status, record.dropped) == (None, True)
    assert adapter_session.get(url, headers=auth).status_code == 200


def test_a_dropped_connection_after_the_write(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(drop=True, after=True)
    url = f"{BASE_URL}{CONTACTS}/1"
    auth = bearer(sandbox_core.auth.token)
    with pytest.raises(requests.ConnectionError):
        adapter_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert fake_crm.contacts["1"]["jobtitle"] == "CTO"


def test_dropped_connections_over_http(
    http_server: SandboxServer,
    http_session: requests.Session,
    live_core: SandboxCore,
    bearer: Any,
    fake_crm: Any,
) -> None:
    auth = bearer(live_core.auth.token)
    url = f"{http_server.url}{CONTACTS}/1"
    assert http_session.get(url, headers=auth).ok  # a kept-alive connection exists
    live_core.faults.inject(drop=True, method="PATCH")
    with pytest.raises(requests.ConnectionError):
        http_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert fake_crm.contacts["1"]["jobtitle"] == "CEO"
    live_core.faults.inject(drop=True, method="PATCH", after=True)
    with pytest.raises(requests.ConnectionError):
        http_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}})
    assert fake_crm.contacts["1"]["jobtitle"] == "CTO"
    assert http_session.get(url, headers=auth).json()["properties"]["jobtitle"] == "CTO"
    assert [r.dropped for r in live_core.requests] == [False, True, True, False]


def test_html_over_http(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore
) -> None:
    live_core.faults.inject(502, html=True)
    answer = http_session.get(f"{http_server.url}{CONTACTS}")
    assert answer.status_code == 502
    assert "<h1>502 Bad Gateway</h1>" in answer.text


def test_partial_failure_arms_the_crm(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(partial=2, path="/batch/update")
    auth = bearer(sandbox_core.auth.token)
    url = f"{BASE_URL}{BATCH}"
    inputs = {"inputs": [{"id": str(n), "properties": {}} for n in range(5)]}
    assert adapter_session.post(url, headers=auth, json=inputs).json() == {"ok": 3, "failed": 2}
    assert adapter_session.post(url, headers=auth, json=inputs).json() == {"ok": 5, "failed": 0}


def test_partial_failure_is_not_armed_for_a_refused_request(
    sandbox_core: SandboxCore, adapter_session: requests.Session, fake_crm: Any
) -> None:
    sandbox_core.faults.inject(partial=2)
    assert adapter_session.post(f"{BASE_URL}{BATCH}", json={"inputs": []}).status_code == 401
    assert fake_crm.failing == 0


def test_a_delay_holds_the_answer(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, recorded_sleep: Any
) -> None:
    sandbox_core.faults.inject(delay=2.5)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(sandbox_core.auth.token))
    assert answer.status_code == 200
    assert recorded_sleep.total == pytest.approx(2.5)


@pytest.mark.parametrize("timeout", [1.0, (3.05, 1.0)])
def test_a_delay_beyond_the_timeout_is_a_read_timeout(
    sandbox_core: SandboxCore,
    adapter_session: requests.Session,
    bearer: Any,
    recorded_sleep: Any,
    fake_crm: Any,
    timeout: Any,
) -> None:
    sandbox_core.faults.inject(delay=5.0, method="PATCH", after=True)
    url = f"{BASE_URL}{CONTACTS}/1"
    auth = bearer(sandbox_core.auth.token)
    with pytest.raises(requests.ReadTimeout):
        adapter_session.patch(
            url, headers=auth, json={"properties": {"jobtitle": "CTO"}}, timeout=timeout
        )
    assert recorded_sleep.total == pytest.approx(1.0)  # the caller waited its timeout
    assert fake_crm.contacts["1"]["jobtitle"] == "CTO"  # and the server still wrote
    assert sandbox_core.requests[-1].status == 200


def test_latency_beyond_the_timeout_is_a_read_timeout(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    sandbox_core.latency = 0.5
    url = f"{BASE_URL}{CONTACTS}"
    auth = bearer(sandbox_core.auth.token)
    with pytest.raises(requests.ReadTimeout):
        adapter_session.get(url, headers=auth, timeout=0.2)
    assert adapter_session.get(url, headers=auth, timeout=0.6).ok


def test_a_delay_over_http_times_the_client_out(
    http_server: SandboxServer,
    http_session: requests.Session,
    live_core: SandboxCore,
    bearer: Any,
    fake_crm: Any,
) -> None:
    live_core.faults.inject(delay=0.4, method="PATCH", after=True)
    url = f"{http_server.url}{CONTACTS}/1"
    auth = bearer(live_core.auth.token)
    with pytest.raises(requests.ReadTimeout):
        http_session.patch(url, headers=auth, json={"properties": {"jobtitle": "CTO"}}, timeout=0.1)
    assert fake_crm.contacts["1"]["jobtitle"] == "CTO"


@pytest.mark.parametrize(
    ("path", "method"),
    [("/batch/read", None), ("/search", None), ("/batch/update", "PATCH")],
)
def test_a_partial_failure_aimed_at_a_request_without_inputs_is_refused(
    path: str, method: str | None
) -> None:
    with pytest.raises(ValueError, match="batch create, update or upsert"):
        FaultQueue().inject(partial=1, path=path, method=method)


def test_a_partial_failure_passes_over_reads_to_the_next_write() -> None:
    queue = FaultQueue()
    queue.inject(partial=2, path="/batch/")
    assert queue.take("POST", "/crm/v3/objects/contacts/batch/read") is None
    assert queue.take("POST", "/crm/v3/objects/contacts/search") is None
    taken = queue.take("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert taken is not None and taken.partial == 2
    assert queue.take("POST", "/crm/v3/objects/contacts/batch/update") is None
