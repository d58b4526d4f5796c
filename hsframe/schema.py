"""Property definitions, pandas dtypes, and the one codec between HubSpot's strings and pandas.

HubSpot sends every property value as a string (or null) and accepts only strings back
(hubspot-api.md §5.3). Analysts want typed columns. Everything that turns a wire string into a
typed value, or a typed value into what HubSpot holds, lives in this module and nowhere else:
the loader decodes with it, the diff compares frames after encoding both sides with it, the
writer asks it what to send. Two codecs would drift, and a drift shows up as phantom changes
or, worse, as values silently rewritten in a production CRM.

The mapping, driven by each property's definition (``type`` and ``fieldType``), with the
canonical wire form in brackets:

* number → ``Float64`` (``"1250000.5"``), or ``Int64`` when integer-valued (rule below)
  (``"17"``);
* bool → ``boolean`` (``"true"`` / ``"false"``);
* date → naive ``datetime64[ms]`` at midnight (``"2024-03-01"``);
* datetime → ``datetime64[ms, UTC]`` (``"2024-03-01T09:30:00.000Z"``);
* enumeration (select, radio, ...) → ``category``: the option values in display order, then
  any stale values seen in the data (no longer options), sorted (the option value);
* enumeration with fieldType ``checkbox`` (multi-select) → ``string`` holding the
  ``;``-joined values exactly as on the wire (``"red;blue"``);
* string, phone_number and any other type → ``string``, i.e. ``pd.StringDtype()`` with
  pyarrow storage and ``pd.NA`` for missing values (as sent).

Decisions, and why:

* **Integers.** A number property is ``Int64`` when its *definition* says it is a whole
  number, so the dtype is the same on every load whatever the data holds: ids (names ending
  ``_id``, such as HubSpot's record id ``hs_object_id``, and ``associatedcompanyid``),
  counters (names with a ``num_`` word, e.g. ``num_associated_deals``), HubSpot-defined
  numbers displayed ``unformatted`` (ids and scores such as ``hubspotscore``), and any name
  passed as ``integers=`` to :meth:`Schema.from_definitions`. Everything else (currency,
  percentages, custom numbers) is ``Float64``. A rule
  that looked at the loaded values would give a column a different dtype on different days.
  If an integer property does hold a fraction (or a number past int64), that load falls
  back to ``Float64`` for the column with a :class:`CodecWarning` rather than lose data.
* **Canonical numbers.** HubSpot normalises numbers; the codec writes the canonical form:
  plain decimal notation, no exponent, no trailing ``.0``, no ``-0``, and the shortest
  digits that read back as the same float64 (``repr``'s digits). Decoding then encoding a
  canonical string gives it back unchanged; a non-canonical one (``"17.0"``, ``"1e3"``)
  decodes fine and encodes canonically.
* **Dates** are naive ``datetime64[ms]`` at midnight (a date has no zone; the ``ms`` unit
  spans any year HubSpot can hold, unlike ``ns``). Encoding a date that is not at midnight
  raises :class:`CodecError` (HubSpot refuses it; use ``.dt.normalize()``).
* **Datetimes** are ``datetime64[ms, UTC]``, HubSpot's own precision. Encoding floors to the
  millisecond. Values in another zone are converted to UTC. **Naive datetimes are refused**
  with a :class:`CodecError` naming the column: guessing UTC for a local wall-clock time
  would shift values by hours in a production CRM, so the user says which zone they meant
  (``s.dt.tz_localize("Europe/Paris")``).
* **Multi-select** stays the ``;``-joined wire string in a ``string`` column. It round-trips
  exactly (order and all), costs no per-cell Python, survives every pandas operation, and
  analysts already have the tools: ``s.str.split(";")``, ``s.str.get_dummies(sep=";")``,
  ``s.str.contains(r"(?:^|;)red(?:;|$)")``; assigning ``"red;blue"`` is an ordinary
  ``.loc`` edit. (Tuples in an object column break ``.loc`` broadcasting and cost a Python
  object per cell; a pyarrow list column cannot be edited cell by cell.) On encode, a list
  or tuple put in by the user is joined in its own order, a set in option order.
* **Empty versus unset.** HubSpot never returns ``""``; clearing a value stores null. So the
  codec reads and writes one notion of "no value", ``NA``: ``""`` decodes to NA, and an
  ``""`` a user typed encodes to NA (so the change set says null). Only on the write side
  does NA become the ``""`` that HubSpot needs to clear a value: :meth:`Schema.wire_for_write`
  (or ``encode(..., for_write=True)``) is the one place that decides it.
* **Bad wire values** (a number property holding ``"n/a"``, possible in imported data) decode
  to NA with a :class:`CodecWarning` naming the column and examples; one stray value never
  fails a load. User values that cannot be encoded raise :class:`CodecError` naming the
  column, the contact (or the row, for a new contact) and the value: they would be sent to
  a production CRM.

Decoding builds columns, not rows: the records are handed to pyarrow once, as a struct
array, and every column is parsed by vectorised Arrow kernels. 100,000 contacts x 60
properties decode in a couple of seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hsframe.errors import HubSpotError

__all__ = [
    "BOOL",
    "DATE",
    "DATETIME",
    "FLOAT",
    "INT",
    "STRING",
    "CodecError",
    "CodecWarning",
    "Kind",
    "Schema",
]

Kind: TypeAlias = Literal[
    "number", "bool", "date", "datetime", "enumeration", "multiselect", "string"
]
"""The codec's own classification of a property (see :meth:`Schema.kind`)."""

