"""The sandbox's in-memory contact store: what HubSpot's database is to the API.

The store holds contacts as wire strings, one column per property definition, and keeps
the invariants every endpoint relies on: ids are assigned in increasing order and rows
stay sorted by id (so list cursors are stable while others write), ``hs_object_id``,
``createdate`` and ``lastmodifieddate`` are maintained here and nowhere else (the last one
strictly increases on every write to a record), unique values (``email``, compared
case-insensitively, and ``hasUniqueValue`` properties) are indexed among live contacts,
and every change is kept in a per-property history (``propertiesWithHistory``, and the
search index lag, which needs to see records as they were).

It knows nothing about HTTP or validation: :mod:`hsframe.sandbox.crm` validates with
:mod:`hsframe.sandbox.rules` and then writes here.

Layout and cost. Columns are numpy object arrays grown by doubling; ``number``, ``date``
and ``datetime`` columns also keep a float64 array of numeric keys (epoch ms for dates),
maintained on every write, so search compares them without parsing. Loading 100,000
contacts with 60 properties is a column-wise copy plus one vectorised parse of the typed
columns.

Thread safety. One re-entrant lock (:attr:`Store.lock`) guards all state. Every public
method takes it for a short, sleep-free critical section; callers that need several steps
to be atomic (a batch's checks and its writes) hold ``store.lock`` around them.

States. A contact is live, archived (``archived=true`` reads and lists only; its unique
values are released) or purged (a GDPR delete or the losing side of a merge: gone from
every read; its id is never reused).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from hsframe.sandbox.rules import (
    SYSTEM_PROPERTIES,
    epoch_ms,
    epoch_ms_column,
    format_datetime,
    unique_key,
)

__all__ = ["Conflict", "Record", "SearchView", "Store"]

LIVE, ARCHIVED, PURGED = 0, 1, 2
_NUMERIC_TYPES = ("number", "date", "datetime")

_SYSTEM_DEFINITIONS: dict[str, dict[str, Any]] = {
    "hs_object_id": {
        "name": "hs_object_id",
        "label": "Record ID",
        "type": "number",
        "fieldType": "number",
        "groupName": "contactinformation",
        "description": "The unique ID for this record. This value is set automatically by HubSpot.",
        "options": [],
        "calculated": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": True,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": True,
            "readOnlyValue": True,
        },
    },
    "createdate": {
        "name": "createdate",
        "label": "Create Date",
        "type": "datetime",
        "fieldType": "date",
        "groupName": "contactinformation",
        "description": "The date that a contact entered the system",
        "options": [],
        "calculated": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": True,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": True,
            "readOnlyValue": True,
        },
    },
    "lastmodifieddate": {
        "name": "lastmodifieddate",
        "label": "Last Modified Date",
        "type": "datetime",
        "fieldType": "date",
        "groupName": "contactinformation",
        "description": "Most recent timestamp of any property update for a contact.",
        "options": [],
        "calculated": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": True,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": True,
            "readOnlyValue": True,
        },
    },
}


class Conflict(Exception):
    """A write would give a unique property a value another live contact holds.

    Attributes:
        name: The unique property.
        value: The colliding value.
        existing_id: The id of the contact that holds it.
    """

    def __init__(self, name: str, value: str, existing_id: int) -> None:
        super().__init__(f"{name} {value!r} is held by contact {existing_id}")
        self.name = name
        self.value = value
        self.existing_id = existing_id


class _Entry(NamedTuple):
    """One version of one property of one contact."""

    at: float  # clock time of the write (what the search index lag compares)
    ms: int  # the write's timestamp, epoch ms (what clients see)
    value: str  # "" for a clear
    source_type: str
    seed: bool = False  # the value the contact was loaded with


@dataclass
class Record:
    """A copy of one contact, taken under the lock, ready to render.

    Attributes:
        id: The contact id.
        properties: The requested properties (None where unset).
        created_at: ``createdate`` (ISO ms Z).
        updated_at: ``lastmodifieddate`` (ISO ms Z).
        archived: Whether the contact is archived.
        archived_at: When it was archived (ISO ms Z), or None.
        history: Per requested property, its versions newest first, or None when no
            history was asked for.
    """

    id: int
    properties: dict[str, str | None]
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: str | None = None
    history: dict[str, list[dict[str, str]]] | None = None


@dataclass
class SearchView:
    """A consistent copy of the columns a search needs (see :meth:`Store.search_view`).

    Attributes:
        ids: Contact ids, ascending, one per row.
        visible: Which rows a search may match (live, and indexed).
        raw: Wire strings by property (None where unset).
        numeric: Numeric keys by ``number``/``date``/``datetime`` property (NaN where
            unset or unparseable).
        lower: Lower-cased wire strings by property (case-insensitive comparisons).
    """

    ids: npt.NDArray[np.int64]
    visible: npt.NDArray[np.bool_]
    raw: dict[str, npt.NDArray[np.object_]] = field(default_factory=dict)
    numeric: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    lower: dict[str, npt.NDArray[np.object_]] = field(default_factory=dict)


def _with_system(properties: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The definitions, plus the system ones HubSpot always has, where missing."""
    result = [dict(p) for p in properties]
    names = {p["name"] for p in result}
    if len(names) != len(result):
        raise ValueError("property definitions must have unique names")
    for name, definition in _SYSTEM_DEFINITIONS.items():
        if name not in names:
            result.append(dict(definition))
    return result


