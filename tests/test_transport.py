"""The transport: auth, JSON, retries within bounds, idempotency, redirects, stats, logs.

Every test scripts HubSpot's answers with a fake adapter and a fake clock (conftest), so
retries and rate-limit waits happen instantly; the waits are read from the clock.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from hsframe.config import Secret, Settings
from hsframe.errors import (
    AuthenticationError,
    HubSpotError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hsframe.transport import Transport

PATH = "/crm/v3/objects/contacts"

Build = Callable[..., Any]


def _never_sent() -> requests.exceptions.ConnectionError:
    refused = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, PATH, refused))  # type: ignore[arg-type]


def _dropped() -> requests.exceptions.ConnectionError:
    reason = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", reason))


def _rate_limited(reply: Any, policy: str, retry_after: str | None = None) -> Any:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = {
        "status": "error",
        "message": "You have reached your limit.",
        "errorType": "RATE_LIMIT",
        "policyName": policy,
        "category": "RATE_LIMITS",
        "correlationId": "c-429",
    }
    return reply(429, body, headers)


def test_requests_carry_auth_agent_timeouts_and_json(
    scripted: Build, reply: Any, token: str
) -> None:
    s = scripted([reply(200, {"ok": True})], connect_timeout=3, read_timeout=30)
    answer = s.transport.request(
        "POST", PATH + "/batch/read", params={"archived": "false"}, json_body={"inputs": ["é"]}
    )
    sent = s.adapter.sent[0]
    assert (answer.status, answer.data) == (200, {"ok": True})
    assert sent.headers["Authorization"] == f"Bearer {token}"
    assert sent.headers["User-Agent"].startswith("hsframe/")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.url == f"https://api.hubapi.test{PATH}/batch/read?archived=false"
    assert s.adapter.json_sent() == {"inputs": ["é"]}
    assert s.adapter.timeouts == [(3, 30)]


def test_list_params_repeat(scripted: Build) -> None:
    s = scripted()
    s.transport.request("GET", PATH, params=[("properties", "a"), ("properties", "b")])
    assert s.adapter.sent[0].url.endswith("?properties=a&properties=b")


def test_an_empty_answer_decodes_to_none(scripted: Build, reply: Any) -> None:
    s = scripted([reply(204)])
    assert s.transport.request("POST", PATH + "/batch/archive", json_body={}).data is None


def test_nan_is_refused_before_sending(scripted: Build) -> None:
    s = scripted()
    with pytest.raises(ValueError):
        s.transport.request("POST", PATH, json_body={"x": float("nan")})
    assert s.adapter.sent == []


@pytest.mark.parametrize("path", ["crm/v3", "https://evil.example/crm"])
def test_paths_stay_under_the_base_url(scripted: Build, path: str) -> None:
    s = scripted()
    with pytest.raises(ValueError):
        s.transport.request("GET", path)
    assert s.adapter.sent == []


def test_429_waits_for_retry_after_then_succeeds(scripted: Build, reply: Any) -> None:
    s = scripted([_rate_limited(reply, "TEN_SECONDLY_ROLLING", "2"), reply(200, {"n": 1})])
    assert s.transport.request("GET", PATH).data == {"n": 1}
    assert len(s.adapter.sent) == 2
    assert s.clock.now == pytest.approx(1002.0)
    assert (s.transport.stats.rate_limited, s.transport.stats.retries) == (1, 1)


def test_429_without_retry_after_waits_one_reported_window(scripted: Build, reply: Any) -> None:
    window = {"X-HubSpot-RateLimit-Interval-Milliseconds": "1500"}
    s = scripted(
        [reply(200, {}, window), _rate_limited(reply, "TEN_SECONDLY_ROLLING"), reply(200, {})]
    )
    s.transport.request("GET", PATH)
    s.transport.request("GET", PATH)
    assert s.clock.now == pytest.approx(1001.5)


def test_retry_after_longer_than_the_window_is_capped(scripted: Build, reply: Any) -> None:
    # Some sources say HubSpot's Retry-After is in milliseconds: never wait past one window.
    s = scripted([_rate_limited(reply, "TEN_SECONDLY_ROLLING", "10000"), reply(200, {})])
    s.transport.request("GET", PATH)
    assert s.clock.now == pytest.approx(1010.0)


def test_secondly_429_waits_a_search_window(scripted: Build, reply: Any) -> None:
    s = scripted([_rate_limited(reply, "SECONDLY"), reply(200, {"total": 0})])
    s.transport.request("POST", PATH + "/search", json_body={}, bucket="search")
    assert s.clock.now == pytest.approx(1001.0)


def test_429_pauses_every_caller_of_the_budget(scripted: Build, reply: Any) -> None:
    s = scripted([_rate_limited(reply, "TEN_SECONDLY_ROLLING", "3")], max_retries=0)
    with pytest.raises(RateLimitError):
        s.transport.request("GET", PATH)
    assert s.clock.now == 1000.0
    s.transport.budget.acquire("burst")  # what any other thread does next
    assert s.clock.now == pytest.approx(1003.0)


def test_a_post_is_retried_after_a_429(scripted: Build, reply: Any) -> None:
    s = scripted([_rate_limited(reply, "TEN_SECONDLY_ROLLING", "1"), reply(201, {})])
    assert s.transport.request("POST", PATH + "/batch/create", json_body={}).status == 201


def test_daily_429_stops_at_once_and_later_requests_are_not_sent(
    scripted: Build, reply: Any
) -> None:
    s = scripted([_rate_limited(reply, "DAILY", "7200")])
    with pytest.raises(RateLimitError) as caught:
        s.transport.request("GET", PATH)
    assert caught.value.policy == "DAILY"
    assert "midnight" in str(caught.value) and "about 2 h" in str(caught.value)
    with pytest.raises(RateLimitError):
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff(scripted: Build, reply: Any, status: int) -> None:
    s = scripted([reply(status, {"message": "down"}), reply(status), reply(200, {"ok": 1})])
    assert s.transport.request("GET", PATH).data == {"ok": 1}
    assert s.clock.sleeps == [0.25, 0.5]  # 0.5 s doubling, halved by jitter 0
    assert s.transport.stats.server_errors == 2


def test_jitter_spreads_the_backoff(scripted: Build, reply: Any) -> None:
    s = scripted([reply(500), reply(500), reply(200, {})], jitter=lambda: 1.0)
    s.transport.request("GET", PATH)
    assert s.clock.sleeps == [0.5, 1.0]


def test_503_retry_after_is_honoured(scripted: Build, reply: Any) -> None:
    s = scripted([reply(503, {"message": "busy"}, {"Retry-After": "4"}), reply(200, {})])
    s.transport.request("GET", PATH)
    assert s.clock.sleeps == [4.0]


def test_retries_are_bounded_by_count(scripted: Build, reply: Any) -> None:
    s = scripted(default=reply(503, {"message": "down", "correlationId": "c-5"}), max_retries=2)
    with pytest.raises(ServerError) as caught:
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 3
    assert "retried 2 times" in str(caught.value)
    assert caught.value.correlation_id == "c-5"


def test_retries_are_bounded_by_total_time(scripted: Build, reply: Any) -> None:
    s = scripted(default=reply(500), max_retries=50, max_retry_time=5.0)
    with pytest.raises(ServerError):
        s.transport.request("GET", PATH)
    assert s.clock.now - 1000.0 <= 5.0
    assert len(s.adapter.sent) == 5  # waits 0.25 + 0.5 + 1 + 2, and 4 more would pass 5 s


def test_429_storms_are_bounded_too(scripted: Build, reply: Any) -> None:
    s = scripted(default=_rate_limited(reply, "TEN_SECONDLY_ROLLING", "1"), max_retries=3)
    with pytest.raises(RateLimitError):
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 4
    assert s.transport.stats.rate_limited == 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_write_is_not_repeated_after_a_5xx_unless_marked_safe(
    scripted: Build, reply: Any, status: int
) -> None:
    s = scripted([reply(status), reply(status), reply(201, {})])
    with pytest.raises(ServerError):
        s.transport.request("POST", PATH + "/batch/create", json_body={})
    assert len(s.adapter.sent) == 1
    s.transport.request("POST", PATH + "/batch/create", json_body={}, retry_unsafe=True)
    assert len(s.adapter.sent) == 3


def test_a_connection_that_never_opened_is_retried_even_for_writes(
    scripted: Build, reply: Any
) -> None:
    s = scripted([_never_sent(), reply(201, {"id": "1"})])
    assert s.transport.request("POST", PATH, json_body={}).data == {"id": "1"}
    assert s.transport.stats.connection_errors == 1


def test_a_dropped_write_is_not_repeated(scripted: Build) -> None:
    s = scripted([_dropped()])
    with pytest.raises(TransportError) as caught:
        s.transport.request("POST", PATH + "/batch/create", json_body={})
    assert len(s.adapter.sent) == 1
    assert "may have applied it" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


@pytest.mark.parametrize(
    "failure",
    [_dropped, lambda: requests.exceptions.ReadTimeout("read timed out")],
)
def test_reads_are_retried_after_drops_and_timeouts(
    scripted: Build, reply: Any, failure: Callable[[], Exception]
) -> None:
    s = scripted([failure(), failure(), reply(200, {"ok": 1})])
    assert s.transport.request("GET", PATH).data == {"ok": 1}
    s2 = scripted([failure(), reply(200, {"ok": 2})])
    answer = s2.transport.request("POST", PATH + "/search", json_body={}, retry_unsafe=True)
    assert answer.data == {"ok": 2}


def test_connection_failures_give_up_with_a_transport_error(scripted: Build) -> None:
    s = scripted(default=requests.exceptions.ConnectTimeout("timed out"), max_retries=1)
    with pytest.raises(TransportError) as caught:
        s.transport.request("GET", PATH)
    assert "connecting timed out" in str(caught.value)
    assert len(s.adapter.sent) == 2


def test_tls_failures_are_not_retried(scripted: Build) -> None:
    s = scripted([requests.exceptions.SSLError("certificate verify failed")])
    with pytest.raises(TransportError, match="TLS"):
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 1


def test_an_html_error_page_is_handled_and_retried(scripted: Build, reply: Any) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    s = scripted([reply(502, page, {"Content-Type": "text/html"}), reply(200, {"ok": 1})])
    assert s.transport.request("GET", PATH).data == {"ok": 1}


def test_an_html_404_is_a_not_found(scripted: Build, reply: Any) -> None:
    s = scripted([reply(404, b"<html><p>Not found</p></html>", {"Content-Type": "text/html"})])
    with pytest.raises(NotFoundError, match="non-JSON body: Not found"):
        s.transport.request("GET", PATH + "/1")


def test_a_non_json_success_is_a_transport_error(scripted: Build, reply: Any) -> None:
    s = scripted([reply(200, b"<html>Login</html>", {"Content-Type": "text/html"})])
    with pytest.raises(TransportError, match="expected JSON"):
        s.transport.request("GET", PATH)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_client_errors_are_not_retried(scripted: Build, reply: Any, status: int) -> None:
    s = scripted(default=reply(status, {"message": "no"}))
    with pytest.raises(HubSpotError):
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 1


def test_redirects_are_never_followed(scripted: Build, reply: Any) -> None:
    s = scripted([reply(302, None, {"Location": "https://evil.example/steal"})])
    with pytest.raises(HubSpotError, match="redirect"):
        s.transport.request("GET", PATH)
    assert len(s.adapter.sent) == 1


def test_the_token_is_never_sent_over_plain_http_to_another_host(token: str) -> None:
    sent: list[requests.PreparedRequest] = []

    class Recorder(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
            sent.append(request)
            raise AssertionError("must not be sent")

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://", Recorder())
    settings = Settings(token=Secret(token), base_url="https://api.hubapi.test")
    # A settings object cannot hold such a URL; forge one to prove the auth check itself.
    object.__setattr__(settings, "base_url", "http://api.hubapi.test")
    transport = Transport(settings, session=session)
    with pytest.raises(HubSpotError, match="Refusing to send the token"):
        transport.request("GET", PATH)
    assert sent == []


def test_the_token_is_sent_over_http_to_loopback(token: str, reply: Any) -> None:
    seen: list[str] = []

    class Loopback(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
            seen.append(request.headers["Authorization"])
            response = requests.Response()
            response.status_code = 204
            response._content = b""
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://127.0.0.1", Loopback())
    settings = Settings(token=Secret(token), base_url="http://127.0.0.1:1")
    Transport(settings, session=session).request("GET", PATH)
    assert seen == [f"Bearer {token}"]


def test_the_token_never_shows(
    scripted: Build, reply: Any, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"message": f"Token {token} is invalid", "category": "INVALID_AUTHENTICATION"}
    s = scripted([reply(503), _dropped(), reply(401, body)])
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as caught:
        s.transport.request("GET", PATH)
    error = caught.value
    texts = [str(error), repr(error), repr(error.body), repr(s.transport), repr(s.settings)]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "requests are logged at DEBUG"
    assert all(token not in text for text in texts)
    assert "pat-na1-…beef" in repr(s.transport)


def test_a_default_session_pools_enough_connections(token: str) -> None:
    settings = Settings(token=Secret(token), max_concurrency=32)
    transport = Transport(settings)
    adapter = transport._session.get_adapter("https://api.hubapi.com")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    assert adapter._pool_maxsize >= 32  # type: ignore[attr-defined]
    transport.close()


def test_an_injected_session_is_left_open(scripted: Build) -> None:
    s = scripted()
    closed: list[bool] = []
    s.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    with s.transport:
        pass
    assert closed == []


def test_stats_count_across_threads(scripted: Build, reply: Any) -> None:
    s = scripted(default=reply(200, {}))

    def worker() -> None:
        for _ in range(25):
            s.transport.request("GET", PATH)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert s.transport.stats.requests == 200 == len(s.adapter.sent)


def test_validation_errors_arrive_parsed(scripted: Build, reply: Any) -> None:
    body = {
        "status": "error",
        "message": 'Property values were not valid: [{"isValid":false,"message":"bad",'
        '"error":"INVALID_EMAIL","name":"email"}]',
        "category": "VALIDATION_ERROR",
    }
    s = scripted([reply(400, body)])
    with pytest.raises(ValidationError) as caught:
        s.transport.request("POST", PATH + "/batch/update", json_body={}, retry_unsafe=True)
    assert caught.value.errors == [{"name": "email", "code": "INVALID_EMAIL", "message": "bad"}]
