"""Writing edits back to HubSpot: plan, check for conflicts, send, verify, report.

A push writes to a production CRM that other people and workflows edit at the same time, and
HubSpot offers no transaction, no ETag and no If-Match (hubspot-api.md §7). So a push is a
short, recorded sequence of steps, each of which can be looked at before the next one runs,
and every one of which can be finished later (:func:`hsframe.journal.resume`) or taken back
(:func:`hsframe.journal.undo`). Values come first and side effects last (STYLE.md habit 12):

1. **Change set**: :func:`hsframe.diff.changes`, one row per changed cell, in wire form.
2. **Validation report**: :func:`hsframe.validate.validate` with ``rows="changed"``. Invalid
   rows are refused (:class:`InvalidEditsError`) or, with ``on_invalid="skip"``, left out
   whole; read-only properties and columns that are not properties are never sent.
3. **Plan** (:func:`plan_changes`, pure): batches of at most 100 inputs, each with only the
   changed properties of one contact; creates carry an ``objectWriteTraceId``
   (``<push id>:<row>``), and so do updates, so that one bad input does not sink its batch
   (HubSpot answers 207 only when every input has one). A lifecycle stage moved backwards is
   planned as clear-then-set in two requests (below).
4. **Journal**: the plan goes to the journal, flushed to disk, before any CRM request.
5. **Conflict check**: one batch read per 100 contacts of the properties about to be written;
   a cell whose remote value is no longer the baseline's is a conflict, skipped (or, with
   ``on_conflict="overwrite"``, written anyway) and reported. A cell that HubSpot already
   holds at its new value is not sent again.
6. **Send**: batches go out concurrently on a small thread pool; the transport's rate
   budget paces them. Each batch's intent is journaled before it is sent and its outcome
   after. Results are matched to inputs by id or trace id, never by position.
7. **Verify and report**: every written cell is compared with the properties HubSpot
   returns; a value that did not stick (a lifecycle stage moved backwards) is reported as
   failed, not counted as applied. The :class:`PushResult` lists applied, failed, conflicting
   and skipped cells, and the baseline moves forward, so a second push sends nothing.

**Requests.** For N changed contacts: at most ``ceil(N/100)`` conflict-check reads and
``ceil(N/100)`` batch writes, so at most ``2 x ceil(N/100)``. Creates need no conflict check.
Two things add requests, only when they occur: contacts whose lifecycle stage moves backwards
(one more batch per 100 of them), and reads that settle a batch whose outcome was lost. The
scope check before the first batch reads the token's information, which is not a CRM request
(the sandbox does not charge it to the API budget); :attr:`PushResult.requests` counts CRM
requests only.

**Lifecycle stage.** HubSpot moves ``lifecyclestage`` forward only: setting an earlier stage
is answered 200 and silently not applied (hubspot-api.md §5.4). A backward move is therefore
sent as ``""`` in a first batch (with the contact's other changes) and the earlier stage in a
second batch, sent only after every first-phase batch is done, because inputs inside one batch
are not processed in order. "Earlier" follows the order of the property's options, with
``other`` outside it. ``lifecycle="direct"`` sends backward moves as they are, for portals
where the rule does not apply (one source says v3 PATCH sets any stage; unconfirmed), and
avoids a moment without a stage (which can start workflows); verification reports every
move that did not stick either way.

**Outcomes that were lost.** HubSpot can apply a write and the answer can still be lost (a
dropped connection, a 5xx after the fact). Updates, upserts and archives are retried by the
transport (writing the same values twice is harmless); creates are not, since a repeat could
create a contact twice. A batch that ends without a usable answer is *settled* by reading
back: an update that HubSpot holds is applied, one that still holds the old value is sent
again; a create is looked up by its email (the one reliable unique key; trace ids are not
searchable): found means created, not found means sent again, and a new contact without an
email is reported, never sent twice. :func:`hsframe.journal.resume` settles the same way.

**New contacts get their ids in place.** After a push, the index of the frame that was
pushed holds the new ids of the rows it created (``frame.index`` is replaced; the values
are not touched), and its baseline gains those rows. This way the frame the user holds is
the one that can be pushed again: a copy in the result could be forgotten, and a second push
of the old frame would create the contacts twice. :attr:`PushResult.created` maps each
created row's position to its id.

**Events.** The journal, the progress bar and any other listener (a review widget) are
called with :data:`Event` values: :class:`Started`, :class:`Checked`, :class:`Sending`,
:class:`Sent`, :class:`Finished`. Listeners run on the calling thread, in order, so a listener
that raises stops the push as a crash would (tests use that to leave a journal half done).

**Module state (an exception to STYLE.md habit 11).** This module must not import
:mod:`hsframe.journal` (imports flow the other way: the journal resumes and undoes with this
module's sender), yet no push may run unrecorded. So :mod:`hsframe.journal` installs its
recorder here when it is imported, which ``import hsframe`` does, through
:func:`set_recorder`; a push without one refuses to start rather than write unrecorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hsframe import baseline, diff
from hsframe.client import MAX_BATCH, BatchResult, Client, TokenInfo, default_client
from hsframe.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    HubSpotError,
    MissingScopesError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hsframe.schema import CodecError, Schema
from hsframe.validate import ValidationReport, validate

__all__ = [
    "CELL_COLUMNS",
    "LIFECYCLE",
    "Batch",
    "BatchOutcome",
    "Cell",
    "Check",
    "Checked",
    "Event",
    "Finished",
    "Header",
    "Input",
    "InputOutcome",
    "InvalidEditsError",
    "Listener",
    "Plan",
    "Prepared",
    "PushInterruptedError",
    "PushResult",
    "Recorder",
    "RecorderFactory",
    "Sending",
    "Sent",
    "Skip",
    "Started",
    "apply_corrections",
    "archive",
    "continue_push",
    "new_push_id",
    "plan_changes",
    "prepare",
    "push",
    "run_plan",
    "set_recorder",
    "tally",
]

Op: TypeAlias = Literal["update", "create", "upsert", "archive"]
"""What a batch does: ``batch/update`` by id, ``batch/create``, ``batch/upsert`` by email,
``batch/archive``."""

Kind: TypeAlias = Literal["push", "corrections", "archive", "undo"]
"""What started a journaled run."""

OnInvalid: TypeAlias = Literal["raise", "skip"]
OnConflict: TypeAlias = Literal["skip", "overwrite"]
LifecycleMode: TypeAlias = Literal["clear-then-set", "direct"]

LIFECYCLE = "lifecyclestage"
"""The property HubSpot moves forward only."""

CELL_COLUMNS = ("id", "row", "property", "old", "new")
"""The columns every cell table of a :class:`PushResult` starts with."""

ARCHIVE = "(archive)"
"""The ``property`` of a result row that stands for archiving the whole contact."""

ALREADY = "HubSpot already holds the new value"
"""The ``skipped`` reason for a cell that needed no write."""

_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_FATAL = (AuthenticationError, MissingScopesError, RateLimitError, ConfigurationError)
_AMBIGUOUS = (ServerError, TransportError)
_MAX_ATTEMPTS = 3
# A contact found by email while settling a create counts as ours if HubSpot dates it no
# earlier than this many seconds before the batch was sent (clocks differ a little).
_CLOCK_SLACK = 120.0
_HTML_ROWS = 20


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


@dataclass(frozen=True)
class Header:
    """What a journal's first record says about the run.

    Attributes:
        push_id: The run's id.
        kind: ``push``, ``corrections``, ``archive`` or ``undo``.
        portal_id: The HubSpot account written to.
        started_at: When, ISO 8601 UTC.
        dry_run: Whether nothing is written.
        on_conflict: ``skip`` or ``overwrite``.
        load_id: The load whose frame was pushed, if any.
        of: For an undo, the id of the run it takes back.
    """

    push_id: str
    kind: Kind
    portal_id: int | None
    started_at: str
    dry_run: bool = False
    on_conflict: OnConflict = "skip"
    load_id: str | None = None
    of: str | None = None


@dataclass(frozen=True)
class Check:
    """The conflict check's verdict on one cell.

    ``state`` is ``ok`` (HubSpot holds the expected value: send), ``already`` (it holds the
    new value: nothing to send), ``conflict`` (someone changed it) or ``missing`` (the
    contact is gone).
    """

    row: int
    id: int | None
    property: str
    remote: str | None
    state: Literal["ok", "already", "conflict", "missing"]


@dataclass(frozen=True)
class InputOutcome:
    """What became of one input.

    Attributes:
        row: The input's row.
        id: The contact id (a created contact's new id).
        applied: Properties that HubSpot holds as sent (final values).
        interim: Step values that landed (the clear of clear-then-set).
        failed: Property → why it was not applied.
        existing_id: For a create refused because the email exists: that contact's id.
        created: The input created a contact.
        archived: The input archived its contact.
        unknown: No answer said what happened (settle by reading back).
        resend: Properties found not written, to be sent again (next attempt).
    """

    row: int
    id: int | None
    applied: tuple[str, ...] = ()
    interim: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    existing_id: int | None = None
    created: bool = False
    archived: bool = False
    unknown: bool = False
    resend: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one batch request (one attempt).

    Attributes:
        index: The batch's index.
        attempt: The attempt.
        op: The operation.
        status: HubSpot's HTTP status, or None (no answer; or settled by reading back).
        inputs: One outcome per input.
        error: The error that answered the whole batch, if any.
        settled: The outcome was found by reading back, after the answer was lost.
    """

    index: int
    attempt: int
    op: Op
    status: int | None
    inputs: tuple[InputOutcome, ...]
    error: str | None = None
    settled: bool = False


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """A run begins: its header and its whole plan (the journal writes both, then syncs)."""

    header: Header
    plan: Plan


@dataclass(frozen=True)
class Checked:
    """The conflict check is done (also on resume, for what was left)."""

    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Sending:
    """A batch is about to be sent (the journal records the intent first)."""

    batch: Batch
    at: str


@dataclass(frozen=True)
class Sent:
    """A batch's outcome is known."""

    outcome: BatchOutcome
    at: str


@dataclass(frozen=True)
class Finished:
    """The run is over; ``counts`` sums it up (applied, failed, conflicts...)."""

    counts: Mapping[str, int]
    requests: int
    at: str


Event: TypeAlias = Started | Checked | Sending | Sent | Finished
"""What listeners are called with, in this order: one Started, at most one Checked per
phase, Sending/Sent per batch, one Finished."""

Listener: TypeAlias = Callable[[Event], None]
"""A callable that is told each :data:`Event` of a run, on the calling thread."""


class Recorder(Protocol):
    """The journal of one run: a listener that knows where it writes."""

    @property
    def path(self) -> Path:
        """The journal file."""
        ...

    def __call__(self, event: Event) -> None:
        """Record one event."""
        ...


RecorderFactory: TypeAlias = Callable[[Started, "str | PathLike[str] | None"], Recorder]
"""Opens a new journal for a run: given its :class:`Started` event (written at once, and
synced) and the directory asked for (None: the default)."""

_recorder_lock = threading.Lock()
_recorder: RecorderFactory | None = None


def set_recorder(factory: RecorderFactory | None) -> None:
    """Install the journal that every run records to (:mod:`hsframe.journal` does this
    when imported; see the module docstring).

    Args:
        factory: Opens a run's journal; None uninstalls it (runs then refuse to start).
    """
    global _recorder
    with _recorder_lock:
        _recorder = factory


def _open_recorder(started: Started, directory: str | PathLike[str] | None) -> Recorder:
    with _recorder_lock:
        factory = _recorder
    if factory is None:
        raise ConfigurationError(
            "No journal is installed, so hsframe will not write: every push must be "
            "recorded to be resumable and undoable.",
            hint="Import hsframe (import hsframe as hs), which installs the journal.",
        )
    return factory(started, directory)


# --- errors ------------------------------------------------------------------------------------


class InvalidEditsError(ValidationError):
    """Some edits fail validation, so nothing was sent.

    Args:
        report: The validation report (``.failures`` lists every failing cell).
        frame_level: Whether failures that belong to no row stopped a push with
            ``on_invalid="skip"``.

    Attributes:
        report: See Args.

    Example:
        >>> failures = pd.DataFrame([[101, 0, "lifecyclestage", "Lead",
        ...     "expect_column_values_to_be_in_set", "'Lead' is not an option"]],
        ...     columns=["id", "row", "property", "value", "expectation", "message"])
        >>> print(InvalidEditsError(ValidationReport(failures)))
        1 invalid cell in 1 row; nothing was sent.
          lifecyclestage: row 0 (contact 101): 'Lead' is not an option
        Fix them (error.report.failures lists each), or pass on_invalid='skip' to send the rest.
    """

    default_hint = (
        "Fix them (error.report.failures lists each), or pass on_invalid='skip' to send the rest."
    )

    def __init__(self, report: ValidationReport, *, frame_level: bool = False) -> None:
        failures = report.failures
        rows = failures["row"].dropna().nunique()
        count = len(failures)
        message = (
            f"{count:,} invalid cell{'s' * (count != 1)} in {rows:,} row"
            f"{'s' * (rows != 1)}; nothing was sent."
        )
        hint = None
        if frame_level:
            hint = (
                "Some failures belong to no row, so on_invalid='skip' cannot leave them "
                "out: fix them and push again."
            )
        errors = []
        for record in failures.head(20).itertuples(index=False):
            where = "frame" if pd.isna(record.row) else f"row {int(record.row)}"
            if not pd.isna(record.id):
                where += f" (contact {int(record.id)})"
            errors.append(
                {"name": record.property, "code": None, "message": f"{where}: {record.message}"}
            )
        if count > 20:
            errors.append({"name": None, "code": None, "message": f"... and {count - 20} more"})
        super().__init__(message, errors=errors, hint=hint)
        self.report = report


class PushInterruptedError(HubSpotError):
    """A run stopped half way (the token was refused, the daily limit was reached...).

    Everything sent so far is in the journal; :func:`hsframe.journal.resume` finishes the run
    once the cause is fixed.

    Args:
        message: What stopped it.
        result: What the run did before it stopped.
        cause: The error that stopped it.

    Attributes:
        result: See Args.
        cause: See Args.
    """

    def __init__(self, message: str, *, result: PushResult, cause: HubSpotError) -> None:
        journal = f"hs.resume({str(result.journal)!r})" if result.journal else "a new push"
        super().__init__(
            message,
            status=cause.status,
            category=cause.category,
            correlation_id=cause.correlation_id,
            hint=f"{cause.hint} Then finish the push with {journal}.",
        )
        self.result = result
        self.cause = cause


# --- the plan (pure) ----------------------------------------------------------------------------


def new_push_id() -> str:
    """A fresh run id: 16 hex digits, the prefix of the run's trace ids."""
    return uuid.uuid4().hex[:16]


def _lifecycle_order(schema: Schema) -> tuple[str, ...]:
    if LIFECYCLE not in schema:
        return ()
    return tuple(v for v in schema.options(LIFECYCLE) if v != "other")


def _backward(order: Sequence[str], old: str | None, new: str | None) -> bool:
    if old is None or new is None or old not in order or new not in order:
        return False
    return order.index(new) < order.index(old)


def _chunks(items: Sequence[Any], size: int = MAX_BATCH) -> list[Sequence[Any]]:
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
        for chunk in _chunks(inputs):
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


# --- comparing wire values ------------------------------------------------------------------------


class _Canon:
    """Compares wire values as HubSpot means them: canonical form, emails ignoring case."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def __call__(self, name: str, raw: Any) -> str | None:
        if raw is None or raw == "":
            return None
        if name in self.schema:
            try:
                return self.schema.encode_value(name, str(raw))
            except CodecError:
                pass
        return str(raw)

    @staticmethod
    def same(name: str, a: str | None, b: str | None) -> bool:
        if a is None or b is None:
            return a is b
        return a == b or (name == "email" and a.lower() == b.lower())


def _expected(sent: str) -> str | None:
    """What HubSpot holds after ``sent`` lands ("" clears)."""
    return None if sent == "" else sent


def _now() -> str:
    moment = dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return pd.Timestamp(stamp).timestamp()
    except (ValueError, TypeError):
        return None


# --- mapping answers to inputs (pure) -------------------------------------------------------------


def outcome_of(batch: Batch, answer: BatchResult | BaseException, canon: _Canon) -> BatchOutcome:
    """Map HubSpot's answer to one outcome per input, by id or trace id, never by position.

    An exception answers the whole batch: a refusal (400, 404, 409) fails every input; a
    server error or a lost connection leaves them ``unknown`` (settle by reading back); an
    error that stops the run (401, 403, 429) leaves them to be sent again.
    """
    if isinstance(answer, BaseException):
        return _outcome_of_error(batch, answer)
    by_trace = {i.trace: i for i in batch.inputs}
    by_id = {str(i.id): i for i in batch.inputs if i.id is not None}
    by_key = {i.key.lower(): i for i in batch.inputs if i.key}
    outcomes: dict[str, InputOutcome] = {}
    for result in answer.results:
        item = by_trace.get(str(result.get("objectWriteTraceId")))
        if item is None and batch.op == "update":
            item = by_id.get(str(result.get("id")))
        if item is None and batch.op == "upsert":
            email = (result.get("properties") or {}).get("email")
            item = by_key.get(str(email).lower()) if email else None
        if item is None:
            continue
        contact = _int(result.get("id"))
        applied, interim, failed = _verify(item, result.get("properties") or {}, canon)
        created = batch.op == "create" or (batch.op == "upsert" and bool(result.get("new")))
        outcomes[item.trace] = InputOutcome(
            item.row, contact, applied, interim, failed, created=created
        )
    unmatched: list[str] = []
    for error in answer.errors:
        context = error.get("context") or {}
        message = str(error.get("message") or error.get("category") or "refused")
        existing = _existing(error)
        items = [by_trace[t] for t in context.get("objectWriteTraceId") or () if t in by_trace]
        if not items:
            ids = [str(i) for i in context.get("ids") or ()]
            items = [by_id[i] for i in ids if i in by_id] or [
                by_key[i.lower()] for i in ids if i.lower() in by_key
            ]
        if not items:
            unmatched.append(message)
        for item in items:
            if item.trace not in outcomes:
                outcomes[item.trace] = _all_failed(item, _reason(error, message), existing)
    rest = [i for i in batch.inputs if i.trace not in outcomes]
    for item in rest:
        if unmatched:
            reason = f"{unmatched[0]} (HubSpot did not say which input)"
            outcomes[item.trace] = _all_failed(item, reason, None)
        elif batch.op == "archive" and answer.status == 204:
            outcomes[item.trace] = InputOutcome(item.row, item.id, archived=True)
        else:
            outcomes[item.trace] = _unknown(item, "HubSpot's answer did not mention it")
    return BatchOutcome(
        batch.index,
        batch.attempt,
        batch.op,
        answer.status,
        tuple(outcomes[i.trace] for i in batch.inputs),
    )


def _outcome_of_error(batch: Batch, error: BaseException) -> BatchOutcome:
    text = _first_line(error)
    if isinstance(error, _FATAL):
        inputs = tuple(
            InputOutcome(i.row, i.id, resend=tuple(i.properties) or (ARCHIVE,))
            for i in batch.inputs
        )
    elif isinstance(error, _AMBIGUOUS) or not isinstance(error, HubSpotError):
        inputs = tuple(_unknown(i, f"no usable answer ({text})") for i in batch.inputs)
    else:
        existing = None
        if isinstance(error, ConflictError) and error.existing_id and len(batch.inputs) == 1:
            existing = _int(error.existing_id)
        reason = text
        if isinstance(error, ValidationError) and error.errors:
            reason = "; ".join(
                f"{e.get('name') or ''}: {e.get('message')}".strip(": ") for e in error.errors
            )
        inputs = tuple(_all_failed(i, reason, existing) for i in batch.inputs)
    status = error.status if isinstance(error, HubSpotError) else None
    return BatchOutcome(batch.index, batch.attempt, batch.op, status, inputs, error=text)


def _first_line(error: BaseException) -> str:
    text = error.message if isinstance(error, HubSpotError) else str(error)
    return (text or type(error).__name__).splitlines()[0]


def _reason(error: Mapping[str, Any], message: str) -> str:
    category = error.get("category")
    return f"{category}: {message}" if category and category not in message else message


def _existing(error: Mapping[str, Any]) -> int | None:
    texts = [str(error.get("message") or "")]
    texts += [str(d.get("message") or "") for d in error.get("errors") or () if isinstance(d, dict)]
    for text in texts:
        match = _EXISTING_ID.search(text)
        if match:
            return int(match.group(1))
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _props(item: Input) -> tuple[str, ...]:
    return tuple(item.properties) or (ARCHIVE,)


def _all_failed(item: Input, reason: str, existing: int | None) -> InputOutcome:
    return InputOutcome(
        item.row, item.id, failed=dict.fromkeys(_props(item), reason), existing_id=existing
    )


def _unknown(item: Input, why: str) -> InputOutcome:
    reason = f"outcome unknown: {why}"
    return InputOutcome(item.row, item.id, failed=dict.fromkeys(_props(item), reason), unknown=True)


def _verify(
    item: Input, returned: Mapping[str, Any], canon: _Canon
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """Compare what was sent with what HubSpot says it holds after the write."""
    applied: list[str] = []
    interim: list[str] = []
    failed: dict[str, str] = {}
    for name, sent in item.properties.items():
        ok = name not in returned  # not echoed: nothing to check against
        got = None
        if not ok:
            got = canon(name, returned[name])
            ok = canon.same(name, got, canon(name, sent))
        if ok:
            (interim if name in item.interim else applied).append(name)
            continue
        reason = f"not applied: HubSpot kept {got!r}"
        if name == LIFECYCLE:
            reason += " (HubSpot moves the lifecycle stage forward only; clear it first)"
        failed[name] = reason
    return tuple(applied), tuple(interim), failed


# --- the result ---------------------------------------------------------------------------------


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    for name in ("id", "row", "existing_id"):
        if name in frame.columns:
            frame[name] = pd.array(frame[name], dtype="Int64")
    sort = [c for c in ("row", "property") if c in frame.columns]
    if sort and len(frame):
        frame = frame.sort_values(sort, kind="stable").reset_index(drop=True)
    return frame


@dataclass(frozen=True, eq=False, repr=False)
class PushResult:
    """What a push (or a correction, an archive, an undo, a resume) did.

    Every cell table has the columns ``id`` (the contact; a created contact's new id),
    ``row`` (its position in the pushed frame), ``property``, ``old``, ``new`` (wire values,
    None for unset), then:

    Attributes:
        push_id: The run's id.
        kind: ``push``, ``corrections``, ``archive`` or ``undo``.
        dry_run: Nothing was written.
        applied: Cells HubSpot now holds as written (verified against its answer).
        failed: Cells not applied, with ``reason`` and ``existing_id`` (for a new contact
            whose email exists: that contact).
        conflicts: Cells changed in HubSpot since the load, with ``remote`` (what HubSpot
            holds) and ``resolution`` (``skipped`` or ``overwritten``).
        skipped: Cells not sent, with ``reason``: invalid or read-only edits, values
            HubSpot already held.
        planned: The cells that were (or, in a dry run, would be) sent.
        created: Row position → new contact id.
        archived: Ids of the contacts archived.
        requests: CRM requests made (reads and writes).
        journal: The journal file, or None when there was nothing to do.
        report: The validation report of the edits, if validation ran.
        ignored: Columns of the frame that are not contact properties (never sent).
        messages: Notes for the user (a dry run with a read-only token...).
        complete: Every batch has an outcome (False: run :func:`hsframe.journal.resume`).
    """

    push_id: str
    kind: str
    dry_run: bool
    applied: pd.DataFrame
    failed: pd.DataFrame
    conflicts: pd.DataFrame
    skipped: pd.DataFrame
    planned: pd.DataFrame
    created: Mapping[int, int]
    archived: tuple[int, ...]
    requests: int
    journal: Path | None
    report: ValidationReport | None = None
    ignored: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    complete: bool = True

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing conflicted."""
        return not len(self.failed) and not len(self.conflicts)

    def _headline(self) -> str:
        label = {"push": "Push", "corrections": "Corrections", "archive": "Archive"}
        name = label.get(self.kind, self.kind.capitalize())
        cells = len(self.planned)
        contacts = self.planned["id"].nunique() + int(self.planned["id"].isna().sum())
        if self.dry_run:
            return (
                f"{name} (dry run): would write {cells:,} cell{'s' * (cells != 1)} "
                f"in {contacts:,} contact{'s' * (contacts != 1)}"
            )
        done = len(self.applied)
        text = f"{name}: {done:,} cell{'s' * (done != 1)} applied"
        if self.created:
            text += f", {len(self.created):,} contact{'s' * (len(self.created) != 1)} created"
        if self.archived:
            text += f", {len(self.archived):,} archived"
        return text

    def _counts(self) -> list[tuple[str, int]]:
        return [
            ("failed", len(self.failed)),
            ("conflicts", len(self.conflicts)),
            ("skipped", len(self.skipped)),
            ("requests", self.requests),
        ]

    def summary(self) -> str:
        """A few lines: the headline, the counts, the journal, and what to do next.

        Example:
            >>> empty = pd.DataFrame(columns=list(CELL_COLUMNS))
            >>> result = PushResult("p1", "push", False, empty, empty, empty, empty, empty,
            ...                     {}, (), 0, None)
            >>> print(result.summary())
            Push: 0 cells applied; 0 failed, 0 conflicts, 0 skipped, 0 requests
        """
        lines = [
            self._headline() + "; " + ", ".join(f"{n:,} {label}" for label, n in self._counts())
        ]
        if self.ignored:
            lines.append(f"  not sent (not contact properties): {', '.join(self.ignored)}")
        for reason, count in self._top_reasons(self.failed):
            lines.append(f"  failed: {count:,} x {reason}")
        if len(self.conflicts):
            resolution = self.conflicts["resolution"].value_counts()
            for label, count in resolution.items():
                lines.append(f"  conflicts {label}: {count:,} (changed in HubSpot since the load)")
        lines.extend(f"  {m}" for m in self.messages)
        if self.journal is not None:
            lines.append(f"  journal: {self.journal}")
        if not self.complete and not self.dry_run:
            lines.append(f"  incomplete: finish it with hs.resume({str(self.journal)!r})")
        return "\n".join(lines)

    @staticmethod
    def _top_reasons(frame: pd.DataFrame, limit: int = 3) -> list[tuple[str, int]]:
        if not len(frame):
            return []
        counts = frame["reason"].astype(str).value_counts().head(limit)
        return [(str(reason), int(n)) for reason, n in counts.items()]

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """The headline, counts and the first failures and conflicts, for Jupyter."""
        counts = ", ".join(f"{n:,} {label}" for label, n in self._counts())
        parts = [f"<p><strong>{html.escape(self._headline())}</strong>; {html.escape(counts)}</p>"]
        for title, frame in (("Failed", self.failed), ("Conflicts", self.conflicts)):
            if len(frame):
                table = frame.head(_HTML_ROWS).to_html(index=False, na_rep="", escape=True)
                more = len(frame) - _HTML_ROWS
                tail = f"<p>… and {more:,} more</p>" if more > 0 else ""
                parts.append(f"<p>{title}:</p>{table}{tail}")
        for message in self.messages:
            parts.append(f"<p>{html.escape(message)}</p>")
        if self.journal is not None:
            parts.append(f"<p>Journal: <code>{html.escape(str(self.journal))}</code></p>")
        return '<div class="hsframe-push">' + "".join(parts) + "</div>"


def tally(
    header: Header,
    plan: Plan,
    events: Iterable[Event],
    *,
    requests: int = 0,
    journal: Path | None = None,
    report: ValidationReport | None = None,
    ignored: Sequence[str] = (),
    messages: Sequence[str] = (),
) -> PushResult:
    """Fold a run's events into its :class:`PushResult` (also from a journal, on resume
    and undo). Later outcomes of a cell replace earlier ones.

    Args:
        header: The run's header.
        plan: The run's plan.
        events: Its events, in order.
        requests: CRM requests made.
        journal: The journal file.
        report: The validation report, if any.
        ignored: Columns that are not properties.
        messages: Notes for the user.

    Returns:
        The result.
    """
    cells = {(c.row, c.property): c for c in plan.cells}
    applied: dict[tuple[int, str], None] = {}
    failed: dict[tuple[int, str], str] = {}
    conflicts: dict[tuple[int, str], tuple[str | None, str, str]] = {}
    already: dict[tuple[int, str], None] = {}
    created: dict[int, int] = {}
    archived: dict[int, None] = {}
    existing: dict[int, int] = {}
    contact_of: dict[int, int] = {}  # row -> contact id, for rows without cells (archives)
    unknown: set[tuple[int, str]] = set()
    finished = False
    overwrite = header.on_conflict == "overwrite"
    for event in events:
        if isinstance(event, Checked):
            for check in event.checks:
                key = (check.row, check.property)
                cell = cells.get(key)
                guard = cell is not None and cell.op == "archive"
                if check.state == "already":
                    already[key] = None
                    conflicts.pop(key, None)
                elif check.state == "conflict":
                    conflicts[key] = (
                        check.remote,
                        "overwritten" if overwrite and not guard else "skipped",
                        "changed in HubSpot since hsframe created it; not archived"
                        if guard
                        else "changed in HubSpot since it was loaded",
                    )
                elif check.state == "missing":
                    conflicts[key] = (None, "skipped", "the contact no longer exists in HubSpot")
                else:
                    conflicts.pop(key, None)
                    already.pop(key, None)
        elif isinstance(event, Sent):
            for item in event.outcome.inputs:
                if item.id is not None:
                    contact_of[item.row] = item.id
                for name in item.applied:
                    applied[(item.row, name)] = None
                    failed.pop((item.row, name), None)
                    unknown.discard((item.row, name))
                for name, reason in item.failed.items():
                    failed[(item.row, name)] = reason
                    applied.pop((item.row, name), None)
                    if item.unknown:
                        unknown.add((item.row, name))
                    else:
                        unknown.discard((item.row, name))
                for name in item.resend:
                    failed.pop((item.row, name), None)
                    unknown.discard((item.row, name))
                if item.created and item.id is not None:
                    created[item.row] = item.id
                if item.archived and item.id is not None:
                    archived[item.id] = None
                    failed.pop((item.row, ARCHIVE), None)
                if item.existing_id is not None:
                    existing[item.row] = item.existing_id
        elif isinstance(event, Finished):
            finished = True

    def cell_row(key: tuple[int, str], **extra: Any) -> dict[str, Any]:
        cell = cells.get(key)
        row, name = key
        contact = cell.id if cell is not None else None
        if contact is None:
            contact = created.get(row, contact_of.get(row))
        base = {
            "id": contact,
            "row": row,
            "property": name,
            "old": cell.old if cell else None,
            "new": cell.new if cell else None,
        }
        return {**base, **extra}

    skipped_rows = [
        {
            "id": s.id,
            "row": s.row,
            "property": s.property,
            "old": s.old,
            "new": s.new,
            "reason": s.reason,
        }
        for s in plan.skipped
    ]
    skipped_rows += [cell_row(k, reason=ALREADY) for k in already if k in cells]
    not_sent = {k for k, (_, resolution, _) in conflicts.items() if resolution == "skipped"}
    blocked_rows = {key[0] for key in not_sent if key in cells and cells[key].op == "archive"}
    planned_keys = [
        k for k, c in cells.items() if k not in not_sent and k not in already and c.op != "archive"
    ]
    archive_inputs = [
        (i.row, i.id)
        for b in plan.batches
        if b.op == "archive"
        for i in b.inputs
        if i.row not in blocked_rows
    ]
    for row, contact in archive_inputs:
        if contact is not None:
            contact_of.setdefault(row, contact)
    if finished and not header.dry_run:
        for key in planned_keys:
            if key not in applied and key not in failed:
                failed[key] = "not sent"
        for row, contact in archive_inputs:
            if contact not in archived and (row, ARCHIVE) not in failed:
                failed[(row, ARCHIVE)] = "not archived"
    failed_rows = [
        cell_row(k, reason=r, existing_id=existing.get(k[0]))
        for k, r in failed.items()
        if k in cells or k[1] == ARCHIVE
    ]
    conflict_rows = [
        cell_row(k, remote=remote, resolution=resolution, reason=reason)
        for k, (remote, resolution, reason) in conflicts.items()
    ]
    planned_rows = [cell_row(k) for k in planned_keys]
    planned_rows += [cell_row((row, ARCHIVE)) for row, _ in archive_inputs]
    return PushResult(
        push_id=header.push_id,
        kind=header.kind,
        dry_run=header.dry_run,
        applied=_frame(
            [cell_row(k) for k in applied if k in cells and cells[k].op != "archive"],
            CELL_COLUMNS,
        ),
        failed=_frame(failed_rows, (*CELL_COLUMNS, "reason", "existing_id")),
        conflicts=_frame(conflict_rows, (*CELL_COLUMNS, "remote", "resolution", "reason")),
        skipped=_frame(skipped_rows, (*CELL_COLUMNS, "reason")),
        planned=_frame(planned_rows, CELL_COLUMNS),
        created=dict(sorted(created.items())),
        archived=tuple(archived),
        requests=requests,
        journal=journal,
        report=report,
        ignored=tuple(ignored),
        messages=tuple(messages),
        complete=header.dry_run or not plan.batches or (finished and not unknown),
    )


def _counts(result: PushResult) -> dict[str, int]:
    return {
        "applied": len(result.applied),
        "failed": len(result.failed),
        "conflicts": len(result.conflicts),
        "skipped": len(result.skipped),
        "created": len(result.created),
        "archived": len(result.archived),
    }


# --- the run (side effects) -------------------------------------------------------------------


class _Progress:
    """A tqdm bar over the inputs sent (a widget in Jupyter, text in a terminal)."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self.bar = tqdm(total=total, unit=" contacts", desc=description, disable=not enabled)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Sent) and event.outcome.attempt == 1 and not event.outcome.settled:
            self.bar.update(len(event.outcome.inputs))
        elif isinstance(event, Finished):
            self.bar.close()

    def close(self) -> None:
        self.bar.close()


@dataclass
class _Doubt:
    """A batch sent whose outcome is not (fully) known yet."""

    batch: Batch
    at: str
    outcome: BatchOutcome | None = None


class _Engine:
    """One run: reads, sends, settles and emits, on the calling thread and a small pool."""

    def __init__(
        self,
        client: Client,
        schema: Schema,
        header: Header,
        plan: Plan,
        listeners: Sequence[Listener],
    ) -> None:
        self.client = client
        self.schema = schema
        self.canon = _Canon(schema)
        self.header = header
        self.plan = plan
        self.listeners = list(listeners)
        self.events: list[Event] = []
        self.workers = max(1, min(client.settings.max_concurrency, 8))
        self.requests = 0
        self._lock = threading.Lock()
        self.cells = {(c.row, c.property): c for c in plan.cells}
        self.stopped: HubSpotError | None = None

    # -- plumbing ------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.requests += n

    def _read(
        self,
        keys: Sequence[str],
        properties: Sequence[str],
        *,
        by_email: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Contacts by id (or email), 100 per batch read, concurrently; key → record."""
        found: dict[str, dict[str, Any]] = {}
        chunks = _chunks(list(dict.fromkeys(keys)))
        if not chunks:
            return found
        names = sorted(set(properties) | {"email"}) if by_email else sorted(set(properties))

        def read(chunk: Sequence[str]) -> BatchResult:
            self._count()
            return self.client.batch_read(chunk, names, id_property="email" if by_email else None)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="hsframe-read") as pool:
            for answer in pool.map(read, chunks):
                for record in answer.results:
                    if by_email:
                        email = (record.get("properties") or {}).get("email")
                        if email:
                            found[str(email).strip().lower()] = record
                    else:
                        found[str(record.get("id"))] = record
        return found

    # -- checking ------------------------------------------------------------------------

    def check(self, batches: Sequence[Batch], *, overwrite: bool) -> list[Batch]:
        """Read the remote values of what is about to be written; emit :class:`Checked`;
        return the batches without conflicting (or already written) properties."""
        wanted = [i for b in batches if b.op in ("update", "archive") for i in b.inputs if i.before]
        if not wanted:
            return list(batches)
        records = self._read(
            [str(i.id) for i in wanted], sorted({p for i in wanted for p in i.before})
        )
        checks: list[Check] = []
        drop: set[tuple[int, str]] = set()
        blocked: set[int] = set()  # archive inputs whose guard failed
        for item in wanted:
            record = records.get(str(item.id))
            remote_props = (record or {}).get("properties") or {}
            for name, before in item.before.items():
                remote = self.canon(name, remote_props.get(name))
                cell = self.cells.get((item.row, name))
                final = cell.new if cell is not None else None
                if record is None:
                    state: Literal["ok", "already", "conflict", "missing"] = "missing"
                elif self.canon.same(name, remote, self.canon(name, before)):
                    state = "ok"
                elif (
                    cell is not None
                    and cell.op != "archive"
                    and self.canon.same(name, remote, self.canon(name, final))
                ):
                    state = "already"
                else:
                    state = "conflict"
                checks.append(Check(item.row, item.id, name, remote, state))
                if (
                    state == "missing"
                    or state == "already"
                    or (state == "conflict" and not overwrite)
                ):
                    drop.add((item.row, name))
                    if state != "already" and cell is not None and cell.op == "archive":
                        blocked.add(item.row)
        self.emit(Checked(tuple(checks)))
        return [_without(b, drop, blocked) for b in batches]

    # -- sending -------------------------------------------------------------------------

    def _call(self, batch: Batch) -> BatchResult | BaseException:
        bodies = [i.body(batch.op) for i in batch.inputs]
        self._count()
        try:
            if batch.op == "update":
                return self.client.batch_update(bodies)
            if batch.op == "create":
                return self.client.batch_create(bodies)
            if batch.op == "upsert":
                return self.client.batch_upsert(bodies)
            return self.client.batch_archive([b["id"] for b in bodies])
        except HubSpotError as exc:
            return exc

    def send(self, batches: Sequence[Batch]) -> None:
        """Send batches (one phase), settle lost outcomes, send again what did not land."""
        queue = deque(b for b in batches if b.inputs)
        while queue and self.stopped is None:
            doubts = self._send_round(queue)
            queue = deque()
            for doubt in doubts:
                again = self.settle(doubt)
                if again is not None and again.attempt <= _MAX_ATTEMPTS:
                    queue.append(again)
                elif again is not None:
                    self._give_up(again)

    def _send_round(self, queue: deque[Batch]) -> list[_Doubt]:
        doubts: list[_Doubt] = []
        inflight: dict[Future[BatchResult | BaseException], tuple[Batch, str]] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix="hsframe-send") as pool:
            while queue or inflight:
                while queue and len(inflight) < self.workers and self.stopped is None:
                    batch = queue.popleft()
                    at = _now()
                    self.emit(Sending(batch, at))  # the journal records the intent first
                    inflight[pool.submit(self._call, batch)] = (batch, at)
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch, at = inflight.pop(future)
                    answer = future.result()
                    outcome = outcome_of(batch, answer, self.canon)
                    if isinstance(answer, _FATAL) and self.stopped is None:
                        self.stopped = answer
                    if any(i.unknown for i in outcome.inputs):
                        doubts.append(_Doubt(batch, at, outcome))
                    else:
                        self.emit(Sent(outcome, _now()))
        return doubts

    def _give_up(self, batch: Batch) -> None:
        inputs = tuple(
            _unknown(i, "sent several times without a usable answer") for i in batch.inputs
        )
        self.emit(Sent(BatchOutcome(batch.index, batch.attempt, batch.op, None, inputs), _now()))

    # -- settling ------------------------------------------------------------------------

    def settle(self, doubt: _Doubt) -> Batch | None:
        """Read back a batch whose answer was lost; emit its outcome; return what must be
        sent again (as the next attempt), or None."""
        batch = doubt.batch
        known = {}
        if doubt.outcome is not None:
            known = {o.row: o for o in doubt.outcome.inputs if not o.unknown}
        open_inputs = [i for i in batch.inputs if i.row not in known]
        try:
            settled, again = self._settle_inputs(batch.op, open_inputs, doubt.at)
        except HubSpotError as exc:
            if isinstance(exc, _FATAL) and self.stopped is None:
                self.stopped = exc
            why = f"could not read back ({_first_line(exc)}); resume later"
            settled = {i.row: _unknown(i, why) for i in open_inputs}
            again = []
        outcomes = tuple(known.get(i.row) or settled[i.row] for i in batch.inputs)
        status = doubt.outcome.status if doubt.outcome is not None else None
        self.emit(
            Sent(
                BatchOutcome(batch.index, batch.attempt, batch.op, status, outcomes, settled=True),
                _now(),
            )
        )
        if not again:
            return None
        return replace(batch, inputs=tuple(again), attempt=batch.attempt + 1)

    def _settle_inputs(
        self, op: Op, inputs: Sequence[Input], at: str
    ) -> tuple[dict[int, InputOutcome], list[Input]]:
        """Per input: its outcome, and the inputs (or parts) to send again."""
        outcomes: dict[int, InputOutcome] = {}
        again: list[Input] = []
        if op == "archive":
            for item in inputs:  # archiving is idempotent: send again
                outcomes[item.row] = InputOutcome(item.row, item.id, resend=(ARCHIVE,))
                again.append(item)
            return outcomes, again
        if op == "update":
            records = self._read(
                [str(i.id) for i in inputs], sorted({p for i in inputs for p in i.properties})
            )
            for item in inputs:
                outcome, rest = self._settle_update(item, records.get(str(item.id)))
                outcomes[item.row] = outcome
                if rest is not None:
                    again.append(rest)
            return outcomes, again
        # create, upsert: by email, the one reliable unique key
        with_email = [i for i in inputs if _email_of(i)]
        records = self._read(
            [_email_of(i) or "" for i in with_email],
            sorted({p for i in inputs for p in i.properties}),
            by_email=True,
        )
        sent_at = _epoch(at)
        for item in inputs:
            email = _email_of(item)
            if not email:
                outcomes[item.row] = _unknown(
                    item,
                    "the new contact has no email to look it up by; check HubSpot before "
                    "pushing it again",
                )
                continue
            record = records.get(email)
            if record is None:
                outcomes[item.row] = InputOutcome(item.row, None, resend=_props(item))
                again.append(item)
                continue
            contact = _int(record.get("id"))
            created_at = _epoch(record.get("createdAt"))
            ours = created_at is None or sent_at is None or created_at >= sent_at - _CLOCK_SLACK
            applied, interim, failed = _verify(item, record.get("properties") or {}, self.canon)
            if op == "create" and not ours:
                reason = f"a contact with this email already exists (id {contact})"
                outcomes[item.row] = InputOutcome(
                    item.row, None, failed=dict.fromkeys(_props(item), reason), existing_id=contact
                )
            elif op == "upsert" and failed:
                outcomes[item.row] = InputOutcome(item.row, contact, resend=_props(item))
                again.append(item)
            else:
                outcomes[item.row] = InputOutcome(
                    item.row, contact, applied, interim, failed, created=ours
                )
        return outcomes, again

    def _settle_update(
        self, item: Input, record: Mapping[str, Any] | None
    ) -> tuple[InputOutcome, Input | None]:
        if record is None:
            reason = "the contact no longer exists in HubSpot"
            return InputOutcome(item.row, item.id, failed=dict.fromkeys(item.properties, reason)), (
                None
            )
        remote = record.get("properties") or {}
        applied: list[str] = []
        interim: list[str] = []
        failed: dict[str, str] = {}
        resend: dict[str, str] = {}
        for name, sent in item.properties.items():
            got = self.canon(name, remote.get(name))
            if self.canon.same(name, got, self.canon(name, sent)):
                (interim if name in item.interim else applied).append(name)
            elif self.canon.same(name, got, self.canon(name, item.before.get(name))):
                resend[name] = sent
            else:
                failed[name] = (
                    f"changed by someone else while the write was in doubt: HubSpot holds {got!r}"
                )
        outcome = InputOutcome(
            item.row, item.id, tuple(applied), tuple(interim), failed, resend=tuple(resend)
        )
        if not resend:
            return outcome, None
        rest = replace(
            item,
            properties=resend,
            before={k: item.before.get(k) for k in resend},
            interim=tuple(k for k in item.interim if k in resend),
        )
        return outcome, rest

    # -- phases --------------------------------------------------------------------------

    def second_phase(self, batches: Sequence[Batch]) -> list[Batch]:
        """Phase-2 batches, without the inputs whose first step did not land (those get a
        failed outcome now)."""
        landed: set[tuple[int, str]] = set()
        for event in self.events_and_prior():
            if isinstance(event, Sent):
                for item in event.outcome.inputs:
                    landed.update((item.row, name) for name in item.interim)
        kept: list[Batch] = []
        for batch in batches:
            ok = tuple(i for i in batch.inputs if all((i.row, p) in landed for p in i.properties))
            dropped = [i for i in batch.inputs if i not in ok]
            if dropped:
                reason = "not set: clearing the lifecycle stage first did not land"
                self.emit(
                    Sent(
                        BatchOutcome(
                            batch.index,
                            batch.attempt,
                            batch.op,
                            None,
                            tuple(_all_failed(i, reason, None) for i in dropped),
                        ),
                        _now(),
                    )
                )
            if ok:
                kept.append(replace(batch, inputs=ok))
        return kept

    prior: Sequence[Event] = ()

    def events_and_prior(self) -> list[Event]:
        return [*self.prior, *self.events]


