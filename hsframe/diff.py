"""The change set: what an edited frame would change in HubSpot, cell by cell.

Analysts edit contacts with plain pandas (``.loc`` assignments, ``.str`` methods, boolean
subsets, new columns) and then need to see, before anything is sent to a production CRM,
exactly which values would change: one row per changed cell, with the value HubSpot holds
now and the value it would receive. Validation judges those cells, the writer sends only
them, and the journal records them. This module computes that change set, and it is the ONE
place that resolves "the original of this frame and the schema it was decoded with"
(:func:`origin`), so the diff, validation and the writer always compare against the same
thing.

**Wire form, NA-aware.** Both sides are encoded with the load's
:class:`~hsframe.schema.Schema` before they are compared, so only a difference HubSpot would
see counts: ``df["x"].astype(object)``, ``Float64`` to ``float64``, ``category`` to
``string``, a datetime converted to another zone, ``""`` for an unset text: none of these is
a change. ``old`` and ``new`` are wire strings, ``None`` meaning unset (``new`` None: clear
the value). The ``""`` that HubSpot needs to clear a value is the codec's business
(:meth:`~hsframe.schema.Schema.wire_for_write`), not this module's.

**What counts, and what does not.**

* Rows the user dropped (a boolean subset, ``.drop``) are not deletions: rows missing from
  the frame are simply not compared. Archiving is always explicit.
* Rows with an ``NA`` id are new contacts (``kind="create"``): every property cell that
  holds a value is listed, with ``old`` None. Append them with :func:`add` (``df.hs.add``):
  a bare ``pd.concat`` gives them index labels 0, 1, ... and may drop ``df.attrs``.
* Columns that are not contact properties (your working columns) are never compared nor
  sent: a ``UserWarning`` names them and the result's ``attrs["ignored_columns"]`` lists
  them.
* Property columns that were not loaded (absent from the baseline) cannot be compared for
  existing contacts, since what HubSpot holds is unknown: they are left out of updates with
  a ``UserWarning`` (and listed in ``attrs["unloaded_columns"]``), but their values on new
  contacts are listed.
* **Read-only properties that were edited stay in the change set.** Hiding them would turn
  an edit the user made into one that silently never happens. The split: the diff reports
  every edit; the validator flags read-only edits as failures; the writer refuses to send
  them.

**The frame's shape.** The index must be the contact id (named ``id``; ``NA`` for new
contacts), each id at most once. A reset or duplicated index raises :class:`FrameError`
saying how to put it right (``df.set_index("id")``), because comparing by position would
attribute edits to the wrong contacts.

**Speed.** The comparison is vectorised and touches as little as it can. With copy-on-write
(always on in pandas 3) a column the user never assigned to still shares its buffers with
the baseline, so it is skipped without reading it. Other columns are compared in their own
dtype first (a vectorised, NA-aware ``==``) when both sides have the same dtype; only the
cells that differ there are encoded and compared in wire form. A column whose dtype changed
is encoded whole, on both sides. 100,000 contacts x 60 properties with 1% of the cells
edited diff in a fraction of a second.
"""

from __future__ import annotations

import copy
import os
import sys
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from hsframe import baseline
from hsframe.errors import HubSpotError
from hsframe.schema import STRING, Schema

__all__ = [
    "CHANGE_COLUMNS",
    "ChangeSummary",
    "FrameError",
    "Origin",
    "add",
    "changes",
    "metadata",
    "origin",
    "summary",
]

CHANGE_COLUMNS = ("id", "row", "property", "old", "new", "kind")
"""The columns of a change set, in order."""

META_KEY = "hsframe"
"""The key of hsframe's metadata in ``df.attrs``."""

_ID = "id"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SHOWN = 5


