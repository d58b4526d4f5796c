"""Writing edits back to HubSpot: plan, check for conflicts, send, verify, report.

A push writes to a production CRM that other people and workflows edit at the same time, and
HubSpot offers no transaction, no ETag and no If-Match (hubspot-api.md §7). So a push is a
short, recorded sequence of steps, each of which can be looked at before the next one runs,
and every one of which can be finished later (:func:`hsframe.journal.resume`) or taken back
(:func:`hsframe.journal.undo`). Values come first and side effects last (STYLE.md habit 12):

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

**New contacts get their ids in place.** After a push, the index of the frame that was
pushed holds the new ids of the rows it created (``frame.index`` is replaced; the values
are not touched), and its baseline gains those rows. This way the frame the user holds is
the one that can be pushed again: a copy in the result could be forgotten, and a second push
of the old frame would create the contacts twice. :attr:`PushResult.created` maps each
created row's position to its id.

**Sending** (the conflict check, the batches, settling lost outcomes, the per-batch
events) is :mod:`hsframe.send`; this module plans a run, drives the sender and sums it up.

**Module state (an exception to STYLE.md habit 11).** This module must not import
:mod:`hsframe.journal` (imports flow the other way: the journal resumes and undoes with
:mod:`hsframe.send`'s sender and this module's results), yet no push may run unrecorded.
So :mod:`hsframe.journal` installs its recorder here when it is imported, which ``import
hsframe`` does, through :func:`set_recorder`; a push without one refuses to start rather
than write unrecorded.
"""

from __future__ import annotations

import contextlib
import html
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

import numpy as np
import pandas as pd

from hsframe import baseline, diff
from hsframe.client import Client, TokenInfo, default_client
from hsframe.errors import (
    ConfigurationError,
    HubSpotError,
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
    wire_value,
)
from hsframe.schema import CodecError, Schema
from hsframe.send import (
    ARCHIVE,
    Canon,
    Checked,
    Event,
    Finished,
    Header,
    Listener,
    OnConflict,
    ProgressBar,
    Sender,
    Sent,
    Started,
    first_line,
    int_or_none,
    now,
)
from hsframe.validate import ValidationReport, validate, validate_frame

__all__ = [
    "ALREADY",
    "CELL_COLUMNS",
    "GONE",
    "CorrectionKeyError",
    "InvalidEditsError",
    "Prepared",
    "PushInterruptedError",
    "PushResult",
    "Recorder",
    "RecorderFactory",
    "apply_corrections",
    "archive",
    "finish",
    "prepare",
    "push",
    "run_plan",
    "set_recorder",
    "tally",
]


OnInvalid: TypeAlias = Literal["raise", "skip"]

CELL_COLUMNS = ("id", "row", "property", "old", "new")
"""The columns every cell table of a :class:`PushResult` starts with."""

ALREADY = "HubSpot already holds the new value"
"""The ``skipped`` reason for a cell that needed no write."""

GONE = "the contact is no longer live in HubSpot (already archived)"
"""The ``skipped`` reason for an archive that needed no request."""

_HTML_ROWS = 20


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