def _email_of(item: Input) -> str | None:
    email = item.key or item.properties.get("email")
    return email.strip().lower() if email else None


def _without(batch: Batch, drop: set[tuple[int, str]], blocked: set[int]) -> Batch:
    """The batch without the dropped properties (and inputs left with nothing to send)."""
    inputs: list[Input] = []
    for item in batch.inputs:
        if batch.op == "archive":
            if item.row not in blocked:
                inputs.append(item)
            continue
        keep = {k: v for k, v in item.properties.items() if (item.row, k) not in drop}
        if not keep:
            continue
        if len(keep) == len(item.properties):
            inputs.append(item)
        else:
            inputs.append(
                replace(
                    item,
                    properties=keep,
                    before={k: v for k, v in item.before.items() if k in keep},
                    interim=tuple(k for k in item.interim if k in keep),
                )
            )
    return replace(batch, inputs=tuple(inputs))


def _phase(batches: Iterable[Batch], phase: int) -> list[Batch]:
    return [b for b in batches if b.phase == phase]


def _scope_check(client: Client, *, dry_run: bool, action: str) -> tuple[TokenInfo, list[str]]:
    """The token's information, and a note when a dry run could not write for real."""
    try:
        return client.require_scopes("write"), []
    except MissingScopesError as exc:
        if not dry_run:
            raise MissingScopesError(
                f"Cannot {action}: {exc.message}", missing=exc.missing, hint=exc.hint
            ) from None
        info = client.token_info()
        return info, [
            f"This token cannot write ({', '.join(exc.missing)}): the real run would stop."
        ]


