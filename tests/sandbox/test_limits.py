"""Rate limits: windows, tiers, headers and 429 bodies (hubspot-api.md §4, Decisions)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import requests

from hsframe.sandbox.adapter import BASE_URL
from hsframe.sandbox.core import SandboxCore
from hsframe.sandbox.limits import (
    TIERS,
    USAGE_PATH,
    RateLimiter,
    Tier,
    rate_limit_error,
    resolve_tier,
    retry_after_seconds,
)
from hsframe.sandbox.server import SandboxServer
from hsframe.sandbox.wire import ApiError

CONTACTS = "/crm/v3/objects/contacts"
SEARCH = f"{CONTACTS}/search"
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
)


class Clock:
    def __init__(self, now: float = 1_772_452_800.0) -> None:  # 2026-03-02 12:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now


def refused(limiter: RateLimiter, app_id: int = 1, budget: Any = "burst") -> ApiError:
    with pytest.raises(ApiError) as caught:
        limiter.charge(app_id, budget)
    return caught.value


@pytest.mark.parametrize(
    ("name", "burst", "daily"),
    [
        ("free", 100, 250_000),
        ("starter", 100, 250_000),
        ("professional", 190, 650_000),
        ("enterprise", 190, 1_000_000),
        ("Professional", 190, 650_000),
    ],
)
def test_tier_presets(name: str, burst: int, daily: int) -> None:
    tier = resolve_tier(name)
    assert (tier.burst, tier.daily) == (burst, daily)


def test_unknown_tier_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="free, starter, professional, enterprise"):
        resolve_tier("platinum")
    custom = Tier("tiny", 3, 10)
    assert resolve_tier(custom) is custom
    assert set(TIERS) == {"free", "starter", "professional", "enterprise"}


@pytest.mark.parametrize("window", [0, -1.0])
def test_window_must_be_positive(window: float) -> None:
    with pytest.raises(ValueError, match="window"):
        RateLimiter(window=window)


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (9.7, 10), (10.0, 10)]
)
def test_retry_after_is_whole_seconds_rounded_up_at_least_one(seconds: float, header: int) -> None:
    assert retry_after_seconds(seconds) == header


def test_burst_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter("professional", clock=clock)
    start = clock.now
    for _ in range(100):
        limiter.charge(1, "burst")
    clock.now = start + 5
    for _ in range(90):
        limiter.charge(1, "burst")
    error = refused(limiter)
    assert error.status == 429
    assert error.headers["Retry-After"] == "5"  # the first hits leave at start + 10
    clock.now = start + 10.001  # the first 100 left; the 90 from t+5 remain
    headers = limiter.charge(1, "burst")
    assert headers["X-HubSpot-RateLimit-Remaining"] == str(190 - 91)
    for _ in range(99):
        limiter.charge(1, "burst")
    refused(limiter)
    clock.now = start + 15.001
    assert limiter.charge(1, "burst")["X-HubSpot-RateLimit-Remaining"] == str(190 - 101)


def test_window_length_is_a_knob() -> None:
    clock = Clock()
    limiter = RateLimiter("free", window=0.5, clock=clock)
    for _ in range(100):
        limiter.charge(1, "burst")
    error = refused(limiter)
    assert error.headers["Retry-After"] == "1"
    clock.now += 0.5
    assert limiter.charge(1, "burst")["X-HubSpot-RateLimit-Interval-Milliseconds"] == "500"


def test_a_refused_request_is_not_charged() -> None:
    clock = Clock()
    limiter = RateLimiter(Tier("tiny", 2, 100), clock=clock)
    limiter.charge(1, "burst")
    limiter.charge(1, "burst")
    for _ in range(5):
        refused(limiter)
    assert limiter.daily_used() == 2
    assert limiter.headers(1)["X-HubSpot-RateLimit-Remaining"] == "0"


def test_each_app_has_its_own_burst_window_but_the_day_is_shared() -> None:
    clock = Clock()
    limiter = RateLimiter(Tier("tiny", 2, 5), clock=clock)
    for app in (1, 1, 2, 2):
        limiter.charge(app, "burst")
    refused(limiter, 1)
    refused(limiter, 2)
    headers = limiter.charge(3, "burst")
    assert headers["X-HubSpot-RateLimit-Remaining"] == "1"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    error = refused(limiter, 4)
    assert error.extra["policyName"] == "DAILY"


def test_search_has_its_own_per_second_budget_scaled_with_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(Tier("tiny", 2, 1000), window=10.0, clock=clock)
    for _ in range(5):
        assert limiter.charge(1, "search") == {}  # no rate headers on search
    error = refused(limiter, budget="search")
    assert error.extra["policyName"] == "SECONDLY"
    assert error.message == "You have reached your secondly limit."
    assert error.headers["Retry-After"] == "1"
    # search does not touch the burst window ...
    assert limiter.charge(1, "burst")["X-HubSpot-RateLimit-Remaining"] == "1"
    # ... but counts toward the day
    assert limiter.daily_used() == 6
    clock.now += 1.0
    limiter.charge(1, "search")

    short = RateLimiter(window=2.0, clock=clock)
    assert short.search_window == pytest.approx(0.2)
    for _ in range(5):
        short.charge(1, "search")
    refused(short, budget="search")
    clock.now += 0.2
    short.charge(1, "search")


def test_daily_limit_resets_at_utc_midnight() -> None:
    clock = Clock(1_772_495_999.5)  # 2026-03-02 23:59:59.5 UTC
    limiter = RateLimiter(Tier("tiny", 100, 3), clock=clock)
    for _ in range(3):
        limiter.charge(1, "burst")
    error = refused(limiter)
    assert error.extra["policyName"] == "DAILY"
    assert error.message == "You have reached your daily limit."
    assert error.headers["Retry-After"] == "1"
    assert refused(limiter, budget="search").extra["policyName"] == "DAILY"
    clock.now = 1_772_496_000.0  # midnight
    assert limiter.charge(1, "burst")["X-HubSpot-RateLimit-Daily-Remaining"] == "2"
    assert limiter.resets_at() == 1_772_496_000.0 + 86_400


def test_daily_retry_after_counts_to_midnight() -> None:
    clock = Clock(1_772_452_800.0)  # noon: twelve hours to midnight
    limiter = RateLimiter(Tier("tiny", 100, 1), clock=clock)
    limiter.charge(1, "burst")
    assert refused(limiter).headers["Retry-After"] == str(12 * 3600)


def test_headers_report_the_state_after_the_charge() -> None:
    limiter = RateLimiter("professional", window=10.0, clock=Clock())
    headers = limiter.charge(1, "burst")
    assert headers == {
        "X-HubSpot-RateLimit-Daily": "650000",
        "X-HubSpot-RateLimit-Daily-Remaining": "649999",
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "189",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    assert limiter.headers(1) == headers  # peeking charges nothing


def test_charging_is_thread_safe() -> None:
    limiter = RateLimiter("professional", clock=Clock())
    granted: list[int] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(20):
            try:
                limiter.charge(1, "burst")
            except ApiError:
                continue
            with lock:
                granted.append(1)

    threads = [threading.Thread(target=spend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 190
    assert limiter.daily_used() == 190


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."),
        ("SECONDLY", "You have reached your secondly limit."),
        ("DAILY", "You have reached your daily limit."),
    ],
)
def test_429_bodies(policy: str, message: str) -> None:
    response = rate_limit_error(policy, 2.5, group="g").to_response()
    payload = response.payload()
    assert response.status == 429
    assert response.headers["Retry-After"] == "3"
    assert payload["status"] == "error"
    assert payload["message"] == message
    assert payload["errorType"] == "RATE_LIMIT"
    assert payload["category"] == "RATE_LIMITS"
    assert payload["policyName"] == policy
    assert payload["groupName"] == "g"
    uuid.UUID(payload["correlationId"])


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        rate_limit_error("HOURLY", 1)


# -- through the core -------------------------------------------------------------------


def test_rate_headers_on_normal_answers_and_none_on_search(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    auth = bearer(sandbox_core.auth.token)
    listed = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=auth)
    assert all(name in listed.headers for name in RATE_HEADERS)
    assert listed.headers["X-HubSpot-RateLimit-Remaining"] == "189"
    searched = adapter_session.post(f"{BASE_URL}{SEARCH}", headers=auth, json={})
    assert searched.status_code == 200
    assert not any(name.lower().startswith("x-hubspot-ratelimit") for name in searched.headers)
    missing = adapter_session.get(f"{BASE_URL}{CONTACTS}/999", headers=auth)
    assert missing.status_code == 404
    assert missing.headers["X-HubSpot-RateLimit-Remaining"] == "188"  # errors count


def test_burst_429_through_the_core(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any, manual_clock: Any
) -> None:
    auth = bearer(sandbox_core.auth.token)
    for _ in range(190):
        assert adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=auth).status_code == 200
    manual_clock.advance(3.2)
    answer = adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=auth)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    payload = answer.json()
    assert payload["policyName"] == "TEN_SECONDLY_ROLLING"
    assert payload["errorType"] == "RATE_LIMIT"
    assert payload["category"] == "RATE_LIMITS"
    # unknown paths and 401s are not charged, and token info is free
    assert adapter_session.get(f"{BASE_URL}/nowhere", headers=auth).status_code == 404
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}").status_code == 401
    assert sandbox_core.limiter.daily_used() == 190
    # another app is not limited by this one's window
    other = sandbox_core.auth.issue_token(["crm.objects.contacts.read"])
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=bearer(other)).ok
    manual_clock.advance(7)
    assert adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=auth).ok


def test_search_429_has_no_rate_headers(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    auth = bearer(sandbox_core.auth.token)
    statuses = [
        adapter_session.post(f"{BASE_URL}{SEARCH}", headers=auth, json={}).status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 5
    answer = adapter_session.post(f"{BASE_URL}{SEARCH}", headers=auth, json={})
    assert answer.status_code == 429
    assert answer.json()["policyName"] == "SECONDLY"
    assert answer.headers["Retry-After"] == "1"
    assert not any(name.lower().startswith("x-hubspot-ratelimit") for name in answer.headers)


def test_daily_usage_endpoint(
    sandbox_core: SandboxCore, adapter_session: requests.Session, bearer: Any
) -> None:
    auth = bearer(sandbox_core.auth.token)
    adapter_session.get(f"{BASE_URL}{CONTACTS}", headers=auth)
    usage = adapter_session.get(f"{BASE_URL}{USAGE_PATH}", headers=auth)
    assert usage.status_code == 200
    (entry,) = usage.json()["results"]
    assert entry["name"] == "private-apps-api-calls-daily"
    assert entry["usageLimit"] == 650_000
    assert entry["currentUsage"] == 2
    assert entry["resetsAt"] == "2026-03-03T00:00:00.000Z"
    assert entry["collectedAt"] == "2026-03-02T12:00:00.000Z"


def test_limits_over_http(http_session: requests.Session, fake_crm: Any, bearer: Any) -> None:
    core = SandboxCore(fake_crm, limiter=RateLimiter(Tier("tiny", 3, 1000), window=60.0))
    auth = bearer(core.auth.token)
    with SandboxServer(core) as server:
        first = http_session.get(f"{server.url}{CONTACTS}", headers=auth)
        assert first.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "60000"
        http_session.get(f"{server.url}{CONTACTS}", headers=auth)
        http_session.get(f"{server.url}{CONTACTS}", headers=auth)
        answer = http_session.get(f"{server.url}{CONTACTS}", headers=auth)
        searched = http_session.post(f"{server.url}{SEARCH}", headers=auth, json={})
    assert answer.status_code == 429
    assert 59 <= int(answer.headers["Retry-After"]) <= 60
    assert answer.json()["message"] == "You have reached your ten_secondly_rolling limit."
    assert searched.status_code == 200
    assert "X-HubSpot-RateLimit-Remaining" not in searched.headers