Dtype: TypeAlias = "pd.api.extensions.ExtensionDtype | np.dtype[Any]"

Noun: TypeAlias = Literal["contact", "row", "label"]
"""What the labels a :class:`CodecError` names are: contact ids, positions, other labels."""

STRING = pd.StringDtype(storage="pyarrow")
"""Text columns: pyarrow-backed, missing values are ``pd.NA``."""
FLOAT = pd.Float64Dtype()
"""Number properties."""
INT = pd.Int64Dtype()
"""Integer-valued number properties."""
BOOL = pd.BooleanDtype()
"""Bool properties."""
DATE = np.dtype("datetime64[ms]")
"""Date properties: naive, at midnight."""
DATETIME = pd.DatetimeTZDtype(unit="ms", tz="UTC")
"""Datetime properties."""

MULTI_SEPARATOR = ";"

_INTEGER_NAMES = re.compile(r"_id$|^associatedcompanyid$|(?:^|_)num_")
_NUMBER_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INT_RE = r"^[+-]?\d{1,19}$"
_DIGITS_RE = r"^-?\d{1,15}$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_MAX_EXAMPLES = 5
_COLUMNS_PER_PASS = 16


class CodecError(HubSpotError, ValueError):
    """A value that cannot become a HubSpot wire string (found before any request).

    Raised by :meth:`Schema.encode`, :meth:`Schema.encode_value` and
    :meth:`Schema.wire_for_write`. It sits under :class:`~hsframe.errors.HubSpotError`
    (one tree: catching that catches this) and is a ``ValueError``, as pandas users expect.

    The message names each cell by what its label is, so that "row" always means a
    position: ``contact 1004`` for an hsframe frame's index (contact ids), ``row 3`` for
    positions (the diff labels new contacts so, as they have no id yet), ``index label 'x'``
    for any other index. :meth:`Schema.encode` decides which from the index.

    Args:
        column: The property name.
        problems: ``(label, value, reason)`` for each offending cell.
        noun: What the labels are: ``"contact"`` (contact ids), ``"row"`` (positions, from
            0) or ``"label"`` (other index labels).

    Attributes:
        column: The property name.
        problems: ``(label, value, reason)`` for each offending cell (the label is None
            for a single value).
        noun: See Args.

    Example:
        >>> print(CodecError("score", [(7, "n/a", "not a number")]))
        column 'score': cannot encode row 7: 'n/a' (not a number)
        Fix these values (the reason says how), or drop the edit, and try again.
        >>> CodecError("score", [(1004, "n/a", "not a number")], noun="contact").message
        "column 'score': cannot encode contact 1004: 'n/a' (not a number)"
    """

    default_hint = "Fix these values (the reason says how), or drop the edit, and try again."

    def __init__(
        self, column: str, problems: Sequence[tuple[Any, Any, str]], *, noun: Noun = "row"
    ) -> None:
        self.column = column
        self.noun = noun
        self.problems = [
            (label.item() if isinstance(label, np.generic) else label, value, reason)
            for label, value, reason in problems
        ]
        shown = "; ".join(
            (f"{_cell_name(noun, label)}: " if label is not None else "") + f"{value!r} ({reason})"
            for label, value, reason in self.problems[:_MAX_EXAMPLES]
        )
        more = len(self.problems) - _MAX_EXAMPLES
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"column {column!r}: cannot encode {shown}{tail}")


def _cell_name(noun: Noun, label: Any) -> str:
    """``contact 1004``, ``row 3`` or ``index label 'x'``."""
    if noun == "label":
        return f"index label {label!r}"
    if noun == "contact" and (label is pd.NA or (isinstance(label, float) and label != label)):
        return "a new contact (no id yet)"
    return f"{noun} {label}"


