"""Every error hsframe raises, in one tree, each saying what to do next.

A notebook user who hits an error needs three things: what went wrong, in words; what to do
about it; and, if it came from HubSpot, the correlation id that HubSpot support asks for.
So every error carries ``status``, ``category``, ``correlation_id``, ``message`` and
``hint``, and ``str()`` of an error is the message followed by the hint. No error ever holds
the access token: the transport hands :func:`error_from_response` the token to scrub from
HubSpot's answer before anything is parsed or kept.

The tree::

    HubSpotError                 root: catch this to catch everything hsframe raises
    ├── AuthenticationError      401: token invalid, rotated or expired
    ├── MissingScopesError       403 MISSING_SCOPES, or found missing before a request
    ├── NotFoundError            404
    ├── ValidationError          400: per-property problems in ``.errors``
    ├── ConflictError            409: the contact exists; its id in ``.existing_id``
    ├── RateLimitError           429: ``.policy``, ``.retry_after``
    ├── ServerError              5xx: HubSpot's side failed (after hsframe's retries)
    ├── TransportError           no usable answer: dropped connection, timeout, not JSON
    └── ConfigurationError       client-side set-up: no token, plain http to a remote host

HubSpot's status → class mapping is the table :data:`ERROR_CLASSES`; statuses it does not
name fall back to :class:`ServerError` for 5xx and :class:`HubSpotError` otherwise. Error
bodies are parsed tolerantly (hubspot-api.md §3): every field is optional, and an HTML or
otherwise non-JSON body (which HubSpot and its gateways sometimes send) still gives an
error of the right class with the page's text as its message.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

__all__ = [
    "ERROR_CLASSES",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "HubSpotError",
    "MissingScopesError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_from_response",
    "mask",
    "parse_retry_after",
]

PRIVATE_APPS = "HubSpot › Settings › Integrations › Private Apps"
"""Where private apps (and their tokens and scopes) live in HubSpot's UI."""

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
"""The environment variable (or ``.env`` key) that holds the token."""

_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_PAT_PREFIX = re.compile(r"^(pat-[a-z]{2,4}\d*-)")
# Script and style blocks go whole (their text is not for people); other tags leave their text.
_MARKUP = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.S | re.I)


def mask(secret: str) -> str:
    """A token shortened so that it can be shown: the ``pat-<region>-`` prefix and at most
    the last four characters.

    Short values show no characters at all, so that a mask never reveals most of a secret.

    Args:
        secret: The token (or any secret string).

    Returns:
        A display form such as ``pat-na1-…a1b2``.

    Example:
        >>> mask("pat-na1-0f8c3d6e-1111-2222-3333-4444a1b2")
        'pat-na1-…a1b2'
        >>> mask("short")
        '…'
    """
    prefix_match = _PAT_PREFIX.match(secret)
    prefix = prefix_match.group(1) if prefix_match else ""
    rest = secret[len(prefix) :]
    tail = rest[-4:] if len(rest) >= 16 else ""
    return f"{prefix}…{tail}"


class HubSpotError(Exception):
    """The root of every error hsframe raises.

    Args:
        message: What went wrong, in words (HubSpot's own message when it sent one).
        status: The HTTP status, or None for errors found before or without an answer.
        category: HubSpot's ``category`` (``VALIDATION_ERROR``, ``RATE_LIMITS``...), if any.
        correlation_id: HubSpot's ``correlationId``; quote it to HubSpot support.
        hint: What to do next; each class has a default.
        body: HubSpot's error body as parsed JSON (token scrubbed), or None.

    Attributes:
        status: See Args.
        category: See Args.
        correlation_id: See Args.
        message: See Args.
        hint: See Args.
        body: See Args.

    Example:
        >>> err = HubSpotError("Something failed.", status=418, hint="Try again later.")
        >>> print(err)
        Something failed.
        Try again later. (HTTP 418)
    """

    default_hint: ClassVar[str] = (
        "Check the request; if it keeps failing, give HubSpot support the correlation id."
    )

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        hint: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.hint = self.default_hint if hint is None else hint
        self.body = body

    def __str__(self) -> str:
        facts = []
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.category:
            facts.append(self.category)
        if self.correlation_id:
            facts.append(f"correlation id {self.correlation_id}")
        tail = " ".join(
            part for part in (self.hint, f"({', '.join(facts)})" if facts else "") if part
        )
        return f"{self.message}\n{tail}" if tail else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, category={self.category!r}, "
            f"correlation_id={self.correlation_id!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling; errors cross process
        # boundaries (multiprocessing, notebook kernels), so rebuild from the attributes.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[HubSpotError], message: str, state: dict[str, Any]) -> HubSpotError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthenticationError(HubSpotError):
    """HubSpot refused the token (401): it is wrong, was rotated, or has expired."""

    default_hint = (
        "The token may have been rotated. In "
        f"{PRIVATE_APPS} › (your app) › Auth, copy the current token (or rotate it), then "
        f"set {TOKEN_ENV} or put it in .env (hsframe.save_token does that) and connect again."
    )


