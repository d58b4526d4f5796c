"""Writing edits back to HubSpot: plan, check for conflicts, send, verify, report.

A push writes to a production CRM that other people and workflows edit at the same time, and
HubSpot offers no transaction, no ETag and no If-Match (hubspot-api.md §7). So a push is a
short, recorded sequence of steps, each of which can be looked at before the next one runs,
and every one of which can be finished later (:func:`hsframe.recovery.resume`) or taken back
(:func:`hsframe.recovery.undo`). Values come first and side effects last (STYLE.md habit 12):

1. **Change set**: :func:`hsframe.diff.changes`, one row per changed cell, in wire form.
2. **Validation report**: :func:`hsframe.validate.validate_frame` with ``rows="changed"``,
   the very call behind ``df.hs.validate()``. Invalid rows are refused
   (:class:`InvalidEditsError`) or, with ``on_invalid="skip"``, left out whole; read-only
   properties and columns that are not properties are never sent.
3. **Plan** (:mod:`hsframe.plan`, pure): batches of at most 100 inputs, each with only the
   changed properties of one contact; creates carry an ``objectWriteTraceId``
   (``<push id>:<row>``), and so do updates, so that one bad input does not sink its batch
   (HubSpot answers 207 only when every input has one). A lifecycle stage moved backwards is
   planned as clear-then-set in two requests (below).
4. **Journal**: the plan goes to the journal, flushed to disk, before any CRM request.
5. **Conflict check**: before each update batch is sent, one batch read of its contacts,
   for the properties about to be written; a cell whose remote value is no longer the
   baseline's is a conflict, skipped (or, with ``on_conflict="overwrite"``, written anyway)
   and reported. A cell that HubSpot already holds at its new value is not sent again. Each
   batch is sent as soon as its own check is done, so a cell is read one round trip before
   it is written (HubSpot has no If-Match to close that window entirely).
6. **Send**: reads and writes go out concurrently on a small thread pool (as many threads
   as the client's ``max_concurrency``); the transport's rate budget paces them. Each
   batch's intent is journaled before it is sent and its outcome after. Results are matched
   to inputs by id or trace id, never by position.
7. **Verify and report**: every written cell is compared with the properties HubSpot
   returns; a value that did not stick (a lifecycle stage moved backwards) is reported as
   failed, not counted as applied. The :class:`~hsframe.result.PushResult` lists applied,
   failed, conflicting and skipped cells, and the baseline moves forward, so a second push
   sends nothing.

**Requests.** For N changed contacts: at most ``ceil(N/100)`` conflict-check reads and
``ceil(N/100)`` batch writes, so at most ``2 x ceil(N/100)``. Creates need no conflict check.
Two things add requests, only when they occur: contacts whose lifecycle stage moves backwards
(one more batch per 100 of them), and reads that settle a batch whose outcome was lost. The
scope check before the first batch reads the token's information, which is not a CRM request
(the sandbox does not charge it to the API budget);
:attr:`~hsframe.result.PushResult.requests` counts CRM requests only.

**Lifecycle stage.** HubSpot moves ``lifecyclestage`` forward only: setting an earlier stage
is answered 200 and silently not applied (hubspot-api.md §5.4). A backward move is therefore
sent as ``""`` in a first batch (with the contact's other changes) and the earlier stage in a
second batch, sent only after every first-phase batch is done, because inputs inside one batch
are not processed in order. "Earlier" follows the order of the property's options, with
``other`` outside it. ``lifecycle="direct"`` sends backward moves as they are, for portals
where the rule does not apply (one source says v3 PATCH sets any stage; unconfirmed), and
avoids a moment without a stage (which can start workflows); verification reports every
move that did not stick either way.

**New contacts get their ids in place.** After a push, the index of the frame that was
pushed holds the new ids of the rows it created (``frame.index`` is replaced; the values
are not touched), and its baseline gains those rows. This way the frame the user holds is
the one that can be pushed again: a copy in the result could be forgotten, and a second push
of the old frame would create the contacts twice. :attr:`~hsframe.result.PushResult.created`
maps each created row's position to its id.

**Sending** (the conflict check, the batches, settling lost outcomes, the per-batch
events) is :mod:`hsframe.send`; this module plans a run and drives the sender, and
:mod:`hsframe.result` sums it up. Bulk corrections (:mod:`hsframe.corrections`) find their
contacts themselves, then run through :func:`run_plan` like a push.

**Module state (an exception to STYLE.md habit 11).** This module must not import
:mod:`hsframe.journal` (imports flow the other way: :mod:`hsframe.recovery` resumes and undoes
from the journal with :mod:`hsframe.send`'s sender and this module's runs), yet no push may run
unrecorded. So :mod:`hsframe.journal` installs its recorder here when it is imported, which
``import hsframe`` does, through :func:`set_recorder`; a push without one refuses to start
rather than write unrecorded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import pandas as pd

from hsframe import baseline, diff
from hsframe.client import Client, TokenInfo, default_client
from hsframe.errors import (
    ConfigurationError,
    MissingScopesError,
    ValidationError,
)
from hsframe.plan import (
    Batch,
    Cell,
    Input,
    LifecycleMode,
    Plan,
    Skip,
    cells_of,
    chunks,
    new_push_id,
    plan_changes,
)
from hsframe.result import ALREADY, CELL_COLUMNS, PushInterruptedError, PushResult, tally
from hsframe.schema import Schema
from hsframe.send import (
    Event,
    Finished,
    Header,
    Listener,
    OnConflict,
    ProgressBar,
    Sender,
    Started,
    first_line,
    now,
)
from hsframe.validate import ValidationReport, validate_frame

__all__ = [
    "InvalidEditsError",
    "OnInvalid",
    "Prepared",
    "Recorder",
    "RecorderFactory",
    "apply_gate",
    "archive",
    "check_choice",
    "finish",
    "move_baseline",
    "prepare",
    "push",
    "run_plan",
    "set_recorder",
]


OnInvalid: TypeAlias = Literal["raise", "skip"]
"""What a push does with invalid edits: refuse them all, or leave their rows out."""


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
"""Opens a new journal for a run: given its :class:`~hsframe.send.Started` event (written at
once, and synced) and the directory asked for (None: the default)."""

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
        1 invalid cell in 1 row (rows are frame.iloc positions); nothing was sent.
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
            f"{'s' * (rows != 1)} (rows are frame.iloc positions); nothing was sent."
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


# --- the run --------------------------------------------------------------------------------------


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

    The building block of :func:`push`, :func:`hsframe.corrections.apply_corrections`,
    :func:`archive` and :func:`hsframe.recovery.undo`; most code wants one of those.

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
    engine = Sender(client, schema, header, plan, [recorder, *listeners])
    engine.events.append(started)
    for listener in listeners:
        listener(started)
    total = sum(len(b.inputs) for b in plan.batches if b.phase == 1)
    bar = ProgressBar(total, _description(header), progress and not header.dry_run)
    try:
        return _drive(engine, header, plan, bar, recorder.path, check, report, ignored, messages)
    finally:
        bar.close()


def _description(header: Header) -> str:
    return {"push": "Pushing", "corrections": "Correcting", "archive": "Archiving"}.get(
        header.kind, "Undoing"
    )


def _drive(
    engine: Sender,
    header: Header,
    plan: Plan,
    bar: ProgressBar,
    path: Path,
    check: bool,
    report: ValidationReport | None,
    ignored: Sequence[str],
    messages: Sequence[str],
) -> PushResult:
    engine.listeners.append(bar)
    overwrite = header.on_conflict == "overwrite"
    first = _phase(plan.batches, 1)
    engine.send(first, check=check, overwrite=overwrite, dry_run=header.dry_run)
    if not header.dry_run and engine.stopped is None:
        engine.send(engine.second_phase(_phase(plan.batches, 2)))
    return finish(engine, header, plan, path, report=report, ignored=ignored, messages=messages)


def finish(
    engine: Sender,
    header: Header,
    plan: Plan,
    path: Path,
    *,
    report: ValidationReport | None = None,
    ignored: Sequence[str] = (),
    messages: Sequence[str] = (),
) -> PushResult:
    """End a run: emit :class:`~hsframe.send.Finished` and return the result, or, if the run
    was stopped, raise :class:`~hsframe.result.PushInterruptedError` (no ``end`` record: the
    journal stays resumable).

    Args:
        engine: The run's sender.
        header: The run's header.
        plan: The run's plan.
        path: The journal file.
        report: The validation report, for the result.
        ignored: Columns that are not properties, for the result.
        messages: Notes for the result.

    Returns:
        The run's result.

    Raises:
        PushInterruptedError: The run stopped half way.
    """
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
            f"The {header.kind} stopped before it was done: {first_line(engine.stopped)}",
            result=replace(result, complete=False),
            cause=engine.stopped,
        )
    preview = tally(header, plan, [*events, Finished({}, engine.requests, now())])
    engine.emit(Finished(_counts(preview), engine.requests, now()))
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


def _counts(result: PushResult) -> dict[str, int]:
    return {
        "applied": len(result.applied),
        "failed": len(result.failed),
        "conflicts": len(result.conflicts),
        "skipped": len(result.skipped),
        "created": len(result.created),
        "archived": len(result.archived),
    }


# --- push ---------------------------------------------------------------------------------------


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Refuse an option that is not one of its choices, before anything is read or sent: a
    typo such as ``on_conflict="overwite"`` must not fall back to a default and write.
    Shared by :func:`push` and :func:`hsframe.corrections.apply_corrections`.

    Args:
        name: The option's name, for the message.
        value: What was passed.
        choices: What it may be.

    Raises:
        ValueError: ``value`` is not one of ``choices``.

    Example:
        >>> check_choice("on_conflict", "overwite", ("skip", "overwrite"))
        Traceback (most recent call last):
        ...
        ValueError: on_conflict must be 'skip' or 'overwrite', not 'overwite'
    """
    if value not in choices:
        listed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {listed}, not {value!r}")


