"""The rules a portal's property definitions set for the values written to it.

HubSpot refuses a write for one bad value: a label where an option value belongs, a number
with a thousands separator, a malformed email, a read-only property (hubspot-api.md §3.3,
§5.3, §5.4). This module says which rules apply to which property and what each accepts;
:mod:`hsframe.validate` turns them into Great Expectations (GE) expectations, runs them on
the edited cells and says, for each failure, what to do. Kept apart from GE (which only
:mod:`hsframe.validate` imports, lazily): the rules are plain data, cheap to import, and the
same whether GE is loaded or not.

**Why wire form.** The rules judge the exact strings HubSpot will receive (``None`` = unset,
``""`` = clear the value), in a frame indexed by contact id (nullable ``Int64`` named ``id``,
``NA`` for new contacts) with one column per property. That is what HubSpot checks, it keeps
the rules independent of the codec's dtypes, and the same rules read the same on every
load. The property definitions come in HubSpot's ``GET /crm/v3/properties/contacts`` shape.

========== ====================================== ===========================================
rule       properties                             accepts
========== ====================================== ===========================================
option     enumeration (select, radio, ...)       one option value
options    enumeration with fieldType checkbox    option values joined with ``;``
email      ``email``, textDisplayHint ``email``   :data:`WIRE_PATTERNS` ``["email"]``
number     number                                 :data:`WIRE_PATTERNS` ``["number"]``
date       date                                   :data:`WIRE_PATTERNS` ``["date"]``
datetime   datetime                               :data:`WIRE_PATTERNS` ``["datetime"]``
bool       bool                                   ``true`` or ``false``
unique     ``hasUniqueValue`` and ``email``       a value no other contact holds
identity   new contacts                           an email, a first name or a last name
========== ====================================== ===========================================

Every rule lets ``""`` (clear) and null (unset) through; read-only properties get no format
rules (their values are never sent) and enumerations whose options live elsewhere
(``externalOptions``, or no options listed) are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "BOOL_VALUES",
    "WIRE_PATTERNS",
    "Definition",
    "identity_columns",
    "identity_text",
    "multi_pattern",
    "parse_definitions",
    "rules_of",
]

# --- wire formats ------------------------------------------------------------------------
#
# Written for both regex engines pandas may use (Python's ``re`` and pyarrow's RE2): no
# lookaround, ``\Z`` (not ``$``, which lets a trailing newline through in Python) as the end
# anchor; pandas 3 rewrites ``\Z`` for RE2.

_YEAR = r"(?:\d{3}[1-9]|\d{2}[1-9]0|\d[1-9]00|[1-9]000)"  # 0001-9999
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))"
    r"|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)"
)
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)"
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"


def _whole(pattern: str) -> str:
    """Anchor a pattern to the whole value, and let ``""`` (clear the value) through.

    ``\\d`` is spelled ``[0-9]``: both engines let ``\\d`` match any Unicode digit (``١٢``).
    """
    return "^(?:" + pattern.replace(r"\d", "[0-9]") + r")?\Z"


#: The regular expressions of the schema suite, by rule: each matches a whole wire value
#: HubSpot accepts, or ``""``. Useful in your own expectations, e.g.
#: ``ExpectColumnValuesToMatchRegex(column="work_email", regex=WIRE_PATTERNS["email"])``.
#:
#: * email: RFC 5322 dot-atoms (ASCII, no quoted local part), a dotted domain and an
#:   alphabetic (or ``xn--``) top-level domain. HubSpot also checks the TLD against IANA's
#:   list; a made-up TLD passes here and is refused there.
#: * number: ``-?\d+(\.\d+)?``; no commas, spaces, ``+`` or exponent.
#: * date: a real calendar date as ``YYYY-MM-DD`` (years 0001-9999).
#: * datetime: ISO 8601 with a time zone (``2024-03-01T09:30:00.000Z``), or epoch ms.
WIRE_PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "email": _whole(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+{_TLD}"),
        "number": _whole(r"-?\d+(?:\.\d+)?"),
        "date": _whole(_DATE),
        "datetime": _whole(rf"{_DATE}T{_TIME}{_ZONE}|-?\d{{1,16}}"),
    }
)

BOOL_VALUES = ("true", "false")
"""HubSpot's wire values of a bool property."""

