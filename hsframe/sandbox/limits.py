"""HubSpot's rate limits, as the sandbox enforces them: windows, tiers, headers, 429 bodies.

A private app on HubSpot has three budgets (hubspot-api.md §4, Decisions table):

* **burst**: a sliding 10-second window per app (100 requests on Free/Starter, 190 on
  Professional and Enterprise), policy ``TEN_SECONDLY_ROLLING``;
* **search**: 5 requests per second per account, on its own budget (search is exempt from
  the burst window), policy ``SECONDLY``;
* **daily**: per account, reset at midnight in the account's time zone (UTC in the
  sandbox), policy ``DAILY``. Search counts toward it too.

The burst window's length is a knob (``window``) so tests can slide it quickly; the search
window scales with it (5 requests per ``window / 10`` seconds). Every answer to a
non-search call carries the ``X-HubSpot-RateLimit-*`` headers; search answers carry none.
A 429 carries ``Retry-After`` in whole seconds, rounded up, at least 1.

What counts: a request is charged once it is authenticated, routed and permitted, whatever
the endpoint then answers (2xx, 4xx, 5xx all count, as on HubSpot, whose guidelines count
error responses among the day's requests). A request the limiter rejects with 429 is not
charged, and neither are 401, 403, 404 or 405 answers, which are given before the limiter.

The clock is injected, so windows slide in tests without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from hsframe.sandbox.wire import ApiError, Response

Budget = Literal["burst", "search"]

POLICY_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "SECONDLY": "You have reached your secondly limit.",
        "DAILY": "You have reached your daily limit.",
    }
)
"""The 429 ``message`` for each ``policyName`` (hubspot-api.md §4.4)."""

USAGE_PATH = "/account-info/v3/api-usage/daily/private-apps"
"""The daily-usage endpoint (hubspot-api.md §4.1); needs a token, no scope."""

SEARCH_PER_SECOND = 5
"""Search requests allowed per second (per ``window / 10`` seconds) per account."""

_DAY = 86_400.0


@dataclass(frozen=True)
class Tier:
    """A HubSpot subscription tier's limits for a private app.

    Attributes:
        name: The preset's name.
        burst: Requests per app per burst window.
        daily: Requests per account per day.
    """

    name: str
    burst: int
    daily: int


TIERS: Mapping[str, Tier] = MappingProxyType(
    {
        "free": Tier("free", 100, 250_000),
        "starter": Tier("starter", 100, 250_000),
        "professional": Tier("professional", 190, 650_000),
        "enterprise": Tier("enterprise", 190, 1_000_000),
    }
)
"""Tier presets by name (hubspot-api.md §4.1; Professional's daily limit per Decisions)."""


def resolve_tier(tier: str | Tier) -> Tier:
    """A tier preset by name (case-insensitive), or the given :class:`Tier` as is.

    Raises:
        ValueError: For an unknown name; the message lists the known ones.
    """
    if isinstance(tier, Tier):
        return tier
    try:
        return TIERS[tier.lower()]
    except KeyError:
        known = ", ".join(TIERS)
        raise ValueError(f"unknown tier {tier!r}; choose one of: {known}") from None


def retry_after_seconds(seconds: float) -> int:
    """A wait as HubSpot's ``Retry-After``: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds - 1e-9))


def rate_limit_error(policy: str, retry_after: float, *, group: str | None = None) -> ApiError:
    """The 429 HubSpot answers when the ``policy`` limit is reached.

    Args:
        policy: ``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``.
        retry_after: Seconds until a retry can succeed; sent as ``Retry-After``, rounded up.
        group: Optional ``groupName`` (which bucket was exhausted).

    Raises:
        ValueError: For an unknown policy.
    """
    if policy not in POLICY_MESSAGES:
        known = ", ".join(POLICY_MESSAGES)
        raise ValueError(f"unknown rate-limit policy {policy!r}; choose one of: {known}")
    extra: dict[str, str] = {"errorType": "RATE_LIMIT", "policyName": policy}
    if group is not None:
        extra["groupName"] = group
    return ApiError(
        429,
        "RATE_LIMITS",
        POLICY_MESSAGES[policy],
        extra=extra,
        headers={"Retry-After": str(retry_after_seconds(retry_after))},
    )


class RateLimiter:
    """The account's budgets: a burst window per app, one search window, one daily count.

    Thread safe: one lock guards all counters, and nothing waits while holding it.

    Args:
        tier: A preset name (``free``, ``starter``, ``professional``, ``enterprise``) or a
            :class:`Tier`.
        window: Length of the burst window in seconds (HubSpot: 10). The search window is
            a tenth of it.
        portal_id: The account id, for the ``groupName`` of 429 bodies.
        clock: Seconds since the epoch (UTC). Daily counts reset when its date changes.

    Example:
        >>> now = [0.0]
        >>> limiter = RateLimiter("free", window=1.0, clock=lambda: now[0])
        >>> for _ in range(100):
        ...     _ = limiter.charge(7, "burst")
        >>> limiter.charge(7, "burst")
        Traceback (most recent call last):
        ...
        hsframe.sandbox.wire.ApiError: You have reached your ten_secondly_rolling limit.
        >>> now[0] = 1.01
        >>> limiter.charge(7, "burst")["X-HubSpot-RateLimit-Remaining"]
        '99'
    """

    def __init__(
        self,
        tier: str | Tier = "professional",
        *,
        window: float = 10.0,
        portal_id: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not window > 0:
            raise ValueError(f"window must be a positive number of seconds, not {window!r}")
        self.tier = resolve_tier(tier)
        self.window = float(window)
        self.search_window = self.window / 10
        self.portal_id = portal_id
        self._clock = clock
        self._lock = threading.Lock()
        self._burst: dict[int, deque[float]] = {}
        self._search: deque[float] = deque()
        self._day = -1
        self._daily_used = 0

    def __repr__(self) -> str:
        return f"RateLimiter(tier={self.tier.name!r}, window={self.window})"

    def charge(self, app_id: int, budget: Budget) -> dict[str, str]:
        """Count one request by app ``app_id`` against ``budget`` and the daily limit.

        Args:
            app_id: The calling app (each has its own burst window).
            budget: ``"burst"`` for ordinary calls, ``"search"`` for CRM search.

        Returns:
            The rate-limit headers for the answer: the ``X-HubSpot-RateLimit-*`` set for
            a burst call, none for search.

        Raises:
            ApiError: 429 with the policy that was exhausted; nothing is charged then.
        """
        now = self._clock()
        with self._lock:
            self._roll_day(now)
            if self._daily_used >= self.tier.daily:
                wait = self._until_midnight(now)
                raise rate_limit_error("DAILY", wait, group=self._group("daily"))
            if budget == "search":
                group = self._group("secondly")
                self._check(self._search, now, self.search_window, SEARCH_PER_SECOND, group)
                self._search.append(now)
                self._daily_used += 1
                return {}
            hits = self._burst.setdefault(app_id, deque())
            group = self._group("ten-secondly", app_id)
            self._check(hits, now, self.window, self.tier.burst, group)
            hits.append(now)
            self._daily_used += 1
            return self._headers(hits)

    def headers(self, app_id: int) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers for app ``app_id`` now, charging nothing."""
        now = self._clock()
        with self._lock:
            self._roll_day(now)
            hits = self._burst.get(app_id, deque())
            _expire(hits, now, self.window)
            return self._headers(hits)

    def daily_used(self) -> int:
        """Requests counted toward today's limit so far."""
        with self._lock:
            self._roll_day(self._clock())
            return self._daily_used

    def resets_at(self) -> float:
        """When the daily count resets (the next UTC midnight), in seconds since the epoch."""
        now = self._clock()
        return now + self._until_midnight(now)

    def usage(self) -> Response:
        """``GET /account-info/v3/api-usage/daily/private-apps``: today's count and limit."""
        now = self._clock()
        with self._lock:
            self._roll_day(now)
            used = self._daily_used
        entry = {
            "name": "private-apps-api-calls-daily",
            "usageLimit": self.tier.daily,
            "currentUsage": used,
            "collectedAt": _iso(now),
            "fetchStatus": "SUCCESS",
            "resetsAt": _iso(now + self._until_midnight(now)),
        }
        return Response.of_json(200, {"results": [entry]})

    def _check(
        self,
        hits: deque[float],
        now: float,
        window: float,
        limit: int,
        group: str,
    ) -> None:
        _expire(hits, now, window)
        if len(hits) >= limit:
            policy = "SECONDLY" if hits is self._search else "TEN_SECONDLY_ROLLING"
            raise rate_limit_error(policy, hits[0] + window - now, group=group)

    def _headers(self, hits: deque[float]) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(self.tier.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.tier.daily - self._daily_used)),
            "X-HubSpot-RateLimit-Max": str(self.tier.burst),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.tier.burst - len(hits))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(self.window * 1000)),
        }

    def _roll_day(self, now: float) -> None:
        day = math.floor(now / _DAY)
        if day != self._day:
            self._day = day
            self._daily_used = 0

    @staticmethod
    def _until_midnight(now: float) -> float:
        return (math.floor(now / _DAY) + 1) * _DAY - now

    def _group(self, kind: str, app_id: int | None = None) -> str:
        scope = f"{app_id}:{self.portal_id}" if app_id is not None else str(self.portal_id)
        return f"publicapi:private_app-api-calls-{kind}:{scope}"


def _expire(hits: deque[float], now: float, window: float) -> None:
    """Drop the hits that have left a sliding window ending now."""
    while hits and hits[0] <= now - window:
        hits.popleft()


def _iso(seconds: float) -> str:
    """An instant as HubSpot writes it: ISO 8601, UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