class FrameError(HubSpotError, ValueError):
    """A frame hsframe cannot compare: not from hsframe, index reset or duplicated,
    unknown ids.

    It is a ``ValueError`` (what pandas users expect for a frame of the wrong shape) and a
    :class:`~hsframe.errors.HubSpotError` (one tree). The hint says what to do.
    """

    default_hint = "Compare frames loaded with hs.read_contacts(), indexed by contact id."


@dataclass(frozen=True)
class Origin:
    """What a frame is compared against: its baseline and the schema of its load.

    Attributes:
        base: The original frame (the registered baseline, or the ``base=`` given).
        schema: The codec that decoded the load (and encodes both sides for comparing).
        meta: A copy of the frame's ``attrs["hsframe"]``, or None when it has none
            (possible only with an explicit ``base=``).
    """

    base: pd.DataFrame
    schema: Schema
    meta: dict[str, Any] | None


def origin(
    frame: pd.DataFrame,
    base: pd.DataFrame | None = None,
    *,
    schema: Schema | None = None,
) -> Origin:
    """Resolve the baseline and the schema a frame is compared against.

    The one place that answers "the original of this frame, and its codec": the diff, the
    ``df.hs`` accessor and the writer all call it.

    Args:
        frame: A frame from :func:`hsframe.load.read_contacts`, or what pandas made of one.
        base: The original to compare against. An explicit ``base`` always wins over the
            registered baseline (the load id in ``frame.attrs["hsframe"]``).
        schema: The codec. Default: the schema registered with the frame's load, else with
            ``base``'s load.

    Returns:
        The :class:`Origin`.

    Raises:
        FrameError: The frame carries no hsframe metadata and no ``base`` was given, or no
            schema can be found.
        hsframe.baseline.BaselineNotFoundError: The frame's baseline was forgotten (or
            comes from another Python session) and no ``base`` was given.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=20) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email"], progress=False)
        ...     client.close()
        >>> found = origin(df)
        >>> found.base.shape, found.schema.kind("email")
        ((20, 1), 'string')
    """
    meta = _meta(frame)
    load_id = meta.get("load_id") if meta is not None else None
    if base is None:
        if load_id is None:
            raise _no_metadata()
        base = baseline.get(str(load_id))
    if not isinstance(base, pd.DataFrame):
        raise TypeError(f"base must be a DataFrame, not {type(base).__name__}")
    if schema is None:
        schema = _registered_schema(load_id, base)
    return Origin(base=base, schema=schema, meta=meta)


def metadata(frame: pd.DataFrame) -> dict[str, Any]:
    """A copy of the frame's hsframe metadata (``df.attrs["hsframe"]``).

    Args:
        frame: A frame from :func:`hsframe.load.read_contacts`, or what pandas made of one.

    Returns:
        A plain dict: ``object_type``, ``portal_id``, ``load_id``, ``loaded_at`` and what
        the load recorded besides. Changing it changes nothing in the frame.

    Raises:
        FrameError: The frame carries no hsframe metadata (says what to do).

    Example:
        >>> frame = pd.DataFrame(index=pd.Index([], dtype="Int64", name="id"))
        >>> frame.attrs["hsframe"] = {"object_type": "contacts", "load_id": "a1"}
        >>> metadata(frame)["load_id"]
        'a1'
    """
    meta = _meta(frame)
    if meta is None:
        raise _no_metadata()
    return meta


def _no_metadata() -> FrameError:
    return FrameError(
        "This frame carries no hsframe metadata (df.attrs['hsframe']), so hsframe does not "
        "know what it looked like when it was loaded.",
        hint=(
            "Load contacts with hs.read_contacts(). If this frame was made from one with "
            "pd.concat (which can drop df.attrs), append new contacts with df.hs.add(rows) "
            "instead, or pass the loaded frame as base=."
        ),
    )


def _meta(frame: pd.DataFrame) -> dict[str, Any] | None:
    meta = frame.attrs.get(META_KEY)
    if isinstance(meta, Mapping) and meta.get("load_id") is not None:
        return copy.deepcopy(dict(meta))
    return None


