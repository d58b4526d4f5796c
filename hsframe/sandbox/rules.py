"""HubSpot's rules for contact property values, as the sandbox enforces them.

A write to HubSpot is judged property by property against the portal's property
definitions, and every invalid property is reported in one 400 (hubspot-api.md §3.3, §5.3,
§5.4). This module holds those rules, and nothing else: it is pure (no store, no clock), so
the CRM endpoints and the store share one definition of what a valid value is and of how an
accepted value is stored.

The checks, by property definition, with the embedded ``error`` code each reports:

================================  ===========================  =============================
property                          accepted                     otherwise
================================  ===========================  =============================
not defined                       —                            ``PROPERTY_DOESNT_EXIST``
read-only (``readOnlyValue``,     —                            ``READ_ONLY_VALUE``
``calculated``, or a system
property)
``email``                         RFC-ish address (below)      ``INVALID_EMAIL``
``enumeration``                   an option value; for         ``INVALID_OPTION`` (one entry
                                  ``checkbox`` each ``;`` part per bad part)
``number``                        ``-?\\d+(\\.\\d+)?``          ``INVALID_NUMBER``
``date``                          ``YYYY-MM-DD`` or UTC-       ``INVALID_DATE``
                                  midnight epoch ms
``datetime``                      epoch ms or ISO 8601         ``INVALID_DATETIME``
``bool``                          ``true`` / ``false``         ``INVALID_BOOLEAN``
anything else (``string``,        any string, verbatim         —
``phone_number``...)
================================  ===========================  =============================

``""`` clears a value and is never format-checked (read-only and unknown properties are
still refused). Accepted values are stored in one canonical form: dates as ``YYYY-MM-DD``,
datetimes as ISO 8601 UTC with milliseconds and ``Z``, emails lower-cased; everything else
verbatim.

Sandbox decisions where hubspot-api.md is open (documented here because this is where
they are enforced):

* ``INVALID_NUMBER``, ``INVALID_DATETIME`` and ``INVALID_BOOLEAN`` are the sandbox's own
  codes; HubSpot's exact codes for these are unconfirmed.
* Emails are compared case-insensitively and stored lower-cased (HubSpot treats addresses
  case-insensitively for de-duplication; a client that writes ``Ann@X.com`` reads back
  ``ann@x.com`` and must not report that as a value that did not stick).
  The address check is RFC-ish: one ``@``, no spaces or quotes, a dot-atom local part, and
  a dotted domain whose last label is 2+ letters (or an ``xn--`` label); at most 254
  characters. It does not consult the IANA TLD list.
* An email blocklisted by a GDPR delete is refused as ``INVALID_EMAIL`` with a message
  that says why.
* A ``date`` accepts only ``YYYY-MM-DD`` or epoch ms (not ISO datetimes); a ``datetime``
  accepts epoch ms, ISO 8601 with or without a time (no offset means UTC).
* Enumerations with no options of their own (``externalOptions``, such as owners or
  pipeline stages) accept any value. Hidden options are accepted.
* JSON numbers and booleans sent as property values are taken as their string form
  (``5`` → ``"5"``, ``true`` → ``"true"``); ``null`` clears like ``""``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hsframe.sandbox.wire import ApiError

__all__ = [
    "LIFECYCLE_ORDER",
    "SYSTEM_PROPERTIES",
    "Problem",
    "check_values",
    "epoch_ms",
    "epoch_ms_column",
    "format_datetime",
    "is_backward_lifecycle",
    "is_read_only",
    "is_valid_email",
    "unique_key",
    "validation_error",
    "validation_payload",
    "wire_value",
]

SYSTEM_PROPERTIES = ("hs_object_id", "createdate", "lastmodifieddate")
"""Properties the store maintains itself; always read-only in the sandbox."""

LIFECYCLE_ORDER = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)
"""The lifecycle stages in funnel order (``other`` is outside the order)."""

_DAY_MS = 86_400_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_INTEGER = re.compile(r"-?\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,}}|xn--[A-Za-z0-9-]+)")


@dataclass(frozen=True)
class Problem:
    """One invalid property value, as HubSpot reports it.

    Attributes:
        name: The property name.
        error: HubSpot's embedded code (``INVALID_EMAIL``, ``PROPERTY_DOESNT_EXIST``...).
        message: The human-readable message.
    """

    name: str
    error: str
    message: str


def wire_value(value: Any) -> str:
    """The string HubSpot makes of a JSON property value.

    Args:
        value: A decoded JSON value from a request's ``properties`` map.

    Returns:
        The value as a wire string: strings as they are, ``None`` as ``""`` (clear),
        booleans as ``"true"``/``"false"``, numbers in their JSON form.

    Raises:
        TypeError: For objects and arrays, which HubSpot cannot deserialize as a string.

    Example:
        >>> wire_value(True), wire_value(5), wire_value(None)
        ('true', '5', '')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(f"a property value must be a string, not {type(value).__name__}")