class MissingScopesError(HubSpotError):
    """The token lacks scopes the call needs (403 ``MISSING_SCOPES``, or checked before
    a request by ``Client.require_scopes``).

    Args:
        message: What went wrong.
        missing: The scope names that are missing (empty when HubSpot did not say).
        **kwargs: As for :class:`HubSpotError`.

    Attributes:
        missing: See Args.

    Example:
        >>> err = MissingScopesError("Missing scopes.", missing=("crm.objects.contacts.write",))
        >>> err.missing
        ('crm.objects.contacts.write',)
    """

    default_hint = (
        f"Add the missing scopes in {PRIVATE_APPS} › (your app) › Scopes, commit the change, "
        "then use the app's current token (copy it again from the Auth tab)."
    )

    def __init__(self, message: str, *, missing: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.missing: tuple[str, ...] = tuple(missing)


class NotFoundError(HubSpotError):
    """The record (or endpoint) does not exist (404)."""

    default_hint = (
        "Check the id (record ids are numeric; pass id_property='email' to look up by email). "
        "Archived contacts are only found with archived=True."
    )


class ValidationError(HubSpotError):
    """HubSpot rejected the request's content (400); nothing in the request was written.

    Args:
        message: HubSpot's message.
        errors: One dict per problem, each with ``name`` (the property, or None),
            ``code`` (``INVALID_EMAIL``, ``PROPERTY_DOESNT_EXIST``...) and ``message``.
        **kwargs: As for :class:`HubSpotError`.

    Attributes:
        errors: See Args.

    Example:
        >>> err = ValidationError("Bad.", errors=[
        ...     {"name": "email", "code": "INVALID_EMAIL", "message": "Email x is invalid"}])
        >>> print(err)
        Bad.
          email: INVALID_EMAIL: Email x is invalid
        Fix the values named above and send again; HubSpot wrote nothing from this request.
    """

    default_hint = (
        "Fix the values named above and send again; HubSpot wrote nothing from this request."
    )

    def __init__(
        self, message: str, *, errors: Iterable[Mapping[str, Any]] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors]

    def __str__(self) -> str:
        head, _, tail = super().__str__().partition("\n")
        lines = [head]
        for error in self.errors:
            label = ": ".join(str(part) for part in (error.get("name"), error.get("code")) if part)
            lines.append(f"  {label}: {error.get('message')}" if label else f"  {error['message']}")
        if tail:
            lines.append(tail)
        return "\n".join(lines)


class ConflictError(HubSpotError):
    """The record already exists (409), usually a contact with the same email.

    Args:
        message: HubSpot's message.
        existing_id: The existing contact's id, parsed from the message, if HubSpot gave one.
        **kwargs: As for :class:`HubSpotError`.

    Attributes:
        existing_id: See Args.

    Example:
        >>> ConflictError("Contact already exists. Existing ID: 42", existing_id="42").existing_id
        '42'
    """

    default_hint = (
        "A contact with this email already exists: update that contact instead, or use "
        "batch_upsert with idProperty 'email'."
    )

    def __init__(self, message: str, *, existing_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.existing_id = existing_id


class RateLimitError(HubSpotError):
    """HubSpot's rate limit was reached (429) and hsframe stopped retrying.

    A ``DAILY`` limit stops at once: the daily limit is shared by every app in the HubSpot
    account and resets at midnight in the account's time zone.

    Args:
        message: What went wrong.
        policy: HubSpot's ``policyName``: ``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``.
        retry_after: Seconds HubSpot asked to wait (``Retry-After``), if given.
        **kwargs: As for :class:`HubSpotError`.

    Attributes:
        policy: See Args.
        retry_after: See Args.

    Example:
        >>> err = RateLimitError("You have reached your daily limit.", policy="DAILY",
        ...                      retry_after=7200)
        >>> "resets at midnight" in err.hint and "about 2 h" in err.hint
        True
    """

    default_hint = (
        "Too many requests in a short time. Wait a few seconds and try again; if other "
        "scripts use the same private app, they share its budget."
    )

    def __init__(
        self,
        message: str,
        *,
        policy: str | None = None,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        if policy == "DAILY" and kwargs.get("hint") is None:
            kwargs["hint"] = _daily_hint(retry_after)
        super().__init__(message, **kwargs)
        self.policy = policy
        self.retry_after = retry_after


def _daily_hint(retry_after: float | None) -> str:
    when = "It resets at midnight in the HubSpot account's time zone"
    if retry_after is not None and retry_after > 0:
        hours, minutes = divmod(round(retry_after / 60), 60)
        when += f", in about {hours} h {minutes:02d} min"
    return (
        f"HubSpot's daily API limit for this account is used up. {when}. The limit is shared "
        "by every app in the account; HubSpot sells an API limit increase."
    )


class ServerError(HubSpotError):
    """HubSpot failed on its side (5xx), and hsframe's retries did not get through."""

    default_hint = (
        "HubSpot had a problem answering. Wait a few minutes and try again; if it persists, "
        "give HubSpot support the correlation id."
    )


class TransportError(HubSpotError):
    """No usable answer: the connection dropped or timed out, or the answer was not JSON.

    A write that failed this way may or may not have been applied.
    """

    default_hint = (
        "Check the network connection (and any proxy), then try again. A write that failed "
        "this way may or may not have been applied: reload before sending it again."
    )


class ConfigurationError(HubSpotError):
    """hsframe is not set up to talk to HubSpot: no token, or an unsafe base URL."""

    default_hint = (
        f"Create a private app in {PRIVATE_APPS} with the scopes crm.objects.contacts.read "
        "(and crm.objects.contacts.write to push edits), copy its access token from the Auth "
        f"tab, then pass it to hsframe.connect(token=...), set {TOKEN_ENV}, or save it in "
        ".env with hsframe.save_token(...)."
    )


ERROR_CLASSES: Mapping[int, type[HubSpotError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: MissingScopesError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}
"""HubSpot's status codes and the error class each one raises."""

_STATUS_HINTS: Mapping[int, str] = {
    414: "The request URL is too long: request fewer properties, or use a batch read.",
    477: "HubSpot is migrating this account; retry after the time it gives (up to a day).",
}


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    redact: Iterable[str] = (),
) -> HubSpotError:
    """Build the error for one HubSpot error answer.

    Args:
        status: The HTTP status.
        headers: The answer's headers (any case).
        body: The raw body: HubSpot's JSON error, or anything else (HTML, empty).
        redact: Secrets to scrub from the body before it is parsed or kept.

    Returns:
        An instance of the class :data:`ERROR_CLASSES` names for ``status``
        (:class:`ServerError` for other 5xx, :class:`HubSpotError` otherwise).

    Example:
        >>> body = (b'{"status":"error","message":"Contact already exists. Existing ID: 42",'
        ...         b'"correlationId":"c-1","category":"CONFLICT"}')
        >>> err = error_from_response(409, {}, body)
        >>> type(err).__name__, err.existing_id, err.correlation_id
        ('ConflictError', '42', 'c-1')
        >>> error_from_response(502, {"Content-Type": "text/html"},
        ...                     b"<html><h1>502 Bad Gateway</h1></html>").message
        'HubSpot answered HTTP 502 with a non-JSON body: 502 Bad Gateway'
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    text = body.decode("utf-8", errors="replace")
    for secret in redact:
        if secret:
            text = text.replace(secret, mask(secret))
    payload = _json_object(text)
    cls = ERROR_CLASSES.get(status) or (ServerError if 500 <= status < 600 else HubSpotError)
    if payload is None:
        message = _non_json_message(status, text)
        category = None
    else:
        message = str(payload.get("message") or f"HubSpot answered HTTP {status}.")
        category = _str_or_none(payload.get("category"))
    common: dict[str, Any] = {
        "status": status,
        "category": category,
        "correlation_id": _str_or_none((payload or {}).get("correlationId"))
        or lowered.get("x-hubspot-correlation-id"),
        "body": payload,
    }
    if cls is HubSpotError and status in _STATUS_HINTS:
        common["hint"] = _STATUS_HINTS[status]
    details = (payload or {}).get("errors")
    details = details if isinstance(details, list) else []
    if cls is ValidationError:
        return ValidationError(message, errors=_validation_errors(message, details), **common)
    if cls is ConflictError:
        return ConflictError(message, existing_id=_existing_id(message, details), **common)
    if cls is MissingScopesError:
        missing = _required_scopes(details)
        if missing:
            message = f"{message} Missing: {', '.join(missing)}."
        return MissingScopesError(message, missing=missing, **common)
    if cls is RateLimitError:
        policy = _str_or_none((payload or {}).get("policyName"))
        return RateLimitError(
            message,
            policy=policy,
            retry_after=parse_retry_after(lowered.get("retry-after")),
            **common,
        )
    return cls(message, **common)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds), or None.

    HubSpot documents seconds for 477 and sends whole seconds on 429s in practice
    (hubspot-api.md §4.3); an HTTP date is not expected and is ignored.

    Example:
        >>> parse_retry_after("2"), parse_retry_after(None), parse_retry_after("soon")
        (2.0, None, None)
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _non_json_message(status: int, text: str) -> str:
    stripped = _MARKUP.sub(" ", text)
    words = " ".join(html.unescape(stripped).split())
    if len(words) > 200:
        words = words[:200] + "…"
    if not words:
        return f"HubSpot answered HTTP {status} with an empty body."
    return f"HubSpot answered HTTP {status} with a non-JSON body: {words}"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _validation_errors(message: str, details: list[Any]) -> list[dict[str, Any]]:
    """Per-property problems from both places HubSpot puts them (hubspot-api.md §3.3):
    the JSON array embedded in ``message`` and the ``errors[]`` list, without repeats."""
    found: list[dict[str, Any]] = []
    start = message.find("[")
    if start != -1:
        try:
            embedded, _ = json.JSONDecoder().raw_decode(message[start:])
        except ValueError:
            embedded = []
        for item in embedded if isinstance(embedded, list) else []:
            if isinstance(item, dict):
                found.append(
                    {
                        "name": _str_or_none(item.get("name")),
                        "code": _str_or_none(item.get("error")),
                        "message": _str_or_none(item.get("message")),
                    }
                )
    seen = {(e["name"], e["code"]) for e in found}
    for item in details:
        if not isinstance(item, dict):
            continue
        context = item.get("context")
        names = (context.get("propertyName") if isinstance(context, dict) else None) or [
            item.get("in")
        ]
        for name in names if isinstance(names, list) else [names]:
            entry = {
                "name": _str_or_none(name),
                "code": _str_or_none(item.get("code")),
                "message": _str_or_none(item.get("message")),
            }
            if (entry["name"], entry["code"]) not in seen:
                seen.add((entry["name"], entry["code"]))
                found.append(entry)
    return found


def _existing_id(message: str, details: list[Any]) -> str | None:
    texts = [message] + [str(d.get("message", "")) for d in details if isinstance(d, dict)]
    for text in texts:
        match = _EXISTING_ID.search(text)
        if match:
            return match.group(1)
    return None


def _required_scopes(details: list[Any]) -> tuple[str, ...]:
    scopes: list[str] = []
    for item in details:
        context = item.get("context") if isinstance(item, dict) else None
        if not isinstance(context, dict):
            continue
        for key in ("requiredGranularScopes", "requiredScopes"):
            values = context.get(key)
            if isinstance(values, list):
                scopes.extend(str(v) for v in values if str(v) not in scopes)
    return tuple(scopes)
