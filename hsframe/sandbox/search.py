"""CRM search (``POST /crm/v3/objects/contacts/search``) over a store snapshot.

Two steps, both pure: :func:`parse` turns a request body into a :class:`SearchRequest`
(answering HubSpot's 400s for bad bodies, caps and the 10,000-result limit), and
:func:`run` evaluates it over a :class:`~hsframe.sandbox.store.SearchView`, vectorised
with numpy so that a filtered page over 20,000 contacts takes a few milliseconds.

Semantics (hubspot-api.md §1.5; where it is open, the sandbox's choice is stated):

* Filters within a group are ANDed, groups are ORed; no groups matches everything.
* ``number``, ``date`` and ``datetime`` properties compare numerically; filter values
  for dates and datetimes may be epoch ms or ISO 8601. A value that does not parse → 400.
* Other properties compare as strings, case-insensitively (``EQ``/``NEQ``/``IN``/
  ``NOT_IN`` and the orderings), as HubSpot's search index does. For multi-select
  (``checkbox``) properties, ``EQ``/``IN`` match when any selected option matches.
* Unset values never satisfy ``EQ``, ``IN``, ``CONTAINS_TOKEN`` or an ordering; they do
  satisfy ``NEQ``, ``NOT_IN`` and ``NOT_CONTAINS_TOKEN`` (the negations are complements).
* ``CONTAINS_TOKEN`` matches whole tokens (runs of letters and digits, case-insensitive);
  a value of several tokens needs them all; ``*`` is a wildcard within a
  whitespace-separated word (``*@example.com``).
* ``NOT_HAS_PROPERTY``/``HAS_PROPERTY`` ignore any ``value``.
* A property that is not defined behaves as one that is never set (no 400).
* ``query`` matches when every word is a prefix of a token (or of the whole value) of
  ``email``, ``firstname``, ``lastname``, ``phone`` or ``company``.
* One sort: ``{"propertyName", "direction"}`` or ``"prop"``/``"-prop"``; further sorts
  are ignored, as on HubSpot. Unset values sort last either way; ties and the default
  order are by id ascending.
* ``after`` is an opaque cursor the sandbox issued (``"0"`` and other decimal offsets are
  also accepted, as HubSpot's own examples send them). Results beyond the 10,000th are
  never returned; the page that ends at 10,000 still carries ``paging.next``, and asking
  for it is a 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from hsframe.sandbox.rules import epoch_ms
from hsframe.sandbox.store import SearchView
from hsframe.sandbox.wire import ApiError

__all__ = [
    "MAX_LIMIT",
    "MAX_RESULTS",
    "OPERATORS",
    "QUERY_PROPERTIES",
    "Filter",
    "Limits",
    "SearchRequest",
    "Sort",
    "decode_after",
    "encode_after",
    "parse",
    "run",
]

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
QUERY_PROPERTIES = ("email", "firstname", "lastname", "phone", "company")
MAX_LIMIT = 200
MAX_RESULTS = 10_000
DEFAULT_LIMIT = 10
_CURSOR_PREFIX = "offset:"
_TOKEN_SPLIT = re.compile(r"[^0-9a-z]+")

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Limits:
    """Caps on a search request's filters (hubspot-api.md Decisions: 5 / 25 / 10)."""

    max_filter_groups: int = 5
    max_filters: int = 25
    max_filters_per_group: int = 10


@dataclass(frozen=True)
class Filter:
    """One filter: ``propertyName``, ``operator`` and its value(s) as strings."""

    name: str
    operator: str
    value: str | None = None
    high: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sort:
    """The one sort a search honours."""

    name: str
    descending: bool = False


@dataclass(frozen=True)
class SearchRequest:
    """A parsed, validated search body."""

    groups: tuple[tuple[Filter, ...], ...] = ()
    sort: Sort | None = None
    query: str | None = None
    properties: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def referenced(self) -> list[str]:
        """Every property the search filters, sorts or queries on."""
        names = [f.name for group in self.groups for f in group]
        if self.sort is not None:
            names.append(self.sort.name)
        if self.query:
            names.extend(QUERY_PROPERTIES)
        return list(dict.fromkeys(names))