def run_plan(
    client: Client,
    schema: Schema,
    header: Header,
    plan: Plan,
    *,
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
    listeners: Sequence[Listener] = (),
    report: ValidationReport | None = None,
    ignored: Sequence[str] = (),
    messages: Sequence[str] = (),
    check: bool = True,
    expected_portal: int | None = None,
) -> PushResult:
    """Run a plan from the start: scope check, journal, conflict check, send, verify.

    The building block of :func:`push`, :func:`apply_corrections`, :func:`archive` and
    :func:`hsframe.journal.undo`; most code wants one of those.

    Args:
        client: The connection.
        schema: The portal's properties.
        header: The run's header (its ``portal_id`` is filled in from the token).
        plan: What to send.
        progress: Show a progress bar.
        journal_dir: Where to put the journal (None: the default location).
        listeners: More listeners, called after the journal.
        report: The validation report, for the result.
        ignored: Columns that are not properties, for the result.
        messages: Notes for the result.
        check: Run the conflict check (False for explicit archiving).
        expected_portal: Refuse to run if the token belongs to another portal (the one
            the frame was loaded from).

    Returns:
        The result.

    Raises:
        MissingScopesError: The token cannot write (not in a dry run).
        ConfigurationError: The token belongs to another portal than ``expected_portal``.
        PushInterruptedError: The run stopped half way (resume it).
    """
    messages = list(messages)
    action = "archive" if header.kind == "archive" else "write to HubSpot"
    info, notes = _scope_check(client, dry_run=header.dry_run, action=action)
    messages.extend(notes)
    if expected_portal is not None and info.portal_id != expected_portal:
        raise ConfigurationError(
            f"The frame was loaded from portal {expected_portal}, but this token belongs to "
            f"portal {info.portal_id}; nothing was written.",
            hint="Connect with a token of the portal the frame came from.",
        )
    header = replace(header, portal_id=info.portal_id)
    started = Started(header, plan)
    recorder = _open_recorder(started, journal_dir)
    engine = _Engine(client, schema, header, plan, [recorder, *listeners])
    engine.events.append(started)
    for listener in listeners:
        listener(started)
    total = sum(len(b.inputs) for b in plan.batches if b.phase == 1)
    bar = _Progress(total, _description(header), progress and not header.dry_run)
    try:
        return _drive(engine, header, plan, bar, recorder.path, check, report, ignored, messages)
    finally:
        bar.close()


