"""The rate budget: rolling windows, HubSpot's headers, search apart, daily stop, threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsframe.config import TIERS
from hsframe.errors import RateLimitError
from hsframe.ratelimit import ARRIVAL_CAP, DAILY_RECHECK, TIER_LIMITS, RateBudget


class Clock:
    """A clock that moves only when slept on (single-threaded tests)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _headers(limit: int, remaining: int, interval_ms: int = 10_000, **daily: int) -> dict[str, str]:
    headers = {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }
    if "daily" in daily:
        headers["X-HubSpot-RateLimit-Daily"] = str(daily["daily"])
    if "daily_remaining" in daily:
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily["daily_remaining"])
    return headers


def _most_in_any_window(times: Sequence[float], length: float) -> int:
    """The largest number of ``times`` inside any half-open window of ``length``."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - length:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_every_tier_has_limits() -> None:
    assert set(TIER_LIMITS) == set(TIERS)


@pytest.mark.parametrize(("tier", "free_slots"), [("free", 97), ("professional", 185)])
def test_tier_defaults_hold_before_any_answer(tier: str, free_slots: int) -> None:
    clock = Clock()
    budget = RateBudget(tier, clock=clock, sleep=clock.sleep)
    for _ in range(free_slots):
        budget.acquire()
    assert clock.now == 0.0  # the reserve (3%) is kept back
    budget.acquire()
    assert clock.now == pytest.approx(10.3)  # waited for the first to leave the padded window


def test_headers_replace_the_defaults() -> None:
    clock = Clock()
    budget = RateBudget("professional", clock=clock, sleep=clock.sleep)
    budget.observe("burst", _headers(20, 20, interval_ms=500))
    assert (budget.limit("burst"), budget.window("burst")) == (20, 0.5)
    assert budget.window("search") == pytest.approx(0.05)  # scaled with the burst window
    times = [budget.acquire() for _ in range(100)]
    assert _most_in_any_window(times, 0.5) <= 20
    assert clock.now == pytest.approx(4 * 0.52)  # 20 per 0.5 s window (+20 ms pad)


def test_search_has_its_own_bucket() -> None:
    clock = Clock()
    budget = RateBudget("free", clock=clock, sleep=clock.sleep)
    for _ in range(97):
        budget.acquire("burst")
    times = [budget.acquire("search") for _ in range(5)]
    assert times == [0.0] * 5  # the burst bucket being full does not hold search back
    sixth = budget.acquire("search")
    assert sixth == pytest.approx(1.03)


def test_requests_by_others_are_counted() -> None:
    clock = Clock()
    budget = RateBudget("free", clock=clock, sleep=clock.sleep)
    sent = budget.acquire()
    # HubSpot counted 60 in the window: 59 came from another script with the same app.
    budget.observe("burst", _headers(100, 40), sent_at=sent)
    for _ in range(37):
        budget.acquire()
    assert clock.now == 0.0
    budget.acquire()
    assert clock.now > 0.0


def test_our_own_requests_are_not_counted_twice() -> None:
    clock = Clock()
    budget = RateBudget("free", clock=clock, sleep=clock.sleep)
    sent = [budget.acquire() for _ in range(50)]
    for index, at in enumerate(sent):
        budget.observe("burst", _headers(100, 100 - index - 1), sent_at=at)
    for _ in range(47):
        budget.acquire()
    assert clock.now == 0.0


def test_a_pause_holds_every_caller() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.pause("burst", 3.0)
    budget.acquire("search")
    assert clock.now == 0.0
    budget.acquire("burst")
    assert clock.now == pytest.approx(3.0)


def test_the_daily_limit_stops_requests_before_they_are_sent() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.observe("burst", _headers(190, 189, daily=1000, daily_remaining=2))
    assert budget.daily_remaining == 2
    budget.acquire()
    budget.acquire("search")  # search counts toward the daily limit too
    assert budget.daily_remaining == 0
    with pytest.raises(RateLimitError) as caught:
        budget.acquire()
    assert caught.value.policy == "DAILY"
    assert "midnight" in str(caught.value)
    clock.now += DAILY_RECHECK  # later, one request may ask HubSpot again
    budget.acquire()


def test_a_daily_429_blocks_until_retry_after() -> None:
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.exhaust_daily(retry_after=3600)
    clock.now += 3599
    with pytest.raises(RateLimitError):
        budget.acquire()
    clock.now += 1
    budget.acquire()


def test_headers_that_are_missing_or_odd_change_nothing() -> None:
    budget = RateBudget("free")
    budget.observe("search", {})
    budget.observe(
        "burst", {"X-HubSpot-RateLimit-Max": "lots", "x-hubspot-ratelimit-remaining": ""}
    )
    assert (budget.limit("burst"), budget.window("burst")) == (100, 10.0)
    assert budget.daily_remaining is None


def test_lower_case_headers_are_read() -> None:
    budget = RateBudget("free")
    budget.observe("burst", {k.lower(): v for k, v in _headers(150, 150, 2000).items()})
    assert (budget.limit("burst"), budget.window("burst")) == (150, 2.0)


@pytest.mark.parametrize(("tier", "safety"), [("gold", 0.03), ("free", 0.6), ("free", -0.1)])
def test_bad_arguments(tier: str, safety: float) -> None:
    with pytest.raises(ValueError):
        RateBudget(tier, safety=safety)


def test_repr_shows_the_budgets() -> None:
    assert repr(RateBudget("free")) == (
        "RateBudget(tier='free', burst=100/10s, search=5/1s, daily_remaining=None)"
    )


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 250),
    interval_ms=st.integers(100, 20_000),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=400),
)
def test_no_window_ever_holds_more_than_the_limit(
    limit: int, interval_ms: int, gaps: list[float]
) -> None:
    clock = Clock()
    budget = RateBudget("professional", clock=clock, sleep=clock.sleep)
    budget.observe("burst", _headers(limit, limit, interval_ms))
    times = []
    for gap in gaps:
        clock.now += gap
        times.append(budget.acquire())
    assert _most_in_any_window(times, interval_ms / 1000) <= limit


def test_many_threads_share_one_budget() -> None:
    lock = threading.Lock()
    now = [0.0]

    def clock() -> float:
        with lock:
            return now[0]

    def sleep(seconds: float) -> None:
        with lock:
            # Several sleepers each move the clock (time only runs faster). A wait so small
            # that adding it leaves the float unchanged would spin forever on this fake
            # clock (a real sleep always lets time pass), so every sleep moves it a little.
            now[0] += max(seconds, 1e-6)

    budget = RateBudget("free", clock=clock, sleep=sleep)
    budget.observe("burst", _headers(30, 30, 1000))
    times: list[float] = []

    def worker() -> None:
        for _ in range(40):
            at = budget.acquire()
            with lock:
                times.append(at)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times) == 320
    assert _most_in_any_window(times, 1.0) <= 30


@pytest.mark.parametrize(("answered", "frees_at"), [(0.05, 1.05), (0.5, 1.0 + ARRIVAL_CAP)])
def test_a_slot_frees_a_window_after_the_arrival_not_after_the_send(
    answered: float, frees_at: float
) -> None:
    """HubSpot counts a request when it arrives: the log moves it to the answer's time,
    but never later than ARRIVAL_CAP after the send (a slow server's latency is not
    counted against the budget)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = RateBudget("professional", clock=lambda: now[0], sleep=sleep, safety=0.0)
    sent = [budget.acquire("search") for _ in range(5)]  # search: 5 per second
    now[0] = answered
    for at in sent:
        budget.observe("search", {}, at)
    budget.acquire("search")
    pad = 0.02  # the window's smallest padding, even with safety=0
    assert now[0] == pytest.approx(frees_at + pad)  # keyed on the send time: 1.0 + pad