def _bad(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def encode_after(offset: int) -> str:
    """The opaque ``paging.next.after`` for a result offset."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_after(after: Any) -> int:
    """The result offset of an ``after`` value.

    Raises:
        ApiError: 400 for a value the sandbox did not issue.
    """
    if after is None or after == "":
        return 0
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return after
    text = str(after)
    if text.isdigit():
        return int(text)
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.startswith(_CURSOR_PREFIX) and decoded[len(_CURSOR_PREFIX) :].isdigit():
        return int(decoded[len(_CURSOR_PREFIX) :])
    raise _bad(f"Invalid paging cursor: {text!r}. Use paging.next.after from a previous page.")


def _text(value: Any, what: str) -> str:
    """A filter value as a string (JSON numbers and booleans are accepted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _bad(f"{what} must be a string")


def _filter(raw: Any) -> Filter:
    if not isinstance(raw, Mapping):
        raise _bad("Each filter must be an object with propertyName and operator")
    name = raw.get("propertyName")
    operator = raw.get("operator")
    if not isinstance(name, str) or not name:
        raise _bad("A filter is missing its propertyName")
    if operator not in OPERATORS:
        allowed = ", ".join(sorted(OPERATORS))
        raise _bad(f"Invalid filter operator {operator!r} for {name}; use one of: {allowed}")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return Filter(name, operator)
    if operator in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise _bad(f"The {operator} filter on {name} needs a non-empty values list")
        return Filter(name, operator, values=tuple(_text(v, "values") for v in values))
    if raw.get("value") is None:
        raise _bad(f"The {operator} filter on {name} needs a value")
    value = _text(raw["value"], "value")
    if operator == "BETWEEN":
        if raw.get("highValue") is None:
            raise _bad(f"The BETWEEN filter on {name} needs a highValue")
        return Filter(name, operator, value, _text(raw["highValue"], "highValue"))
    return Filter(name, operator, value)


def _sort(raw: Any) -> Sort | None:
    if not isinstance(raw, list) or not raw:
        if raw not in (None, []):
            raise _bad("sorts must be a list")
        return None
    first = raw[0]  # HubSpot honours one sort
    if isinstance(first, str) and first.strip("-"):
        return Sort(first.lstrip("-"), first.startswith("-"))
    if isinstance(first, Mapping) and isinstance(first.get("propertyName"), str):
        direction = str(first.get("direction") or "ASCENDING").upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise _bad(f"Invalid sort direction {direction!r}; use ASCENDING or DESCENDING")
        return Sort(first["propertyName"], direction == "DESCENDING")
    raise _bad("A sort must be a property name or {propertyName, direction}")


def parse(body: Any, limits: Limits | None = None) -> SearchRequest:
    """Validate a search body.

    Args:
        body: The decoded JSON body (``{}`` is valid).
        limits: Filter caps; HubSpot's 5 groups / 25 filters / 10 per group by default.

    Returns:
        The request.

    Raises:
        ApiError: 400 ``VALIDATION_ERROR`` for a malformed body, a limit above 200, too
            many filters, or a page starting at or beyond result 10,000.
    """
    caps = limits or Limits()
    if not isinstance(body, Mapping):
        raise _bad("The search body must be a JSON object")
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list):
        raise _bad("filterGroups must be a list")
    if len(raw_groups) > caps.max_filter_groups:
        raise _bad(
            f"Too many filter groups ({len(raw_groups)}); the maximum is {caps.max_filter_groups}"
        )
    groups: list[tuple[Filter, ...]] = []
    for group in raw_groups:
        filters = group.get("filters") if isinstance(group, Mapping) else None
        if not isinstance(filters, list):
            raise _bad("Each filter group must be an object with a filters list")
        if len(filters) > caps.max_filters_per_group:
            raise _bad(
                f"Too many filters in one group ({len(filters)}); "
                f"the maximum is {caps.max_filters_per_group}"
            )
        groups.append(tuple(_filter(f) for f in filters))
    total = sum(len(g) for g in groups)
    if total > caps.max_filters:
        raise _bad(f"Too many filters ({total}); the maximum is {caps.max_filters} in all")

    limit = body.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise _bad(f"limit must be a positive integer, not {limit!r}")
    if limit > MAX_LIMIT:
        raise _bad(f"limit must be at most {MAX_LIMIT}, not {limit}")
    offset = decode_after(body.get("after"))
    if offset >= MAX_RESULTS:
        raise _bad(
            f"Search results are limited to {MAX_RESULTS} per query; this page starts at "
            f"result {offset}. Narrow the query (for example by hs_object_id ranges)."
        )
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise _bad("query must be a string")
    if query is not None and len(query) > 3000:
        raise _bad("query must be at most 3000 characters")
    properties = body.get("properties")
    if properties is not None and (
        not isinstance(properties, list) or not all(isinstance(p, str) for p in properties)
    ):
        raise _bad("properties must be a list of property names")
    return SearchRequest(
        groups=tuple(groups),
        sort=_sort(body.get("sorts")),
        query=query.strip() or None if query else None,
        properties=tuple(properties) if properties else None,
        limit=limit,
        offset=offset,
    )


class _Columns:
    """Lazily derived forms of the view's columns, shared by a request's filters."""

    def __init__(self, view: SearchView, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.view = view
        self.definitions = definitions
        self.size = len(view.ids)
        self._lower: dict[str, npt.NDArray[np.object_]] = {}

    def kind(self, name: str) -> str:
        definition = self.definitions.get(name) or {}
        kind = definition.get("type")
        if name in self.view.numeric:
            return str(kind)
        if kind == "enumeration" and definition.get("fieldType") == "checkbox":
            return "multi"
        return "string"

    def present(self, name: str) -> Mask:
        raw = self.view.raw.get(name)
        if raw is None:
            return np.zeros(self.size, dtype=bool)
        present: Mask = ~pd.isna(raw)
        return present

    def lower(self, name: str) -> npt.NDArray[np.object_]:
        """The lower-cased values of a property (None where unset)."""
        if name not in self._lower:
            lowered = self.view.lower.get(name)
            if lowered is None:
                raw = self.view.raw.get(name)
                values = [None] * self.size if raw is None else raw.tolist()
                lowered = np.array(
                    [v.lower() if v is not None else None for v in values], dtype=object
                )
            self._lower[name] = lowered
        return self._lower[name]


def _number(value: str, kind: str, name: str) -> float:
    parsed = epoch_ms(value, kind)
    if parsed is None:
        raise _bad(f"{value} is not a valid {kind} value for a filter on {name}")
    return parsed


def _each(values: npt.NDArray[np.object_], test: Callable[[str], bool]) -> Mask:
    """``test`` on every set value (False where unset)."""
    return np.fromiter(
        (v is not None and test(v) for v in values.tolist()), dtype=bool, count=len(values)
    )


def _token_test(value: str) -> Callable[[str], bool]:
    """The test of a CONTAINS_TOKEN value on a lower-cased string.

    Plain substring tests run first (they are fast); the regex only confirms candidates.
    """
    text = value.lower().strip()
    if "*" in text:
        pieces = [p for p in text.split("*") if p]
        word = ".*".join(re.escape(part) for part in text.split("*"))
        pattern = re.compile(rf"(?:^|\s){word}(?:\s|$)")
        return lambda v: all(p in v for p in pieces) and pattern.search(v) is not None
    tokens = [t for t in _TOKEN_SPLIT.split(text) if t]
    if not tokens:
        return lambda v: False
    checks = [(t, re.compile(rf"(?<![0-9a-z]){re.escape(t)}(?![0-9a-z])")) for t in tokens]
    return lambda v: all(t in v and p.search(v) is not None for t, p in checks)


def _mask(flt: Filter, cols: _Columns) -> Mask:
    """The rows one filter matches."""
    name, op = flt.name, flt.operator
    present = cols.present(name)
    if op == "HAS_PROPERTY":
        return present
    if op == "NOT_HAS_PROPERTY":
        return ~present
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        hit = _each(cols.lower(name), _token_test(flt.value or ""))
        return hit if op == "CONTAINS_TOKEN" else ~hit
    negate = op in ("NEQ", "NOT_IN")
    kind = cols.kind(name)
    if kind in ("number", "date", "datetime"):
        keys = cols.view.numeric[name]
        with np.errstate(invalid="ignore"):
            if op in ("EQ", "NEQ"):
                hit = keys == _number(flt.value or "", kind, name)
            elif op in ("IN", "NOT_IN"):
                hit = np.isin(keys, [_number(v, kind, name) for v in flt.values])
            elif op == "BETWEEN":
                low = _number(flt.value or "", kind, name)
                high = _number(flt.high or "", kind, name)
                hit = (keys >= low) & (keys <= high)
            else:
                bound = _number(flt.value or "", kind, name)
                hit = {
                    "LT": keys < bound,
                    "LTE": keys <= bound,
                    "GT": keys > bound,
                    "GTE": keys >= bound,
                }[op]
        return ~hit if negate else hit
    lowered = cols.lower(name)
    wanted = {v.lower() for v in flt.values} if flt.values else {(flt.value or "").lower()}
    if op in ("EQ", "NEQ", "IN", "NOT_IN"):
        if kind == "multi":
            hit = _each(lowered, lambda v: not wanted.isdisjoint(v.split(";")))
        elif len(wanted) == 1:
            hit = np.asarray(lowered == next(iter(wanted)), dtype=bool)
        else:
            hit = pd.Series(lowered, dtype=object).isin(list(wanted)).to_numpy(dtype=bool)
        return ~hit if negate else hit
    bottom = (flt.value or "").lower()
    if op == "BETWEEN":
        top = (flt.high or "").lower()
        return _each(lowered, lambda v: bottom <= v <= top)
    tests = {
        "LT": lambda v: v < bottom,
        "LTE": lambda v: v <= bottom,
        "GT": lambda v: v > bottom,
        "GTE": lambda v: v >= bottom,
    }
    return _each(lowered, tests[op])


def _prefix_test(word: str) -> Callable[[str], bool]:
    """Whether ``word`` starts a token of a lower-cased string (substring test first)."""
    pattern = re.compile(rf"(?<![0-9a-z]){re.escape(word)}")
    return lambda v: word in v and pattern.search(v) is not None


def _query_mask(query: str, cols: _Columns) -> Mask:
    """Rows where every word of ``query`` starts a token of a searchable property."""
    matched = np.ones(cols.size, dtype=bool)
    names = [name for name in QUERY_PROPERTIES if name in cols.view.raw]
    for word in dict.fromkeys(query.lower().split()):
        test = _prefix_test(word)
        found = np.zeros(cols.size, dtype=bool)
        for name in names:
            found |= _each(cols.lower(name), test)
        matched &= found
    return matched


def _order(rows: npt.NDArray[np.intp], sort: Sort | None, cols: _Columns) -> npt.NDArray[np.intp]:
    """Matching rows in result order (rows are in id order to begin with)."""
    if sort is None or len(rows) == 0:
        return rows
    if sort.name in cols.view.numeric:
        keys = cols.view.numeric[sort.name][rows]
        missing = np.isnan(keys)
        ranks = np.where(missing, 0.0, -keys if sort.descending else keys)
    elif sort.name in cols.view.raw:
        lowered = cols.lower(sort.name)
        codes, _ = pd.factorize(pd.Series(lowered[rows], dtype=object), sort=True)
        missing = codes < 0
        ranks = np.where(missing, 0, -codes if sort.descending else codes).astype(np.float64)
    else:
        return rows
    # lexsort: last key is primary; unset values last, then the rank, then id (row) order
    order = np.lexsort((rows, ranks, missing))
    return rows[order]


def run(
    view: SearchView,
    request: SearchRequest,
    definitions: Mapping[str, Mapping[str, Any]],
) -> tuple[npt.NDArray[np.intp], int]:
    """Evaluate a search over a snapshot.

    Args:
        view: The store's columns as the search index sees them.
        request: The parsed request.
        definitions: Property definitions by name (types decide how values compare).

    Returns:
        The rows of the requested page (positions in ``view``, in result order) and the
        total number of matches.

    Raises:
        ApiError: 400 for a filter value that does not parse for its property's type.
    """
    cols = _Columns(view, definitions)
    matched = view.visible.copy()
    if request.groups:
        any_group = np.zeros(cols.size, dtype=bool)
        for group in request.groups:
            every = np.ones(cols.size, dtype=bool)
            for flt in group:
                every &= _mask(flt, cols)
            any_group |= every
        matched &= any_group
    if request.query:
        matched &= _query_mask(request.query, cols)
    rows = _order(np.flatnonzero(matched), request.sort, cols)
    end = min(request.offset + request.limit, MAX_RESULTS)
    return rows[request.offset : end], len(rows)
