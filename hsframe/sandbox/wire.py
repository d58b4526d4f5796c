"""The sandbox's view of one HTTP exchange, independent of how it arrived.

Both front doors (the threaded HTTP server and the in-process requests adapter) turn
what they receive into a :class:`Request`, hand it to the sandbox core, and send the
:class:`Response` back. Keeping this small and transport-free is what lets the same
HubSpot rules serve a real socket, an adapter and a unit test alike.

HubSpot's error bodies are built in one place, :class:`ApiError`, so that every endpoint
answers in the same shape (``status``, ``message``, ``correlationId``, ``category`` and
optional ``context``/``errors``; hubspot-api.md §3).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json;charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One request as the sandbox sees it.

    Attributes:
        method: Upper-case HTTP method.
        path: The URL path without the query string, e.g. ``/crm/v3/objects/contacts/12``.
        query: Query parameters, each name mapped to every value given for it (so both
            ``?properties=a&properties=b`` and ``?properties=a,b`` reach the handler).
        headers: Request headers with lower-cased names.
        body: The raw body.
    """

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """Decode the body as JSON, answering malformed input as HubSpot does.

        HubSpot's 400 for unparseable JSON has no ``category`` (hubspot-api.md §1.4).
        """
        if not self.body:
            raise ApiError(400, None, "Invalid input JSON: the request body is empty")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", 1)
            column = getattr(exc, "colno", 1)
            raise ApiError(
                400, None, f"Invalid input JSON on line {line}, column {column}: {exc}"
            ) from None

    def bearer(self) -> str | None:
        """The bearer token from the Authorization header, if any."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@dataclass
class Response:
    """One response: status, headers and raw body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A JSON response with HubSpot's content type."""
        merged = {"Content-Type": JSON_TYPE, **(headers or {})}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, body, merged)

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        """A response with no body (204 for archive, batch archive and GDPR delete)."""
        return cls(status, b"", {})

    def payload(self) -> Any:
        """The body decoded as JSON (for tests and the request log)."""
        return json.loads(self.body) if self.body else None


def correlation_id() -> str:
    """A fresh correlation id, as HubSpot puts in every error body and header."""
    return str(uuid.uuid4())


class ApiError(Exception):
    """An error answer in HubSpot's shape; raise it anywhere below a handler.

    Args:
        status: HTTP status code.
        category: HubSpot's ``category`` (``VALIDATION_ERROR``, ``OBJECT_NOT_FOUND``...),
            or None for the bodies that have none (malformed JSON).
        message: The human-readable ``message``.
        context: Optional ``context`` map (name → list of strings).
        errors: Optional ``errors`` list (``ErrorDetail`` dicts).
        extra: Further top-level fields (``policyName``, ``errorType``, ``links``...).
        headers: Extra response headers (``Retry-After``...).
    """

    def __init__(
        self,
        status: int,
        category: str | None,
        message: str,
        *,
        context: Mapping[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = dict(context) if context else None
        self.errors = errors
        self.extra = dict(extra) if extra else {}
        self.headers = dict(headers) if headers else {}

    def body(self, correlation: str | None = None) -> dict[str, Any]:
        """The JSON body HubSpot would send for this error."""
        payload: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation or correlation_id(),
        }
        if self.context is not None:
            payload["context"] = self.context
        if self.errors is not None:
            payload["errors"] = self.errors
        payload.update(self.extra)
        if self.category is not None:
            payload["category"] = self.category
        return payload

    def to_response(self) -> Response:
        """The full response, with the correlation id also in its header."""
        correlation = correlation_id()
        headers = {"X-HubSpot-Correlation-Id": correlation, **self.headers}
        return Response.of_json(self.status, self.body(correlation), headers)
