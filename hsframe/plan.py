"""The plan of a write: which cells go out, in which batch requests. Pure: no I/O.

A run (a push, corrections, an archive, an undo) decides everything it will send before it
sends anything, so that the plan can be journaled first and finished later
(:func:`hsframe.recovery.resume`). This module holds those values and the planner:

- :class:`Cell`: one change of one property of one contact; :class:`Skip`: a cell left out,
  with the reason.
- :class:`Input`, :class:`Batch`: a batch request's inputs (one per contact, only its changed
  properties, each with an ``objectWriteTraceId``) and the request (at most 100 inputs of
  one operation).
- :class:`Plan` and :func:`plan_changes`, which builds it: the codec turns new values into
  wire strings, read-only and unknown properties are skipped, and a lifecycle stage moved
  backwards becomes clear-then-set in two phases (HubSpot moves ``lifecyclestage`` forward
  only; :mod:`hsframe.write` explains why two separate requests are needed).

Sending, checking and verifying are :mod:`hsframe.send`'s; :mod:`hsframe.write` runs a plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import pandas as pd

from hsframe.client import MAX_BATCH
from hsframe.schema import CodecError, Schema

__all__ = [
    "LIFECYCLE",
    "Batch",
    "Cell",
    "Input",
    "LifecycleMode",
    "Op",
    "Plan",
    "Skip",
    "cells_of",
    "chunks",
    "new_push_id",
    "plan_changes",
    "wire_value",
]

Op: TypeAlias = Literal["update", "create", "upsert", "archive"]
"""What a batch does: ``batch/update`` by id, ``batch/create``, ``batch/upsert`` by email,
``batch/archive``."""

LifecycleMode: TypeAlias = Literal["clear-then-set", "direct"]
"""How a backward lifecycle move is written (see :func:`plan_changes`)."""

LIFECYCLE = "lifecyclestage"
"""The property HubSpot moves forward only."""


# --- values: cells, inputs, batches, plans ---------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One planned change: a property of one contact, from ``old`` to ``new``.

    Attributes:
        row: The row's position in the frame that was pushed (locates new contacts).
        id: The contact id; None for a contact still to be created.
        property: The property name.
        old: The baseline's wire value (None: unset). For ``archive`` cells, the value the
            contact must still hold to be archived.
        new: The wire value to write (None: clear it).
        op: How it is written: ``update``, ``create``, ``upsert`` or ``archive``.
    """

    row: int
    id: int | None
    property: str
    old: str | None
    new: str | None
    op: Op = "update"


@dataclass(frozen=True)
class Skip:
    """A cell left out before planning, and why (invalid, read-only, not encodable...)."""

    row: int
    id: int | None
    property: str
    old: str | None
    new: str | None
    reason: str


@dataclass(frozen=True)
class Input:
    """One input of a batch request.

    Attributes:
        row: The frame row it comes from.
        id: The contact id (update, archive); None for creates and upserts.
        trace: Its ``objectWriteTraceId``, unique within the push.
        properties: The wire values to send (``""`` clears a value).
        before: What HubSpot should hold, per property, before this input is sent: the
            conflict check compares the remote values with it.
        interim: Properties whose value here is a step, not the final value (the clear of a
            clear-then-set).
        key: Upserts: the email the contact is matched by.
    """

    row: int
    id: int | None
    trace: str
    properties: Mapping[str, str] = field(default_factory=dict)
    before: Mapping[str, str | None] = field(default_factory=dict)
    interim: tuple[str, ...] = ()
    key: str | None = None

    def body(self, op: Op) -> dict[str, Any]:
        """The input as HubSpot's batch endpoint for ``op`` takes it."""
        if op == "archive":
            return {"id": str(self.id)}
        body: dict[str, Any] = {"properties": dict(self.properties)}
        if op == "update":
            body["id"] = str(self.id)
        elif op == "upsert":
            body["id"] = self.key
            body["idProperty"] = "email"
        body["objectWriteTraceId"] = self.trace
        return body