def _registered_schema(load_id: Any, base: pd.DataFrame) -> Schema:
    """The schema registered with the frame's load, else with the base's load."""
    base_meta = _meta(base)
    candidates = [load_id, base_meta.get("load_id") if base_meta else None]
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            found = baseline.schema(str(candidate))
        except baseline.BaselineNotFoundError:
            continue
        if found is not None:
            return found
    raise FrameError(
        "hsframe cannot tell which portal's property definitions apply to this frame "
        "(neither it nor base= comes from a load of this Python session).",
        hint=(
            "Compare a frame from hs.read_contacts(), or pass the codec explicitly: "
            "hsframe.diff.changes(df, base, schema=Schema.from_definitions("
            "client.property_definitions()))."
        ),
    )


# -- the change set --------------------------------------------------------------------------


def changes(
    frame: pd.DataFrame,
    base: pd.DataFrame | None = None,
    *,
    schema: Schema | None = None,
) -> pd.DataFrame:
    """The cells an edited frame would change in HubSpot, one row per cell.

    Compared in wire form (both sides encoded with the load's schema), NA-aware, so dtype
    round trips are never changes. The rules (dropped rows, new rows, non-property and
    read-only columns) are in this module's docstring.

    Args:
        frame: A frame from :func:`hsframe.load.read_contacts`, edited with pandas. Its
            index must be the contact id (``id``; ``NA`` for new contacts).
        base: The original to compare against; default the baseline registered for the
            frame's load. An explicit ``base`` always wins. It must be indexed by id too;
            typed columns or wire strings (e.g. ``Sandbox.contacts()``) both work.
        schema: The codec; default the one registered with the load (see :func:`origin`).

    Returns:
        A DataFrame with columns :data:`CHANGE_COLUMNS`:

        * ``id`` (``Int64``): the contact id; ``NA`` for a new contact.
        * ``row`` (``int64``): the position of the row in ``frame`` (what ``.iloc``
          takes). It tells new contacts apart (they all have ``NA`` ids); it refers to
          ``frame`` as it was compared, so reordering the frame changes it.
        * ``property`` (``string``): the property name.
        * ``old``, ``new`` (``object``): wire strings, exactly as HubSpot holds them and
          would receive them; ``None`` is unset (``new`` None: clear the value).
        * ``kind`` (``string``): ``"update"`` (an existing contact) or ``"create"``.

        Rows are ordered by ``row``, then by property in the schema's order. ``attrs``
        holds ``ignored_columns`` (not contact properties: never compared nor sent) and
        ``unloaded_columns`` (properties the baseline lacks: compared for new contacts
        only).

    Raises:
        FrameError: No hsframe metadata and no ``base``; the index is not the contact id
            (reset), holds an id twice, or holds ids the baseline does not know; duplicated
            column names.
        hsframe.schema.CodecError: An edited value cannot become a HubSpot wire string
            (e.g. a naive datetime); the message names the column, the row and the value.

    Warns:
        UserWarning: Columns that are not contact properties, or properties the baseline
            lacks, naming them.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=20) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "firstname"],
        ...                           progress=False)
        ...     client.close()
        >>> changes(df).empty
        True
        >>> first = df.index[0]
        >>> old = df.loc[first, "email"]
        >>> df.loc[first, "email"] = old.upper()
        >>> df.loc[first, "firstname"] = None
        >>> found = changes(df)
        >>> found[["property", "kind"]].values.tolist()
        [['email', 'update'], ['firstname', 'update']]
        >>> found.loc[0, "new"] == old.upper(), found.loc[1, "new"] is None
        (True, True)
    """
    found = origin(frame, base, schema=schema)
    schema, base = found.schema, found.base
    _check_columns(frame, "the frame")
    _check_columns(base, "the original (base=)")
    ids = _ids(frame, "the frame")
    base_ids = _ids(base, "the original (base=)")
    base_unknown = np.asarray(pd.isna(base_ids), dtype=bool)
    if base_unknown.any():  # rows not created yet have nothing to compare against
        base, base_ids = base.loc[~base_unknown], base_ids[~base_unknown]
    base_index = pd.Index(base_ids, name=_ID)

    is_new = np.asarray(pd.isna(ids), dtype=bool)
    existing = np.flatnonzero(~is_new)
    created = np.flatnonzero(is_new)
    positions = base_index.get_indexer(ids[existing])
    if (positions < 0).any():
        _raise_unknown(ids[existing][positions < 0])
    aligned = (
        created.size == 0
        and len(frame) == len(base)
        and bool((positions == np.arange(len(positions))).all())
    )

    order = {name: i for i, name in enumerate(schema.names)}
    properties = [c for c in frame.columns if isinstance(c, str) and c in order]
    ignored = [c for c in frame.columns if not (isinstance(c, str) and c in order)]
    unloaded = [c for c in properties if c not in base.columns]

    pieces: list[_Piece] = []
    unloaded_with_values: list[str] = []
    for name in properties:
        column = frame[name]
        if existing.size and name in base.columns:
            pieces.append(_updates(schema, name, column, base[name], existing, positions, aligned))
        elif existing.size and _has_values(schema, column.iloc[existing]):
            unloaded_with_values.append(name)
        if created.size:
            pieces.append(_creates(schema, name, column, created))

    if ignored:
        shown = ", ".join(repr(c) if not isinstance(c, str) else c for c in ignored)
        warnings.warn(
            f"Not contact properties, so never compared nor sent: {shown}. (Drop them, or "
            "ignore this warning if they are your own working columns.)",
            UserWarning,
            stacklevel=_caller_level(),
        )
    if unloaded_with_values:
        warnings.warn(
            "Properties that were not loaded, so what HubSpot holds for existing contacts is "
            f"unknown and their edits are not compared: {', '.join(unloaded_with_values)}. "
            "Load them (read_contacts(properties=[...])) or pass base= with their values.",
            UserWarning,
            stacklevel=_caller_level(),
        )
    result = _assemble(pieces, ids, order)
    result.attrs = {
        "ignored_columns": [str(c) for c in ignored],
        "unloaded_columns": list(unloaded),
    }
    return result


