"""The journal: an append-only record of every push, from which it can be finished or undone.

A push to a production CRM can die half way (a laptop lid, a kernel restart, a lost
network), and a push someone regrets must be taken back. Both need a record, written before
each step, of what was meant and what happened. :mod:`hsframe.write` emits that as events;
this module writes them down, reads them back, and uses them to :func:`resume` a run or to
:func:`undo` it.

**Where.** One file per run, in ``journal_dir`` if given, else ``$HSFRAME_JOURNAL_DIR``, else
``~/.hsframe/journal/`` (:func:`default_directory`). A directory hsframe creates gets mode
0700; every journal file is created 0600 (``os.open(..., 0o600)``, exclusive), because it
holds contact data (personal data). The name is ``<UTC time>-<kind>-<push id>.jsonl``. The
journal never holds the access token: no event carries it, and HubSpot's error messages are
scrubbed of it by the transport before anything sees them.

**Format.** JSON Lines, UTF-8, one record per line, each written with one ``write`` and
followed by ``fsync``; nothing is ever rewritten. Every record has a ``record`` field, and
a ``chain`` field (below):

============  ======================================================================
``header``    ``format`` (2), ``push_id``, ``kind`` (push, corrections, archive, undo),
              ``portal_id``, ``started_at``, ``dry_run``, ``on_conflict``, ``load_id``,
              ``of`` (the run an undo takes back)
``plan``      ``cells`` (row, id, property, old, new, op), ``skipped`` (the same and a
              reason), ``batches`` (batch, op, phase, inputs: row, id, trace,
              properties as sent, before, interim, key). Written and synced, with the
              header, before the first CRM request.
``checked``   the conflict check: ``checks`` (row, id, property, remote, state)
``intent``    before a batch is sent: ``batch``, ``attempt``, ``inputs`` exactly as sent
``outcome``   after: ``batch``, ``attempt``, ``status``, ``error``, ``settled``, and per
              input ``applied``, ``interim``, ``failed``, ``existing_id``, ``created``,
              ``archived``, ``unknown``, ``resend``
``resumed``   :func:`resume` took over from here
``end``       the run finished: ``requests``, ``counts``
============  ======================================================================

Values are wire strings (null: unset). A crash can leave the last line cut short (no
newline at its end); reading tolerates that (the line is dropped, and :func:`resume`
truncates it before appending). Any other line that is not a record, or a record out of
place, means the file was edited or damaged: :class:`JournalError` names the line, and
nothing is resumed or undone from it. A journal of another ``format`` is refused whole.

**The chain.** A line edited into another *valid* record (a plan's new value changed, an
outcome turned from failed into applied) would still parse, and :func:`resume` would write
it to the CRM. So each record's ``chain`` is the SHA-256 (hex) of the previous record's
``chain`` (64 zeros for the header: the same width, so the two parts cannot run into each
other) followed by the record's canonical form: the record without ``chain``, as
``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8.
The canonical form, not the bytes on the line, is hashed so that the chain depends on the
record's values only, never on how a JSON writer spaced or ordered them. Reading recomputes
the chain: the first line that does not match is named. An edited line breaks its own link;
a deleted or inserted line breaks the link of the line after it; a resume continues the
chain from the last whole record. Whole lines lost from the end are not noticed: the file
reads as a run that stopped there, which is what a crash leaves, and :func:`resume` settles
what it does not know by reading back. The chain detects accidental edits and damage (an
editor that "fixed" a value, a bad copy or sync). It is not a signature: there is no
secret, so whoever edits a journal on purpose can recompute the chain. That is accepted
because the file is private (0600, on the user's machine) and whoever can write it can as
well run hsframe with the same token; what the chain must do is let no slip go unnoticed.

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

**Module state.** Importing this module installs :meth:`Journal.create` as the recorder of
every run (:func:`hsframe.write.set_recorder`; the reason is in :mod:`hsframe.write`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, cast

import pandas as pd

from hsframe import baseline, send, write
from hsframe.client import Client, default_client
from hsframe.errors import ConfigurationError, HubSpotError
from hsframe.plan import Batch, Cell, Input, Plan, Skip, new_push_id, plan_changes
from hsframe.result import PushResult, tally
from hsframe.schema import Schema
from hsframe.send import (
    ARCHIVE,
    BatchOutcome,
    Check,
    Checked,
    Event,
    Finished,
    Header,
    InputOutcome,
    Listener,
    Sending,
    Sent,
    Started,
)
from hsframe.validate import validate

__all__ = [
    "CANNOT_RESTORE",
    "FORMAT",
    "JOURNAL_ENV",
    "Journal",
    "JournalContents",
    "JournalError",
    "default_directory",
    "read",
    "result_of",
    "resume",
    "undo",
]

FORMAT = 2
"""The journal format version this module writes and reads (2: records are chained)."""

JOURNAL_ENV = "HSFRAME_JOURNAL_DIR"
"""The environment variable that moves the default journal directory."""

_RECORDS = ("header", "plan", "checked", "intent", "outcome", "resumed", "end")

_CHAIN = "chain"
"""The field that chains each record to the one before (module docstring)."""

_START = "0" * 64
"""What the header is chained to: as wide as a SHA-256 hex digest, like every other link."""


class JournalError(HubSpotError):
    """A journal that cannot be used: edited, damaged, incomplete, or of another portal."""

    default_hint = (
        "Journals are written by hsframe only; do not edit them. If the file was damaged, "
        "reload the contacts and compare them with what you meant to write."
    )


def default_directory() -> Path:
    """Where journals go when no ``journal_dir`` is given: ``$HSFRAME_JOURNAL_DIR``, else
    ``~/.hsframe/journal``.

    Example:
        >>> default_directory().name
        'journal'
    """
    configured = os.environ.get(JOURNAL_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".hsframe" / "journal"


def _make_directory(directory: Path) -> None:
    """Create ``directory`` (and missing parents) with mode 0700; existing ones are left."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # the umask may have taken bits away; never more than 0700


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _link(previous: str, record: Mapping[str, Any]) -> str:
    """The chain value of ``record`` (without its own ``chain``) after ``previous``.

    The canonical form sorts keys, so the value depends on what the record says, not on
    how it was laid out on the line.
    """
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((previous + canonical).encode("utf-8")).hexdigest()