def _noun_of(index: pd.Index) -> Noun:
    """What the labels of an index to encode are: an hsframe frame's index holds contact ids
    (named ``id``); the diff labels new contacts by position (named ``row``), and a default
    index is positions too."""
    if index.name == "id":
        return "contact"
    if index.name == "row":
        return "row"
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return "row"
    return "label"


class CodecWarning(UserWarning):
    """Wire values that could not be read as their property's type (they became NA)."""


class _Invalid(ValueError):
    """One scalar the codec refuses; carries the reason shown in :class:`CodecError`."""


@dataclass(frozen=True)
class _Property:
    name: str
    kind: Kind
    dtype: Dtype
    read_only: bool
    unique: bool
    options: tuple[str, ...]
    definition: Mapping[str, Any]


class Schema:
    """A portal's contact properties, and the codec they drive.

    Build one with :meth:`from_definitions`; it is immutable and cheap to share.

    Example:
        >>> schema = Schema.from_definitions([
        ...     {"name": "email", "type": "string", "fieldType": "text"},
        ...     {"name": "score", "type": "number", "fieldType": "number"},
        ... ])
        >>> schema.names
        ('email', 'score')
        >>> str(schema.dtype("score"))
        'Float64'
    """

    def __init__(self, properties: Iterable[_Property]) -> None:
        self._props = {p.name: p for p in properties}

    @classmethod
    def from_definitions(
        cls,
        definitions: Iterable[Mapping[str, Any]] | pd.DataFrame,
        *,
        integers: Iterable[str] = (),
    ) -> Schema:
        """Build a schema from HubSpot property definitions.

        Args:
            definitions: The ``results`` of ``GET /crm/v3/properties/contacts``: one mapping
                per property with at least ``name`` and ``type`` (``fieldType``, ``options``,
                ``modificationMetadata`` and ``hasUniqueValue`` are used when present), or a
                DataFrame with one such row per property.
            integers: Further number properties to hold as ``Int64`` (the built-in rule is
                in the module docstring).

        Returns:
            The schema, with properties in the order given.

        Example:
            >>> schema = Schema.from_definitions(
            ...     [{"name": "visits", "type": "number"}], integers=["visits"])
            >>> str(schema.dtype("visits"))
            'Int64'
        """
        if isinstance(definitions, pd.DataFrame):
            definitions = definitions.to_dict("records")
        forced = set(integers)
        return cls(_property(dict(d), forced) for d in definitions)

    # -- what the schema knows -------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every property name, in definition order."""
        return tuple(self._props)

    def __contains__(self, name: object) -> bool:
        return name in self._props

    def __iter__(self) -> Iterator[str]:
        return iter(self._props)

    def __len__(self) -> int:
        return len(self._props)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for prop in self._props.values():
            counts[prop.kind] = counts.get(prop.kind, 0) + 1
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        return f"<Schema {len(self)} properties: {detail}>"

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names that are not properties of this schema, in the order given.

        Example:
            >>> Schema.from_definitions([{"name": "email", "type": "string"}]).unknown(
            ...     ["email", "emial"])
            ['emial']
        """
        return [n for n in names if n not in self._props]

    def definition(self, name: str) -> dict[str, Any]:
        """A copy of the property's definition, as HubSpot gave it."""
        return dict(self._get(name).definition)

    def kind(self, name: str) -> Kind:
        """The codec's classification: number, bool, date, datetime, enumeration,
        multiselect or string."""
        return self._get(name).kind

    def dtype(self, name: str) -> Dtype:
        """The pandas dtype of the property's column.

        For an enumeration this is the categorical of its options; a loaded column may carry
        extra (stale) categories after them.
        """
        return self._get(name).dtype

    def is_read_only(self, name: str) -> bool:
        """Whether HubSpot refuses writes to the property (``readOnlyValue``, or calculated)."""
        return self._get(name).read_only

    def is_unique(self, name: str) -> bool:
        """Whether the property's values must be unique across contacts (``hasUniqueValue``)."""
        return self._get(name).unique

    def options(self, name: str) -> tuple[str, ...]:
        """The option values of an enumeration, in display order (empty for other kinds)."""
        return self._get(name).options

    def _get(self, name: str) -> _Property:
        try:
            return self._props[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a contact property of this portal") from None

    # -- wire -> typed ---------------------------------------------------------------------

    def decode(
        self,
        data: Sequence[Mapping[str, Any]] | pd.DataFrame,
        properties: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Turn wire strings into a typed frame, one column per property.

        Args:
            data: Either records as the API returns them (``[{"id": "1", "properties":
                {...}}, ...]``; the frame is then indexed by the contact id as ``Int64``
                named ``id``), or a DataFrame of wire strings (its index is kept, except that
                contact ids, as id strings or an integer index named ``id``, become
                ``Int64``).
            properties: The columns to build, in order. Default: every schema property for
                records, every column for a frame. A property absent from a record is NA.

        Returns:
            The typed frame.

        Raises:
            KeyError: A requested property (or a frame column) is not in the schema.

        Example:
            >>> schema = Schema.from_definitions([{"name": "score", "type": "number"}])
            >>> frame = schema.decode([{"id": "7", "properties": {"score": "1.5"}}])
            >>> frame.index.name, frame.index.tolist(), frame["score"].tolist()
            ('id', [7], [1.5])
        """
        if isinstance(data, pd.DataFrame):
            names = list(data.columns) if properties is None else list(properties)
            props = [self._get(n) for n in names]
            typed = {p.name: _decode_array(p, _wire_array(data[p.name])) for p in props}
            return pd.DataFrame(typed, index=_id_index(data.index), columns=names)
        names = list(self.names) if properties is None else list(properties)
        props = [self._get(n) for n in names]
        bags = [record.get("properties") or {} for record in data]
        ids = np.fromiter((int(record["id"]) for record in data), dtype=np.int64, count=len(bags))
        index = pd.Index(pd.array(ids, dtype=INT), name="id")
        columns: dict[str, Any] = {}
        # A few columns at a time: the Arrow copy of the wire strings never holds more than
        # a slice of the frame, so decoding peaks at a small multiple of the frame's size.
        for start in range(0, len(props), _COLUMNS_PER_PASS):
            chunk = props[start : start + _COLUMNS_PER_PASS]
            structs = _struct_array(bags, chunk)
            for i, prop in enumerate(chunk):
                columns[prop.name] = _decode_array(prop, structs.field(i))
            del structs
        return pd.DataFrame(columns, index=index, columns=names)

    # -- typed -> wire ---------------------------------------------------------------------

    def encode(
        self, data: pd.DataFrame | pd.Series, *, for_write: bool = False
    ) -> pd.DataFrame | pd.Series:
        """Turn typed columns into wire strings: the exact inverse of :meth:`decode`.

        Columns of the expected dtype are encoded by vectorised kernels. Anything else (an
        ``object`` column a user filled by hand, floats in an integer column...) is encoded
        value by value, accepting what is unambiguous and refusing the rest (see the module
        docstring). ``""`` counts as NA.

        Args:
            data: A typed frame (every column must be a schema property) or one column (its
                ``name`` is the property).
            for_write: Give ``""`` instead of NA, i.e. what a write must send to clear
                a value. Leave it False for comparing (the diff): NA is "unset".

        Returns:
            The same shape with ``string`` columns (``pd.NA`` where unset, unless
            ``for_write``).

        Raises:
            CodecError: A value cannot be encoded; names the column, rows and values.
            KeyError: A column is not a schema property.

        Example:
            >>> schema = Schema.from_definitions([{"name": "score", "type": "number"}])
            >>> schema.encode(pd.Series([17.0, 0.5, None], name="score", dtype="Float64"))
            0      17
            1     0.5
            2    <NA>
            Name: score, dtype: string
        """
        if isinstance(data, pd.Series):
            return self._encode_series(str(data.name), data, for_write)
        columns = {
            name: self._encode_series(str(name), data[name], for_write) for name in data.columns
        }
        return pd.DataFrame(columns, index=data.index, columns=data.columns)

    def _encode_series(self, name: str, series: pd.Series, for_write: bool) -> pd.Series:
        prop = self._get(name)
        wire = _encode_array(prop, series)
        wire = pc.if_else(pc.equal(wire, ""), pa.scalar(None, pa.string()), wire)
        if for_write:
            wire = pc.fill_null(wire, "")
        return pd.Series(STRING.__from_arrow__(wire), index=series.index, name=series.name)

    def encode_value(self, name: str, value: Any) -> str | None:
        """Encode one typed value (or a valid wire string) for the property.

        Returns:
            The canonical wire string, or None for NA (and for ``""``).

        Raises:
            CodecError: The value cannot be encoded.

        Example:
            >>> schema = Schema.from_definitions([{"name": "d", "type": "date"}])
            >>> schema.encode_value("d", pd.Timestamp("2024-03-01"))
            '2024-03-01'
        """
        prop = self._get(name)
        try:
            return _encode_scalar(prop, value)
        except _Invalid as exc:
            raise CodecError(name, [(None, value, str(exc))]) from None

    def wire_for_write(self, name: str, value: Any) -> str:
        """The string to send HubSpot for a changed cell's new value.

        This is the one place where "no value" becomes ``""``, HubSpot's "clear this
        property": NA (and ``""``) give ``""``; every other value its canonical wire form.
        The value may be a typed value or a wire string (as in a change set's ``new``).

        Raises:
            CodecError: The value cannot be encoded.

        Example:
            >>> schema = Schema.from_definitions([{"name": "ok", "type": "bool"}])
            >>> schema.wire_for_write("ok", True), schema.wire_for_write("ok", pd.NA)
            ('true', '')
        """
        wire = self.encode_value(name, value)
        return "" if wire is None else wire


# -- definitions -----------------------------------------------------------------------------


def _property(definition: dict[str, Any], integers: set[str]) -> _Property:
    """One definition → the codec's view of it."""
    name = str(definition["name"])
    hs_type = str(definition.get("type") or "string")
    field_type = str(definition.get("fieldType") or "")
    options: tuple[str, ...] = ()
    dtype: Dtype
    kind: Kind
    if hs_type == "number":
        kind = "number"
        whole = (
            name in integers
            or _INTEGER_NAMES.search(name) is not None
            or (
                bool(definition.get("hubspotDefined"))
                and definition.get("numberDisplayHint") == "unformatted"
            )
        )
        dtype = INT if whole else FLOAT
    elif hs_type == "bool":
        kind, dtype = "bool", BOOL
    elif hs_type == "date":
        kind, dtype = "date", DATE
    elif hs_type == "datetime":
        kind, dtype = "datetime", DATETIME
    elif hs_type == "enumeration" and field_type == "checkbox":
        kind, dtype = "multiselect", STRING
        options = _option_values(definition)
    elif hs_type == "enumeration":
        kind = "enumeration"
        options = _option_values(definition)
        dtype = pd.CategoricalDtype(pd.Index(list(options), dtype=STRING))
    else:
        kind, dtype = "string", STRING
    meta = definition.get("modificationMetadata")
    meta = meta if isinstance(meta, Mapping) else {}
    read_only = bool(meta.get("readOnlyValue", definition.get("calculated", False)))
    return _Property(
        name=name,
        kind=kind,
        dtype=dtype,
        read_only=read_only,
        unique=bool(definition.get("hasUniqueValue", False)),
        options=options,
        definition=MappingProxyType(definition),
    )


def _option_values(definition: Mapping[str, Any]) -> tuple[str, ...]:
    """Option values in display order (ties keep HubSpot's order), without duplicates."""
    raw = definition.get("options")
    if not isinstance(raw, Sequence):
        return ()
    ranked = sorted(
        enumerate(o for o in raw if isinstance(o, Mapping) and o.get("value") is not None),
        key=lambda pair: (_display_order(pair[1]), pair[0]),
    )
    return tuple(dict.fromkeys(str(option["value"]) for _, option in ranked))


def _display_order(option: Mapping[str, Any]) -> float:
    order = option.get("displayOrder")
    # HubSpot uses -1 (or omits it) for "unordered"; those follow the ordered ones.
    if isinstance(order, int | float) and order >= 0:
        return float(order)
    return math.inf


# -- decoding --------------------------------------------------------------------------------


def _wire_array(series: pd.Series) -> pa.Array:
    """A column of wire strings (str or None/NA) as an Arrow string array."""
    if isinstance(series.dtype, pd.StringDtype):
        arr = pa.array(series.array, from_pandas=True)
    else:
        values = series.astype(object).where(series.notna(), None)
        arr = pa.array(values.to_list(), type=pa.string())
    return arr if arr.type == pa.string() else pc.cast(arr, pa.string())


def _struct_array(bags: list[Mapping[str, Any]], props: Sequence[_Property]) -> pa.StructArray:
    """The named properties of every record, as one Arrow struct array of strings."""
    struct_type = pa.struct([(p.name, pa.string()) for p in props])
    try:
        return pa.array(bags, type=struct_type)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        # Not all strings (hand-made records with numbers in them): stringify first.
        names = [p.name for p in props]
        cleaned = [{n: _as_wire(bag.get(n)) for n in names} for bag in bags]
        return pa.array(cleaned, type=struct_type)


def _as_wire(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _id_index(index: pd.Index) -> pd.Index:
    """Keep a frame's index, but read contact ids (an integer index named ``id``, or id
    strings such as ``"123"``) as the ``Int64`` index loaded frames have."""
    if index.name == "id" and pd.api.types.is_integer_dtype(index.dtype):
        return pd.Index(index.astype(INT), name="id")
    if index.dtype == object or isinstance(index.dtype, pd.StringDtype):
        values = pd.Series(index, dtype=STRING)
        if len(values) and bool(values.str.fullmatch(r"\d{1,18}").all()):
            return pd.Index(values.astype(INT), name=index.name)
    return index


def _decode_array(prop: _Property, wire: pa.Array) -> Any:
    """One column of wire strings → a pandas array of the property's dtype."""
    if isinstance(wire, pa.ChunkedArray):
        wire = wire.combine_chunks()
    # HubSpot never sends "": it stores a cleared value as null. One notion of "unset".
    wire = pc.if_else(pc.equal(wire, ""), pa.scalar(None, pa.string()), wire)
    if prop.kind in ("string", "multiselect"):
        return STRING.__from_arrow__(wire)
    if prop.kind == "number":
        return _decode_number(prop, wire)
    if prop.kind == "bool":
        lowered = pc.utf8_lower(wire)
        ok = pc.is_in(lowered, pa.array(["true", "false"]))
        lowered = _drop_bad(prop, wire, lowered, ok)
        return BOOL.__from_arrow__(pc.equal(lowered, "true"))
    if prop.kind == "date":
        return _decode_date(prop, wire)
    if prop.kind == "datetime":
        return _decode_datetime(prop, wire)
    return _decode_category(prop, wire)


def _drop_bad(prop: _Property, wire: pa.Array, values: pa.Array, ok: pa.Array) -> pa.Array:
    """Null out the values where ``ok`` is false, with one warning naming examples."""
    bad = pc.and_(pc.is_valid(wire), pc.invert(pc.fill_null(ok, False)))
    count = pc.sum(bad).as_py() or 0
    if not count:
        return values
    examples = pc.filter(wire, bad)[:_MAX_EXAMPLES].to_pylist()
    warnings.warn(
        f"column {prop.name!r}: {count} value(s) are not valid {prop.kind} wire strings and "
        f"were read as NA, e.g. {examples}",
        CodecWarning,
        stacklevel=4,
    )
    return pc.if_else(bad, pa.scalar(None, values.type), values)


def _decode_number(prop: _Property, wire: pa.Array) -> Any:
    if prop.dtype == INT and pc.all(pc.match_substring_regex(wire, _INT_RE)).as_py() is not False:
        with contextlib.suppress(pa.ArrowInvalid):  # past int64: the float path decides
            return INT.__from_arrow__(pc.cast(wire, pa.int64()))
    ok = pc.match_substring_regex(wire, _NUMBER_RE)
    text = _drop_bad(prop, wire, wire, ok)
    floats = pc.cast(text, pa.float64())
    floats = _drop_bad(prop, wire, floats, pc.is_finite(floats))
    if prop.dtype == INT:
        whole = pc.equal(pc.floor(floats), floats)
        in_range = pc.less(pc.abs(floats), 2.0**53)
        if pc.all(pc.and_(whole, in_range)).as_py() is not False:
            return INT.__from_arrow__(pc.cast(floats, pa.int64()))
        warnings.warn(
            f"column {prop.name!r} is an integer property but holds fractions or numbers "
            "beyond 2**53; it is read as Float64 this time",
            CodecWarning,
            stacklevel=3,
        )
    return FLOAT.__from_arrow__(floats)


def _decode_date(prop: _Property, wire: pa.Array) -> Any:
    stamps = None
    if pc.all(pc.match_substring_regex(wire, _DATE_RE)).as_py() is not False:
        # A cast, not strptime: strptime rolls 2024-02-30 over to March 1st.
        with contextlib.suppress(pa.ArrowInvalid):
            stamps = pc.cast(wire, pa.timestamp("ms"))
    if stamps is None:
        # Some portals send dates as UTC-midnight epoch ms, or as full timestamps.
        stamps = _parse_instants(prop, wire)
        stamps = pc.floor_temporal(stamps, unit="day").cast(pa.timestamp("ms"))
    return stamps.to_numpy(zero_copy_only=False).astype(DATE)


def _decode_datetime(prop: _Property, wire: pa.Array) -> Any:
    try:
        stamps = pc.cast(wire, pa.timestamp("ms", "UTC"))
    except pa.ArrowInvalid:
        stamps = _parse_instants(prop, wire)
    return pd.array(stamps.to_pandas(), dtype=DATETIME)


def _parse_instants(prop: _Property, wire: pa.Array) -> pa.Array:
    """The slow, forgiving path: epoch-ms strings and any ISO 8601 form (naive is UTC)."""
    digits = pc.fill_null(pc.match_substring_regex(wire, _DIGITS_RE), False)
    millis = pc.cast(pc.if_else(digits, wire, pa.scalar(None, pa.string())), pa.int64())
    from_millis = pc.cast(millis, pa.timestamp("ms", "UTC"))
    rest = pc.if_else(digits, pa.scalar(None, pa.string()), wire).to_pandas()
    parsed = pd.to_datetime(rest, format="ISO8601", utc=True, errors="coerce")
    from_text = pa.array(parsed.dt.floor("ms").astype(DATETIME), from_pandas=True)
    stamps = pc.if_else(digits, from_millis, from_text)
    return _drop_bad(prop, wire, stamps, pc.is_valid(stamps))


def _decode_category(prop: _Property, wire: pa.Array) -> Any:
    options = list(prop.options)
    known = set(options)
    seen = pc.unique(pc.drop_null(wire)).to_pylist()
    stale = sorted(v for v in seen if v not in known)
    categories = pd.Index(options + stale, dtype=STRING)
    return pd.Categorical(STRING.__from_arrow__(wire), categories=categories)


# -- encoding --------------------------------------------------------------------------------


def _encode_array(prop: _Property, series: pd.Series) -> pa.Array:
    """One typed column → an Arrow string array (null for NA), vectorised when the dtype
    is the expected one, value by value otherwise."""
    dtype = series.dtype
    kind = prop.kind
    if kind == "number" and _is_real(dtype):
        arr = pa.array(series, from_pandas=True)
        if pa.types.is_integer(arr.type):
            return pc.cast(arr, pa.string())
        return _format_floats(prop, series, arr)
    if kind == "bool" and pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(series, from_pandas=True)
        return pc.if_else(arr, "true", "false")
    if kind in ("date", "datetime") and pd.api.types.is_datetime64_any_dtype(dtype):
        return _format_instants(prop, series)
    if kind in ("enumeration", "string", "multiselect") and _is_text(dtype):
        arr = pa.array(series, from_pandas=True)
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(pa.string())
        return arr if arr.type == pa.string() else pc.cast(arr, pa.string())
    return _encode_objects(prop, series)


def _is_real(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _is_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.CategoricalDtype):
        return isinstance(dtype.categories.dtype, pd.StringDtype) or (
            dtype.categories.dtype == object and all(isinstance(c, str) for c in dtype.categories)
        )
    return isinstance(dtype, pd.StringDtype)


def _format_floats(prop: _Property, series: pd.Series, arr: pa.Array) -> pa.Array:
    """Floats → canonical decimal strings (shortest round-trip digits, no exponent)."""
    arr = pc.cast(arr, pa.float64())
    bad = pc.and_(pc.is_valid(arr), pc.invert(pc.is_finite(arr)))
    if pc.any(bad).as_py():
        _raise_for(prop, series, bad.to_numpy(zero_copy_only=False), "not a finite number")
    # Arrow prints the shortest round-trip digits (as repr does) but switches to exponent
    # notation for large and small magnitudes; HubSpot wants plain decimals.
    text = pc.cast(arr, pa.string())
    text = pc.if_else(pc.equal(text, "-0"), "0", text)
    exponent = pc.fill_null(pc.match_substring(text, "e"), False)
    if not pc.any(exponent).as_py():
        return text
    values = text.to_pylist()
    floats = arr.to_pylist()
    for i in np.flatnonzero(exponent.to_numpy(zero_copy_only=False)):
        values[i] = _positional(floats[i])
    return pa.array(values, type=pa.string())


def _positional(value: float) -> str:
    text = np.format_float_positional(value, unique=True, trim="-")
    return "0" if text == "-0" else text


def _format_instants(prop: _Property, series: pd.Series) -> pa.Array:
    """datetime64 columns → ``YYYY-MM-DD`` (dates) or ISO ms ``Z`` (datetimes)."""
    aware = isinstance(series.dtype, pd.DatetimeTZDtype)
    if prop.kind == "datetime":
        if not aware:
            _raise_for(
                prop,
                series,
                series.notna().to_numpy(),
                "a naive datetime: say which zone it is in, e.g. "
                f"df[{prop.name!r}] = df[{prop.name!r}].dt.tz_localize('UTC')",
            )
        utc = series.dt.tz_convert("UTC")
        stamps = pa.array(utc, from_pandas=True)
        stamps = pc.floor_temporal(stamps, unit="millisecond")
        stamps = stamps.cast(pa.timestamp("ms", "UTC"))
        return pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%SZ")
    naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if aware else series
    stamps = pa.array(naive, from_pandas=True)
    midnight = pc.equal(pc.floor_temporal(stamps, unit="day"), stamps)
    bad = pc.invert(pc.fill_null(midnight, True))
    if pc.any(bad).as_py():
        _raise_for(
            prop,
            series,
            bad.to_numpy(zero_copy_only=False),
            "a date property takes midnight only; use .dt.normalize()",
        )
    return pc.cast(stamps.cast(pa.date32(), safe=False), pa.string())


def _encode_objects(prop: _Property, series: pd.Series) -> pa.Array:
    """The careful path: one value at a time, collecting every refusal."""
    out: list[str | None] = []
    problems: list[tuple[Any, Any, str]] = []
    for label, value in zip(series.index, series.array, strict=True):
        try:
            out.append(_encode_scalar(prop, value))
        except _Invalid as exc:
            problems.append((label, value, str(exc)))
            out.append(None)
    if problems:
        raise CodecError(prop.name, problems, noun=_noun_of(series.index))
    return pa.array(out, type=pa.string())


def _raise_for(prop: _Property, series: pd.Series, mask: Any, reason: str) -> None:
    """Raise a :class:`CodecError` for the cells of ``series`` where ``mask`` is true."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    problems = [(series.index[i], series.iloc[i], reason) for i in positions]
    raise CodecError(prop.name, problems, noun=_noun_of(series.index))


def _is_na(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def _encode_scalar(prop: _Property, value: Any) -> str | None:
    """One value → its canonical wire string, None for NA; raises :class:`_Invalid`."""
    if _is_na(value) or (isinstance(value, str) and value == ""):
        return None
    encoder = _SCALAR_ENCODERS[prop.kind]
    return encoder(prop, value)


def _number(prop: _Property, value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        raise _Invalid("a boolean, not a number")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise _Invalid("not a finite number")
        return _positional(float(value))
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, str):
        if not re.fullmatch(_NUMBER_RE, value):
            raise _Invalid("not a number (digits, one '.', no thousands separators)")
        return _decimal(Decimal(value))
    raise _Invalid(f"a {type(value).__name__}, not a number")


def _decimal(value: Decimal) -> str:
    try:
        if not value.is_finite():
            raise _Invalid("not a finite number")
        text = format(value.normalize(), "f")
    except InvalidOperation:
        raise _Invalid("not a number") from None
    return "0" if text in ("-0", "0") else text


def _bool(prop: _Property, value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise _Invalid(f"a {type(value).__name__}, not True/False")


def _timestamp(value: Any) -> pd.Timestamp | None:
    """Date-like values as a Timestamp (None when the value is not date-like)."""
    if isinstance(value, pd.Timestamp | dt.datetime | np.datetime64):
        return pd.Timestamp(value)
    return None


def _date(prop: _Property, value: Any) -> str:
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                raise _Invalid("not a calendar date") from None
        if re.fullmatch(r"-?\d{1,15}", value):
            value = pd.Timestamp(int(value), unit="ms", tz="UTC")
        else:
            raise _Invalid("a date string must be YYYY-MM-DD")
    stamp = _timestamp(value)
    if stamp is None:
        if isinstance(value, dt.date):
            return value.isoformat()
        raise _Invalid(f"a {type(value).__name__}, not a date")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if stamp != stamp.normalize():
        raise _Invalid("a date property takes midnight only; use .normalize()")
    return f"{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}"


def _datetime(prop: _Property, value: Any) -> str:
    if isinstance(value, str):
        if re.fullmatch(r"-?\d{1,15}", value):
            value = pd.Timestamp(int(value), unit="ms", tz="UTC")
        else:
            try:
                value = pd.Timestamp(value)
            except ValueError:
                raise _Invalid("not an ISO 8601 timestamp") from None
    stamp = _timestamp(value)
    if stamp is None:
        raise _Invalid(f"a {type(value).__name__}, not a datetime with a zone")
    if stamp.tzinfo is None:
        raise _Invalid(
            "a naive datetime: say which zone it is in, e.g. pd.Timestamp(...).tz_localize('UTC')"
        )
    stamp = stamp.tz_convert("UTC").floor("ms")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _enumeration(prop: _Property, value: Any) -> str:
    if isinstance(value, str):
        return value
    # Option values are strings; True and 17 for "true" and "17" are unambiguous.
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    raise _Invalid(f"a {type(value).__name__}, not an option value (a string)")


def _multiselect(prop: _Property, value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, set | frozenset):
        rank = {v: i for i, v in enumerate(prop.options)}
        value = sorted(value, key=lambda v: (rank.get(v, len(rank)), str(v)))
    if isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        for item in items:
            if not isinstance(item, str) or not item or MULTI_SEPARATOR in item:
                raise _Invalid(f"{item!r} is not an option value")
        return MULTI_SEPARATOR.join(items) or None
    raise _Invalid(f"a {type(value).__name__}, not ';'-joined option values")


def _string(prop: _Property, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    raise _Invalid(f"a {type(value).__name__}, not a string")


_SCALAR_ENCODERS: dict[str, Any] = {
    "number": _number,
    "bool": _bool,
    "date": _date,
    "datetime": _datetime,
    "enumeration": _enumeration,
    "multiselect": _multiselect,
    "string": _string,
}