@dataclass(frozen=True)
class _Piece:
    """The changed cells of one column: rows (positions in the frame), old, new."""

    name: str
    rows: np.ndarray
    old: np.ndarray
    new: np.ndarray
    create: bool


def _updates(
    schema: Schema,
    name: str,
    column: pd.Series,
    base_column: pd.Series,
    existing: np.ndarray,
    positions: np.ndarray,
    aligned: bool,
) -> _Piece:
    """Changed cells of one column for existing contacts."""
    if aligned:
        if _same_buffers(column.array, base_column.array):
            return _empty_piece(name)
        mine, theirs = column, base_column
    else:
        mine, theirs = column.iloc[existing], base_column.iloc[positions]
    candidates = np.flatnonzero(_differ(mine.array, theirs.array))
    if candidates.size == 0:
        return _empty_piece(name)
    new = schema.encode(mine.iloc[candidates].rename(name))
    old = schema.encode(theirs.iloc[candidates].rename(name))
    differ = _differ(old.array, new.array)
    rows = existing[candidates[differ]]
    return _Piece(name, rows, _objects(old)[differ], _objects(new)[differ], create=False)


def _creates(schema: Schema, name: str, column: pd.Series, created: np.ndarray) -> _Piece:
    """Every value of one column on new contacts."""
    # Label by position, so a CodecError names the row (new rows all have NA ids).
    values = column.iloc[created].set_axis(pd.Index(created, name="row")).rename(name)
    wire = schema.encode(values)
    held = np.asarray(wire.notna(), dtype=bool)
    new = _objects(wire)[held]
    return _Piece(name, created[held], np.full(new.size, None, dtype=object), new, create=True)