@dataclass(frozen=True)
class Batch:
    """One batch request: at most 100 inputs of one operation.

    Attributes:
        index: Its number in the plan (stable across resumes).
        op: The operation.
        phase: 1, or 2 for the second half of clear-then-set (sent after phase 1).
        inputs: The inputs.
        attempt: 1, then 2, 3... when inputs of it are sent again after a lost outcome.
    """

    index: int
    op: Op
    phase: int
    inputs: tuple[Input, ...]
    attempt: int = 1


@dataclass(frozen=True)
class Plan:
    """Everything a run will send, decided before anything is sent.

    Attributes:
        push_id: The run's id (also the prefix of its trace ids).
        cells: Every planned cell.
        batches: The batch requests, phase 1 first.
        skipped: Cells left out before planning, with reasons.
    """

    push_id: str
    cells: tuple[Cell, ...] = ()
    batches: tuple[Batch, ...] = ()
    skipped: tuple[Skip, ...] = ()


# --- the plan (pure) ----------------------------------------------------------------------------


def new_push_id() -> str:
    """A fresh run id: 16 hex digits, the prefix of the run's trace ids.

    Example:
        >>> len(new_push_id()), new_push_id() != new_push_id()
        (16, True)
    """
    return uuid.uuid4().hex[:16]


def _lifecycle_order(schema: Schema) -> tuple[str, ...]:
    if LIFECYCLE not in schema:
        return ()
    return tuple(v for v in schema.options(LIFECYCLE) if v != "other")


def _backward(order: Sequence[str], old: str | None, new: str | None) -> bool:
    if old is None or new is None or old not in order or new not in order:
        return False
    return order.index(new) < order.index(old)


