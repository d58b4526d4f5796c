"""Recovery: what is done from a journal, finishing a run that stopped or taking one back.

A push that dies half way must be finished without losing a write or making one twice, and a
push someone regrets must be taken back without clobbering what others changed since. Both
work from the run's journal (:mod:`hsframe.journal`, which writes and reads it) and send
through the same sender as a push (:mod:`hsframe.send`, :func:`hsframe.write.run_plan`).

**Resume** (:func:`resume`) finishes a run from its plan: batches with an outcome are not
sent again; a batch with an intent but no outcome is settled by reading back (an update
HubSpot holds is done; a create is looked up by its email before it is sent again; see
:mod:`hsframe.send`); batches never sent are checked for conflicts, since time has passed,
and sent. Nothing is lost, nothing is created twice, nothing that landed is written twice.

**Undo** (:func:`undo`) writes the old values back where HubSpot still holds what the run
wrote, as a run of its own (journaled, and undoable in turn); cells changed since are
reported as conflicts. Contacts the run created are archived, but only while every property
hsframe wrote on them still holds what it wrote; changes to other properties (notes, scores
HubSpot computes, a workflow's stamps) do not keep a contact from being archived, since
HubSpot changes those on its own after a create. Archived contacts stay restorable in
HubSpot for 90 days. Archives cannot be undone through the API: they are reported.
An old value that HubSpot no longer accepts (an option since removed, an email with stray
spaces: the very mess a cleanup fixes) would make HubSpot refuse the contact's whole input,
so the old values are first judged by the push gate's rules (:func:`hsframe.validate.validate`);
those cells are reported (:data:`CANNOT_RESTORE`) and the contact's other cells restored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from typing import Any, cast

import pandas as pd

from hsframe import baseline, send, write
from hsframe.client import Client, default_client
from hsframe.errors import ConfigurationError
from hsframe.journal import Journal, JournalContents, JournalError, read, result_of
from hsframe.plan import Batch, Cell, Input, Plan, Skip, new_push_id, plan_changes
from hsframe.result import PushResult, tally
from hsframe.schema import Schema
from hsframe.send import ARCHIVE, BatchOutcome, Event, Header, Listener, Sending, Sent
from hsframe.validate import validate

__all__ = ["CANNOT_RESTORE", "resume", "undo"]


# --- resume -------------------------------------------------------------------------------------


def resume(
    journal: str | PathLike[str] | PushResult,
    client: Client | None = None,
    *,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
    listeners: Sequence[Listener] = (),
) -> PushResult:
    """Finish a run that stopped half way, from its journal.

    Batches with an outcome are not sent again; batches whose outcome was lost are settled
    by reading back (module docstring); the rest are checked for conflicts and sent. The
    records are appended to the same journal.

    Args:
        journal: The journal file (:attr:`PushResult.journal`, or the path named by
            :class:`~hsframe.result.PushInterruptedError`), or the result itself.
        client: The connection (a token of the same portal); None uses the default.
        frame: The frame that was pushed, if you still have it: its new rows get their ids
            and its baseline moves forward, as after a push that finished. Without it,
            reload the contacts before pushing that frame again.
        progress: Show a progress bar.
        listeners: More listeners for the run's events.

    Returns:
        The whole run's :class:`~hsframe.result.PushResult` (``requests`` counts this
        call's requests). A run that had finished is returned as it was, with nothing sent.

    Raises:
        JournalError: The journal cannot be read (edited or damaged), or its plan was
            never written (nothing was sent: push again).
        ConfigurationError: The token belongs to another portal than the run's.
        ValueError: The journal is a dry run's (it sent nothing; push again).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=5) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     done = hs.write.archive(sb.contacts().index[:2], client, progress=False,
        ...                             journal_dir=".")
        ...     again = resume(done, client, progress=False)
        >>> again.requests, len(again.archived)
        (0, 2)
    """
    contents = read(journal)
    header = contents.header
    if contents.plan is None:
        raise JournalError(
            f"{contents.path}: the plan was never fully written, so nothing was sent.",
            hint="Push again.",
        )
    if header.dry_run:
        raise ValueError(f"{contents.path} is the journal of a dry run: nothing to finish.")
    done = result_of(contents.path)
    if done.complete:
        return replace(done, requests=0, messages=("Already complete: nothing to resume.",))
    client = client if client is not None else default_client()
    info = client.require_scopes("write")
    if header.portal_id is not None and info.portal_id != header.portal_id:
        raise ConfigurationError(
            f"This journal belongs to portal {header.portal_id}, but the token belongs to "
            f"portal {info.portal_id}; nothing was written.",
            hint="Resume with a token of the portal the push was made to.",
        )
    schema = Schema.from_definitions(client.property_definitions())
    result = _finish_run(client, schema, contents, listeners, progress)
    if frame is not None:
        write.move_baseline(frame, result, _frame_schema(frame, schema))
    return result


def _finish_run(
    client: Client,
    schema: Schema,
    contents: JournalContents,
    listeners: Sequence[Listener],
    progress: bool,
) -> PushResult:
    """Settle what is in doubt, then send what is left, phase by phase."""
    header, plan = contents.header, contents.plan
    assert plan is not None
    sender = send.Sender(
        client,
        schema,
        header,
        plan,
        [Journal.reopen(contents.path), *listeners],
        prior=contents.events,
    )
    state = _State.of(plan, contents.events)
    bar = send.ProgressBar(state.remaining(), "Resuming", progress)
    sender.listeners.append(bar)
    try:
        for phase in (1, 2):
            if sender.stopped is not None:
                break
            for doubt in state.doubts(phase):
                again = sender.settle(doubt)
                if again is not None:
                    sender.send([again])
            fresh = state.unsent(phase) + state.resends(phase)
            if phase == 2:
                fresh = sender.second_phase(fresh)
            # Time has passed since the push: every write still to come is checked again.
            sender.send(fresh, check=True, overwrite=header.on_conflict == "overwrite")
        return write.finish(sender, header, plan, contents.path)
    finally:
        bar.close()


def _phase(batches: Iterable[Batch], phase: int) -> list[Batch]:
    return [b for b in batches if b.phase == phase]


@dataclass
class _State:
    """Where a journaled run stands: per batch, what was intended and what came back.

    A batch's latest attempt decides: no intent means never sent; an intent without an
    outcome (or with inputs whose outcome was unknown) is in doubt; an outcome may leave
    inputs to be sent again (a run stopped by a refused token).
    """

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

    def doubts(self, phase: int) -> list[send.Doubt]:
        """Intents without an outcome, and inputs whose outcome was unknown."""
        found: list[send.Doubt] = []
        for batch in _phase(self.plan.batches, phase):
            attempt = self._latest(batch.index)
            if not attempt:
                continue
            intent = self.intents[(batch.index, attempt)]
            outcome = self.outcomes.get((batch.index, attempt))
            if outcome is None:
                found.append(send.Doubt(intent.batch, intent.at))
            elif any(i.unknown for i in outcome.inputs):
                found.append(send.Doubt(intent.batch, intent.at, outcome))
        return found

    def unsent(self, phase: int) -> list[Batch]:
        """The plan's batches that were never sent."""
        return [b for b in _phase(self.plan.batches, phase) if not self._latest(b.index)]

    def resends(self, phase: int) -> list[Batch]:
        """Inputs an outcome left to be sent again, as each batch's next attempt."""
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
        """Inputs of the first phase still to be sent or settled (for the progress bar)."""
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