def _has_values(schema: Schema, column: pd.Series) -> bool:
    if not bool(column.notna().any()):
        return False
    return bool(schema.encode(column[column.notna()]).notna().any())


def _empty_piece(name: str) -> _Piece:
    nothing = np.empty(0, dtype=object)
    return _Piece(name, np.empty(0, dtype=np.int64), nothing, nothing, create=False)


def _objects(wire: pd.Series | pd.DataFrame) -> np.ndarray:
    """Wire strings as an object array with None for unset."""
    assert isinstance(wire, pd.Series)
    return np.asarray(wire.to_numpy(dtype=object, na_value=None), dtype=object)


def _differ(mine: Any, theirs: Any) -> np.ndarray:
    """Where two arrays may hold different values: NA-aware ``!=`` when the dtypes match;
    everywhere when they do not (the wire comparison then decides)."""
    n = len(mine)
    if mine.dtype != theirs.dtype or mine.dtype == object:
        # Python objects compare loosely (True == 1): only the wire form can tell.
        return np.ones(n, dtype=bool)
    try:
        equal = mine == theirs
    except (TypeError, ValueError):
        return np.ones(n, dtype=bool)
    if isinstance(equal, np.ndarray):
        same = equal.astype(bool, copy=False)
    else:  # a masked or Arrow boolean array: NA (one side missing) is "not equal"
        same = equal.to_numpy(dtype=bool, na_value=False)
    both_missing = _missing(mine) & _missing(theirs)
    return np.asarray(~(same | both_missing), dtype=bool)


def _missing(values: Any) -> np.ndarray:
    isna = getattr(values, "isna", None)  # extension arrays know their own NA fast
    return np.asarray(isna() if isna is not None else pd.isna(values), dtype=bool)


def _same_buffers(mine: Any, theirs: Any) -> bool:
    """Whether two arrays are views of the very same memory (copy-on-write kept them
    shared, so neither was written since): then their values are equal without reading
    them. Unknown array types answer False, and are compared."""
    if mine.dtype != theirs.dtype or mine.dtype == object:
        return False
    keys = _buffer_keys(mine)
    return keys is not None and keys == _buffer_keys(theirs)


def _buffer_keys(values: Any) -> tuple[Any, ...] | None:
    keys: list[Any] = []
    for attribute in ("_ndarray", "_data", "_mask"):  # numpy-backed and masked arrays
        array = getattr(values, attribute, None)
        if isinstance(array, np.ndarray):
            keys.append((array.__array_interface__["data"][0], array.shape, array.strides))
    chunked = getattr(values, "_pa_array", None)  # Arrow-backed arrays
    if isinstance(chunked, pa.ChunkedArray):
        for chunk in chunked.chunks:
            addresses = tuple(b.address if b is not None else 0 for b in chunk.buffers())
            keys.append((chunk.offset, len(chunk), addresses))
        if not chunked.chunks:
            return None
    return tuple(keys) or None


def _assemble(pieces: Sequence[_Piece], ids: Any, order: Mapping[str, int]) -> pd.DataFrame:
    """The tidy change set from per-column pieces, sorted by row then schema order."""
    kept = [p for p in pieces if p.rows.size]
    if kept:
        rows = np.concatenate([p.rows for p in kept]).astype(np.int64)
        codes = np.concatenate([np.full(p.rows.size, order[p.name]) for p in kept])
        old = np.concatenate([p.old for p in kept])
        new = np.concatenate([p.new for p in kept])
        create = np.concatenate([np.full(p.rows.size, p.create) for p in kept])
        sort = np.lexsort((codes, rows))
        rows, codes, old, new, create = rows[sort], codes[sort], old[sort], new[sort], create[sort]
    else:
        rows = np.empty(0, dtype=np.int64)
        codes = np.empty(0, dtype=np.int64)
        old = new = np.empty(0, dtype=object)
        create = np.empty(0, dtype=bool)
    names = np.array(list(order), dtype=object)
    return pd.DataFrame(
        {
            "id": pd.array(ids, dtype="Int64").take(rows),
            "row": rows,
            "property": pd.array(names[codes], dtype=STRING),
            "old": pd.Series(old, dtype=object),
            "new": pd.Series(new, dtype=object),
            "kind": pd.array(np.where(create, "create", "update").astype(object), dtype=STRING),
        },
        columns=list(CHANGE_COLUMNS),
    )