def apply_gate(
    cells: list[Cell], report: ValidationReport, on_invalid: OnInvalid
) -> tuple[list[Cell], list[Skip]]:
    """Refuse invalid edits, or leave their rows out whole (``on_invalid="skip"``).

    The one gate between validation and the plan, shared by :func:`push` and
    :func:`hsframe.corrections.apply_corrections`, so that both refuse and skip alike.

    Args:
        cells: The cells to send.
        report: Their validation report (its ``row`` is a cell's ``row``).
        on_invalid: ``"raise"`` or ``"skip"``.

    Returns:
        The cells to send, and a :class:`~hsframe.plan.Skip` for each cell left out (every
        cell of a row with a failure, the failure as its reason).

    Raises:
        InvalidEditsError: The report has failures and ``on_invalid="raise"``, or failures
            that belong to no row (no row can be left out to pass them).

    Example:
        >>> cells = [Cell(0, 7, "jobtitle", "CEO", "CTO"), Cell(1, 8, "jobtitle", None, "?")]
        >>> failures = pd.DataFrame([[8, 1, "jobtitle", "?", "expect_x", "not a title"]],
        ...     columns=["id", "row", "property", "value", "expectation", "message"])
        >>> kept, skips = apply_gate(cells, ValidationReport(failures), "skip")
        >>> [c.row for c in kept], [s.reason for s in skips]
        ([0], ['invalid: not a title'])
    """
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

    Validation is :func:`hsframe.validate.validate_frame` with ``rows="changed"``, the very
    call behind ``df.hs.validate()``, so what the user is shown and what the push refuses
    cannot differ; the schema is the load's, found by :func:`hsframe.diff.origin`.

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
    cells = cells_of(change_set)
    # The same call as df.hs.validate(): what the user sees is what the push refuses.
    report = validate_frame(frame, base=base)
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
        listeners: Callables told each :data:`~hsframe.send.Event` (e.g. a review widget).

    Returns:
        The :class:`~hsframe.result.PushResult`. The frame's index gains the ids of the
        contacts created (in place), and the baseline moves forward for the applied cells.

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
    check_choice("on_invalid", on_invalid, ("raise", "skip"))
    check_choice("on_conflict", on_conflict, ("skip", "overwrite"))
    check_choice("lifecycle", lifecycle, ("clear-then-set", "direct"))
    client = client if client is not None else default_client()
    ready = prepare(frame, base=base)
    schema, ignored, report = ready.schema, ready.ignored, ready.report
    load_id = ready.meta.get("load_id")
    push_id = new_push_id()
    header = Header(
        push_id=push_id,
        kind="push",
        portal_id=None,
        started_at=now(),
        dry_run=dry_run,
        on_conflict=on_conflict,
        load_id=load_id,
    )
    if report is None:
        return tally(header, Plan(push_id), [], ignored=ignored)
    cells = list(ready.cells)
    cells, skips = apply_gate(cells, report, on_invalid)
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
    :func:`hsframe.recovery.undo` of an archive reports them instead of restoring them.

    Args:
        ids: Contact ids (repeats are archived once).
        client: The connection; None uses the session's default.
        dry_run: Journal the plan, archive nothing.
        progress: Show a progress bar.
        journal_dir: Where to write the journal.

    Returns:
        The :class:`~hsframe.result.PushResult`; ``archived`` lists the ids.

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
    header = Header(push_id, "archive", None, now(), dry_run=dry_run)
    inputs = [Input(row=i, id=c, trace=f"{push_id}:{i}") for i, c in enumerate(wanted)]
    batches = tuple(Batch(n, "archive", 1, tuple(chunk)) for n, chunk in enumerate(chunks(inputs)))
    plan = Plan(push_id, (), batches)
    if not batches:
        return tally(header, plan, [])
    schema = Schema.from_definitions([])
    return run_plan(
        client, schema, header, plan, progress=progress, journal_dir=journal_dir, check=False
    )
