"""The sandbox's pure core: one :class:`~hsframe.sandbox.wire.Request` in, one Response out.

Everything HubSpot does around an endpoint happens here, once, for both front doors (the
HTTP server and the requests adapter): the request log, queued faults, authentication,
routing, scopes, the rate budgets, latency, and turning errors into HubSpot's bodies. The
endpoints themselves (contacts, search, batches, properties) belong to the CRM, which the
core only reaches through :meth:`CrmLike.route`.

The order of checks, and what each answers:

1. a queued fault (unless ``after=True``) answers instead of the request;
2. ``POST /oauth/v2/private-apps/get/access-token-info`` is answered without a token;
3. authentication: 401 without a valid bearer token;
4. routing: 404 for an unknown path, 405 for a known path with another method;
5. scopes: 403 ``MISSING_SCOPES``;
6. the rate budget: 429 (nothing is charged for any answer above);
7. the endpoint, whose ``ApiError`` becomes HubSpot's body and whose unexpected
   exceptions become a 500 (logged with their traceback on the ``hsframe.sandbox``
   logger).

Every answer to an authenticated, non-search request carries the rate-limit headers.

Latency is slept before processing, without holding any lock, so concurrent requests
overlap as they do on a real server. A front door learns that it must close the connection
without answering from :class:`ConnectionDropped`, and that its caller's timeout elapsed
from :class:`ClientTimeout` (only the adapter passes a timeout: over HTTP the client's own
socket times out).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hsframe.sandbox.auth import ACCOUNT_DETAILS_PATH, TOKEN_INFO_PATH, App, Auth
from hsframe.sandbox.faults import Fault, FaultQueue
from hsframe.sandbox.limits import USAGE_PATH, Budget, RateLimiter
from hsframe.sandbox.wire import ApiError, Request, Response

logger = logging.getLogger("hsframe.sandbox")

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class RouteLike(Protocol):
    """What the core needs from a route (``hsframe.sandbox.crm.Route``)."""

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes of which the caller needs any one; empty for none."""

    @property
    def budget(self) -> Budget:
        """The rate budget the call is charged to: ``"burst"`` or ``"search"``."""

    @property
    def handler(self) -> Callable[[Request], Response]:
        """The endpoint; it may raise ``ApiError``."""


class CrmLike(Protocol):
    """What the core needs from the CRM (``hsframe.sandbox.crm.Crm``)."""

    def route(self, method: str, path: str) -> RouteLike | None:
        """The route for a method and path, or None when there is none."""

    def fail_next_inputs(self, count: int) -> None:
        """Make the next ``count`` batch inputs fail (the partial-failure fault)."""


@dataclass(frozen=True)
class _Route:
    """A route the core answers itself (account endpoints)."""

    scopes: tuple[str, ...]
    budget: Budget
    handler: Callable[[Request], Response]


@dataclass(frozen=True)
class RequestRecord:
    """One entry of the request log.

    Attributes:
        method: The HTTP method.
        path: The request path, without the query string.
        status: The status answered, or None when the connection was dropped.
        seconds: Time spent in the sandbox, latency and delays included.
        dropped: Whether the connection was closed without an answer.
        injected: Whether a queued fault shaped the answer.
        error: For a 500 caused by a sandbox bug, the exception's type name.
    """

    method: str
    path: str
    status: int | None
    seconds: float
    dropped: bool = False
    injected: bool = False
    error: str | None = None


class ConnectionDropped(Exception):
    """The front door must close the connection without sending anything."""


class ClientTimeout(Exception):
    """The caller's timeout elapsed before the answer (the request was still processed).

    Attributes:
        timeout: The caller's timeout in seconds.
        status: The status of the answer nobody waited for (None for a dropped one).
    """

    def __init__(self, timeout: float, status: int | None) -> None:
        super().__init__(f"no answer within {timeout:g} s")
        self.timeout = timeout
        self.status = status


@dataclass
class _Trace:
    """What one exchange leaves in the log besides its status."""

    error: str | None = None