def _description(header: Header) -> str:
    return {"push": "Pushing", "corrections": "Correcting", "archive": "Archiving"}.get(
        header.kind, "Undoing"
    )


def _drive(
    engine: _Engine,
    header: Header,
    plan: Plan,
    bar: _Progress,
    path: Path,
    check: bool,
    report: ValidationReport | None,
    ignored: Sequence[str],
    messages: Sequence[str],
) -> PushResult:
    engine.listeners.append(bar)
    overwrite = header.on_conflict == "overwrite"
    first = _phase(plan.batches, 1)
    if check:
        first = engine.check(first, overwrite=overwrite)
    if not header.dry_run:
        engine.send(first)
        if engine.stopped is None:
            engine.send(engine.second_phase(_phase(plan.batches, 2)))
    return _finish(engine, header, plan, path, report, ignored, messages)


def _finish(
    engine: _Engine,
    header: Header,
    plan: Plan,
    path: Path,
    report: ValidationReport | None,
    ignored: Sequence[str],
    messages: Sequence[str],
) -> PushResult:
    events = engine.events_and_prior()
    if engine.stopped is not None:
        result = tally(
            header,
            plan,
            events,
            requests=engine.requests,
            journal=path,
            report=report,
            ignored=ignored,
            messages=messages,
        )
        raise PushInterruptedError(
            f"The {header.kind} stopped before it was done: {_first_line(engine.stopped)}",
            result=replace(result, complete=False),
            cause=engine.stopped,
        )
    preview = tally(header, plan, [*events, Finished({}, engine.requests, _now())])
    engine.emit(Finished(_counts(preview), engine.requests, _now()))
    return tally(
        header,
        plan,
        engine.events_and_prior(),
        requests=engine.requests,
        journal=path,
        report=report,
        ignored=ignored,
        messages=messages,
    )


