"""The one place that sends HTTP to HubSpot.

Everything a request needs besides its path and body is decided here, once: the bearer
token (only over https or to this machine, never on a redirect), the User-Agent, timeouts,
a slot from the rate budget, JSON in and out, retries, and turning an error answer into the
right :mod:`hsframe.errors` class. The client above it only says what to ask for.

Retries, bounded by ``Settings.max_retries`` and ``Settings.max_retry_time``:

* **429**: wait ``Retry-After`` when given, else by ``policyName`` (a burst window for
  ``TEN_SECONDLY_ROLLING``, a search window for ``SECONDLY``, each as HubSpot last reported
  it), never longer than one window, since a rolling window frees a slot within one
  length. The whole bucket is paused, so every thread backs off, not just the refused one.
  ``DAILY`` is not retried: the error says when the limit resets.
* **500, 502, 503, 504** and **dropped connections or timeouts**: exponential backoff with
  jitter (``Retry-After`` on a 503 is honoured).

Idempotency. HubSpot refuses a 429 before doing anything, and a connection that never opened
sent nothing, so those are always retried. After a 5xx or a connection lost mid-request a
write may or may not have happened, so a POST or PATCH is repeated only when the caller
passes ``retry_unsafe=True``; the client does so for the calls where a repeat is harmless:
batch read, search and token info read; batch update and upsert are idempotent by value
(writing the same values twice leaves the same record); batch archive answers 204 whatever
the record's state. Batch create is not repeated: a repeat could create a contact twice, so
its caller (the writer) matches creates later by their trace ids and unique emails.

Threads: a :class:`Transport` may be shared by many worker threads; the connection pool is
sized to ``Settings.max_concurrency``. Its clock, sleep and jitter are passed in, so tests
never wait. It logs each request at DEBUG (method, path, status, time) and retries at INFO,
never a header, a body or the token.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from hsframe.config import Secret, Settings, is_loopback
from hsframe.errors import (
    ConfigurationError,
    HubSpotError,
    RateLimitError,
    TransportError,
    error_from_response,
    parse_retry_after,
)
from hsframe.ratelimit import Bucket, RateBudget

__all__ = ["RETRY_STATUSES", "Response", "Transport", "TransportStats"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
"""Server errors worth repeating (hubspot-api.md §3.2: pause, then retry)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods HTTP defines as safe to repeat."""

BACKOFF_BASE = 0.5
"""Seconds before the first retry after a 5xx or a connection failure; doubles each time."""

BACKOFF_CAP = 30.0
"""The longest single backoff, in seconds."""

_CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class Response:
    """A successful (2xx) answer.

    Attributes:
        status: The HTTP status (200, 201, 204 or 207).
        headers: The answer's headers.
        data: The decoded JSON body, or None for an empty body (204).
    """

    status: int
    headers: Mapping[str, str]
    data: Any


@dataclass(frozen=True)
class TransportStats:
    """What a transport has done so far.

    Attributes:
        requests: HTTP requests sent, retries included.
        retries: Requests that were repeats of a failed one.
        rate_limited: 429 answers received.
        server_errors: 5xx answers received.
        connection_errors: Connections dropped, refused or timed out.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    connection_errors: int = 0