def chunks(items: Sequence[Any], size: int = MAX_BATCH) -> list[Sequence[Any]]:
    """``items`` in consecutive pieces of at most ``size`` (a batch request's limit)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def plan_changes(
    cells: Iterable[Cell],
    schema: Schema,
    *,
    push_id: str,
    lifecycle: LifecycleMode = "clear-then-set",
    skipped: Iterable[Skip] = (),
) -> Plan:
    """Turn cells into batch requests. Pure: nothing is sent, nothing is read.

    One input per contact per batch, with only its changed properties; batches of at most
    100 inputs, updates sorted by id, creates and upserts by row. Values are sent as
    :meth:`~hsframe.schema.Schema.wire_for_write` gives them (it alone turns "no value"
    into ``""``). Every input carries the trace id ``<push_id>:<row>``. A cell of a
    read-only or unknown property, or with a value the codec refuses, is skipped with a
    reason, never sent.

    Args:
        cells: The cells to write (``op`` update, create, upsert or archive).
        schema: The portal's properties (for the codec and the lifecycle order).
        push_id: The run's id.
        lifecycle: ``"clear-then-set"`` (default) writes a backward lifecycle move as
            ``""`` then the stage, in two phases; ``"direct"`` writes it as is.
        skipped: Cells already left out (e.g. invalid), carried into the plan.

    Returns:
        The :class:`Plan`.

    Example:
        >>> schema = Schema.from_definitions([
        ...     {"name": "jobtitle", "type": "string"},
        ...     {"name": "lifecyclestage", "type": "enumeration", "fieldType": "radio",
        ...      "options": [{"value": "lead"}, {"value": "customer"}]}])
        >>> plan = plan_changes([
        ...     Cell(0, 101, "jobtitle", "CEO", None),
        ...     Cell(0, 101, "lifecyclestage", "customer", "lead"),
        ...     Cell(1, None, "jobtitle", None, "CTO", op="create")], schema, push_id="p1")
        >>> [(b.op, b.phase, [dict(i.properties) for i in b.inputs]) for b in plan.batches]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('update', 1, [{'jobtitle': '', 'lifecyclestage': ''}]),
         ('create', 1, [{'jobtitle': 'CTO'}]),
         ('update', 2, [{'lifecyclestage': 'lead'}])]
        >>> plan.batches[1].inputs[0].trace
        'p1:1'
    """
    order = _lifecycle_order(schema)
    skips = list(skipped)
    kept: list[Cell] = []
    # row -> (id, {property: wire}, {property: before}, interim, key) per op, phase 1 and 2
    first: dict[tuple[Op, int], dict[str, Any]] = {}
    second: dict[int, dict[str, Any]] = {}
    for cell in cells:
        reason = _refusal(schema, cell)
        wire: str | None = None
        if reason is None and cell.op != "archive":
            try:
                wire = schema.wire_for_write(cell.property, cell.new)
            except CodecError as exc:
                reason = f"cannot be written: {exc.message}"
        if reason is None and cell.op in ("create", "upsert") and wire == "":
            continue  # a new contact leaves an unset property unset: nothing to send
        if reason is not None:
            skips.append(Skip(cell.row, cell.id, cell.property, cell.old, cell.new, reason))
            continue
        kept.append(cell)
        slot = first.setdefault(
            (cell.op, cell.row),
            {"id": cell.id, "properties": {}, "before": {}, "interim": [], "key": None},
        )
        if cell.op == "archive":
            slot["before"][cell.property] = cell.old
            continue
        assert wire is not None
        if cell.op == "upsert" and cell.property == "email":
            slot["key"] = cell.new
        if cell.op == "update":
            slot["before"][cell.property] = cell.old
        clear_then_set = (
            lifecycle == "clear-then-set"
            and cell.op == "update"
            and cell.property == LIFECYCLE
            and _backward(order, cell.old, cell.new)
        )
        if clear_then_set:
            slot["properties"][cell.property] = ""
            slot["interim"].append(cell.property)
            later = second.setdefault(cell.row, {"id": cell.id, "properties": {}, "before": {}})
            later["properties"][cell.property] = wire
            later["before"][cell.property] = None
        else:
            slot["properties"][cell.property] = wire

    batches: list[Batch] = []

    def add(op: Op, phase: int, inputs: list[Input]) -> None:
        for chunk in chunks(inputs):
            batches.append(Batch(len(batches), op, phase, tuple(chunk)))

    for op in ("update", "archive", "create", "upsert"):
        rows = [(row, slot) for (kind, row), slot in first.items() if kind == op]
        if op in ("update", "archive"):
            rows.sort(key=lambda pair: (pair[1]["id"], pair[0]))
        else:
            rows.sort(key=lambda pair: pair[0])
        inputs = [
            Input(
                row=row,
                id=slot["id"],
                trace=f"{push_id}:{row}",
                properties=slot["properties"],
                before=slot["before"],
                interim=tuple(slot["interim"]),
                key=slot["key"],
            )
            for row, slot in rows
        ]
        add(op, 1, inputs)
    later_inputs = [
        Input(row, slot["id"], f"{push_id}:{row}", slot["properties"], slot["before"])
        for row, slot in sorted(second.items(), key=lambda pair: (pair[1]["id"], pair[0]))
    ]
    add("update", 2, later_inputs)
    return Plan(push_id, tuple(kept), tuple(batches), tuple(skips))


def _refusal(schema: Schema, cell: Cell) -> str | None:
    """Why a cell must not be sent (None: it may)."""
    if cell.property not in schema:
        return f"{cell.property} is not a contact property of this portal"
    if cell.op != "archive" and schema.is_read_only(cell.property):
        return f"{cell.property} is read-only in HubSpot"
    if cell.op in ("update", "archive") and cell.id is None:
        return "no contact id"
    return None


def cells_of(change_set: pd.DataFrame) -> list[Cell]:
    """The change set's rows (:func:`hsframe.diff.changes`) as cells."""
    cells: list[Cell] = []
    columns = [change_set[c].tolist() for c in ("id", "row", "property", "old", "new", "kind")]
    for contact, row, name, old, new, kind in zip(*columns, strict=True):
        cells.append(
            Cell(
                row=int(row),
                id=None if pd.isna(contact) else int(contact),
                property=str(name),
                old=wire_value(old),
                new=wire_value(new),
                op="create" if kind == "create" else "update",
            )
        )
    return cells


def wire_value(value: Any) -> str | None:
    """A wire string, or None for a missing value (None, NA, NaN)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)