def continue_push(
    client: Client,
    schema: Schema,
    header: Header,
    plan: Plan,
    prior: Sequence[Event],
    open_recorder: Callable[[], Listener],
    path: Path,
    *,
    progress: bool = True,
    listeners: Sequence[Listener] = (),
) -> PushResult:
    """Finish a run from its journal: the building block of :func:`hsframe.journal.resume`.

    Batches with an outcome are not sent again. A batch with an intent but no outcome (or
    inputs whose outcome was unknown) is settled by reading back, as a lost answer is in a
    push. Batches never sent are checked for conflicts (time has passed) and sent.

    Args:
        client: The connection (its token must belong to ``header.portal_id``).
        schema: The portal's properties.
        header: The run's header, from the journal.
        plan: The run's plan, from the journal.
        prior: The run's events so far, from the journal.
        open_recorder: Opens the journal for appending (called once the token is checked).
        path: The journal file.
        progress: Show a progress bar.
        listeners: More listeners.

    Returns:
        The whole run's result (what was done before and now).
    """
    info = client.require_scopes("write")
    if header.portal_id is not None and info.portal_id != header.portal_id:
        raise ConfigurationError(
            f"This journal belongs to portal {header.portal_id}, but the token belongs to "
            f"portal {info.portal_id}; nothing was written.",
            hint="Resume with a token of the portal the push was made to.",
        )
    engine = _Engine(client, schema, header, plan, [open_recorder(), *listeners])
    engine.prior = list(prior)
    state = _State.of(plan, prior)
    bar = _Progress(state.remaining(), "Resuming", progress)
    engine.listeners.append(bar)
    try:
        for phase in (1, 2):
            if engine.stopped is not None:
                break
            for doubt in state.doubts(phase):
                again = engine.settle(doubt)
                if again is not None:
                    engine.send([again])
            fresh = state.unsent(phase) + state.resends(phase)
            if phase == 2:
                fresh = engine.second_phase(fresh)
            if fresh:
                fresh = engine.check(fresh, overwrite=header.on_conflict == "overwrite")
            engine.send(fresh)
        return _finish(engine, header, plan, path, None, (), ())
    finally:
        bar.close()


