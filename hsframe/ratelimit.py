"""The client-side rate budget: send no request that HubSpot would answer with a 429.

HubSpot limits a private app three ways (hubspot-api.md §4): a rolling 10-second burst
window per app (100 or 190 requests by tier), CRM search at 5 requests per second on its
own budget, and a daily count per account. Retrying after 429s works, but HubSpot asks that
errors stay under 5% of a day's calls, and a load that keeps hitting the wall is slower than
one that paces itself. So every request first takes a slot from a :class:`RateBudget`:

* each bucket (``burst``, ``search``) keeps a log of when its recent requests were sent, and
  :meth:`RateBudget.acquire` blocks until one more fits in the rolling window;
* HubSpot's ``X-HubSpot-RateLimit-Max``, ``-Remaining`` and ``-Interval-Milliseconds``
  headers, fed to :meth:`RateBudget.observe`, replace the tier's defaults (so a short
  window, like the sandbox's test windows, is followed) and reveal requests made by other
  users of the same app, which are then counted too;
* search answers carry no rate headers; the search window is taken as a tenth of the burst
  window (1 s against HubSpot's 10 s), which is how HubSpot and the sandbox both scale it;
* ``X-HubSpot-RateLimit-Daily-Remaining`` is tracked; once it reaches zero, requests fail at
  once with :class:`~hsframe.errors.RateLimitError` (policy ``DAILY``) instead of being sent.

A small safety margin absorbs the jitter between when a slot is taken and when HubSpot
counts the request: a reserve of ``safety`` × the limit, and a window longer by ``safety`` ×
its length (at least 20 ms). The clock and sleep are passed in, so tests never wait, and one
lock guards everything, so any number of worker threads may share a budget.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from hsframe.config import Tier
from hsframe.errors import RateLimitError

__all__ = [
    "BURST_WINDOW",
    "SEARCH_PER_SECOND",
    "TIER_LIMITS",
    "Bucket",
    "RateBudget",
    "TierLimits",
]

Bucket = Literal["burst", "search"]
"""Which budget a request spends: ``search`` for CRM search, ``burst`` for everything else."""

BURST_WINDOW = 10.0
"""HubSpot's burst window in seconds, until a response says otherwise."""

SEARCH_PER_SECOND = 5
"""CRM search requests per second per account (hubspot-api.md §1.5)."""

DAILY_RECHECK = 60.0
"""Seconds after which a used-up daily budget lets one request through to ask HubSpot again
(the daily count resets at midnight in the account's time zone, which hsframe cannot see)."""

_MIN_PAD = 0.02

ARRIVAL_CAP = 0.1
"""The latest, in seconds after the send, that a request is assumed to reach HubSpot."""


@dataclass(frozen=True)
class TierLimits:
    """A tier's limits for a private app (hubspot-api.md §4.1).

    Attributes:
        burst: Requests per app per 10-second window.
        daily: Requests per account per day.
    """

    burst: int
    daily: int


TIER_LIMITS: Mapping[str, TierLimits] = {
    "free": TierLimits(100, 250_000),
    "starter": TierLimits(100, 250_000),
    "professional": TierLimits(190, 650_000),
    "enterprise": TierLimits(190, 1_000_000),
}
"""The budget's defaults per tier, used until HubSpot's headers arrive."""


class _Window:
    """One rolling window: a limit, a length, and when recent requests were sent."""

    def __init__(self, limit: int, length: float) -> None:
        self.limit = limit
        self.length = length
        self.sent: deque[float] = deque()
        self.paused_until = 0.0

    def usable(self, safety: float) -> tuple[int, float]:
        """The limit minus the reserve, and the padded window length."""
        reserve = math.floor(self.limit * safety)
        pad = max(_MIN_PAD, self.length * safety)
        return max(1, self.limit - reserve), self.length + pad

    def wait(self, now: float, safety: float) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        if self.paused_until > now:
            return self.paused_until - now
        limit, length = self.usable(safety)
        # A nanosecond of slack, so that sleeping exactly the wait returned is always enough
        # despite float rounding.
        while self.sent and self.sent[0] <= now - length + 1e-9:
            self.sent.popleft()
        if len(self.sent) < limit:
            return 0.0
        return self.sent[len(self.sent) - limit] + length - now


