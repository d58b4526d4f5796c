"""The result of a run: what a push, a correction, an archive, an undo or a resume did.

A run's events (:mod:`hsframe.send`) say what happened batch by batch; :func:`tally` folds
them into a :class:`PushResult`, whose cell tables (applied, failed, conflicts, skipped,
planned) are what the user reads, in a notebook or on the command line. It is a module of its
own because every kind of run builds or reads one: :mod:`hsframe.write` at the end of a push
or an archive, :mod:`hsframe.corrections` for bulk corrections, :mod:`hsframe.journal` and
:mod:`hsframe.recovery` from a journal file on resume and undo, and the command line and the
widgets to report. A reader of the report need not read the sender.

:class:`PushInterruptedError` lives here too: it carries the result of a run that stopped half
way, and whoever reads results catches it (it is raised by :func:`hsframe.write.finish`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hsframe.errors import HubSpotError
from hsframe.plan import Plan
from hsframe.send import ARCHIVE, Checked, Event, Finished, Header, Sent
from hsframe.validate import ValidationReport

__all__ = [
    "ALREADY",
    "CELL_COLUMNS",
    "GONE",
    "PushInterruptedError",
    "PushResult",
    "tally",
]


CELL_COLUMNS = ("id", "row", "property", "old", "new")
"""The columns every cell table of a :class:`PushResult` starts with."""

ALREADY = "HubSpot already holds the new value"
"""The ``skipped`` reason for a cell that needed no write."""

GONE = "the contact is no longer live in HubSpot (already archived)"
"""The ``skipped`` reason for an archive that needed no request."""

_HTML_ROWS = 20


# --- errors ------------------------------------------------------------------------------------


class PushInterruptedError(HubSpotError):
    """A run stopped half way (the token was refused, the daily limit was reached...).

    Everything sent so far is in the journal; :func:`hsframe.recovery.resume` finishes the run
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
        complete: Every batch has an outcome (False: run :func:`hsframe.recovery.resume`).
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
        >>> from hsframe.plan import Cell
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