@dataclass
class _State:
    """Where a journaled run stands: per batch, what was intended and what came back."""

    plan: Plan
    intents: dict[tuple[int, int], Sending]
    outcomes: dict[tuple[int, int], BatchOutcome]

    @classmethod
    def of(cls, plan: Plan, events: Iterable[Event]) -> _State:
        intents: dict[tuple[int, int], Sending] = {}
        outcomes: dict[tuple[int, int], BatchOutcome] = {}
        for event in events:
            if isinstance(event, Sending):
                intents[(event.batch.index, event.batch.attempt)] = event
            elif isinstance(event, Sent):
                key = (event.outcome.index, event.outcome.attempt)
                previous = outcomes.get(key)
                if previous is None or event.outcome.settled or not previous.settled:
                    outcomes[key] = _merge(previous, event.outcome)
        return cls(plan, intents, outcomes)

    def _latest(self, index: int) -> int:
        attempts = [a for (i, a) in self.intents if i == index]
        return max(attempts) if attempts else 0

    def doubts(self, phase: int) -> list[_Doubt]:
        """Intents without an outcome, and inputs whose outcome was unknown."""
        found: list[_Doubt] = []
        for batch in _phase(self.plan.batches, phase):
            attempt = self._latest(batch.index)
            if not attempt:
                continue
            intent = self.intents[(batch.index, attempt)]
            outcome = self.outcomes.get((batch.index, attempt))
            if outcome is None:
                found.append(_Doubt(intent.batch, intent.at))
            elif any(i.unknown for i in outcome.inputs):
                found.append(_Doubt(intent.batch, intent.at, outcome))
        return found

    def unsent(self, phase: int) -> list[Batch]:
        return [b for b in _phase(self.plan.batches, phase) if not self._latest(b.index)]

    def resends(self, phase: int) -> list[Batch]:
        """Inputs an outcome left to be sent again (a run that stopped on a 401...)."""
        found: list[Batch] = []
        for batch in _phase(self.plan.batches, phase):
            attempt = self._latest(batch.index)
            outcome = self.outcomes.get((batch.index, attempt))
            if not attempt or outcome is None:
                continue
            intent = self.intents[(batch.index, attempt)].batch
            again: list[Input] = []
            by_row = {o.row: o for o in outcome.inputs}
            for item in intent.inputs:
                result = by_row.get(item.row)
                if result is None or not result.resend or result.unknown:
                    continue
                names = [n for n in result.resend if n in item.properties]
                if batch.op == "archive" or len(names) == len(item.properties):
                    again.append(item)
                elif names:
                    again.append(
                        replace(
                            item,
                            properties={n: item.properties[n] for n in names},
                            before={n: item.before.get(n) for n in names},
                            interim=tuple(n for n in item.interim if n in names),
                        )
                    )
            if again:
                found.append(replace(intent, inputs=tuple(again), attempt=attempt + 1))
        return found

    def remaining(self) -> int:
        return sum(len(b.inputs) for b in self.unsent(1)) + sum(
            len(d.batch.inputs) for d in self.doubts(1)
        )


def _merge(previous: BatchOutcome | None, later: BatchOutcome) -> BatchOutcome:
    """A settled outcome keeps the inputs an earlier answer had already decided."""
    if previous is None:
        return later
    decided = {o.row: o for o in previous.inputs if not o.unknown}
    inputs = tuple(decided.get(o.row, o) if o.unknown else o for o in later.inputs)
    return replace(later, inputs=inputs)


# --- push ---------------------------------------------------------------------------------------


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        listed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {listed}, not {value!r}")


def _cells_of(change_set: pd.DataFrame) -> list[Cell]:
    """The change set's rows as cells."""
    cells: list[Cell] = []
    columns = [change_set[c].tolist() for c in ("id", "row", "property", "old", "new", "kind")]
    for contact, row, name, old, new, kind in zip(*columns, strict=True):
        cells.append(
            Cell(
                row=int(row),
                id=None if pd.isna(contact) else int(contact),
                property=str(name),
                old=_wire(old),
                new=_wire(new),
                op="create" if kind == "create" else "update",
            )
        )
    return cells