_IDENTITY = ("email", "firstname", "lastname")
_READABLE = {"email": "an email", "firstname": "a first name", "lastname": "a last name"}

# --- property definitions ----------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """What validation needs from one property definition.

    Parsed once per validation and read twice: for the rules (:func:`rules_of`), and for
    :mod:`hsframe.validate`'s messages, which name the options and guess the value behind a
    label.
    """

    name: str
    type: str
    field_type: str
    options: tuple[str, ...]
    labels: Mapping[str, str]  # casefolded label or value -> option value, for hints
    read_only: bool
    unique: bool
    external_options: bool
    email: bool


def parse_definitions(properties: Any) -> dict[str, Definition]:
    """Parse property definitions given in any of the accepted shapes, by name.

    The shapes: the ``results`` list of ``GET /crm/v3/properties/contacts``, the whole
    response, or a codec schema (:class:`hsframe.schema.Schema`).

    Raises:
        TypeError: ``properties`` is none of those shapes.
    """
    if isinstance(properties, Mapping):
        if "results" not in properties:
            raise TypeError(
                "properties must be the list of property definitions, or HubSpot's "
                "{'results': [...]} response from GET /crm/v3/properties/contacts"
            )
        items: Iterable[Any] = properties["results"]
    elif hasattr(properties, "definition") and not isinstance(properties, (str, bytes)):
        items = [properties.definition(name) for name in properties]  # a codec schema
    else:
        items = properties
    out: dict[str, Definition] = {}
    for raw in items:
        if not isinstance(raw, Mapping) or "name" not in raw:
            raise TypeError(f"not a property definition (a dict with a 'name'): {raw!r:.80}")
        options = tuple(str(o["value"]) for o in raw.get("options") or () if "value" in o)
        labels: dict[str, str] = {}
        for option in raw.get("options") or ():
            if "value" in option:
                labels.setdefault(str(option["value"]).casefold(), str(option["value"]))
                labels.setdefault(str(option.get("label", "")).casefold(), str(option["value"]))
        metadata = raw.get("modificationMetadata") or {}
        name = str(raw["name"])
        out[name] = Definition(
            name=name,
            type=str(raw.get("type", "string")),
            field_type=str(raw.get("fieldType", "")),
            options=options,
            labels=MappingProxyType(labels),
            read_only=bool(metadata.get("readOnlyValue") or raw.get("calculated")),
            unique=bool(raw.get("hasUniqueValue")) or name == "email",
            external_options=bool(raw.get("externalOptions")),
            email=name == "email" or raw.get("textDisplayHint") == "email",
        )
    return out


def rules_of(definition: Definition) -> list[str]:
    """The schema rules for one property, by name (the module docstring's table); identity
    is decided across properties (:func:`identity_columns`)."""
    if definition.read_only:
        return []
    rules: list[str] = []
    if definition.type == "enumeration":
        if definition.options and not definition.external_options:
            rules.append("options" if definition.field_type == "checkbox" else "option")
    elif definition.type in ("bool", "number", "date", "datetime"):
        rules.append(definition.type)
    if definition.email:
        rules.append("email")
    if definition.unique:
        rules.append("unique")
    return rules


def identity_columns(definitions: Mapping[str, Definition]) -> tuple[str, ...]:
    """The identity properties (email, first and last name) the portal lets us write."""
    return tuple(
        name for name in _IDENTITY if name in definitions and not definitions[name].read_only
    )


def _escape(text: str) -> str:
    """Escape regex metacharacters only (``re.escape`` also escapes spaces, which RE2 refuses)."""
    return re.sub(r"([\\.^$*+?{}\[\]|()])", r"\\\1", text)


def multi_pattern(options: Sequence[str]) -> str:
    """A pattern for ``;``-joined option values (HubSpot's multi-select wire form)."""
    one = "(?:" + "|".join(_escape(o) for o in sorted(options, key=len, reverse=True)) + ")"
    return _whole(f"{one}(?:;{one})*")


def identity_text(names: Sequence[str]) -> str:
    """The identity rule in words: its expectation's description, and the start of its failure
    message."""
    return "a new contact needs " + " or ".join(_READABLE.get(c, c) for c in names)