class SandboxCore:
    """Answers requests as HubSpot would. Thread safe; one instance serves both front doors.

    Args:
        crm: The CRM endpoints (``hsframe.sandbox.crm.Crm``).
        auth: The account's apps and tokens; a fresh :class:`~hsframe.sandbox.auth.Auth`
            when None.
        limiter: The rate budgets; a Professional :class:`~hsframe.sandbox.limits.RateLimiter`
            when None.
        faults: The fault queue; an empty one when None.
        latency: Seconds every request takes before it is processed.
        sleep: Waits a number of seconds (injected so tests can avoid real waits).
        timer: A monotonic clock in seconds, for the log's durations.
    """

    def __init__(
        self,
        crm: CrmLike,
        *,
        auth: Auth | None = None,
        limiter: RateLimiter | None = None,
        faults: FaultQueue | None = None,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency cannot be negative, not {latency!r}")
        self.crm = crm
        self.auth = auth if auth is not None else Auth()
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.faults = faults if faults is not None else FaultQueue()
        self.latency = latency
        self._sleep = sleep
        self._timer = timer
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._own_routes: dict[tuple[str, str], _Route] = {
            ("GET", ACCOUNT_DETAILS_PATH): _Route((), "burst", self._account_details),
            ("GET", USAGE_PATH): _Route((), "burst", self._usage),
        }

    def __repr__(self) -> str:
        return f"SandboxCore(latency={self.latency}, requests={len(self._log)})"

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    def handle(self, request: Request, *, timeout: float | None = None) -> Response:
        """Answer one request.

        Args:
            request: The request, as a front door parsed it.
            timeout: The caller's read timeout in seconds, if it has one (the adapter's
                ``timeout=``). When latency and delays add up to more, the caller waits
                ``timeout`` seconds, the request is still processed (a server does not
                know that its client gave up), and :class:`ClientTimeout` is raised.

        Returns:
            The answer.

        Raises:
            ConnectionDropped: The connection must be closed without an answer.
            ClientTimeout: ``timeout`` elapsed before the answer.
        """
        started = self._timer()
        fault = self.faults.take(request.method, request.path)
        trace = _Trace()
        status: int | None = None
        dropped = False
        try:
            response = self._exchange(request, fault, timeout, trace)
            status = response.status
            return response
        except ClientTimeout as exc:
            status = exc.status
            raise
        except ConnectionDropped:
            dropped = True
            raise
        finally:
            record = RequestRecord(
                method=request.method,
                path=request.path,
                status=status,
                seconds=self._timer() - started,
                dropped=dropped,
                injected=fault is not None,
                error=trace.error,
            )
            with self._log_lock:
                self._log.append(record)

    def _exchange(
        self, request: Request, fault: Fault | None, timeout: float | None, trace: _Trace
    ) -> Response:
        """Wait, process (or not), apply the fault, and wait again, as the fault says."""
        delay_before = fault.delay if fault is not None and not fault.after else 0.0
        delay_after = fault.delay if fault is not None and fault.after else 0.0
        before = self.latency + delay_before
        gives_up = timeout is not None and before + delay_after > timeout
        self._wait(timeout if gives_up and timeout is not None else before)

        answer: Response | None
        if fault is not None and fault.terminal and not fault.after:
            answer = None if fault.drop else fault.response()
        else:
            answer = self._process(request, trace, fault.partial if fault is not None else 0)
            if fault is not None and fault.terminal:
                answer = None if fault.drop else fault.response()

        if gives_up and timeout is not None:
            raise ClientTimeout(timeout, answer.status if answer is not None else None)
        self._wait(delay_after)
        if answer is None:
            raise ConnectionDropped()
        return answer

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _process(self, request: Request, trace: _Trace, partial: int = 0) -> Response:
        """Authenticate, route, check scopes, charge the budget and call the endpoint.

        ``partial`` inputs are set to fail just before the endpoint runs, so a request
        refused earlier (401, 429...) leaves the CRM untouched.
        """
        if request.path == TOKEN_INFO_PATH and request.method == "POST":
            return self._call(self.auth.token_info, request, trace)
        try:
            app = self.auth.authenticate(request)
        except ApiError as exc:
            return exc.to_response()

        route = self._route(request.method, request.path)
        if route is None:
            return self._with_headers(self._unroutable(request), app)
        try:
            self.auth.check_scopes(app, route.scopes)
        except ApiError as exc:
            return self._with_headers(exc.to_response(), app)
        try:
            rate_headers = self.limiter.charge(app.app_id, route.budget)
        except ApiError as exc:
            rejected = exc.to_response()
            return rejected if route.budget == "search" else self._with_headers(rejected, app)

        if partial:
            self.crm.fail_next_inputs(partial)
        answer = self._call(route.handler, _without_credentials(request), trace)
        return _with(answer, rate_headers)

    def _route(self, method: str, path: str) -> RouteLike | None:
        own = self._own_routes.get((method, path))
        if own is not None:
            return own
        return self.crm.route(method, path)

    def _unroutable(self, request: Request) -> Response:
        """404 for a path nothing serves; 405 when it is served for other methods."""
        allowed = [m for m in _METHODS if self._route(m, request.path) is not None]
        if allowed:
            return ApiError(
                405,
                None,
                f"Method {request.method} is not allowed on {request.path}; "
                f"allowed: {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            ).to_response()
        return ApiError(
            404, None, f"No endpoint matches {request.method} {request.path}"
        ).to_response()

    def _call(
        self, handler: Callable[[Request], Response], request: Request, trace: _Trace
    ) -> Response:
        """Run an endpoint, turning its errors into answers."""
        try:
            return handler(request)
        except ApiError as exc:
            return exc.to_response()
        except Exception as exc:
            trace.error = type(exc).__name__
            logger.exception("sandbox endpoint failed on %s %s", request.method, request.path)
            return ApiError(
                500,
                None,
                f"An unexpected error occurred in the sandbox ({type(exc).__name__}); "
                "the hsframe.sandbox log has the traceback.",
            ).to_response()

    def _with_headers(self, response: Response, app: App) -> Response:
        return _with(response, self.limiter.headers(app.app_id))

    def _account_details(self, request: Request) -> Response:
        return self.auth.account_details()

    def _usage(self, request: Request) -> Response:
        return self.limiter.usage()


def _with(response: Response, headers: dict[str, str]) -> Response:
    """A copy of ``response`` with ``headers`` added (the endpoint's object stays as it was)."""
    if not headers:
        return response
    return Response(response.status, response.body, {**response.headers, **headers})


def _without_credentials(request: Request) -> Request:
    """The request as endpoints see it: without the Authorization header.

    Endpoints never need the token, so a bug that echoes headers cannot leak it.
    """
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    return dataclasses.replace(request, headers=headers)