def _wire(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _gate_frame(cells: Sequence[Cell], index: pd.Index) -> pd.DataFrame:
    """The wire frame validation judges: the changed cells' new values, by row.

    Unchanged cells are left unset: in ``rows="changed"`` validation judges only changed
    cells (and new contacts, all of whose values are in the change set), so their values
    would be read and ignored. Unique properties are the exception (the whole column is
    compared), filled in by :func:`_validate`.
    """
    columns: dict[str, np.ndarray] = {}
    for cell in cells:
        column = columns.get(cell.property)
        if column is None:
            column = columns[cell.property] = np.full(len(index), None, dtype=object)
        if cell.new is None and cell.op == "update":
            column[cell.row] = ""  # clears the value
        else:
            column[cell.row] = cell.new
    ids = pd.Index(pd.array(index, dtype="Int64"), name="id")
    return pd.DataFrame({k: pd.Series(v, index=ids, dtype=object) for k, v in columns.items()})


def _validate(
    cells: Sequence[Cell],
    change_set: pd.DataFrame,
    index: pd.Index,
    schema: Schema,
    unique_wire: Callable[[str], pd.Series | None],
) -> ValidationReport:
    """Validate the changed cells (rows="changed"), with whole columns for unique ones."""
    wire = _gate_frame(cells, index)
    for name in wire.columns:
        if (name in schema and schema.is_unique(name)) or name == "email":
            whole = unique_wire(str(name))
            if whole is not None:
                current = wire[name].to_numpy(dtype=object)
                filled = whole.to_numpy(dtype=object, na_value=None)
                changed = ~pd.isna(current)
                wire[name] = pd.Series(
                    np.where(changed, current, filled), index=wire.index, dtype=object
                )
    return validate(wire, schema, changed=change_set, rows="changed")


def _apply_gate(
    cells: list[Cell], report: ValidationReport, on_invalid: OnInvalid
) -> tuple[list[Cell], list[Skip]]:
    """Refuse invalid edits, or leave their rows out whole (``on_invalid="skip"``)."""
    if report.ok:
        return cells, []
    if on_invalid == "raise":
        raise InvalidEditsError(report)
    if report.failures["row"].isna().any():
        raise InvalidEditsError(report, frame_level=True)
    bad_rows: dict[int, list[str]] = {}
    by_cell: dict[tuple[int, str], str] = {}
    for record in report.failures.itertuples(index=False):
        row = int(record.row)
        bad_rows.setdefault(row, []).append(f"{record.property}: {record.message}")
        by_cell[(row, str(record.property))] = str(record.message)
    kept: list[Cell] = []
    skips: list[Skip] = []
    for cell in cells:
        if cell.row not in bad_rows:
            kept.append(cell)
            continue
        reason = by_cell.get((cell.row, cell.property))
        reason = (
            f"invalid: {reason}"
            if reason
            else "its row has invalid cells: " + "; ".join(bad_rows[cell.row][:3])
        )
        skips.append(Skip(cell.row, cell.id, cell.property, cell.old, cell.new, reason))
    return kept, skips


@dataclass(frozen=True, eq=False)
class Prepared:
    """What a push knows before it sends anything (see :func:`prepare`).

    Attributes:
        change_set: The change set (:func:`hsframe.diff.changes`).
        cells: The same, as :class:`Cell` values.
        report: The validation report of the changed cells (None: nothing changed).
        schema: The load's schema.
        ignored: Columns that are not contact properties.
        meta: The frame's hsframe metadata (load id, portal id...).
    """

    change_set: pd.DataFrame
    cells: tuple[Cell, ...]
    report: ValidationReport | None
    schema: Schema
    ignored: tuple[str, ...]
    meta: Mapping[str, Any]


def prepare(frame: pd.DataFrame, *, base: pd.DataFrame | None = None) -> Prepared:
    """The local half of a push: the change set and its validation, no request made.

    Validation runs with ``rows="changed"`` on a wire frame built from the change set
    itself (the new values are already wire strings), plus whole columns for the
    properties whose values must be unique; so its cost follows the number of edits, not
    the size of the frame.

    Args:
        frame: The edited frame.
        base: The frame to compare with, instead of the registered baseline.

    Returns:
        The :class:`Prepared` values.

    Raises:
        hsframe.diff.FrameError: The frame is not from hsframe (the message says what
            to do).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email"], progress=False)
        >>> df.loc[df.index[0], "email"] = "not an email"
        >>> ready = prepare(df)
        >>> len(ready.cells), ready.report.ok
        (1, False)
    """
    found = diff.origin(frame, base)
    schema = found.schema
    change_set = diff.changes(frame, found.base, schema=schema)
    ignored = tuple(str(c) for c in change_set.attrs.get("ignored_columns", ()))
    meta = found.meta or {}
    if not len(change_set):
        return Prepared(change_set, (), None, schema, ignored, meta)
    cells = _cells_of(change_set)

    def unique_wire(name: str) -> pd.Series | None:
        if name not in frame.columns or name not in schema:
            return None
        try:
            column = schema.encode(frame[name])
        except CodecError:
            return None
        assert isinstance(column, pd.Series)
        return column

    report = _validate(cells, change_set, frame.index, schema, unique_wire)
    return Prepared(change_set, tuple(cells), report, schema, ignored, meta)


def push(
    frame: pd.DataFrame,
    client: Client | None = None,
    *,
    base: pd.DataFrame | None = None,
    dry_run: bool = False,
    on_invalid: OnInvalid = "raise",
    on_conflict: OnConflict = "skip",
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
    lifecycle: LifecycleMode = "clear-then-set",
    listeners: Sequence[Listener] = (),
) -> PushResult:
    """Write a frame's edits to HubSpot: only the changed cells, validated, checked for
    conflicts, journaled and verified.

    The steps and the number of requests are described in the module docstring. Nothing is
    archived: rows dropped from the frame stay in HubSpot (see :func:`archive`).

    Args:
        frame: A frame from :func:`hsframe.read_contacts` (or what pandas made of it), with
            edits and new rows (``NA`` ids).
        client: The connection; None uses the session's default.
        base: The frame to compare with, instead of the registered baseline.
        dry_run: Plan, validate and check conflicts, but write nothing (the journal says
            so); the result's ``planned`` lists what would be written.
        on_invalid: ``"raise"`` (default) refuses the push if any edit is invalid, with an
            :class:`InvalidEditsError` listing them; ``"skip"`` leaves invalid rows out
            whole (listed in ``skipped``) and sends the rest.
        on_conflict: ``"skip"`` (default) leaves cells changed in HubSpot since the load
            as they are; ``"overwrite"`` writes them anyway. Both list them in
            ``conflicts``.
        progress: Show a progress bar (a widget in Jupyter, text in a terminal).
        journal_dir: Where to write the journal (default: ``HSFRAME_JOURNAL_DIR``, else
            ``~/.hsframe/journal``).
        lifecycle: ``"clear-then-set"`` (default) or ``"direct"``: how a lifecycle stage
            moved backwards is written (module docstring).
        listeners: Callables told each :data:`Event` (e.g. a review widget).

    Returns:
        The :class:`PushResult`. The frame's index gains the ids of the contacts created
        (in place), and the baseline moves forward for the applied cells.

    Raises:
        InvalidEditsError: Edits fail validation (``on_invalid="raise"``); nothing sent.
        MissingScopesError: The token cannot write; nothing sent.
        ConfigurationError: The token belongs to another portal than the frame.
        PushInterruptedError: The push stopped half way; ``hs.resume`` finishes it.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=50) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "jobtitle"], progress=False)
        ...     df.loc[df.index[:3], "jobtitle"] = "Data steward"
        ...     result = push(df, client, progress=False, journal_dir=".")
        ...     again = push(df, client, progress=False, journal_dir=".")
        >>> len(result.applied), result.requests, again.requests
        (3, 2, 0)
    """
    _check_choice("on_invalid", on_invalid, ("raise", "skip"))
    _check_choice("on_conflict", on_conflict, ("skip", "overwrite"))
    _check_choice("lifecycle", lifecycle, ("clear-then-set", "direct"))
    client = client if client is not None else default_client()
    ready = prepare(frame, base=base)
    schema, ignored, report = ready.schema, ready.ignored, ready.report
    load_id = ready.meta.get("load_id")
    push_id = new_push_id()
    header = Header(
        push_id=push_id,
        kind="push",
        portal_id=None,
        started_at=_now(),
        dry_run=dry_run,
        on_conflict=on_conflict,
        load_id=load_id,
    )
    if report is None:
        return tally(header, Plan(push_id), [], ignored=ignored)
    cells = list(ready.cells)
    cells, skips = _apply_gate(cells, report, on_invalid)
    plan = plan_changes(cells, schema, push_id=push_id, lifecycle=lifecycle, skipped=skips)
    if not plan.batches:
        return tally(header, plan, [], report=report, ignored=ignored)
    portal = ready.meta.get("portal_id")
    result = run_plan(
        client,
        schema,
        header,
        plan,
        progress=progress,
        journal_dir=journal_dir,
        listeners=listeners,
        report=report,
        ignored=ignored,
        expected_portal=int(portal) if portal is not None else None,
    )
    if not dry_run:
        move_baseline(frame, result, schema)
    return result


# --- the baseline moves forward -----------------------------------------------------------------


def move_baseline(frame: pd.DataFrame, result: PushResult, schema: Schema) -> None:
    """After a push: give created rows their ids (in ``frame``'s index, in place), and make
    the registered baseline hold what HubSpot now holds for the applied cells, so that the
    next diff shows only what is still to do.

    Cells that failed or conflicted keep their old baseline value: the next push tries (or
    reports) them again.

    Args:
        frame: The frame that was pushed.
        result: The push's result.
        schema: The schema the frame was decoded with.
    """
    if result.created:
        values = pd.array(frame.index, dtype="Int64").copy()
        for row, contact in result.created.items():
            values[row] = contact
        frame.index = pd.Index(values, name=frame.index.name or "id")
    load_id = (frame.attrs.get("hsframe") or {}).get("load_id")
    if load_id is None:
        return
    try:
        base = baseline.get(load_id)
    except baseline.BaselineNotFoundError:
        return
    done = result.applied
    held = result.skipped[result.skipped["reason"] == ALREADY]
    cells = pd.concat([done, held[list(CELL_COLUMNS)]], ignore_index=True) if len(held) else done
    if not len(cells):
        return
    created_rows = set(result.created)
    updates = cells[~cells["row"].isin(created_rows)]
    for name, group in updates.groupby("property", sort=False):
        if name not in base.columns:
            continue
        ids = [int(i) for i in group["id"]]
        present = [i for i in ids if i in base.index]
        if not present:
            continue
        wire = group.set_index(pd.Index(ids))["new"].loc[present]
        base = _set_cells(base, str(name), present, wire, schema)
    new_rows = cells[cells["row"].isin(created_rows)]
    if len(new_rows):
        base = _append_rows(base, new_rows, schema)
    baseline.register(load_id, base)


def _decoded(schema: Schema, name: str, wire: pd.Series) -> pd.Series:
    frame = pd.DataFrame({name: wire.astype(object).where(wire.notna(), None)}, index=wire.index)
    decoded = schema.decode(frame, [name])
    return decoded[name]


def _set_cells(
    base: pd.DataFrame, name: str, ids: list[int], wire: pd.Series, schema: Schema
) -> pd.DataFrame:
    values = _decoded(schema, name, wire)
    column = base[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        extra = [v for v in pd.unique(values.dropna()) if v not in column.cat.categories]
        if extra:
            column = column.cat.add_categories(extra)
        values = values.astype(object)
    column = column.copy()
    try:
        column.loc[ids] = values.to_numpy()
    except (TypeError, ValueError):
        column = column.astype(object)
        column.loc[ids] = values.astype(object).to_numpy()
    base = base.copy(deep=False)
    base[name] = column
    return base


def _append_rows(base: pd.DataFrame, cells: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    ids = pd.Index(
        pd.array(sorted({int(i) for i in cells["id"]}), dtype="Int64"), name=base.index.name
    )
    ids = ids[~ids.isin(base.index)]
    if not len(ids):
        return base
    columns: dict[str, Any] = {}
    for name in base.columns:
        group = cells[cells["property"] == name]
        wire = pd.Series(None, index=ids, dtype=object)
        if len(group):
            wire.loc[[int(i) for i in group["id"]]] = group["new"].to_numpy()
        if name in schema:
            column = _decoded(schema, str(name), wire)
        else:
            column = pd.Series(pd.NA, index=ids, dtype=base[name].dtype)
        old = base[name]
        if isinstance(old.dtype, pd.CategoricalDtype):
            categories = list(old.cat.categories) + [
                v for v in pd.unique(column.dropna()) if v not in set(old.cat.categories)
            ]
            dtype = pd.CategoricalDtype(pd.Index(categories, dtype=old.cat.categories.dtype))
            base_column = old.astype(dtype)
            column = column.astype(object).astype(dtype)
        else:
            base_column = old
            with contextlib.suppress(TypeError, ValueError):
                column = column.astype(old.dtype)
        columns[str(name)] = pd.concat([base_column, column])
    merged = pd.DataFrame(columns, columns=base.columns)
    merged.index.name = base.index.name
    merged.attrs = dict(base.attrs)
    return merged


# --- corrections --------------------------------------------------------------------------------


def apply_corrections(
    frame: pd.DataFrame,
    *,
    key: Literal["email", "id"] = "email",
    client: Client | None = None,
    dry_run: bool = False,
    on_invalid: OnInvalid = "raise",
    on_conflict: OnConflict = "skip",
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
) -> PushResult:
    """Apply one-off bulk corrections from a CSV-like frame: one row per contact, a key
    column and the properties to set.

    The contacts are looked up (a batch read per 100 keys; by ``email`` with HubSpot's
    ``idProperty=email``), compared with what HubSpot holds now, and only the differing cells
    are written, through the same validation, conflict check, journal and verification as
    :func:`push`. An empty cell (NA) is not a correction: that property is left as it is.

    With ``key="email"``, emails are matched stripped and lower-cased, and rows whose email
    HubSpot does not know become new contacts, written with **batch upsert by email**, not
    batch create: an upsert sent twice (after a lost answer, or by
    :func:`hsframe.journal.resume`) updates the contact the first one created instead of
    creating a second, and a contact someone creates with that email in the meantime is
    updated, not duplicated. With ``key="id"``, only existing contacts are corrected; ids
    HubSpot does not know are reported in ``skipped``.

    Requests: one lookup per 100 rows, then as for a push (one conflict-check read and one
    write per 100 contacts changed, one upsert per 100 new ones).

    Args:
        frame: The corrections: a key column (``email``, or ``id`` as a column or the
            index), and one column per property, values as typed or as wire strings
            (``"true"``, ``"2024-03-01"``). Columns that are not properties are reported in
            ``ignored``, never sent.
        key: ``"email"`` or ``"id"``.
        client: The connection; None uses the session's default.
        dry_run: Look up, compare, validate and check, but write nothing.
        on_invalid: As for :func:`push`.
        on_conflict: As for :func:`push`.
        progress: Show a progress bar.
        journal_dir: Where to write the journal.

    Returns:
        The :class:`PushResult`; ``row`` is the position in ``frame``.

    Raises:
        ValueError: Rows without a key, or two rows with the same key (named by position).
        InvalidEditsError: Corrections fail validation (``on_invalid="raise"``).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=20) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     first = sb.contacts()["email"].iloc[0]
        ...     fixes = pd.DataFrame({"email": [f" {first.upper()} ", "new@example.com"],
        ...                           "jobtitle": ["Buyer", "Analyst"]})
        ...     result = apply_corrections(fixes, client=client, progress=False,
        ...                                journal_dir=".")
        >>> len(result.applied), len(result.created)
        (2, 1)
    """
    _check_choice("key", key, ("email", "id"))
    _check_choice("on_invalid", on_invalid, ("raise", "skip"))
    _check_choice("on_conflict", on_conflict, ("skip", "overwrite"))
    client = client if client is not None else default_client()
    schema = Schema.from_definitions(client.property_definitions())
    keys, columns, ignored = _correction_keys(frame, key, schema)
    push_id = new_push_id()
    header = Header(
        push_id=push_id,
        kind="corrections",
        portal_id=None,
        started_at=_now(),
        dry_run=dry_run,
        on_conflict=on_conflict,
    )
    encoded, refused = _encode_corrections(frame, columns, schema)
    engine_requests = 0
    found: dict[str, dict[str, Any]] = {}
    if keys:
        lookup = _Engine(client, schema, header, Plan(push_id), [])
        found = lookup._read(list(keys.values()), columns, by_email=key == "email")
        engine_requests = lookup.requests
    canon = _Canon(schema)
    cells: list[Cell] = []
    skips: list[Skip] = list(refused)
    for row, value in keys.items():
        record = found.get(value)
        if record is None and key == "id":
            for name in columns:
                new = encoded[name][row]
                if new is not None:
                    skips.append(
                        Skip(row, int(value), name, None, new, "no contact with this id in HubSpot")
                    )
            continue
        contact = _int(record.get("id")) if record is not None else None
        remote = (record or {}).get("properties") or {}
        for name in columns:
            new = encoded[name][row]
            if new is None:
                continue
            if record is None:
                cells.append(Cell(row, None, name, None, new, "upsert"))
                continue
            old = canon(name, remote.get(name))
            if not canon.same(name, old, new):
                cells.append(Cell(row, contact, name, old, new, "update"))
        if (
            record is None
            and key == "email"
            and not any(c.row == row and c.property == "email" for c in cells)
        ):
            cells.append(Cell(row, None, "email", None, value, "upsert"))
    change_set = pd.DataFrame(
        {
            "id": pd.array([c.id for c in cells], dtype="Int64"),
            "row": [c.row for c in cells],
            "property": [c.property for c in cells],
            "old": [c.old for c in cells],
            "new": [c.new for c in cells],
            "kind": ["create" if c.op == "upsert" else "update" for c in cells],
        }
    )
    report: ValidationReport | None = None
    if cells:
        # Validation sees only the rows that change (positions renumbered, then mapped
        # back): a row whose contact was not found is no new contact to judge.
        rows = sorted({c.row for c in cells})
        compact = {row: n for n, row in enumerate(rows)}
        ids = pd.array([None] * len(rows), dtype="Int64")
        for cell in cells:
            if cell.id is not None:
                ids[compact[cell.row]] = cell.id
        renumbered = [replace(c, row=compact[c.row]) for c in cells]

        def unique_wire(name: str) -> pd.Series | None:
            return None  # uniqueness is judged among the corrections themselves

        report = _validate(renumbered, change_set, pd.Index(ids), schema, unique_wire)
        kept, gate_skips = _apply_gate(renumbered, report, on_invalid)
        cells = [replace(c, row=rows[c.row]) for c in kept]
        skips.extend(replace(s, row=rows[s.row]) for s in gate_skips)
        report = ValidationReport(
            report.failures.assign(
                row=pd.array(
                    [None if pd.isna(r) else rows[int(r)] for r in report.failures["row"]],
                    dtype="Int64",
                )
            ),
            rows=report.rows,
        )
    plan = plan_changes(cells, schema, push_id=push_id, skipped=skips)
    if not plan.batches:
        result = tally(header, plan, [], requests=engine_requests, report=report, ignored=ignored)
        return result
    result = run_plan(
        client,
        schema,
        header,
        plan,
        progress=progress,
        journal_dir=journal_dir,
        report=report,
        ignored=ignored,
    )
    return replace(result, requests=result.requests + engine_requests)


def _correction_keys(
    frame: pd.DataFrame, key: str, schema: Schema
) -> tuple[dict[int, str], list[str], tuple[str, ...]]:
    """Row position → normalised key; the property columns; the ignored columns."""
    if key in frame.columns:
        raw = frame[key]
    elif frame.index.name == key:
        raw = frame.index.to_series()
    else:
        raise ValueError(f"the corrections have no {key!r} column (nor an index named {key!r})")
    values = raw.astype(object).to_numpy()
    keys: dict[int, str] = {}
    missing: list[int] = []
    for position, value in enumerate(values):
        text = None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
        if key == "email":
            text = str(text).strip().lower() if text is not None else ""
        else:
            try:
                number = float(text) if text is not None and str(text).strip() else math.nan
                text = str(int(number)) if number == number and float(number).is_integer() else ""
            except (TypeError, ValueError):
                text = ""
        if not text:
            missing.append(position)
        else:
            keys[position] = text
    if missing:
        shown = ", ".join(str(p) for p in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise ValueError(
            f"{len(missing)} correction row(s) have no usable {key}: rows {shown} "
            "(positions, from 0); give every row a key or drop those rows"
        )
    seen: dict[str, int] = {}
    repeated: list[str] = []
    for position, value in keys.items():
        if value in seen:
            repeated.append(f"rows {seen[value]} and {position} ({value})")
        else:
            seen[value] = position
    if repeated:
        raise ValueError(
            f"the corrections name the same contact twice ({key} compared "
            f"{'stripped and lower-cased' if key == 'email' else 'as a number'}): "
            + "; ".join(repeated[:10])
        )
    columns = [str(c) for c in frame.columns if c != key and c in schema and c != "id"]
    ignored = tuple(str(c) for c in frame.columns if c != key and c not in schema)
    return keys, columns, ignored


def _encode_corrections(
    frame: pd.DataFrame, columns: Sequence[str], schema: Schema
) -> tuple[dict[str, list[str | None]], list[Skip]]:
    """Each correction column in wire form (None: no correction); refused values as skips."""
    encoded: dict[str, list[str | None]] = {}
    refused: list[Skip] = []
    for name in columns:
        series = frame[name].reset_index(drop=True)
        try:
            wire = schema.encode(series.rename(name))
            assert isinstance(wire, pd.Series)
            encoded[name] = [_wire(v) for v in wire.astype(object)]
        except CodecError:
            values: list[str | None] = []
            for position, value in enumerate(series.astype(object)):
                try:
                    values.append(schema.encode_value(name, value))
                except CodecError as exc:
                    values.append(None)
                    reason = exc.problems[0][2] if exc.problems else exc.message
                    refused.append(
                        Skip(position, None, name, None, repr(value), f"invalid: {reason}")
                    )
            encoded[name] = values
    return encoded, refused


# --- archive ------------------------------------------------------------------------------------


def archive(
    ids: Iterable[int | str],
    client: Client | None = None,
    *,
    dry_run: bool = False,
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
) -> PushResult:
    """Archive contacts, explicitly (a push never archives the rows a frame dropped).

    Batch archive, 100 per request, journaled. HubSpot keeps archived contacts restorable
    for 90 days (in HubSpot: Contacts › Actions › Restore); the API cannot restore them, so
    :func:`hsframe.journal.undo` of an archive reports them instead of restoring them.

    Args:
        ids: Contact ids (repeats are archived once).
        client: The connection; None uses the session's default.
        dry_run: Journal the plan, archive nothing.
        progress: Show a progress bar.
        journal_dir: Where to write the journal.

    Returns:
        The :class:`PushResult`; ``archived`` lists the ids.

    Raises:
        ValueError: An id is not a whole number.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=5) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     gone = archive(sb.contacts().index[:2], client, progress=False, journal_dir=".")
        ...     left = len(sb.contacts())
        >>> len(gone.archived), left
        (2, 3)
    """
    client = client if client is not None else default_client()
    wanted: list[int] = []
    for value in ids:
        try:
            contact = int(str(value).strip())
        except ValueError:
            raise ValueError(f"contact ids are whole numbers, not {value!r}") from None
        if contact not in wanted:
            wanted.append(contact)
    push_id = new_push_id()
    header = Header(push_id, "archive", None, _now(), dry_run=dry_run)
    inputs = [Input(row=i, id=c, trace=f"{push_id}:{i}") for i, c in enumerate(wanted)]
    batches = tuple(Batch(n, "archive", 1, tuple(chunk)) for n, chunk in enumerate(_chunks(inputs)))
    plan = Plan(push_id, (), batches)
    if not batches:
        return tally(header, plan, [])
    schema = Schema.from_definitions([])
    return run_plan(
        client, schema, header, plan, progress=progress, journal_dir=journal_dir, check=False
    )