def _frame_schema(frame: pd.DataFrame, fallback: Schema) -> Schema:
    load_id = (frame.attrs.get("hsframe") or {}).get("load_id")
    if load_id is not None:
        try:
            registered = baseline.schema(str(load_id))
        except baseline.BaselineNotFoundError:
            registered = None
        if registered is not None:
            return registered
    return fallback


# --- undo ---------------------------------------------------------------------------------------

CANNOT_RESTORE = "cannot restore: HubSpot no longer accepts the old value"
"""The start of the ``skipped`` reason for an undo cell whose old value HubSpot now refuses."""

_UNRESTORABLE = (
    "archived contacts cannot be restored through HubSpot's API; restore them in HubSpot "
    "(Contacts, Actions, Restore) within 90 days"
)


def undo(
    result_or_journal: str | PathLike[str] | PushResult,
    client: Client | None = None,
    *,
    dry_run: bool = False,
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
    listeners: Sequence[Listener] = (),
) -> PushResult:
    """Take a run back: write the old values where HubSpot still holds what it wrote.

    The undo is a run of its own (kind ``undo``): planned, journaled, checked and sent like a
    push, and undoable in turn. A cell that someone changed since the run is left alone and
    listed in ``conflicts``. Contacts the run created are archived if every property hsframe
    wrote on them still holds its value (the module docstring says why only those); archives
    are reported in ``skipped`` (HubSpot's API cannot restore them). An old value HubSpot
    no longer accepts (judged by the push gate's rules) is reported in ``skipped`` too
    (:data:`CANNOT_RESTORE`), and the contact's other cells are still restored.

    Args:
        result_or_journal: The run's :class:`~hsframe.result.PushResult` or its journal file.
        client: The connection (a token of the same portal); None uses the default.
        dry_run: Plan and check, write nothing.
        progress: Show a progress bar.
        journal_dir: Where the undo's journal goes (default as for a push).
        listeners: More listeners for the run's events.

    Returns:
        The undo's :class:`~hsframe.result.PushResult`.

    Raises:
        JournalError: The journal cannot be read, or the run did not finish (resume it
            first: writes whose outcome was lost would otherwise stay).
        ConfigurationError: The token belongs to another portal than the run's.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["jobtitle"], progress=False)
        ...     before = df["jobtitle"].copy()
        ...     df.loc[df.index[:2], "jobtitle"] = "Temp"
        ...     pushed = hs.write.push(df, client, progress=False, journal_dir=".")
        ...     undone = undo(pushed, client, progress=False, journal_dir=".")
        ...     after = hs.read_contacts(client, properties=["jobtitle"], progress=False)
        >>> len(undone.applied), after["jobtitle"].equals(before)
        (2, True)
    """
    contents = read(result_or_journal)
    original = result_of(contents.path)
    header = contents.header
    client = client if client is not None else default_client()
    push_id = new_push_id()
    new_header = Header(
        push_id=push_id,
        kind="undo",
        portal_id=None,
        started_at=send.now(),
        dry_run=dry_run,
        on_conflict="skip",
        of=header.push_id,
    )
    if header.dry_run or contents.plan is None:
        return tally(
            new_header, Plan(push_id), [], messages=("The run wrote nothing: nothing to undo.",)
        )
    if not original.complete:
        raise JournalError(
            f"{contents.path}: this {header.kind} did not finish, so some of its writes may "
            "have landed unrecorded and would not be taken back.",
            hint=f"Finish it first with hs.resume({str(contents.path)!r}), then undo it.",
        )
    schema = Schema.from_definitions(client.property_definitions())
    cells, skips = _undo_cells(contents.plan, original)
    cells, refused = _restorable(cells, schema)
    skips.extend(refused)
    plan = plan_changes(cells, schema, push_id=push_id, skipped=skips)
    if not plan.batches:
        return tally(new_header, plan, [])
    return write.run_plan(
        client,
        schema,
        new_header,
        plan,
        progress=progress,
        journal_dir=journal_dir,
        listeners=listeners,
        expected_portal=header.portal_id,
    )