class RateBudget:
    """Paces requests so that HubSpot's rate limits are never hit. Thread safe.

    Args:
        tier: The portal's tier (``free``, ``starter``, ``professional``, ``enterprise``):
            the limits to assume until HubSpot's headers arrive.
        clock: Monotonic seconds (``time.monotonic``).
        sleep: Waits the given seconds (``time.sleep``); tests pass a fake that advances
            their clock.
        safety: Fraction of each limit kept in reserve and of each window added as padding.
        window: The burst window to assume before the first response, in seconds.

    Example:
        >>> now = [0.0]
        >>> def sleep(seconds: float) -> None:
        ...     now[0] += seconds
        >>> budget = RateBudget("free", clock=lambda: now[0], sleep=sleep)
        >>> budget.observe("burst", {"X-HubSpot-RateLimit-Max": "10",
        ...                          "X-HubSpot-RateLimit-Remaining": "10",
        ...                          "X-HubSpot-RateLimit-Interval-Milliseconds": "1000"})
        >>> for _ in range(11):
        ...     _ = budget.acquire("burst")
        >>> round(now[0], 2)  # ten went at once, the eleventh waited for the window to roll
        1.03
    """

    def __init__(
        self,
        tier: Tier | str = "professional",
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        safety: float = 0.03,
        window: float = BURST_WINDOW,
    ) -> None:
        if tier not in TIER_LIMITS:
            raise ValueError(f"unknown tier {tier!r}; choose one of: {', '.join(TIER_LIMITS)}")
        if not 0 <= safety < 0.5:
            raise ValueError("safety must be a fraction below 0.5")
        limits = TIER_LIMITS[tier]
        self.tier = tier
        self.safety = safety
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {
            "burst": _Window(limits.burst, window),
            "search": _Window(SEARCH_PER_SECOND, window / 10),
        }
        self._daily_limit = limits.daily
        self._daily_seen: int | None = None
        self._daily_seen_at = 0.0
        self._daily_sent_since = 0
        self._daily_blocked_until = 0.0
        self._waits = 0
        self._waited = 0.0

    def __repr__(self) -> str:
        with self._lock:
            burst, search = self._windows["burst"], self._windows["search"]
            return (
                f"RateBudget(tier={self.tier!r}, burst={burst.limit}/{burst.length:g}s, "
                f"search={search.limit}/{search.length:g}s, "
                f"daily_remaining={self._daily_estimate()})"
            )

    def acquire(self, bucket: Bucket = "burst") -> float:
        """Block until a request on ``bucket`` may be sent, then count it as sent.

        Args:
            bucket: ``search`` for CRM search, ``burst`` for every other request.

        Returns:
            The time the slot was taken (on the budget's clock); pass it back to
            :meth:`observe` with the answer.

        Raises:
            RateLimitError: The daily limit is used up (policy ``DAILY``); nothing may be
                sent until it resets.
            KeyError: For an unknown bucket.
        """
        window = self._windows[bucket]
        while True:
            with self._lock:
                now = self._clock()
                self._check_daily(now)
                wait = window.wait(now, self.safety)
                if wait <= 0:
                    window.sent.append(now)
                    self._daily_sent_since += 1
                    return now
                self._waits += 1
                self._waited += wait
            self._sleep(wait)

    def observe(
        self, bucket: Bucket, headers: Mapping[str, str], sent_at: float | None = None
    ) -> None:
        """Learn from an answer's ``X-HubSpot-RateLimit-*`` headers (if it has any).

        Args:
            bucket: The bucket the request was sent on.
            headers: The answer's headers (any case).
            sent_at: What :meth:`acquire` returned for the request (default: now). HubSpot's
                count is compared with the requests logged up to then, and then the request
                is logged again as sent at its arrival: HubSpot counts a request when it
                arrives, some milliseconds after we sent it (more on a busy machine), so a
                log keyed on the send time frees the slot early and invites a 429 (seen on
                search, whose window is one second). The arrival is somewhere between the
                send and the answer; the answer's time, capped at :data:`ARRIVAL_CAP` after
                the send, is late enough without giving away a slow server's latency.
        """
        lowered = {key.lower(): value for key, value in headers.items()}

        def number(name: str) -> int | None:
            try:
                return int(lowered[f"x-hubspot-ratelimit-{name}"])
            except (KeyError, ValueError):
                return None

        limit, remaining = number("max"), number("remaining")
        interval = number("interval-milliseconds")
        daily, daily_remaining = number("daily"), number("daily-remaining")
        with self._lock:
            now = self._clock()
            at = now if sent_at is None else min(sent_at, now)
            burst = self._windows["burst"]
            if bucket == "burst" and interval and interval > 0:
                burst.length = interval / 1000
                self._windows["search"].length = burst.length / 10
            if bucket == "burst" and limit and limit > 0:
                burst.limit = limit
                if remaining is not None:
                    self._count_others(burst, at, limit - remaining)
            if daily and daily > 0:
                self._daily_limit = daily
            if daily_remaining is not None:
                self._daily_seen = daily_remaining
                self._daily_seen_at = now
                self._daily_sent_since = 0
            if sent_at is not None:
                _restamp(self._windows[bucket], sent_at, min(now, sent_at + ARRIVAL_CAP))

    def pause(self, bucket: Bucket, seconds: float) -> None:
        """Hold every request on ``bucket`` for ``seconds`` (after a 429, so that all
        threads back off, not only the one that was refused)."""
        with self._lock:
            window = self._windows[bucket]
            window.paused_until = max(window.paused_until, self._clock() + seconds)

    def exhaust_daily(self, retry_after: float | None = None) -> None:
        """Record that HubSpot refused a request for the daily limit.

        Args:
            retry_after: Seconds HubSpot said to wait, if it said; requests fail at once
                until then (or for :data:`DAILY_RECHECK` seconds).
        """
        with self._lock:
            now = self._clock()
            self._daily_seen, self._daily_seen_at, self._daily_sent_since = 0, now, 0
            self._daily_blocked_until = now + (retry_after or DAILY_RECHECK)

    def window(self, bucket: Bucket) -> float:
        """The bucket's current window length in seconds (as HubSpot last reported it)."""
        with self._lock:
            return self._windows[bucket].length

    def limit(self, bucket: Bucket) -> int:
        """The bucket's current limit per window (before the safety reserve)."""
        with self._lock:
            return self._windows[bucket].limit

    @property
    def daily_remaining(self) -> int | None:
        """Requests left today by the last answer's count less those sent since (None
        before HubSpot said)."""
        with self._lock:
            return self._daily_estimate()

    @property
    def waited(self) -> float:
        """Total seconds that :meth:`acquire` has made callers wait."""
        with self._lock:
            return self._waited

    def _daily_estimate(self) -> int | None:
        if self._daily_seen is None:
            return None
        return max(0, self._daily_seen - self._daily_sent_since)

    def _check_daily(self, now: float) -> None:
        blocked = now < self._daily_blocked_until
        estimate = self._daily_estimate()
        if not blocked and not (estimate == 0 and now - self._daily_seen_at < DAILY_RECHECK):
            return
        raise RateLimitError(
            "HubSpot's daily API limit is used up: its last answer said no requests remain "
            "today, so hsframe did not send this one.",
            policy="DAILY",
            retry_after=(self._daily_blocked_until - now) if blocked else None,
        )

    def _count_others(self, window: _Window, at: float, used: int) -> None:
        """HubSpot counted ``used`` requests in its window when the request sent ``at``
        arrived; if the log holds fewer sent in the window ending then, someone else (another
        script with the same app) sent the rest: log them too, as sent ``at``."""
        _, length = window.usable(self.safety)
        ours = sum(1 for sent in window.sent if at - length < sent <= at)
        position = bisect.bisect_right(window.sent, at)
        for _ in range(used - ours):
            window.sent.insert(position, at)


def _restamp(window: _Window, sent_at: float, arrived: float) -> None:
    """Move one logged request from its send time to ``arrived`` (the log stays sorted)."""
    position = bisect.bisect_left(window.sent, sent_at)
    if position == len(window.sent) or window.sent[position] != sent_at or arrived <= sent_at:
        return
    del window.sent[position]
    window.sent.insert(bisect.bisect_right(window.sent, arrived), arrived)