class Store:
    """Contacts in memory, safe to share between threads.

    Args:
        properties: Property definitions, in the shape of ``GET
            /crm/v3/properties/contacts`` results. Definitions of ``hs_object_id``,
            ``createdate`` and ``lastmodifieddate`` are added when missing.
        clock: Seconds since the epoch; used when a write gives no time of its own.

    Example:
        >>> store = Store([{"name": "email", "type": "string", "fieldType": "text"}],
        ...               clock=lambda: 1_700_000_000.0)
        >>> new_id = store.create({"email": "ann@example.com"})
        >>> store.frame().loc[new_id, "email"]
        'ann@example.com'
    """

    def __init__(
        self,
        properties: Iterable[Mapping[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.properties: list[dict[str, Any]] = _with_system(properties)
        self.definitions: dict[str, dict[str, Any]] = {p["name"]: p for p in self.properties}
        self.names: tuple[str, ...] = tuple(p["name"] for p in self.properties)
        self.unique_names: tuple[str, ...] = tuple(
            p["name"] for p in self.properties if p["name"] == "email" or p.get("hasUniqueValue")
        )
        self.lock = threading.RLock()
        self._clock = clock
        self._typed = {
            name: str(d.get("type"))
            for name, d in self.definitions.items()
            if d.get("type") in _NUMERIC_TYPES
        }
        self._n = 0
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._state: npt.NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        self._written: npt.NDArray[np.float64] = np.zeros(0)
        self._created: npt.NDArray[np.float64] = np.zeros(0)
        self._cols: dict[str, npt.NDArray[np.object_]] = {
            name: np.empty(0, dtype=object) for name in self.names
        }
        self._num: dict[str, npt.NDArray[np.float64]] = {name: np.zeros(0) for name in self._typed}
        self._lower: dict[str, npt.NDArray[np.object_]] = {}  # built when a search needs one
        self._row: dict[int, int] = {}
        self._unique: dict[str, dict[str, int]] = {name: {} for name in self.unique_names}
        self._history: dict[int, dict[str, list[_Entry]]] = {}
        self._seed_ms: dict[int, str] = {}
        self._archived_at: dict[int, tuple[float, int]] = {}
        self._blocked: set[str] = set()
        self._next_id = 1

    def __repr__(self) -> str:
        return f"Store(contacts={self._n}, properties={len(self.names)})"

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_frame(
        cls,
        properties: Iterable[Mapping[str, Any]],
        frame: pd.DataFrame,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        """A store seeded with the contacts of a frame.

        Args:
            properties: Property definitions (see :class:`Store`).
            frame: One row per contact, one column per property, wire strings, null (or
                ``""``) for unset. Contact ids come from the ``hs_object_id`` column, or
                from the index when there is none. Columns that are not defined
                properties are ignored; missing ``createdate``/``lastmodifieddate`` values
                are set to the clock's time. Values are taken as they are (seed data may
                be messy, as real portals are); duplicate unique values keep the first
                contact (by id) in the index.
            clock: See :class:`Store`.

        Returns:
            The store, its contacts all live.

        Raises:
            ValueError: Ids are missing, not integers, or repeated.
        """
        store = cls(properties, clock=clock)
        if "hs_object_id" in frame.columns:
            id_source = frame["hs_object_id"]
        else:
            id_source = frame.index.to_series()
        if id_source.isna().any():
            raise ValueError("every contact needs an id (hs_object_id)")
        ids = pd.to_numeric(id_source, errors="raise").to_numpy()
        if not np.all(np.mod(ids, 1) == 0):
            raise ValueError("contact ids must be integers")
        ids = ids.astype(np.int64)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        if len(ids) > 1 and np.any(ids[1:] == ids[:-1]):
            raise ValueError("contact ids must be unique")
        n = len(ids)
        with store.lock:
            store._grow(n)
            store._ids[:n] = ids
            store._state[:n] = LIVE
            store._written[:n] = -math.inf
            store._created[:n] = -math.inf
            now_iso = format_datetime(int(store._clock() * 1000))
            for name in store.names:
                if name == "hs_object_id":
                    column = ids.astype(str).astype(object)
                elif name in frame.columns:
                    column = frame[name].to_numpy(dtype=object, na_value=None)[order]
                    column[column == ""] = None
                else:
                    column = np.full(n, None, dtype=object)
                if name in ("createdate", "lastmodifieddate"):
                    column[pd.isna(column)] = now_iso
                store._cols[name][:n] = column
                if name in store._typed:
                    store._num[name][:n] = epoch_ms_column(column, store._typed[name])
            store._n = n
            store._row = dict(zip(ids.tolist(), range(n), strict=True))
            for name in store.unique_names:
                index = store._unique[name]
                for row, value in enumerate(store._cols[name][:n].tolist()):
                    if value is not None:
                        index.setdefault(unique_key(name, value), row)
            store._next_id = int(ids[-1]) + 1 if n else 1
        return store

    def _grow(self, extra: int) -> None:
        """Make room for ``extra`` more rows (capacity doubles)."""
        need = self._n + extra
        capacity = len(self._ids)
        if need <= capacity:
            return
        capacity = max(need, 2 * capacity, 64)

        def grown(array: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
            bigger = np.full(capacity, fill, dtype=array.dtype)
            bigger[: self._n] = array[: self._n]
            return bigger

        self._ids = grown(self._ids, 0)
        self._state = grown(self._state, PURGED)
        self._written = grown(self._written, -math.inf)
        self._created = grown(self._created, -math.inf)
        self._cols = {name: grown(col, None) for name, col in self._cols.items()}
        self._num = {name: grown(col, np.nan) for name, col in self._num.items()}
        self._lower = {name: grown(col, None) for name, col in self._lower.items()}

    # ------------------------------------------------------------------ reading

    def frame(self, archived: bool = False) -> pd.DataFrame:
        """The contacts as wire strings.

        Args:
            archived: False for live contacts, True for archived ones only (as the API's
                ``archived`` parameter).

        Returns:
            A frame indexed by id (int, named ``id``), ascending, one object column per
            property definition, None where unset (a value cleared with ``""`` included).
        """
        with self.lock:
            rows = np.flatnonzero(self._state[: self._n] == (ARCHIVED if archived else LIVE))
            ids = self._ids[rows]
            data = {name: self._cols[name][rows] for name in self.names}
        return pd.DataFrame(
            data, index=pd.Index(ids, name="id"), columns=list(self.names), dtype=object
        )

    def __len__(self) -> int:
        """The number of live contacts."""
        with self.lock:
            return int(np.count_nonzero(self._state[: self._n] == LIVE))

    def _live_row(self, object_id: int, archived: bool | None = False) -> int | None:
        """The row of a contact in the wanted state (None: live or archived)."""
        row = self._row.get(object_id)
        if row is None:
            return None
        state = self._state[row]
        if archived is None:
            return row if state != PURGED else None
        return row if state == (ARCHIVED if archived else LIVE) else None

    def exists(self, object_id: int, *, archived: bool | None = False) -> bool:
        """Whether a contact exists in the given state (None: live or archived)."""
        with self.lock:
            return self._live_row(object_id, archived) is not None

    def value(self, object_id: int, name: str) -> str | None:
        """The current value of one property of a live or archived contact."""
        with self.lock:
            row = self._live_row(object_id, None)
            return None if row is None else self._cols[name][row]

    def find(self, name: str, value: str, *, archived: bool | None = False) -> int | None:
        """The id of a contact whose unique property ``name`` holds ``value``.

        Args:
            name: A unique property (``email`` compares case-insensitively).
            value: The value to look for.
            archived: False for live contacts (indexed), True for archived ones, None
                for either (archived ones are scanned).

        Returns:
            The id, or None.
        """
        key = unique_key(name, value)
        with self.lock:
            if archived is not True:
                row = self._unique.get(name, {}).get(key)
                if row is not None:
                    return int(self._ids[row])
                if archived is False:
                    return None
            column = self._cols[name]
            for row in sorted(self._archived_at):
                held = column[row]
                if held is not None and unique_key(name, held) == key:
                    return int(self._ids[row])
            return None

    def is_blocked(self, email: str) -> bool:
        """Whether an email was blocklisted by a GDPR delete."""
        with self.lock:
            return email.lower() in self._blocked

    def read(
        self,
        ids: Sequence[int],
        names: Sequence[str],
        *,
        history: Sequence[str] = (),
        archived: bool | None = False,
        as_of: float | None = None,
    ) -> list[Record | None]:
        """Copies of some contacts.

        Args:
            ids: Contact ids.
            names: Properties to include (undefined names are skipped).
            history: Properties whose versions to include.
            archived: The state the contacts must be in (None: live or archived).
            as_of: A clock time: properties are shown as they were then (for the search
                index lag); None for now.

        Returns:
            One record per id, None where there is no such contact.
        """
        wanted = [n for n in names if n in self._cols]
        with self.lock:
            return [
                None
                if (row := self._live_row(i, archived)) is None
                else self._record(row, wanted, history, as_of)
                for i in ids
            ]

    def page(
        self,
        after: int | None,
        limit: int,
        names: Sequence[str],
        *,
        history: Sequence[str] = (),
        archived: bool = False,
    ) -> tuple[list[Record], int | None]:
        """One list page in id order.

        Args:
            after: Start after this id (None: from the first contact).
            limit: Page size.
            names: Properties to include.
            history: Properties whose versions to include.
            archived: List archived contacts instead of live ones.

        Returns:
            The records and, when more follow, the id to continue after.
        """
        wanted = [n for n in names if n in self._cols]
        with self.lock:
            n = self._n
            start = 0 if after is None else int(np.searchsorted(self._ids[:n], after, "right"))
            state = ARCHIVED if archived else LIVE
            rows = np.flatnonzero(self._state[start:n] == state)[: limit + 1] + start
            more = len(rows) > limit
            rows = rows[:limit]
            records = [self._record(int(r), wanted, history, None) for r in rows]
        return records, (records[-1].id if more and records else None)

    def _record(
        self, row: int, names: Sequence[str], history: Sequence[str], as_of: float | None
    ) -> Record:
        """A record of one row (call with the lock held)."""
        if as_of is not None and self._written[row] > as_of:

            def get(name: str) -> str | None:
                return self._value_as_of(row, name, as_of)
        else:

            def get(name: str) -> str | None:
                value: str | None = self._cols[name][row]
                return value

        archived_at = self._archived_at.get(row)
        return Record(
            id=int(self._ids[row]),
            properties={name: get(name) for name in names},
            created_at=get("createdate") or "",
            updated_at=get("lastmodifieddate") or "",
            archived=bool(self._state[row] == ARCHIVED),
            archived_at=format_datetime(archived_at[1]) if archived_at else None,
            history=(
                {name: self._versions(row, name) for name in history if name in self._cols}
                if history
                else None
            ),
        )

    def _value_as_of(self, row: int, name: str, when: float) -> str | None:
        """A property's value as it was at clock time ``when`` (lock held)."""
        versions = self._history.get(row, {}).get(name)
        if versions is None:
            value: str | None = self._cols[name][row]
            return value
        for entry in reversed(versions):
            if entry.seed or entry.at <= when:
                return entry.value or None
        return None

    def _versions(self, row: int, name: str) -> list[dict[str, str]]:
        """``propertiesWithHistory`` entries of one property, newest first (lock held)."""
        versions = self._history.get(row, {}).get(name)
        if versions is None:
            current = self._cols[name][row]
            if current is None:
                return []
            versions = [self._seed_entry(row, name, current)]
        return [
            {
                "value": entry.value,
                "timestamp": format_datetime(entry.ms),
                "sourceType": entry.source_type,
            }
            for entry in reversed(versions)
        ]

    def _seed_entry(self, row: int, name: str, value: str) -> _Entry:
        """The version a loaded contact started with."""
        if name in ("createdate", "hs_object_id"):
            stamp = self._cols["createdate"][row]
        else:
            stamp = self._seed_ms.get(row) or self._cols["lastmodifieddate"][row]
        ms = epoch_ms(stamp, "datetime") if stamp else None
        return _Entry(-math.inf, int(ms) if ms is not None else 0, value, "IMPORT", seed=True)

    def _lowered(self, name: str) -> npt.NDArray[np.object_]:
        """The lower-cased copy of a column, built on first use, then kept (lock held)."""
        lowered = self._lower.get(name)
        if lowered is None:
            lowered = np.full(len(self._ids), None, dtype=object)
            column = self._cols[name][: self._n]
            present = np.flatnonzero(pd.notna(column))
            lowered[present] = [str(v).lower() for v in column[present].tolist()]
            self._lower[name] = lowered
        return lowered

    def search_view(self, names: Iterable[str], as_of: float | None = None) -> SearchView:
        """Copy the columns a search needs, as the search index sees them.

        Args:
            names: The properties the search filters, sorts or queries on.
            as_of: With a search index lag, the clock time the index has reached:
                contacts created after it are not seen, and contacts written after it are
                seen as they were then (archived ones included). None: everything now.

        Returns:
            A view safe to use without the lock.
        """
        wanted = [n for n in dict.fromkeys(names) if n in self._cols]
        with self.lock:
            n = self._n
            view = SearchView(
                ids=self._ids[:n].copy(),
                visible=self._state[:n] == LIVE,
                raw={name: self._cols[name][:n].copy() for name in wanted},
                numeric={name: self._num[name][:n].copy() for name in wanted if name in self._num},
                lower={
                    name: self._lowered(name)[:n].copy() for name in wanted if name not in self._num
                },
            )
            if as_of is not None:
                for row in np.flatnonzero(self._written[:n] > as_of).tolist():
                    state = self._state[row]
                    if state == PURGED or self._created[row] > as_of:
                        view.visible[row] = False
                        continue
                    view.visible[row] = True
                    for name in wanted:
                        value = self._value_as_of(row, name, as_of)
                        view.raw[name][row] = value
                        if name in view.lower:
                            view.lower[name][row] = value.lower() if value else None
                        if name in view.numeric:
                            key = epoch_ms(value, self._typed[name]) if value else None
                            view.numeric[name][row] = np.nan if key is None else key
        return view

    # ------------------------------------------------------------------ writing

    def check_unique(self, values: Mapping[str, str], *, exclude: int | None = None) -> None:
        """Raise :class:`Conflict` if a value would collide with another live contact's.

        Args:
            values: Property values about to be written (``""`` clears, never collides).
            exclude: The id being written (it may keep its own values).
        """
        with self.lock:
            for name in self.unique_names:
                value = values.get(name)
                if not value:
                    continue
                row = self._unique[name].get(unique_key(name, value))
                if row is not None and int(self._ids[row]) != exclude:
                    raise Conflict(name, value, int(self._ids[row]))

    def _stamp(self, row: int | None, at: float) -> tuple[int, str]:
        """The write's timestamp: clock ms, but always after the record's last one."""
        ms = int(at * 1000)
        if row is not None:
            previous = (
                self._num["lastmodifieddate"][row] if "lastmodifieddate" in self._num else None
            )
            if previous is not None and not math.isnan(previous) and ms <= previous:
                ms = int(previous) + 1
        return ms, format_datetime(ms)

    def _set(self, row: int, name: str, value: str, at: float, ms: int, source: str) -> None:
        """Write one cell, its numeric key, its history and the unique index (lock held)."""
        column = self._cols[name]
        old: str | None = column[row]
        new = value or None
        if old == new:
            return
        rows = self._history.setdefault(row, {})
        versions = rows.get(name)
        if versions is None:
            versions = rows[name] = []
            if old is not None and self._created[row] == -math.inf:
                versions.append(self._seed_entry(row, name, old))
        versions.append(_Entry(at, ms, value, source))
        column[row] = new
        if name in self._num:
            key = epoch_ms(new, self._typed[name]) if new else None
            self._num[name][row] = np.nan if key is None else key
        if name in self._lower:
            self._lower[name][row] = new.lower() if new else None
        if name in self._unique and self._state[row] == LIVE:
            index = self._unique[name]
            if old is not None and index.get(unique_key(name, old)) == row:
                del index[unique_key(name, old)]
            if new is not None:
                index.setdefault(unique_key(name, new), row)

    def _touch(self, row: int, at: float) -> int:
        """Record that a write happened: bump ``lastmodifieddate`` (lock held)."""
        if self._created[row] == -math.inf and row not in self._seed_ms:
            self._seed_ms[row] = self._cols["lastmodifieddate"][row]
        ms, iso = self._stamp(row, at)
        self._set(row, "lastmodifieddate", iso, at, ms, "CALCULATED")
        self._written[row] = at
        return ms

    def create(
        self, values: Mapping[str, str], *, at: float | None = None, source: str = "INTEGRATION"
    ) -> int:
        """Create a contact.

        Args:
            values: Validated property values (``""`` means unset).
            at: Clock time of the write (default: the store's clock).
            source: ``sourceType`` recorded in the history.

        Returns:
            The new contact's id.

        Raises:
            Conflict: A unique value is already held by a live contact.
        """
        when = self._clock() if at is None else at
        with self.lock:
            self.check_unique(values)
            self._grow(1)
            row = self._n
            object_id = self._next_id
            self._next_id += 1
            self._n += 1
            self._ids[row] = object_id
            self._state[row] = LIVE
            self._created[row] = when
            self._row[object_id] = row
            ms, iso = self._stamp(None, when)
            self._set(row, "hs_object_id", str(object_id), when, ms, "CALCULATED")
            self._set(row, "createdate", iso, when, ms, "CALCULATED")
            for name, value in values.items():
                if name not in SYSTEM_PROPERTIES:
                    self._set(row, name, value, when, ms, source)
            self._set(row, "lastmodifieddate", iso, when, ms, "CALCULATED")
            self._written[row] = when
            return object_id

    def update(
        self,
        object_id: int,
        values: Mapping[str, str],
        *,
        at: float | None = None,
        source: str = "INTEGRATION",
    ) -> None:
        """Overwrite some properties of a live contact (``""`` clears).

        ``lastmodifieddate`` changes even when no value does, as on every HubSpot write.

        Raises:
            KeyError: There is no live contact with this id.
            Conflict: A unique value is already held by another live contact.
        """
        when = self._clock() if at is None else at
        with self.lock:
            row = self._live_row(object_id)
            if row is None:
                raise KeyError(object_id)
            self.check_unique(values, exclude=object_id)
            ms = self._touch(row, when)
            for name, value in values.items():
                if name not in SYSTEM_PROPERTIES:
                    self._set(row, name, value, when, ms, source)

    def archive(self, object_id: int, *, at: float | None = None) -> bool:
        """Archive a live contact; its unique values are released.

        Returns:
            Whether a live contact was archived.
        """
        when = self._clock() if at is None else at
        with self.lock:
            row = self._live_row(object_id)
            if row is None:
                return False
            ms = self._touch(row, when)
            self._release(row)
            self._state[row] = ARCHIVED
            self._archived_at[row] = (when, ms)
            return True

    def _release(self, row: int) -> None:
        """Drop a row's values from the unique index (lock held)."""
        for name in self.unique_names:
            value = self._cols[name][row]
            if value is not None and self._unique[name].get(unique_key(name, value)) == row:
                del self._unique[name][unique_key(name, value)]

    def purge(self, object_id: int, *, at: float | None = None) -> bool:
        """Remove a live or archived contact for good (its id is never reused).

        Returns:
            Whether there was such a contact.
        """
        when = self._clock() if at is None else at
        with self.lock:
            row = self._live_row(object_id, None)
            if row is None:
                return False
            if self._state[row] == LIVE:
                self._release(row)
            self._state[row] = PURGED
            self._written[row] = when
            del self._row[object_id]
            self._archived_at.pop(row, None)
            self._history.pop(row, None)
            for name in self.names:
                self._cols[name][row] = None
                if name in self._num:
                    self._num[name][row] = np.nan
                if name in self._lower:
                    self._lower[name][row] = None
            return True

    def block_email(self, email: str) -> None:
        """Blocklist an email (a GDPR delete of an unknown address)."""
        with self.lock:
            self._blocked.add(email.lower())

    def merge(self, primary: int, merged: int, *, at: float | None = None) -> None:
        """Merge contact ``merged`` into ``primary``, which keeps its id.

        The primary's values win; a property it does not have takes the merged contact's
        value; its email stays, and the merged contact's email is added to
        ``hs_additional_emails`` and its id to ``hs_merged_object_ids`` (when those
        properties are defined). The merged contact is purged.

        Raises:
            KeyError: Either contact is not live.
        """
        when = self._clock() if at is None else at
        with self.lock:
            keep = self._live_row(primary)
            lose = self._live_row(merged)
            if keep is None or lose is None:
                raise KeyError(primary if keep is None else merged)
            taken: dict[str, str] = {}
            for name in self.names:
                if name in SYSTEM_PROPERTIES or name == "email":
                    continue
                mine, theirs = self._cols[name][keep], self._cols[name][lose]
                if mine is None and theirs is not None:
                    taken[name] = theirs
            lost_email = self._cols["email"][lose] if "email" in self._cols else None
            if lost_email and "hs_additional_emails" in self._cols:
                extra = [
                    e for e in (self._cols["hs_additional_emails"][keep] or "").split(";") if e
                ]
                if lost_email not in extra:
                    taken["hs_additional_emails"] = ";".join([*extra, lost_email])
            if "hs_merged_object_ids" in self._cols:
                ids = [i for i in (self._cols["hs_merged_object_ids"][keep] or "").split(";") if i]
                taken["hs_merged_object_ids"] = ";".join([*ids, str(merged)])
            self.purge(merged, at=when)
            if "email" in self._cols and self._cols["email"][keep] is None and lost_email:
                taken["email"] = lost_email
            for name in [n for n in taken if n in self._unique]:
                try:
                    self.check_unique({name: taken[name]}, exclude=primary)
                except Conflict:
                    del taken[name]
            ms = self._touch(keep, when)
            for name, value in taken.items():
                self._set(keep, name, value, when, ms, "CRM_UI")