def _undo_cells(plan: Plan, original: PushResult) -> tuple[list[Cell], list[Skip]]:
    """The cells that take a run back: updates reversed, creates archived (guarded)."""
    ops = {(c.row, c.property): c.op for c in plan.cells}
    created = dict(original.created)
    cells: list[Cell] = []
    skips: list[Skip] = []
    for record in original.applied.itertuples(index=False):
        row, name = int(cast(int, record.row)), str(record.property)
        contact = None if pd.isna(record.id) else int(cast(int, record.id))
        old, new = _text(record.old), _text(record.new)
        if row in created:
            cells.append(Cell(row, contact, name, new, None, "archive"))
        elif ops.get((row, name)) == "upsert":
            reason = "written by upsert to a contact that existed: its earlier value is unknown"
            skips.append(Skip(row, contact, name, new, old, reason))
        else:
            cells.append(Cell(row, contact, name, new, old, "update"))
    for row, contact in created.items():
        if not any(c.row == row for c in cells):
            reason = "none of the values hsframe wrote on it held: not archived"
            skips.append(Skip(row, contact, ARCHIVE, None, None, reason))
    for row, contact in _archived_rows(original):
        skips.append(Skip(row, contact, ARCHIVE, None, None, _UNRESTORABLE))
    return cells, skips


def _restorable(cells: list[Cell], schema: Schema) -> tuple[list[Cell], list[Skip]]:
    """Leave out the old values HubSpot would refuse now, judged as the push gate judges.

    HubSpot refuses an input whole, so one such value would keep the contact's other cells
    from being restored too.
    """
    updates = [c for c in cells if c.op == "update" and c.id is not None and c.property in schema]
    if not updates:
        return cells, []
    ids = sorted({cast(int, c.id) for c in updates})
    at = {contact: n for n, contact in enumerate(ids)}
    columns: dict[str, list[str | None]] = {}
    for cell in updates:
        column = columns.setdefault(cell.property, [None] * len(ids))
        column[at[cast(int, cell.id)]] = "" if cell.new is None else cell.new  # "" clears
    index = pd.Index(pd.array(ids, dtype="Int64"), name="id")
    wire = pd.DataFrame(columns, index=index, dtype=object)
    change_set = pd.DataFrame(
        {
            "id": pd.array([c.id for c in updates], dtype="Int64"),
            "property": [c.property for c in updates],
            "old": [c.old for c in updates],
            "new": [c.new for c in updates],
            "kind": ["update"] * len(updates),
        }
    )
    report = validate(wire, schema, changed=change_set, rows="changed")
    refused: dict[tuple[int, str], str] = {}
    for record in report.failures.itertuples(index=False):
        if not pd.isna(record.id):
            refused.setdefault(
                (int(cast(int, record.id)), str(record.property)), str(record.message)
            )
    kept: list[Cell] = []
    skips: list[Skip] = []
    for cell in cells:
        message = refused.get((cast(int, cell.id), cell.property)) if cell.op == "update" else None
        if message is None:
            kept.append(cell)
        else:
            reason = f"{CANNOT_RESTORE} ({message})"
            skips.append(Skip(cell.row, cell.id, cell.property, cell.old, cell.new, reason))
    return kept, skips


def _archived_rows(original: PushResult) -> Iterable[tuple[int, int]]:
    """(row, id) of the contacts a run archived, other than the ones it had created."""
    rows = {}
    for record in original.planned.itertuples(index=False):
        if record.property == ARCHIVE and not pd.isna(record.id):
            rows[int(cast(int, record.id))] = int(cast(int, record.row))
    for contact in original.archived:
        yield rows.get(contact, -1), contact


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)