def is_valid_email(value: str) -> bool:
    """Whether ``value`` passes the sandbox's RFC-ish email check.

    Example:
        >>> is_valid_email("ann.lee@example.co.uk"), is_valid_email("tb.tb@yahoo")
        (True, False)
    """
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def unique_key(name: str, value: str) -> str:
    """The key under which a unique property's value collides with another's.

    Emails compare case-insensitively; other unique properties exactly.
    """
    return value.lower() if name == "email" else value


def is_read_only(definition: Mapping[str, Any]) -> bool:
    """Whether a property's value cannot be written through the API."""
    meta = definition.get("modificationMetadata") or {}
    return bool(
        meta.get("readOnlyValue")
        or definition.get("calculated")
        or definition.get("name") in SYSTEM_PROPERTIES
    )


def is_backward_lifecycle(current: str | None, new: str) -> bool:
    """Whether setting ``new`` would move the lifecycle stage back down the funnel.

    Example:
        >>> is_backward_lifecycle("customer", "lead"), is_backward_lifecycle("lead", "other")
        (True, False)
    """
    if current is None or current not in LIFECYCLE_ORDER or new not in LIFECYCLE_ORDER:
        return False
    return LIFECYCLE_ORDER.index(new) < LIFECYCLE_ORDER.index(current)


def format_datetime(ms: int) -> str:
    """Epoch milliseconds as HubSpot's ISO form, e.g. ``2024-04-16T09:50:16.034Z``.

    Example:
        >>> format_datetime(1713261016034)
        '2024-04-16T09:50:16.034Z'
    """
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return (  # strftime's %Y does not zero-pad years before 1000 on every platform
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{ms % 1000:03d}Z"
    )


def _parse_iso(value: str) -> int | None:
    """ISO 8601 date or datetime → epoch ms (UTC when no offset is given), or None."""
    if not value[:4].isdigit():
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def epoch_ms(value: str, kind: str) -> float | None:
    """The numeric key of a value of a ``number``, ``date`` or ``datetime`` property.

    Search compares these properties numerically; filter values for dates and datetimes
    may be epoch ms or ISO 8601.

    Args:
        value: A wire string.
        kind: The property ``type``.

    Returns:
        The number (epoch ms for dates and datetimes), or None when it does not parse.

    Example:
        >>> epoch_ms("2024-01-01", "date"), epoch_ms("17.5", "number")
        (1704067200000.0, 17.5)
    """
    text = value.strip()
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if _INTEGER.fullmatch(text):
        return float(int(text))
    parsed = _parse_iso(text)
    return None if parsed is None else float(parsed)


def epoch_ms_column(values: npt.NDArray[np.object_], kind: str) -> npt.NDArray[np.float64]:
    """:func:`epoch_ms` over a column of wire strings (None for unset), vectorised.

    Args:
        values: An object array of wire strings and None.
        kind: The property ``type`` (``number``, ``date`` or ``datetime``).

    Returns:
        A float array, NaN where the value is unset or does not parse.
    """
    series = pd.Series(values, dtype=object)
    if kind == "number":
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.full(len(series), np.nan)
    present = series.notna().to_numpy()
    if not present.any():
        return out
    text = series[present].astype(str)
    digits = text.str.fullmatch(r"-?\d+").to_numpy(dtype=bool)
    keys = np.full(len(text), np.nan)
    if digits.any():
        keys[digits] = text[digits].astype(np.float64).to_numpy()
    if (~digits).any():
        stamps = pd.to_datetime(text[~digits], format="ISO8601", utc=True, errors="coerce")
        unit = stamps.dt.unit
        ticks = stamps.dt.tz_localize(None).to_numpy(dtype=f"datetime64[{unit}]").view(np.int64)
        if unit == "s":
            millis = ticks * 1000
        else:  # integer floor division, as the scalar path does
            millis = ticks // {"ms": 1, "us": 1000, "ns": 1_000_000}[unit]
        parsed = millis.astype(np.float64)
        parsed[stamps.isna().to_numpy()] = np.nan
        keys[~digits] = parsed
    out[present] = keys
    return out


def _time_of_day(ms: int) -> str:
    """``4:10:33.600`` for a millisecond offset into a UTC day (HubSpot's wording)."""
    rest = ms % _DAY_MS
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _check_date(value: str) -> tuple[str | None, str | None]:
    """(stored form, None) for a valid date, or (None, message)."""
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value).isoformat(), None
        except ValueError:
            pass
    elif _INTEGER.fullmatch(value):
        ms = int(value)
        if ms % _DAY_MS:
            return None, f"{value} is at {_time_of_day(ms)} UTC, not midnight!"
        try:
            return (_EPOCH + dt.timedelta(milliseconds=ms)).date().isoformat(), None
        except OverflowError:
            pass
    return None, (f"{value} is not a valid date: use YYYY-MM-DD or UTC-midnight epoch milliseconds")