# -- the frame's shape -----------------------------------------------------------------------


def _ids(frame: pd.DataFrame, what: str) -> Any:
    """The frame's index as nullable Int64 contact ids, after checking it is one."""
    index = frame.index
    if isinstance(index, pd.MultiIndex) or index.name != _ID:
        raise FrameError(
            f"{_capital(what)} is not indexed by contact id: {_index_story(frame)}",
            hint=_INDEX_HINT,
        )
    try:
        ids = pd.array(index, dtype="Int64")
    except (TypeError, ValueError):
        raise FrameError(
            f"{_capital(what)}'s index named 'id' does not hold contact ids (it holds "
            f"{index.dtype} values such as {list(index[:3])!r}).",
            hint=_INDEX_HINT,
        ) from None
    present = pd.Series(ids).dropna()
    twice = present[present.duplicated()].unique()
    if len(twice):
        shown = ", ".join(str(i) for i in twice[:_SHOWN])
        more = f" and {len(twice) - _SHOWN} more" if len(twice) > _SHOWN else ""
        raise FrameError(
            f"{_capital(what)} holds contact ids more than once ({shown}{more}): each contact "
            "must appear once, or hsframe cannot tell which of its rows to send.",
            hint=(
                "Keep one row per contact, e.g. df = df[~df.index.duplicated(keep='last')]. "
                "If you rebuilt the index from a column, rebuild it from the contact ids: "
                'df = df.set_index("id").'
            ),
        )
    return ids


_INDEX_HINT = (
    'Keep the contact ids as the index (df = df.set_index("id")), append new contacts with '
    "df.hs.add(rows), or reload with hs.read_contacts()."
)


def _index_story(frame: pd.DataFrame) -> str:
    """What probably happened to a frame's index."""
    if _ID in frame.columns:
        return (
            "the ids are in a column named 'id' (was the index reset?); put them back with "
            'df = df.set_index("id").'
        )
    if isinstance(frame.index, pd.RangeIndex):
        return (
            "its index is 0, 1, 2, ... (was it reset with drop=True, merged with df.merge, "
            "which drops the index unless left_index=True, or were rows appended with "
            "pd.concat?)."
        )
    return (
        f"its index is named {frame.index.name!r}, not 'id' (were rows appended with pd.concat?)."
    )


def _raise_unknown(unknown: Any) -> None:
    values = sorted({int(i) for i in unknown})
    shown = ", ".join(str(i) for i in values[:_SHOWN])
    more = f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else ""
    raise FrameError(
        f"The frame has rows with contact ids its baseline does not know ({shown}{more}).",
        hint=(
            "New contacts have no id until HubSpot creates them: append them with "
            "df.hs.add(rows) (pd.concat gives them 0, 1, ... as ids). To compare against "
            "another original, pass it as base=."
        ),
    )