class _BearerAuth(AuthBase):
    """Attaches the token to a request, after checking where the request goes."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(request.url or "")
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            raise ConfigurationError(
                f"Refusing to send the token over {parts.scheme} to {parts.hostname}.",
                hint="Use an https base URL (http is allowed only to this machine).",
            )
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return f"_BearerAuth({self._token!r})"


def _user_agent() -> str:
    try:
        version = metadata.version("hsframe")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return f"hsframe/{version} python-requests/{requests.__version__}"


class Transport:
    """Sends requests to HubSpot: auth, budget, retries, JSON, errors.

    Args:
        settings: Resolved settings (token, base URL, timeouts, retry bounds, tier).
        session: A ``requests.Session`` to send through, used as is (e.g. one with the
            sandbox's adapter mounted); by default a new one with a connection pool of
            ``settings.max_concurrency`` connections.
        clock: Monotonic seconds; bounds the total retry time.
        sleep: Waits the given seconds between retries.
        jitter: Returns a number in [0, 1); spreads out retries from many threads.
        budget: The rate budget to spend; by default one for ``settings.tier`` sharing
            this clock and sleep.

    Example:
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=3) as sb:
        ...     transport = Transport(Settings(token=sb.token, base_url=sb.url))
        ...     page = transport.request("GET", "/crm/v3/objects/contacts", params={"limit": 2})
        ...     transport.close()
        >>> page.status, len(page.data["results"])
        (200, 2)
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        budget: RateBudget | None = None,
    ) -> None:
        self.settings = settings
        self.budget = budget or RateBudget(settings.tier, clock=clock, sleep=sleep)
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._owns_session = session is None
        self._session = session or self._new_session(settings.max_concurrency)
        self._auth = _BearerAuth(settings.token)
        self._headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        self._lock = threading.Lock()
        self._stats = TransportStats()

    def __repr__(self) -> str:
        return f"Transport(base_url={self.settings.base_url!r}, token={self.settings.token!r})"

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (only a session this transport created)."""
        if self._owns_session:
            self._session.close()

    @property
    def stats(self) -> TransportStats:
        """A snapshot of the counts so far."""
        with self._lock:
            return self._stats

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        bucket: Bucket = "burst",
        retry_unsafe: bool = False,
    ) -> Response:
        """Send one request, retrying within bounds, and return the 2xx answer.

        Args:
            method: The HTTP method.
            path: The path under the base URL, starting with ``/``.
            params: Query parameters; a list value is sent as repeated parameters.
            json_body: A JSON-serialisable body (None for none). NaN and infinity are
                refused: HubSpot would answer an unhelpful 400. A
                :class:`~hsframe.config.Secret` in it is sent as its value.
            bucket: The rate budget to spend: ``search`` for CRM search, else ``burst``.
            retry_unsafe: Repeat this POST/PATCH after a 5xx or a connection lost
                mid-request, because the caller knows a repeat is harmless.

        Returns:
            The answer, its JSON decoded.

        Raises:
            HubSpotError: The subclass for HubSpot's error answer, after any retries;
                :class:`~hsframe.errors.TransportError` when no usable answer came.
            ValueError: For a path that is not under the base URL, or a body with NaN.
        """
        if not path.startswith("/") or "://" in path:
            raise ValueError(f"path must start with '/' and stay under the base URL: {path!r}")
        method = method.upper()
        url = self.settings.base_url + path
        headers = dict(self._headers)
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            _encode(json_body)  # refuse NaN before spending any budget
        repeatable = method in IDEMPOTENT_METHODS or retry_unsafe
        started = self._clock()
        retries = 0
        while True:
            sent_at = self.budget.acquire(bucket)
            self._count(requests=1, retries=1 if retries else 0)
            begun = self._clock()
            outcome = self._send(method, url, params, json_body, headers)
            if isinstance(outcome, requests.RequestException):
                self._count(connection_errors=1)
                error, wait = self._connection_failure(outcome, method, path, repeatable, retries)
            else:
                logger.debug(
                    "%s %s -> %s in %.3f s (attempt %d)",
                    method,
                    path,
                    outcome.status_code,
                    self._clock() - begun,
                    retries + 1,
                )
                self.budget.observe(bucket, outcome.headers, sent_at)
                if outcome.status_code < 300:
                    return Response(
                        outcome.status_code, dict(outcome.headers), self._decode(outcome, path)
                    )
                error, wait = self._error_answer(outcome, method, path, bucket, repeatable, retries)
            retries += 1
            spent = self._clock() - started
            if retries > self.settings.max_retries or spent + wait > self.settings.max_retry_time:
                if retries > 1:
                    done = f"hsframe retried {retries - 1} times over {spent:.1f} s."
                    error.hint = f"{done} {error.hint}"
                raise error
            logger.info(
                "retrying %s %s in %.2f s after %s (retry %d of %d)",
                method,
                path,
                wait,
                error.status or type(error).__name__,
                retries,
                self.settings.max_retries,
            )
            if not isinstance(error, RateLimitError):
                # After a 429 the budget's pause does the waiting (for every thread).
                self._sleep(wait)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        json_body: Any,
        headers: dict[str, str],
    ) -> requests.Response | requests.RequestException:
        """One attempt: the answer, or the connection failure (returned, not raised).

        The failure is handled by the caller outside any ``except`` block, so that errors
        hsframe raises never chain requests' exception, whose request holds the
        Authorization header. The body is encoded here and kept in no caller's variables,
        so a traceback that shows local variables shows no token (the token-info body
        carries it).
        """
        try:
            raw = self._session.request(
                method,
                url,
                params=params,
                data=None if json_body is None else _encode(json_body),
                headers=headers,
                auth=self._auth,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,
            )
        except _CONNECTION_ERRORS as exc:
            return exc
        return raw

    def _connection_failure(
        self,
        exc: requests.RequestException,
        method: str,
        path: str,
        repeatable: bool,
        retries: int,
    ) -> tuple[HubSpotError, float]:
        """The error for a failed connection, and the backoff before a retry; raises it
        at once when a retry could repeat a write."""
        reason = _reason(exc)
        logger.debug("%s %s -> %s (attempt %d)", method, path, reason, retries + 1)
        if isinstance(exc, requests.exceptions.SSLError):
            raise TransportError(
                f"The TLS handshake with {self.settings.base_url} failed: {reason}.",
                hint="Check the machine's certificates (and any proxy that intercepts TLS).",
            )
        error = TransportError(f"{method} {path} failed: {reason}.")
        if not (repeatable or _never_sent(exc)):
            error.hint = (
                "The connection was lost after the request was sent, so HubSpot may have "
                "applied it; hsframe did not repeat it. Reload and check before sending again."
            )
            raise error
        return error, self._backoff(retries)

    def _error_answer(
        self,
        raw: requests.Response,
        method: str,
        path: str,
        bucket: Bucket,
        repeatable: bool,
        retries: int,
    ) -> tuple[HubSpotError, float]:
        """The error for a non-2xx answer, and the wait before a retry; raises it at once
        when it is not worth retrying."""
        status = raw.status_code
        if 300 <= status < 400:
            raise HubSpotError(
                f"HubSpot answered {method} {path} with a redirect (HTTP {status}) to "
                f"{raw.headers.get('Location', 'nowhere')!r}.",
                status=status,
                hint="hsframe never follows redirects, so the token cannot leak elsewhere; "
                "check the base URL.",
            )
        error = error_from_response(
            status, raw.headers, raw.content, redact=(self.settings.token.reveal(),)
        )
        if isinstance(error, RateLimitError):
            self._count(rate_limited=1)
            if error.policy == "DAILY":
                self.budget.exhaust_daily(error.retry_after)
                raise error
            return error, self._rate_wait(error, bucket)
        if status >= 500:
            self._count(server_errors=1)
        if status not in RETRY_STATUSES or not repeatable:
            raise error
        retry_after = parse_retry_after(raw.headers.get("Retry-After"))
        if status == 503 and retry_after is not None:
            return error, retry_after
        return error, self._backoff(retries)

    def _rate_wait(self, error: RateLimitError, bucket: Bucket) -> float:
        """How long the bucket pauses after a 429 (HubSpot's word, capped at a window)."""
        windows = {
            "TEN_SECONDLY_ROLLING": self.budget.window("burst"),
            "SECONDLY": self.budget.window("search"),
        }
        window = windows.get(error.policy or "", self.budget.window(bucket))
        wait = window if error.retry_after is None else min(error.retry_after, window)
        wait *= 1 + 0.1 * self._jitter()
        paused = "search" if error.policy == "SECONDLY" else bucket
        self.budget.pause(paused, wait)
        return wait

    def _backoff(self, retries: int) -> float:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**retries)
        return delay * (0.5 + 0.5 * self._jitter())

    def _decode(self, raw: requests.Response, path: str) -> Any:
        if not raw.content:
            return None
        try:
            return json.loads(raw.content)
        except ValueError:
            error = error_from_response(
                raw.status_code, raw.headers, raw.content, redact=(self.settings.token.reveal(),)
            )
            raise TransportError(
                f"{error.message} (expected JSON from {path}).",
                status=raw.status_code,
                hint="A proxy or gateway may have answered instead of HubSpot; check the base "
                "URL and network, then try again.",
            ) from None

    def _count(self, **increments: int) -> None:
        with self._lock:
            stats = self._stats
            self._stats = replace(
                stats, **{key: getattr(stats, key) + n for key, n in increments.items()}
            )

    @staticmethod
    def _new_session(concurrency: int) -> requests.Session:
        session = requests.Session()
        # One connection per worker thread, so no thread waits for (or discards) a socket.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(10, concurrency))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session


def _encode(payload: Any) -> bytes:
    """JSON as HubSpot wants it: UTF-8, no NaN; a :class:`Secret` is revealed only here."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_reveal
    ).encode()


def _reveal(value: object) -> str:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request surely never left (no connection was made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _reason(exc: requests.RequestException) -> str:
    """A short account of a connection failure (no URL, no headers)."""
    reason: object = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer before the read timeout"
    text = str(reason)
    if isinstance(reason, tuple | list) and reason:
        text = " ".join(str(part) for part in reason)
    return f"{type(exc).__name__}: {text}"[:300]
