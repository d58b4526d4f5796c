"""The pure core: order of checks, routing errors, the request log, latency, crashes."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from hsframe.sandbox.core import ConnectionDropped, RequestRecord, SandboxCore
from hsframe.sandbox.wire import Request, Response

CONTACTS = "/crm/v3/objects/contacts"


def call(
    core: SandboxCore, method: str, path: str, *, token: str | None = "default", body: bytes = b""
) -> Response:
    """Ask the core directly, with the default token unless told otherwise."""
    headers = {}
    if token is not None:
        value = core.auth.token if token == "default" else token
        headers["authorization"] = f"Bearer {value}"
    return core.handle(Request(method, path, headers=headers, body=body))


def test_an_ordinary_request_is_answered_and_logged(sandbox_core: SandboxCore) -> None:
    answer = call(sandbox_core, "GET", CONTACTS)
    assert answer.status == 200
    assert answer.payload()["results"][0]["id"] == "1"
    (record,) = sandbox_core.requests
    assert record == RequestRecord("GET", CONTACTS, 200, record.seconds)
    assert record.seconds >= 0


def test_unknown_paths_are_404_json_and_known_paths_with_other_methods_405(
    sandbox_core: SandboxCore,
) -> None:
    missing = call(sandbox_core, "GET", "/crm/v3/objects/deals")
    assert missing.status == 404
    assert missing.payload()["status"] == "error"
    assert "GET /crm/v3/objects/deals" in missing.payload()["message"]
    wrong = call(sandbox_core, "PUT", f"{CONTACTS}/1")
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "GET, PATCH, DELETE"
    own = call(sandbox_core, "POST", "/account-info/v3/details")
    assert own.status == 405
    assert own.headers["Allow"] == "GET"
    assert sandbox_core.limiter.daily_used() == 0  # neither is charged


def test_authentication_comes_before_routing(sandbox_core: SandboxCore) -> None:
    assert call(sandbox_core, "GET", "/nowhere", token=None).status == 401


def test_endpoint_errors_become_hubspot_bodies(sandbox_core: SandboxCore) -> None:
    answer = call(sandbox_core, "GET", f"{CONTACTS}/42")
    assert answer.status == 404
    assert answer.payload()["category"] == "OBJECT_NOT_FOUND"
    assert answer.payload()["context"] == {"id": ["42"]}
    assert answer.headers["X-HubSpot-Correlation-Id"] == answer.payload()["correlationId"]
    assert "X-HubSpot-RateLimit-Remaining" in answer.headers


def test_malformed_json_is_a_400_without_category(sandbox_core: SandboxCore) -> None:
    answer = call(sandbox_core, "PATCH", f"{CONTACTS}/1", body=b"{nope")
    assert answer.status == 400
    assert "category" not in answer.payload()
    assert answer.payload()["message"].startswith("Invalid input JSON")


def test_a_crashing_endpoint_is_a_logged_500(
    sandbox_core: SandboxCore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hsframe.sandbox"):
        answer = call(sandbox_core, "GET", "/boom")
    assert answer.status == 500
    payload = answer.payload()
    assert payload["status"] == "error"
    assert "RuntimeError" in payload["message"]
    assert "a sandbox bug" not in payload["message"]
    assert sandbox_core.requests[-1].error == "RuntimeError"
    assert any("a sandbox bug" in (r.exc_text or "") for r in caplog.records)
    assert "X-HubSpot-RateLimit-Remaining" in answer.headers


def test_latency_is_slept_on_every_request(sandbox_core: SandboxCore, recorded_sleep: Any) -> None:
    sandbox_core.latency = 0.25
    call(sandbox_core, "GET", CONTACTS)
    call(sandbox_core, "GET", CONTACTS, token="pat-na1-wrong")
    assert recorded_sleep.total == pytest.approx(0.5)
    with pytest.raises(ValueError, match="latency"):
        SandboxCore(sandbox_core.crm, latency=-1)


def test_latency_overlaps_across_threads(fake_crm: Any) -> None:
    """Twenty requests sleep their latency at the same time: the core holds no lock then.

    The sleep is a barrier that opens only when all twenty are inside it, so a core that
    slept under a lock would leave it shut (and the barrier's timeout would fail the test).
    """
    barrier = threading.Barrier(20, timeout=30)
    core = SandboxCore(fake_crm, latency=0.2, sleep=lambda seconds: barrier.wait())
    token = core.auth.token
    statuses: list[int] = []

    def one() -> None:
        answer = core.handle(Request("GET", CONTACTS, headers={"authorization": f"Bearer {token}"}))
        statuses.append(answer.status)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert not barrier.broken


def test_a_drop_is_signalled_to_the_front_door(sandbox_core: SandboxCore) -> None:
    sandbox_core.faults.inject(drop=True)
    with pytest.raises(ConnectionDropped):
        call(sandbox_core, "GET", CONTACTS)
    assert sandbox_core.requests[-1].dropped


def test_the_log_can_be_cleared_and_is_a_copy(sandbox_core: SandboxCore) -> None:
    call(sandbox_core, "GET", CONTACTS)
    log = sandbox_core.requests
    log.clear()
    assert len(sandbox_core.requests) == 1
    sandbox_core.clear_requests()
    assert sandbox_core.requests == []


def test_the_log_is_thread_safe(sandbox_core: SandboxCore) -> None:
    def many() -> None:
        for _ in range(50):
            call(sandbox_core, "GET", "/echo")

    threads = [threading.Thread(target=many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sandbox_core.requests) == 400


def test_defaults_build_a_working_core(fake_crm: Any) -> None:
    core = SandboxCore(fake_crm)
    assert call(core, "GET", CONTACTS).status == 200
    assert core.limiter.tier.name == "professional"
    assert core.auth.token not in repr(core)