def _sealed(record: Mapping[str, Any], previous: str) -> tuple[bytes, str]:
    """The line that writes ``record`` chained to ``previous``, and its chain value."""
    # Hash the record as a reader will parse it (tuples come back as lists, keys as
    # strings), or a record that JSON does not round-trip exactly would fail its own check.
    plain = json.loads(_json(record))
    chain = _link(previous, plain)
    return (_json({**plain, _CHAIN: chain}) + "\n").encode(), chain


class Journal:
    """The journal of one run: a :data:`hsframe.send.Listener` that appends records.

    Make one with :meth:`create` (a new run) or :meth:`reopen` (to resume); it writes each
    record with one ``write`` and syncs it to disk before returning. It keeps the last
    record's chain value to chain the next one to; events come from one thread
    (:mod:`hsframe.send` calls listeners on the calling thread), so that needs no lock.
    """

    def __init__(self, path: Path, fd: int, chain: str = _START) -> None:
        self._path = path
        self._fd = fd
        self._chain = chain

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._path

    def __repr__(self) -> str:
        return f"Journal({str(self._path)!r})"

    @classmethod
    def create(cls, started: Started, directory: str | PathLike[str] | None = None) -> Journal:
        """Start the journal of a run: write its header and plan, and sync them.

        Args:
            started: The run's :class:`~hsframe.send.Started` event.
            directory: Where to put it (None: :func:`default_directory`).

        Returns:
            The journal, ready for the run's other events.
        """
        folder = Path(directory).expanduser() if directory is not None else default_directory()
        _make_directory(folder)
        header = started.header
        stamp = header.started_at.replace("-", "").replace(":", "").split(".")[0]
        path = folder / f"{stamp}Z-{header.kind}-{header.push_id}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        journal = cls(path, fd)
        journal._write(_header_record(header), sync=False)
        journal._write(_plan_record(started.plan))
        return journal

    @classmethod
    def reopen(cls, path: str | PathLike[str]) -> Journal:
        """Open an existing journal to append to it, first cutting off a last line that a
        crash left half written, and record that a resume begins, chained to the last whole
        record.

        Args:
            path: The journal file, already checked by :func:`read`.

        Returns:
            The journal.
        """
        target = Path(path)
        fd = os.open(target, os.O_RDWR | os.O_APPEND)
        with open(target, "rb") as handle:
            data = handle.read()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):
            os.ftruncate(fd, whole)
        last = data[: whole - 1].rsplit(b"\n", 1)[-1] if whole else b""
        journal = cls(target, fd, json.loads(last)[_CHAIN] if last else _START)
        journal._write({"record": "resumed", "at": send.now()})
        return journal

    def close(self) -> None:
        """Close the file (further events are an error)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def _write(self, record: Mapping[str, Any], *, sync: bool = True) -> None:
        line, self._chain = _sealed(record, self._chain)
        os.write(self._fd, line)
        if sync:
            os.fsync(self._fd)

    def __call__(self, event: Event) -> None:
        """Record one event of the run (the :class:`Started` one is written by
        :meth:`create`)."""
        if isinstance(event, Started):
            return
        record = _event_record(event)
        self._write(record)
        if isinstance(event, Finished):
            self.close()


write.set_recorder(Journal.create)


# --- records <-> values ----------------------------------------------------------------------


def _header_record(header: Header) -> dict[str, Any]:
    return {
        "record": "header",
        "format": FORMAT,
        "push_id": header.push_id,
        "kind": header.kind,
        "portal_id": header.portal_id,
        "started_at": header.started_at,
        "dry_run": header.dry_run,
        "on_conflict": header.on_conflict,
        "load_id": header.load_id,
        "of": header.of,
    }


def _input_record(item: Input) -> dict[str, Any]:
    return {
        "row": item.row,
        "id": item.id,
        "trace": item.trace,
        "properties": dict(item.properties),
        "before": dict(item.before),
        "interim": list(item.interim),
        "key": item.key,
    }


def _batch_record(batch: Batch) -> dict[str, Any]:
    return {
        "batch": batch.index,
        "attempt": batch.attempt,
        "op": batch.op,
        "phase": batch.phase,
        "inputs": [_input_record(i) for i in batch.inputs],
    }


def _plan_record(plan: Plan) -> dict[str, Any]:
    return {
        "record": "plan",
        "push_id": plan.push_id,
        "cells": [
            {
                "row": c.row,
                "id": c.id,
                "property": c.property,
                "old": c.old,
                "new": c.new,
                "op": c.op,
            }
            for c in plan.cells
        ],
        "skipped": [
            {
                "row": s.row,
                "id": s.id,
                "property": s.property,
                "old": s.old,
                "new": s.new,
                "reason": s.reason,
            }
            for s in plan.skipped
        ],
        "batches": [_batch_record(b) for b in plan.batches],
    }


def _outcome_record(outcome: BatchOutcome) -> dict[str, Any]:
    return {
        "batch": outcome.index,
        "attempt": outcome.attempt,
        "op": outcome.op,
        "status": outcome.status,
        "error": outcome.error,
        "settled": outcome.settled,
        "inputs": [
            {
                "row": i.row,
                "id": i.id,
                "applied": list(i.applied),
                "interim": list(i.interim),
                "failed": dict(i.failed),
                "existing_id": i.existing_id,
                "created": i.created,
                "archived": i.archived,
                "unknown": i.unknown,
                "resend": list(i.resend),
            }
            for i in outcome.inputs
        ],
    }


def _event_record(event: Event) -> dict[str, Any]:
    if isinstance(event, Checked):
        checks = [
            {"row": c.row, "id": c.id, "property": c.property, "remote": c.remote, "state": c.state}
            for c in event.checks
        ]
        return {"record": "checked", "at": send.now(), "checks": checks}
    if isinstance(event, Sending):
        return {"record": "intent", "at": event.at, **_batch_record(event.batch)}
    if isinstance(event, Sent):
        return {"record": "outcome", "at": event.at, **_outcome_record(event.outcome)}
    if isinstance(event, Finished):
        return {
            "record": "end",
            "at": event.at,
            "requests": event.requests,
            "counts": dict(event.counts),
        }
    raise TypeError(f"not a journal event: {event!r}")


def _header_of(record: Mapping[str, Any]) -> Header:
    return Header(
        push_id=str(record["push_id"]),
        kind=record["kind"],
        portal_id=record.get("portal_id"),
        started_at=str(record["started_at"]),
        dry_run=bool(record.get("dry_run", False)),
        on_conflict=record.get("on_conflict", "skip"),
        load_id=record.get("load_id"),
        of=record.get("of"),
    )


def _input_of(record: Mapping[str, Any]) -> Input:
    return Input(
        row=int(record["row"]),
        id=record.get("id"),
        trace=str(record["trace"]),
        properties={str(k): str(v) for k, v in (record.get("properties") or {}).items()},
        before=dict(record.get("before") or {}),
        interim=tuple(record.get("interim") or ()),
        key=record.get("key"),
    )


def _batch_of(record: Mapping[str, Any]) -> Batch:
    return Batch(
        index=int(record["batch"]),
        op=record["op"],
        phase=int(record.get("phase", 1)),
        inputs=tuple(_input_of(i) for i in record["inputs"]),
        attempt=int(record.get("attempt", 1)),
    )


def _plan_of(record: Mapping[str, Any]) -> Plan:
    return Plan(
        push_id=str(record["push_id"]),
        cells=tuple(
            Cell(
                int(c["row"]),
                c.get("id"),
                str(c["property"]),
                c.get("old"),
                c.get("new"),
                c.get("op", "update"),
            )
            for c in record["cells"]
        ),
        batches=tuple(_batch_of(b) for b in record["batches"]),
        skipped=tuple(
            Skip(
                int(s["row"]),
                s.get("id"),
                str(s["property"]),
                s.get("old"),
                s.get("new"),
                str(s["reason"]),
            )
            for s in record.get("skipped") or ()
        ),
    )


def _outcome_of(record: Mapping[str, Any]) -> BatchOutcome:
    return BatchOutcome(
        index=int(record["batch"]),
        attempt=int(record.get("attempt", 1)),
        op=record["op"],
        status=record.get("status"),
        inputs=tuple(
            InputOutcome(
                row=int(i["row"]),
                id=i.get("id"),
                applied=tuple(i.get("applied") or ()),
                interim=tuple(i.get("interim") or ()),
                failed=dict(i.get("failed") or {}),
                existing_id=i.get("existing_id"),
                created=bool(i.get("created")),
                archived=bool(i.get("archived")),
                unknown=bool(i.get("unknown")),
                resend=tuple(i.get("resend") or ()),
            )
            for i in record["inputs"]
        ),
        error=record.get("error"),
        settled=bool(record.get("settled")),
    )


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalContents:
    """A journal, read back.

    Attributes:
        path: The file.
        header: The run's header.
        plan: The run's plan (None when a crash cut the plan record short: nothing was
            sent).
        events: Its events after the plan, in order.
        ended: The run finished (an ``end`` record).
        requests: CRM requests the run made, as its ``end`` record says (0 if none).
    """

    path: Path
    header: Header
    plan: Plan | None
    events: tuple[Event, ...]
    ended: bool
    requests: int = 0


def read(journal: str | PathLike[str] | PushResult) -> JournalContents:
    """Read a journal back, checking every line.

    Args:
        journal: The journal file, or a :class:`~hsframe.result.PushResult` (its journal).

    Returns:
        The :class:`JournalContents`.

    Raises:
        JournalError: A line (other than a half-written last one) is not a record, does not
            match the chain (module docstring), or is out of order; or the journal is of
            another format. The message names the line.
        FileNotFoundError: No such file.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=5) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     done = hs.write.archive(sb.contacts().index[:1], client, progress=False,
        ...                             journal_dir=".")
        >>> contents = read(done.journal)
        >>> contents.header.kind, contents.ended, len(contents.plan.batches)
        ('archive', True, 1)
    """
    path = _path_of(journal)
    return _parse(path, _records(path))


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The file's whole records, numbered by line, each checked against the chain."""
    data = path.read_bytes()
    # Each record is written with its newline in one write: whatever follows the last
    # newline is a line a crash cut short, which never happened (Journal.reopen cuts it off).
    lines = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
    records: list[tuple[int, dict[str, Any]]] = []
    chain = _START
    for number, raw in enumerate(lines, start=1):
        record = _record(path, number, raw)
        if number == 1:
            _check_format(path, record)
        chain = _check_link(path, number, record, chain)
        records.append((number, record))
    return records