def _check_columns(frame: pd.DataFrame, what: str) -> None:
    if not frame.columns.is_unique:
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise FrameError(
            f"{_capital(what)} has columns with the same name: {', '.join(twice)}.",
            hint="Keep one column per property (e.g. df = df.loc[:, ~df.columns.duplicated()]).",
        )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside hsframe
    (through the accessor, validation or the writer, the user's line)."""
    level = 1
    caller = sys._getframe(1)
    while caller is not None and caller.f_code.co_filename.startswith(_PACKAGE_DIR):
        caller = caller.f_back  # type: ignore[assignment]
        level += 1
    return level


# -- new contacts ----------------------------------------------------------------------------


def add(
    frame: pd.DataFrame,
    rows: Mapping[str, Any] | Iterable[Mapping[str, Any]] | pd.DataFrame,
) -> pd.DataFrame:
    """Append new contacts to a loaded frame, keeping its dtypes and hsframe metadata.

    New contacts get an ``NA`` id (HubSpot gives them one when they are created), so the
    diff lists them as ``kind="create"``. Values may be typed (``pd.Timestamp``, ``True``,
    ``42``) or wire strings (``"2024-03-01"``, ``"true"``): each property's values go
    through the load's codec, so a value HubSpot would refuse in form (a naive datetime, a
    number with a thousands separator) raises here, at once. A value outside an
    enumeration's options is kept (it becomes a category) and left to the validator.

    Args:
        frame: A frame from :func:`hsframe.load.read_contacts` (or what pandas made of it).
        rows: One contact as a dict, several as dicts, or a DataFrame (its index is
            ignored unless it holds ids, which is refused: those are existing contacts).
            Keys are property names; a key that is neither a property nor a column of
            ``frame`` becomes a new column (the diff warns about it).

    Returns:
        A new frame: ``frame``'s rows, then the new ones, with ``frame.attrs`` kept.

    Raises:
        FrameError: ``frame`` is not from hsframe, its index is not the contact id, or
            ``rows`` carry contact ids.
        hsframe.schema.CodecError: A value cannot be encoded for its property.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=5) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "firstname"],
        ...                           progress=False)
        ...     client.close()
        >>> df = add(df, [{"email": "new@example.com", "firstname": "Nova"}])
        >>> len(df), df.index[-1] is pd.NA, str(df["email"].dtype) == str(df.dtypes.iloc[0])
        (6, True, True)
        >>> changes(df)[["id", "row", "property", "new", "kind"]].values.tolist()
        [[<NA>, 5, 'email', 'new@example.com', 'create'], [<NA>, 5, 'firstname', 'Nova', 'create']]
    """
    schema = origin(frame).schema
    _ids(frame, "the frame")
    _check_columns(frame, "the frame")
    new = _rows_frame(rows)
    _check_columns(new, "rows")
    k = len(new)
    new_index = pd.Index(pd.array([pd.NA] * k, dtype="Int64"), name=_ID)
    old_side: dict[Hashable, Any] = {c: frame[c] for c in frame.columns}
    new_side: dict[Hashable, Any] = {}
    for name in new.columns:
        given = new[name].set_axis(pd.RangeIndex(k))
        if isinstance(name, str) and name in schema:
            wire = schema.encode(given.astype(object).rename(name))
            typed = schema.decode(pd.DataFrame({name: wire}), [name])[name]
        else:
            typed = given
        if name in old_side:
            old_side[name], typed = _same_dtype(old_side[name], typed)
        else:
            old_side[name] = pd.Series(index=frame.index, dtype=typed.dtype)
        new_side[name] = typed
    for name, column in old_side.items():
        if name not in new_side:
            new_side[name] = pd.Series(index=pd.RangeIndex(k), dtype=column.dtype)
    columns = list(old_side)
    before = pd.DataFrame(old_side, index=frame.index, columns=columns)
    after = pd.DataFrame(
        {c: pd.Series(new_side[c]).set_axis(new_index) for c in columns},
        index=new_index,
        columns=columns,
    )
    result = pd.concat([before, after]) if k else before
    result.attrs = copy.deepcopy(frame.attrs)
    return result


def _rows_frame(rows: Any) -> pd.DataFrame:
    """The new contacts as a frame with a fresh RangeIndex."""
    if isinstance(rows, pd.DataFrame):
        if rows.index.name == _ID and bool(pd.notna(rows.index).any()):
            raise FrameError(
                "These rows carry contact ids, so they are existing contacts, not new ones.",
                hint="Edit existing contacts in place (df.loc[id, prop] = value); add() is "
                "for contacts HubSpot has not created yet.",
            )
        return rows.reset_index(drop=True)
    if isinstance(rows, Mapping):
        rows = [rows]
    records = list(rows)
    if not all(isinstance(r, Mapping) for r in records):
        raise TypeError("rows must be a dict, a list of dicts, or a DataFrame")
    return pd.DataFrame.from_records([dict(r) for r in records])


def _same_dtype(old: pd.Series, new: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Bring new values to the frame column's dtype (categoricals: add the new values as
    categories on both sides), so appending does not degrade the column to ``object``."""
    target = old.dtype
    if isinstance(target, pd.CategoricalDtype):
        present = new.dropna().astype(object).unique()
        extra = [v for v in present if v not in target.categories]
        if extra:
            categories = target.categories.append(pd.Index(extra, dtype=target.categories.dtype))
            target = pd.CategoricalDtype(categories, ordered=target.ordered)
            old = old.astype(target)
        return old, new.astype(object).astype(target)
    if new.dtype == target:
        return old, new
    try:
        return old, new.astype(target)
    except (TypeError, ValueError):
        return old, new  # e.g. a fraction in an integer column: pandas finds a common dtype


# -- summary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeSummary:
    """Counts over a change set, for the review widget and the command line.

    Attributes:
        contacts: Existing contacts with at least one changed cell.
        cells: Changed cells of existing contacts.
        new_contacts: New contacts (rows without an id that hold at least one value).
        new_cells: Values on new contacts.
        by_property: One row per property (index ``property``) with columns ``update``
            and ``create`` (cell counts), most changed first.
    """

    contacts: int
    cells: int
    new_contacts: int
    new_cells: int
    by_property: pd.DataFrame

    def __str__(self) -> str:
        head = (
            f"{self.cells} cell(s) of {self.contacts} contact(s) changed; "
            f"{self.new_contacts} new contact(s)"
        )
        if self.by_property.empty:
            return head
        parts = [
            f"{name} {int(row['update'] + row['create'])}"
            for name, row in self.by_property.iterrows()
        ]
        return f"{head}. By property: {', '.join(parts)}"


def summary(change_set: pd.DataFrame) -> ChangeSummary:
    """Count what a change set holds: contacts and cells changed, new contacts, per
    property.

    Args:
        change_set: The result of :func:`changes`.

    Returns:
        A :class:`ChangeSummary`.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=5) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "firstname"],
        ...                           progress=False)
        ...     client.close()
        >>> df.loc[df.index[:2], "firstname"] = "Ann"
        >>> df = add(df, {"email": "new@example.com"})
        >>> print(summary(changes(df)))
        2 cell(s) of 2 contact(s) changed; 1 new contact(s). By property: firstname 2, email 1
    """
    missing = set(CHANGE_COLUMNS) - set(change_set.columns)
    if missing:
        raise ValueError(f"not a change set: it lacks the columns {sorted(missing)}")
    kind = change_set["kind"].astype(object)
    updates = change_set[(kind == "update").to_numpy(dtype=bool)]
    creates = change_set[(kind == "create").to_numpy(dtype=bool)]
    counts = pd.DataFrame(
        {
            "update": updates["property"].astype(object).value_counts(sort=False),
            "create": creates["property"].astype(object).value_counts(sort=False),
        }
    )
    counts = counts.fillna(0).astype("int64")
    counts.index = pd.Index(counts.index.astype(object), name="property")
    total = counts["update"] + counts["create"]
    order = sorted(counts.index, key=lambda name: (-int(total[name]), str(name)))
    return ChangeSummary(
        contacts=int(updates["id"].nunique()),
        cells=len(updates),
        new_contacts=int(creates["row"].nunique()),
        new_cells=len(creates),
        by_property=counts.loc[order] if order else counts,
    )
