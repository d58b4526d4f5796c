"""The journal: an append-only record of every push, from which it can be finished or undone.

A push to a production CRM can die half way (a laptop lid, a kernel restart, a lost
network), and a push someone regrets must be taken back. Both need a record, written before
each step, of what was meant and what happened. :mod:`hsframe.write` emits that as events;
this module writes them down and reads them back; :mod:`hsframe.recovery` uses them to resume
a run or to undo it.

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
``resumed``   :func:`~hsframe.recovery.resume` took over from here
``end``       the run finished: ``requests``, ``counts``
============  ======================================================================

Values are wire strings (null: unset). A crash can leave the last line cut short (no
newline at its end); reading tolerates that (the line is dropped, and
:func:`~hsframe.recovery.resume` truncates it before appending). Any other line that is not a
record, or a record out of place, means the file was edited or damaged: :class:`JournalError`
names the line, and nothing is resumed or undone from it. A journal of another ``format`` is
refused whole.

**The chain.** A line edited into another *valid* record (a plan's new value changed, an
outcome turned from failed into applied) would still parse, and
:func:`~hsframe.recovery.resume` would write it to the CRM. So each record's ``chain`` is the
SHA-256 (hex) of the previous record's ``chain`` (64 zeros for the header: the same width, so
the two parts cannot run into each other) followed by the record's canonical form: the record
without ``chain``, as
``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8.
The canonical form, not the bytes on the line, is hashed so that the chain depends on the
record's values only, never on how a JSON writer spaced or ordered them. Reading recomputes
the chain: the first line that does not match is named. An edited line breaks its own link;
a deleted or inserted line breaks the link of the line after it; a resume continues the
chain from the last whole record. Whole lines lost from the end are not noticed: the file
reads as a run that stopped there, which is what a crash leaves, and
:func:`~hsframe.recovery.resume` settles what it does not know by reading back. The chain
detects accidental edits and damage (an editor that "fixed" a value, a bad copy or sync). It
is not a signature: there is no secret, so whoever edits a journal on purpose can recompute
the chain. That is accepted because the file is private (0600, on the user's machine) and
whoever can write it can as well run hsframe with the same token; what the chain must do is
let no slip go unnoticed.

**Module state.** Importing this module installs :meth:`Journal.create` as the recorder of
every run (:func:`hsframe.write.set_recorder`; the reason is in :mod:`hsframe.write`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from hsframe import send, write
from hsframe.errors import HubSpotError
from hsframe.plan import Batch, Cell, Input, Plan, Skip
from hsframe.result import PushResult, tally
from hsframe.send import (
    BatchOutcome,
    Check,
    Checked,
    Event,
    Finished,
    Header,
    InputOutcome,
    Sending,
    Sent,
    Started,
)

__all__ = [
    "FORMAT",
    "JOURNAL_ENV",
    "Journal",
    "JournalContents",
    "JournalError",
    "default_directory",
    "read",
    "result_of",
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