class CorrectionKeyError(HubSpotError, ValueError):
    """Corrections without a usable key, or two rows naming the same contact; nothing was
    sent (not even a lookup).

    The message names rows by position in the frame (``frame.iloc``);
    :meth:`describe` names them by line in the file they were read from (the command
    line does).

    Args:
        key: ``"email"`` or ``"id"``.
        missing: Positions of the rows without a usable key.
        repeated: ``(first, again, key)`` for each row that names the contact an earlier
            row names.

    Attributes:
        key: See Args.
        missing: See Args.
        repeated: See Args.

    Example:
        >>> print(CorrectionKeyError("email", missing=[1, 3]))
        2 correction rows have no usable email: rows 1, 3 (frame.iloc positions); nothing was sent.
        Give every row a key, or drop those rows.
        >>> CorrectionKeyError("email", missing=[1, 3]).describe([2, 3, 5, 6], "fixes.csv")
        '2 correction rows have no usable email: lines 3, 6 of fixes.csv; nothing was sent.'
    """

    def __init__(
        self,
        key: str,
        *,
        missing: Sequence[int] = (),
        repeated: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        self.key = key
        self.missing = tuple(missing)
        self.repeated = tuple(repeated)
        hint = (
            "Give every row a key, or drop those rows."
            if self.missing
            else "Keep one row per contact (merge their corrections into it)."
        )
        super().__init__(self.describe(), hint=hint)

    def describe(self, lines: Sequence[int] | None = None, source: str | None = None) -> str:
        """The message, naming rows by position, or by line of the file they came from.

        Args:
            lines: The file line of each row (``lines[position]``); None names positions.
            source: The file's name, for the message.

        Returns:
            The message (without the hint).
        """

        def number(position: int) -> int:
            return position if lines is None else lines[position]

        noun = "row" if lines is None else "line"
        where = " (frame.iloc positions)" if lines is None else f" of {source}" if source else ""
        if self.missing:
            count = len(self.missing)
            shown = ", ".join(str(number(p)) for p in self.missing[:20])
            shown += " ..." if count > 20 else ""
            return (
                f"{count} correction row{'s' * (count != 1)} {'have' if count != 1 else 'has'} "
                f"no usable {self.key}: {noun}{'s' * (count != 1)} {shown}{where}; nothing "
                "was sent."
            )
        compared = "stripped and lower-cased" if self.key == "email" else "as numbers"
        pairs = "; ".join(
            f"{value} in {noun}s {number(first)} and {number(again)}"
            for first, again, value in self.repeated[:10]
        )
        more = f"; and {len(self.repeated) - 10} more" if len(self.repeated) > 10 else ""
        return (
            f"The corrections name the same contact twice ({self.key}s compared {compared}): "
            f"{pairs}{more}{where}; nothing was sent."
        )


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
        new = self.planned["id"].isna()
        # A new contact has no id yet: it is one contact per row, however many cells it has.
        contacts = self.planned["id"].nunique() + self.planned.loc[new, "row"].nunique()
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

    Example:
        >>> from hsframe.send import BatchOutcome, InputOutcome
        >>> header = Header("p1", "push", 1, "2024-01-01T00:00:00.000Z")
        >>> plan = Plan("p1", (Cell(0, 7, "jobtitle", "CEO", "CTO"),))
        >>> done = BatchOutcome(0, 1, "update", 200, (InputOutcome(0, 7, ("jobtitle",)),))
        >>> result = tally(header, plan, [Sent(done, ""), Finished({}, 1, "")], requests=1)
        >>> result.applied.values.tolist(), result.ok
        ([[7, 0, 'jobtitle', 'CEO', 'CTO']], True)
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

    ids_by_row = {c.row: c.id for c in plan.cells if c.id is not None}

    def cell_row(key: tuple[int, str], **extra: Any) -> dict[str, Any]:
        cell = cells.get(key)
        row, name = key
        contact = cell.id if cell is not None else None
        if contact is None:
            contact = created.get(row, contact_of.get(row, ids_by_row.get(row)))
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
    gone_rows = {k[0] for k in already if k in cells and cells[k].op == "archive"}
    skipped_rows += [
        cell_row(k, reason=ALREADY) for k in already if k in cells and cells[k].op != "archive"
    ]
    skipped_rows += [cell_row((row, ARCHIVE), reason=GONE) for row in sorted(gone_rows)]
    not_sent = {k for k, (_, resolution, _) in conflicts.items() if resolution == "skipped"}
    blocked_rows = {key[0] for key in not_sent if key in cells and cells[key].op == "archive"}
    blocked_rows |= gone_rows
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
    was stopped, raise :class:`PushInterruptedError` (no ``end`` record: the journal stays
    resumable).

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


# --- push ---------------------------------------------------------------------------------------


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        listed = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be {listed}, not {value!r}")


def _gate_frame(cells: Sequence[Cell], index: pd.Index) -> pd.DataFrame:
    """The wire frame validation judges: the changed cells' new values, by row.

    Unchanged cells are left unset: in ``rows="changed"`` validation judges only changed
    cells (and new contacts, all of whose values are in the change set), so their values
    would be read and ignored. Corrections come from no loaded frame, so uniqueness is
    judged among the corrections themselves.
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
    cells: Sequence[Cell], change_set: pd.DataFrame, index: pd.Index, schema: Schema
) -> ValidationReport:
    """Validate cells that come from no loaded frame (corrections), ``rows="changed"``."""
    return validate(_gate_frame(cells, index), schema, changed=change_set, rows="changed")


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
        started_at=now(),
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

    **Stored emails with spaces around them.** Legacy imports leave emails such as
    ``" ann@example.com"`` in a portal. HubSpot's exact lookup by email may not find that
    contact for the key ``ann@example.com`` (whether its email identity ignores the spaces
    is unconfirmed), and the upsert would then create a second contact with the email. So
    emails the lookup did not find are searched for before their rows become new contacts:
    one ``CONTAINS_TOKEN`` filter on ``email`` per email, 5 per search (HubSpot's cap on
    filter groups; search tokenises on punctuation, so the spaces do not matter), and the
    candidates are kept only if their email, stripped and lower-cased, is the key. One
    candidate is the contact: it is corrected like any other, and its email loses the
    spaces (an update of ``email`` in the result). Several (the same email held twice with
    different spaces) refuse the row: it is reported in ``skipped``, naming the contacts,
    since hsframe cannot tell which one is meant; merge them in HubSpot, or key the row by
    id. None: the row is a new contact, as above. A contact created with spaces around its
    email a moment before the search may not be found yet (HubSpot's search index lags).

    Requests: one lookup per 100 rows; with ``key="email"``, one search per 5 emails the
    lookup did not find (more only if a search matches over 200 contacts); then as for a
    push (one conflict-check read and one write per 100 contacts changed, one upsert per
    100 new ones). Searches spend the search budget (5 a second), not the burst budget.

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
        The :class:`PushResult`; ``row`` is the position in ``frame``, from 0
        (``frame.iloc[row]``), in the result, in its skip records and in every error. For a
        CSV read with one header line, that row is on line ``row + 2`` of the file.

    Raises:
        CorrectionKeyError: Rows without a key, or two rows with the same key (named by
            position; a ``ValueError``); nothing is sent.
        ValueError: The frame has no key column.
        InvalidEditsError: Corrections fail validation, or hold values the codec refuses
            (``"1,200"`` for a number), with ``on_invalid="raise"``; each is listed by
            row, property and value. With ``"skip"``, their rows are left out and
            reported in ``skipped`` with the contact id (None for a new contact).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=20) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     first = sb.contacts()["email"].iloc[0]
        ...     fixes = pd.DataFrame({"email": [f" {first.upper()} ", "new@example.com"],
        ...                           "jobtitle": ["Buyer", "Analyst"]})
        ...     result = apply_corrections(fixes, client=client, progress=False,
        ...                                journal_dir=".")
        >>> sorted(result.applied["property"]), list(result.created)  # row 1 is new
        (['email', 'jobtitle', 'jobtitle'], [1])
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
        started_at=now(),
        dry_run=dry_run,
        on_conflict=on_conflict,
    )
    encoded, refused = _encode_corrections(frame, columns, schema)
    engine_requests = 0
    found: dict[str, dict[str, Any]] = {}
    doubts: dict[str, str] = {}
    if keys:
        lookup = Sender(client, schema, header, Plan(push_id), [])
        found, doubts = _look_up(lookup, list(keys.values()), columns, key)
        engine_requests = lookup.requests
    cells, skips = _correction_cells(keys, columns, encoded, found, doubts, key, Canon(schema))
    refused = [_with_contact(skip, keys[skip.row], found, key) for skip in refused]
    skips[:0] = refused
    report: ValidationReport | None = None
    if cells or refused:
        cells, report, gate_skips = _validate_rows(cells, schema, on_invalid, refused)
        skips.extend(gate_skips)
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


def _look_up(
    lookup: Sender, keys: Sequence[str], columns: Sequence[str], key: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The contacts the corrections name (key → record), and the keys whose rows must be
    refused (key → why): emails that HubSpot's exact lookup did not find are searched for
    before their rows become new contacts (see :func:`apply_corrections`)."""
    found = lookup.read(keys, columns, by_email=key == "email")
    doubts: dict[str, str] = {}
    if key != "email":
        return found, doubts
    unfound = [k for k in keys if k not in found]
    for value, matches in lookup.search_emails(unfound, columns).items():
        if matches is None:
            doubts[value] = (
                "HubSpot's search cannot tell whether a contact holds this email with spaces "
                "around it (over 10,000 contacts share its words); key this row by id instead"
            )
        elif len(matches) == 1:
            found[value] = matches[0]
        elif matches:
            *others, last = [str(m.get("id")) for m in matches]
            doubts[value] = (
                f"contacts {', '.join(others)} and {last} all hold this email, with different "
                "spaces around it; merge them in HubSpot (Contacts › Actions › Merge), or key "
                "this row by id"
            )
    return found, doubts


def _correction_cells(
    keys: Mapping[int, str],
    columns: Sequence[str],
    encoded: Mapping[str, Sequence[str | None]],
    found: Mapping[str, Mapping[str, Any]],
    doubts: Mapping[str, str],
    key: str,
    canon: Canon,
) -> tuple[list[Cell], list[Skip]]:
    """The differing cells of the contacts found (updates), the cells of new ones (upserts
    by email), and the rows that cannot be written (skipped): ids HubSpot does not know,
    emails whose contact is in doubt (``doubts``)."""
    cells: list[Cell] = []
    skips: list[Skip] = []
    for row, value in keys.items():
        record = found.get(value)
        wanted = [(name, encoded[name][row]) for name in columns if encoded[name][row] is not None]
        if value in doubts:
            for name, new in [("email", value), *wanted]:
                skips.append(Skip(row, None, name, None, new, doubts[value]))
        elif record is None and key == "id":
            reason = "no contact with this id in HubSpot"
            skips.extend(Skip(row, int(value), name, None, new, reason) for name, new in wanted)
        elif record is None:
            cells.append(Cell(row, None, "email", None, value, "upsert"))
            cells.extend(Cell(row, None, name, None, new, "upsert") for name, new in wanted)
        else:
            contact = int_or_none(record.get("id"))
            remote = record.get("properties") or {}
            if key == "email":
                # Found by its email stripped: a stored email with spaces around it loses
                # them, so that HubSpot's exact lookup finds it next time.
                wanted.insert(0, ("email", str(remote.get("email") or value).strip()))
            for name, new in wanted:
                old = canon(name, remote.get(name))
                if not canon.same(name, old, new):
                    cells.append(Cell(row, contact, name, old, new, "update"))
    return cells, skips


def _validate_rows(
    cells: list[Cell], schema: Schema, on_invalid: OnInvalid, refused: Sequence[Skip] = ()
) -> tuple[list[Cell], ValidationReport, list[Skip]]:
    """Validate corrections as a push validates edits, on the rows that change only.

    Rows are renumbered for validation and mapped back: a correction row whose contact was
    not found is no new contact to judge, and uniqueness is judged among the corrections.
    Values the codec refused (``refused``) join the report as failures, so that
    ``on_invalid="raise"`` names them and ``"skip"`` leaves their rows out like any other.
    """
    if not cells:
        report = ValidationReport(_refusals(refused))
        if on_invalid == "raise" and not report.ok:
            raise InvalidEditsError(report)
        return [], report, []
    rows = sorted({c.row for c in cells})
    compact = {row: n for n, row in enumerate(rows)}
    ids = pd.array([None] * len(rows), dtype="Int64")
    for cell in cells:
        if cell.id is not None:
            ids[compact[cell.row]] = cell.id
    renumbered = [replace(c, row=compact[c.row]) for c in cells]
    change_set = pd.DataFrame(
        {
            "id": pd.array([c.id for c in renumbered], dtype="Int64"),
            "row": [c.row for c in renumbered],
            "property": [c.property for c in renumbered],
            "old": [c.old for c in renumbered],
            "new": [c.new for c in renumbered],
            "kind": ["create" if c.op == "upsert" else "update" for c in renumbered],
        }
    )
    found = _validate(renumbered, change_set, pd.Index(ids), schema)
    failures = found.failures.assign(
        row=pd.array(
            [None if pd.isna(r) else rows[int(r)] for r in found.failures["row"]], dtype="Int64"
        )
    )
    if refused:
        failures = pd.concat([_refusals(refused), failures], ignore_index=True)
    report = ValidationReport(failures, rows=found.rows)
    kept, skips = _apply_gate(cells, report, on_invalid)
    return kept, report, skips


def _refusals(refused: Sequence[Skip]) -> pd.DataFrame:
    """Values the codec refused, as validation failures (the columns of a report)."""
    return pd.DataFrame(
        {
            "id": pd.array([s.id for s in refused], dtype="Int64"),
            "row": pd.array([s.row for s in refused], dtype="Int64"),
            "property": [s.property for s in refused],
            "value": [s.new for s in refused],
            "expectation": ["expect_value_to_be_encodable"] * len(refused),
            "message": [
                f"{s.new} cannot be written: {s.reason.removeprefix('invalid: ')}" for s in refused
            ],
        }
    )


def _with_contact(skip: Skip, value: str, found: Mapping[str, Mapping[str, Any]], key: str) -> Skip:
    """A refused correction with the id of the contact its row names (None: a new one)."""
    if key == "id":
        return replace(skip, id=int(value))
    record = found.get(value)
    return replace(skip, id=None if record is None else int_or_none(record.get("id")))


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
        raise CorrectionKeyError(key, missing=missing)
    seen: dict[str, int] = {}
    repeated: list[tuple[int, int, str]] = []
    for position, value in keys.items():
        if value in seen:
            repeated.append((seen[value], position, value))
        else:
            seen[value] = position
    if repeated:
        raise CorrectionKeyError(key, repeated=repeated)
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
            encoded[name] = [wire_value(v) for v in wire.astype(object)]
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
