"""Queued faults: the failures a client must survive, on demand and in order.

A real portal fails in a handful of ways that a client's retry, resume and verification
logic must handle, and that a test cannot wait for. :class:`FaultQueue` holds faults queued
by ``Sandbox.inject``; the core takes the first fault matching each request (FIFO among
the faults that match), and the fault decides the answer:

* a **status**: 429 with the body of its ``policy``, a 5xx with a HubSpot-style JSON body
  (or an HTML page, as gateways send, with ``html=True``), or any other status;
* a **dropped connection** (``drop=True``): no answer at all; the socket is closed;
* a **partial batch failure** (``partial=N``): the request goes through, but N of its
  batch inputs fail (the CRM's ``fail_next_inputs``). Only batch create, update and upsert
  have inputs that can fail, so such a fault passes over every other request (a batch read
  in between does not use it up) and one aimed at another path is refused;
* a **slow answer** (``delay`` seconds), for client timeouts.

By default a status or a drop answers *instead of* the request, which is then never
processed. With ``after=True`` the request is processed first (the write happens) and then
the fault is answered: the ambiguous failure a client's resume logic has to settle. A delay
alone lets the request through late; a client that gives up first never hears the answer,
but the request is processed all the same, as a real server would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http import HTTPStatus

from hsframe.sandbox.limits import POLICY_MESSAGES, rate_limit_error
from hsframe.sandbox.wire import ApiError, Response, correlation_id

_MESSAGES = {
    500: "An internal error occurred. Please retry the request.",
    502: "Bad Gateway: the upstream service did not answer in time. Please retry.",
    503: "Service Unavailable. Please pause for a few seconds, then retry.",
    504: "Gateway Timeout: the request took too long. Please retry.",
}


PARTIAL_PATHS = tuple(
    f"/crm/v3/objects/contacts/batch/{kind}" for kind in ("create", "update", "upsert")
)
"""The requests whose inputs a partial failure can fail."""


@dataclass(frozen=True)
class Fault:
    """One queued fault. See :meth:`FaultQueue.inject` for the meaning of each field.

    Attributes:
        status: The status to answer with, or None (drop, partial or delay only).
        path: Substring of the request path to match (a prefix is a substring); None
            matches any path.
        method: HTTP method to match (case-insensitive); None matches any method.
        policy: ``policyName`` of an injected 429.
        drop: Close the connection without answering.
        html: Answer with an HTML page instead of JSON.
        partial: Number of batch inputs to fail in the request.
        delay: Seconds to wait before processing (after it, with ``after``).
        after: Process the request first, then answer with the fault.
    """

    status: int | None = None
    path: str | None = None
    method: str | None = None
    policy: str = "TEN_SECONDLY_ROLLING"
    drop: bool = False
    html: bool = False
    partial: int = 0
    delay: float = 0.0
    after: bool = False

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an error status (400-599), not {self.status!r}")
        if self.status is not None and self.drop:
            raise ValueError("a dropped connection has no status: pass status or drop, not both")
        if self.html and self.status is None:
            raise ValueError("html=True needs a status to answer with")
        if self.policy not in POLICY_MESSAGES:
            known = ", ".join(POLICY_MESSAGES)
            raise ValueError(f"unknown policy {self.policy!r}; choose one of: {known}")
        if self.partial < 0 or self.delay < 0:
            raise ValueError("partial and delay cannot be negative")
        if self.partial and (self.after or self.terminal):
            raise ValueError(
                "partial=N fails inputs of a request that is processed normally: "
                "not with a status, drop or after=True"
            )
        if self.status is None and not self.drop and not self.partial and not self.delay:
            raise ValueError("nothing to inject: give a status, drop, partial or delay")
        if self.partial and not any(self.matches("POST", path) for path in PARTIAL_PATHS):
            raise ValueError(
                f"partial=N fails inputs of batch create, update or upsert (POST); "
                f"path={self.path!r}, method={self.method!r} matches none of them"
            )

    @property
    def terminal(self) -> bool:
        """Whether the fault replaces the answer (a status or a dropped connection)."""
        return self.status is not None or self.drop

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to a request with this method and path."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.partial and not (method.upper() == "POST" and path.endswith(PARTIAL_PATHS)):
            return False
        return self.path is None or self.path in path

    def response(self) -> Response:
        """The answer this fault gives (for a fault with a status).

        Raises:
            ValueError: For a fault without a status.
        """
        if self.status is None:
            raise ValueError("this fault has no status to answer with")
        if self.html:
            return _html_page(self.status)
        if self.status == 429:
            retry = 86_400.0 if self.policy == "DAILY" else 1.0
            return rate_limit_error(self.policy, retry).to_response()
        message = _MESSAGES.get(self.status) or _phrase(self.status)
        return ApiError(self.status, None, message).to_response()


@dataclass
class _Pending:
    """A queued fault and how many more requests it will hit."""

    fault: Fault
    left: int


class FaultQueue:
    """Faults waiting for their requests. Thread safe.

    Example:
        >>> queue = FaultQueue()
        >>> queue.inject(503, path="/batch/", count=2)
        >>> queue.take("POST", "/crm/v3/objects/contacts/batch/update").status
        503
        >>> queue.take("GET", "/crm/v3/objects/contacts") is None
        True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []

    def __repr__(self) -> str:
        return f"FaultQueue(pending={len(self.pending())})"

    def inject(
        self,
        status: int | None = None,
        *,
        path: str | None = None,
        method: str | None = None,
        count: int = 1,
        policy: str = "TEN_SECONDLY_ROLLING",
        drop: bool = False,
        html: bool = False,
        partial: int = 0,
        delay: float = 0.0,
        after: bool = False,
    ) -> None:
        """Queue ``count`` faults for the requests that match ``path`` and ``method``.

        Args:
            status: Answer with this status: 429 (body per ``policy``), 500/502/503/504
                (HubSpot-style JSON, or HTML with ``html=True``), or any 4xx/5xx.
            path: Match requests whose path contains this (a prefix such as
                ``/crm/v3/objects/contacts/batch`` or a fragment such as ``/search``);
                None matches every path.
            method: Match only this HTTP method; None matches all.
            count: How many requests the fault hits (consecutive matching requests).
            policy: For a 429: ``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``.
            drop: Close the connection without answering (the client sees a
                connection error).
            html: Send an HTML error page instead of JSON.
            partial: Make this many batch inputs of the request fail: the next batch
                create, update or upsert that matches (other requests pass it by).
            delay: Seconds to wait before the request is processed (with ``after=True``:
                after it is processed, before the answer). A client whose timeout is
                shorter gives up; the request is still processed, as on a real server.
            after: Process the request first (the write happens), then answer with the
                fault: a status, a dropped connection or a late answer.

        Raises:
            ValueError: For a count below 1 or an inconsistent combination.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count!r}")
        fault = Fault(
            status=status,
            path=path,
            method=method,
            policy=policy,
            drop=drop,
            html=html,
            partial=partial,
            delay=delay,
            after=after,
        )
        with self._lock:
            self._queue.append(_Pending(fault, count))

    def take(self, method: str, path: str) -> Fault | None:
        """Consume the first queued fault that matches a request, if any."""
        with self._lock:
            for entry in self._queue:
                if entry.fault.matches(method, path):
                    entry.left -= 1
                    if entry.left == 0:
                        self._queue.remove(entry)
                    return entry.fault
        return None

    def pending(self) -> list[Fault]:
        """The faults still queued, one entry per remaining hit, in order."""
        with self._lock:
            return [entry.fault for entry in self._queue for _ in range(entry.left)]

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queue.clear()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _html_page(status: int) -> Response:
    phrase = _phrase(status)
    page = (
        f"<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1><p>Reference: {correlation_id()}</p></body></html>\n"
    )
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if status == 429:
        headers["Retry-After"] = "1"
    return Response(status, page.encode(), headers)