def _check_datetime(value: str) -> str | None:
    """The stored ISO form of a valid datetime, or None."""
    if _INTEGER.fullmatch(value):
        ms: int | None = int(value)
    else:
        ms = _parse_iso(value)
    if ms is None:
        return None
    try:
        return format_datetime(ms)
    except OverflowError:
        return None


def _options(definition: Mapping[str, Any]) -> list[str]:
    return [str(option.get("value")) for option in definition.get("options") or []]


def _check_one(
    name: str,
    value: str,
    definition: Mapping[str, Any],
    blocked: Callable[[str], bool] | None,
) -> tuple[str | None, list[Problem]]:
    """(stored form, []) for a valid non-empty value, or (None, problems)."""
    kind = definition.get("type")
    if name == "email":
        if not is_valid_email(value):
            return None, [Problem(name, "INVALID_EMAIL", f"Email address {value} is invalid")]
        stored = value.lower()
        if blocked is not None and blocked(stored):
            message = (
                f"Email address {value} is invalid: it was permanently deleted (GDPR) "
                "and is blocklisted"
            )
            return None, [Problem(name, "INVALID_EMAIL", message)]
        return stored, []
    if kind == "enumeration":
        options = _options(definition)
        if not options:
            return value, []
        parts = value.split(";") if definition.get("fieldType") == "checkbox" else [value]
        allowed = ", ".join(options)
        bad = [
            Problem(
                name, "INVALID_OPTION", f"{part} was not one of the allowed options: [{allowed}]"
            )
            for part in parts
            if part not in options
        ]
        return (None, bad) if bad else (value, [])
    if kind == "number":
        if _NUMBER.fullmatch(value):
            return value, []
        return None, [Problem(name, "INVALID_NUMBER", f"{value} is not a valid number")]
    if kind == "date":
        day, complaint = _check_date(value)
        if day is None:
            return None, [Problem(name, "INVALID_DATE", complaint or value)]
        return day, []
    if kind == "datetime":
        moment = _check_datetime(value)
        if moment is None:
            message = f"{value} is not a valid datetime: use epoch milliseconds or ISO 8601"
            return None, [Problem(name, "INVALID_DATETIME", message)]
        return moment, []
    if kind == "bool":
        if value in ("true", "false"):
            return value, []
        message = f'{value} is not a valid boolean: use "true" or "false"'
        return None, [Problem(name, "INVALID_BOOLEAN", message)]
    return value, []


def check_values(
    values: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, Any]],
    *,
    blocked: Callable[[str], bool] | None = None,
) -> tuple[dict[str, str], list[Problem]]:
    """Judge every property of one write, as HubSpot does.

    Args:
        values: The request's ``properties`` map (JSON values).
        definitions: Property definitions by name.
        blocked: Tells whether a (lower-cased) email is blocklisted.

    Returns:
        The values to store (canonical forms; ``""`` for a clear) and the problems, one
        per invalid property (one per bad part of a multi-select). When there are
        problems, nothing of this write may be stored.

    Raises:
        TypeError: A value is a JSON object or array (a malformed payload).

    Example:
        >>> defs = {"email": {"name": "email", "type": "string"}}
        >>> check_values({"email": "Ann@Example.com"}, defs)
        ({'email': 'ann@example.com'}, [])
        >>> check_values({"emial": "x"}, defs)[1][0].error
        'PROPERTY_DOESNT_EXIST'
    """
    stored: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        value = wire_value(raw)
        definition = definitions.get(name)
        if definition is None:
            problems.append(
                Problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if is_read_only(definition):
            what = "a calculated" if definition.get("calculated") else "a read-only"
            message = f'"{name}" is {what} property; its value cannot be set'
            problems.append(Problem(name, "READ_ONLY_VALUE", message))
            continue
        if value == "":
            stored[name] = ""
            continue
        accepted, found = _check_one(name, value, definition, blocked)
        if found:
            problems.extend(found)
        elif accepted is not None:
            stored[name] = accepted
    return stored, problems


def validation_payload(problems: Iterable[Problem]) -> tuple[str, list[dict[str, Any]]]:
    """HubSpot's ``message`` and ``errors`` for a set of invalid properties.

    Returns:
        ``("Property values were not valid: <json array>", errors)``, where the array has
        one ``{isValid, message, error, name}`` entry per problem and ``errors`` mirrors
        it as ``{message, code, context: {propertyName: [name]}}``.
    """
    items = list(problems)
    embedded = [
        {"isValid": False, "message": p.message, "error": p.error, "name": p.name} for p in items
    ]
    message = "Property values were not valid: " + json.dumps(
        embedded, separators=(",", ":"), ensure_ascii=False
    )
    errors: list[dict[str, Any]] = [
        {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}}
        for p in items
    ]
    return message, errors


def validation_error(problems: Iterable[Problem]) -> ApiError:
    """The 400 ``VALIDATION_ERROR`` HubSpot answers for invalid property values."""
    message, errors = validation_payload(problems)
    return ApiError(400, "VALIDATION_ERROR", message, errors=errors)