def _record(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        record = json.loads(raw.decode("utf-8"))
        if not isinstance(record, dict) or record.get("record") not in _RECORDS:
            raise ValueError("not a journal record")
    except (ValueError, UnicodeDecodeError) as exc:
        raise JournalError(
            f"{path}, line {number}: {_why(exc)}; the journal was edited or damaged, "
            "so hsframe will not resume or undo from it."
        ) from None
    return record


def _check_format(path: Path, first: Mapping[str, Any]) -> None:
    """Refuse a header of another format before its chain is checked: a journal of another
    format would fail the chain for that reason alone, and the message would mislead."""
    found = first.get("format")
    if first.get("record") == "header" and found != FORMAT:
        raise JournalError(
            f"{path}, line 1: journal format {found!r}; this hsframe reads format {FORMAT} "
            "only, so it will not resume or undo from it.",
            hint=(
                f"Resume or undo it with the hsframe version that wrote format {found!r}, or "
                "reload the contacts and compare them with what the run meant to write."
            ),
        )


def _check_link(path: Path, number: int, record: Mapping[str, Any], previous: str) -> str:
    """The record's chain value, if its ``chain`` field holds it (module docstring)."""
    chain = _link(previous, {k: v for k, v in record.items() if k != _CHAIN})
    if record.get(_CHAIN) != chain:
        raise JournalError(
            f"{path}, line {number}: its chain value does not match (the line was changed, "
            "or a line before it removed or added); the journal was edited or damaged, so "
            "hsframe will not resume or undo from it."
        )
    return chain


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    return str(exc)


def _parse(path: Path, records: Sequence[tuple[int, dict[str, Any]]]) -> JournalContents:
    if not records or records[0][1]["record"] != "header":
        raise JournalError(f"{path}: the first line is not a journal header.")
    number, record = records[0]
    try:
        header = _header_of(record)
        plan: Plan | None = None
        events: list[Event] = []
        ended = False
        requests = 0
        for position in range(1, len(records)):
            number, record = records[position]
            kind = record["record"]
            if kind == "header" or (kind == "plan" and plan is not None):
                raise ValueError(f"a second {kind} record")
            if kind != "plan" and plan is None:
                raise ValueError(f"a {kind} record before the plan")
            if ended and kind != "resumed":
                raise ValueError(f"a {kind} record after the end")
            if kind == "resumed":
                ended = False
            elif kind == "plan":
                plan = _plan_of(record)
            elif kind == "checked":
                events.append(Checked(tuple(Check(**c) for c in record["checks"])))
            elif kind == "intent":
                events.append(Sending(_batch_of(record), str(record["at"])))
            elif kind == "outcome":
                events.append(Sent(_outcome_of(record), str(record["at"])))
            elif kind == "end":
                ended = True
                requests = int(record.get("requests") or 0)
                events.append(Finished(dict(record.get("counts") or {}), requests, record["at"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(
            f"{path}, line {number}: the {record.get('record')!r} record does not read "
            f"back ({exc}); the journal was edited or damaged."
        ) from None
    return JournalContents(path, header, plan, tuple(events), ended, requests)


def _path_of(journal: str | PathLike[str] | PushResult) -> Path:
    if isinstance(journal, PushResult):
        if journal.journal is None:
            raise JournalError(
                f"This {journal.kind} had nothing to write, so it has no journal.",
                hint="Nothing to resume or undo.",
            )
        return Path(journal.journal)
    return Path(journal)


def result_of(journal: str | PathLike[str] | PushResult) -> PushResult:
    """What a run did, from its journal alone (no request is made).

    Args:
        journal: The journal file, or a run's result.

    Returns:
        The run's :class:`~hsframe.result.PushResult` as far as the journal goes
        (``complete`` is False for a run that did not finish).

    Raises:
        JournalError: The journal cannot be read (see :func:`read`).
    """
    contents = read(journal)
    plan = contents.plan or Plan(contents.header.push_id)
    return tally(
        contents.header, plan, contents.events, requests=contents.requests, journal=contents.path
    )


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
