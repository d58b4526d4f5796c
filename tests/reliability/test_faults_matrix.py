"""Every operation under every fault: the sandbox's store must end as the user meant.

The matrix is the cross product of five operations and the faults HubSpot (or the network
in between) produces, injected with the sandbox's fault queue on the endpoints each
operation uses:

=============  =============================================================================
operation      what the user does (and the endpoints it meets)
=============  =============================================================================
load           ``read_contacts(properties="all")`` (list, search, batch read)
push           150 contacts edited (titles set, cities cleared) and 3 new rows
               (batch read for the conflict check, batch update, batch create)
corrections    ``apply_corrections`` by email: 120 updates (emails in any case, with
               spaces) and 4 new emails (batch read, a search for the emails the exact
               lookup missed, batch update, batch upsert)
undo           ``undo`` of a push that updated and created (batch read, update, archive)
resume         ``resume`` of a push that crashed after its first batch
               (batch read, batch update, batch create)
=============  =============================================================================

Faults: 429 on the 10-second window, 429 on search's per-second budget (load and
corrections: no other operation searches), the daily limit, 500/502/503/504, a connection
dropped before the request is processed and one dropped after (the write happened, the
answer is lost), an answer slower than the client's read timeout (the request is still
processed, late), HTML error pages, 207 partial batch failures (write endpoints only: a load
reads), batch results in shuffled order, and search index lag (with recent writes before a
load; with a create or upsert whose answer is lost for writes, where settling by search
would create a duplicate).

After each: the whole store is compared with what it held before plus the intent
(:func:`faultkit.verdict`): no contact lost, none created twice, no cell written that was
not in the diff, none of the diff missing; or, when the fault stops the operation (the
daily limit, or ambiguity hsframe cannot settle), the error is clear and the journal's
``resume`` with a fresh client (the next day) finishes the job. Partial failures are
reported per cell; pushing again finishes them. The requests the client sent (from the
sandbox's log) stay within the clean run's count plus a small, per-fault allowance.

``HSFRAME_RELIABILITY=full`` runs every cell of the matrix; the reduced form (``make
test``) runs every fault on push and resume (the write paths with the most at stake) and a
slice of the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from faultkit import (
    FULL,
    WINDOW,
    Intent,
    Ledger,
    frame_verdict,
    make_client,
    unique_emails,
    verdict,
)
from store_checks import crm_requests

import hsframe as hs
from hsframe import corrections, diff, send, write
from hsframe.client import Client
from hsframe.errors import HubSpotError, RateLimitError
from hsframe.result import PushInterruptedError, PushResult
from hsframe.sandbox import CrmSettings, Sandbox
from hsframe.schema import Schema

CONTACTS = 240
PROPERTIES = ["email", "firstname", "lastname", "jobtitle", "city", "lifecyclestage", "seats"]
SLOW_TIMEOUT = 1.0
"""The client's read timeout in the slow-answer scenarios (seconds)."""
SLOW_DELAY = 2.0
"""How late the sandbox processes and answers a slow request."""
LAG = 3.0
"""Search index lag in the index-lag scenarios (seconds)."""


class Crash(Exception):
    """Stands for the process dying (raised by a listener, after the journal wrote)."""


# --- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One kind of fault.

    Attributes:
        name: Its id in the matrix.
        inject: Keyword arguments of ``Sandbox.inject`` (empty: a setting, not a fault).
        count: Requests hit per target endpoint.
        targets: Which of the operation's endpoints it hits: ``all``, ``writes`` (those
            that write), ``last`` (the operation's last endpoint), ``search``.
        settings: CRM settings to switch on for the operation.
        client: Settings of the client that runs the operation.
        allowance: Extra requests each injected fault may cost (a retry; a read-back and
            a resend for an ambiguous write).
        stops: The fault stops the operation (the user resumes the next day).
    """

    name: str
    inject: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    targets: str = "all"
    settings: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    allowance: int = 3
    stops: bool = False


FAULTS = [
    Fault("429-burst", {"status": 429, "policy": "TEN_SECONDLY_ROLLING"}, allowance=1),
    Fault("429-search", {"status": 429, "policy": "SECONDLY"}, targets="search", allowance=1),
    Fault("429-daily", {"status": 429, "policy": "DAILY"}, targets="last", stops=True),
    Fault("500", {"status": 500}, count=2),
    Fault("502", {"status": 502}, count=2),
    Fault("503", {"status": 503}, count=2),
    Fault("504", {"status": 504}, count=2),
    Fault("drop", {"drop": True}),
    Fault("drop-after", {"drop": True, "after": True}),
    Fault(
        "slow",
        {"delay": SLOW_DELAY},
        client={"read_timeout": SLOW_TIMEOUT},
    ),
    Fault("html", {"status": 503, "html": True}),
    Fault("partial-207", {"partial": 2}, targets="writes", allowance=0),
    Fault("shuffled", settings={"shuffle_results": True}, allowance=0),
    Fault(
        "index-lag",
        {"drop": True, "after": True},
        targets="last",
        settings={"search_index_lag": LAG},
    ),
]
BY_NAME = {f.name: f for f in FAULTS}


# --- operations -----------------------------------------------------------------------------


@dataclass
class Stage:
    """An operation set up and ready to run under faults.

    Attributes:
        act: Runs the operation with a client; returns its result (a frame for a load).
        again: Runs it again after partial failures (the user's retry).
        intent: What the store must hold afterwards.
        before: The store before the operation (the intent is applied to it).
        frame: The frame pushed, if any (resume is given it).
    """

    act: Callable[[Client], Any]
    again: Callable[[Client], Any]
    intent: Intent
    before: pd.DataFrame
    frame: pd.DataFrame | None = None


@dataclass(frozen=True)
class Operation:
    """One operation of the matrix: its endpoints (path, method) and its set-up."""

    name: str
    targets: tuple[tuple[str, str | None], ...]
    writes: tuple[int, ...]
    stage: Callable[[Sandbox, Client, Path], Stage]


def _load_properties(client: Client) -> pd.DataFrame:
    return hs.read_contacts(client, properties=PROPERTIES, progress=False)


def _edit(df: pd.DataFrame, store: pd.DataFrame) -> tuple[pd.DataFrame, Intent]:
    """The push's edits, and their intent derived from the store (not from the diff)."""
    intent = Intent()
    ids = [int(i) for i in df.index]
    for n, contact in enumerate(ids[:150]):
        title = f"Reliable {n % 7}"
        df.loc[contact, "jobtitle"] = title
        if store.at[contact, "jobtitle"] != title:
            intent.updates[(contact, "jobtitle")] = title
    for contact in ids[140:160]:
        if pd.notna(df.at[contact, "city"]):
            df.loc[contact, "city"] = None
            intent.updates[(contact, "city")] = None
    rows = [
        {"email": f"reliable.new{k}@example.com", "firstname": f"New {k}", "jobtitle": "Fresh"}
        for k in range(3)
    ]
    for row in rows:
        intent.creates[row["email"]] = dict(row)
    return diff.add(df, rows), intent


def _stage_load(sb: Sandbox, client: Client, journal_dir: Path) -> Stage:
    def act(c: Client) -> pd.DataFrame:
        return hs.read_contacts(c, properties="all", progress=False)

    return Stage(act, act, Intent(), sb.contacts())


def _stage_push(sb: Sandbox, client: Client, journal_dir: Path) -> Stage:
    df = _load_properties(client)
    before = sb.contacts()
    frame, intent = _edit(df, before)

    def act(c: Client) -> PushResult:
        return write.push(frame, c, progress=False, journal_dir=journal_dir)

    return Stage(act, act, intent, before, frame)


def _stage_corrections(sb: Sandbox, client: Client, journal_dir: Path) -> Stage:
    before = sb.contacts()
    emails = unique_emails(before)
    chosen = emails.iloc[:120]
    intent = Intent()
    keys, titles, cities = [], [], []
    for n, (contact, email) in enumerate(chosen.items()):
        keys.append(f"  {email.upper()} " if n % 3 == 0 else email)
        title = f"Corrected {n % 5}"
        titles.append(title)
        if before.at[contact, "jobtitle"] != title:
            intent.updates[(int(contact), "jobtitle")] = title
        city = "Oslo" if n % 2 else None
        cities.append(city)
        if city is not None and before.at[contact, "city"] != city:
            intent.updates[(int(contact), "city")] = city
    for k in range(4):
        email = f"corrected.new{k}@example.com"
        keys.append(email.upper() if k % 2 else email)
        titles.append("New hire")
        cities.append("Rome")
        intent.creates[email] = {"email": email, "jobtitle": "New hire", "city": "Rome"}
    fixes = pd.DataFrame({"email": keys, "jobtitle": titles, "city": cities})

    def act(c: Client) -> PushResult:
        return corrections.apply_corrections(
            fixes, client=c, progress=False, journal_dir=journal_dir
        )

    return Stage(act, act, intent, before)


def _stage_undo(sb: Sandbox, client: Client, journal_dir: Path) -> Stage:
    df = _load_properties(client)
    before = sb.contacts()
    frame, _ = _edit(df, before)
    pushed = write.push(frame, client, progress=False, journal_dir=journal_dir)
    assert pushed.ok and pushed.complete and len(pushed.created) == 3
    intent = Intent(archives=set(pushed.created.values()))

    def act(c: Client) -> PushResult:
        return hs.undo(pushed, c, progress=False, journal_dir=journal_dir)

    return Stage(act, act, intent, before)


def _stage_resume(sb: Sandbox, client: Client, journal_dir: Path) -> Stage:
    df = _load_properties(client)
    before = sb.contacts()
    frame, intent = _edit(df, before)
    seen = {"sent": 0}

    def crash(event: send.Event) -> None:
        if isinstance(event, send.Sent):
            seen["sent"] += 1
            raise Crash("the kernel died after the first batch")

    with make_client(sb, max_concurrency=1) as one, pytest.raises(Crash):
        write.push(frame, one, progress=False, journal_dir=journal_dir, listeners=[crash])
    [journal] = [p for p in journal_dir.iterdir() if "-push-" in p.name]

    def act(c: Client) -> PushResult:
        return hs.resume(journal, c, frame=frame, progress=False)

    def again(c: Client) -> PushResult:
        return write.push(frame, c, progress=False, journal_dir=journal_dir)

    return Stage(act, again, intent, before, frame)


BATCH = "/crm/v3/objects/contacts/batch/"
OPERATIONS = {
    op.name: op
    for op in [
        Operation(
            "load",
            (("/crm/v3/objects/contacts", "GET"), ("/search", "POST"), (BATCH + "read", "POST")),
            (),
            _stage_load,
        ),
        Operation(
            "push",
            ((BATCH + "read", "POST"), (BATCH + "update", "POST"), (BATCH + "create", "POST")),
            (1, 2),
            _stage_push,
        ),
        Operation(
            "corrections",
            (
                (BATCH + "read", "POST"),
                ("/search", "POST"),
                (BATCH + "update", "POST"),
                (BATCH + "upsert", "POST"),
            ),
            (2, 3),
            _stage_corrections,
        ),
        Operation(
            "undo",
            ((BATCH + "read", "POST"), (BATCH + "update", "POST"), (BATCH + "archive", "POST")),
            (1,),
            _stage_undo,
        ),
        Operation(
            "resume",
            ((BATCH + "read", "POST"), (BATCH + "update", "POST"), (BATCH + "create", "POST")),
            (1, 2),
            _stage_resume,
        ),
    ]
}


def _applies(op: Operation, fault: Fault) -> bool:
    if fault.targets == "search":
        return any(path == "/search" for path, _ in op.targets)
    if fault.targets == "writes":
        return bool(op.writes)
    return True


REDUCED = {
    ("load", "429-search"),
    ("corrections", "429-search"),
    ("load", "429-daily"),
    ("load", "drop"),
    ("load", "slow"),
    ("load", "index-lag"),
    ("corrections", "429-daily"),
    ("corrections", "drop-after"),
    ("corrections", "partial-207"),
    ("corrections", "index-lag"),
    ("undo", "503"),
    ("undo", "429-daily"),
    ("undo", "drop-after"),
    ("undo", "partial-207"),
}
"""The reduced form's cells besides every fault on push and resume."""


KNOWN_BUGS: dict[tuple[str, str], str] = {}
"""Cells that fail because of a bug in the product, reported to be fixed: strict xfail."""


def _matrix() -> Iterator[Any]:
    for op in OPERATIONS.values():
        for fault in FAULTS:
            if not _applies(op, fault):
                continue
            if FULL or op.name in ("push", "resume") or (op.name, fault.name) in REDUCED:
                known = KNOWN_BUGS.get((op.name, fault.name))
                marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
                yield pytest.param(op.name, fault.name, id=f"{op.name}-{fault.name}", marks=marks)


# --- running one cell ---------------------------------------------------------------------------


def _targets(op: Operation, fault: Fault) -> list[tuple[str, str | None]]:
    if fault.targets == "search":
        return [t for t in op.targets if t[0] == "/search"]
    if fault.targets == "writes":
        return [op.targets[i] for i in op.writes if "archive" not in op.targets[i][0]]
    if fault.targets == "last":
        return [op.targets[-1]]
    return list(op.targets)


def _sandbox() -> Sandbox:
    return Sandbox(
        contacts=CONTACTS, window=WINDOW, seed=11, settings=CrmSettings(shuffle_results=False)
    )


def _settle(sb: Sandbox, injected: int, deadline: float = SLOW_DELAY + 5.0) -> int:
    """Wait until every fault that requests met is in the log (a slow request is logged
    when the sandbox finally answers it); return how many requests met one."""
    stop = time.monotonic() + deadline
    queued = len(sb.pending_faults)
    while time.monotonic() < stop:
        met = sum(1 for r in sb.requests if r.injected)
        if met >= injected - queued:
            return met
        time.sleep(0.05)
    return sum(1 for r in sb.requests if r.injected)


_clean_counts: dict[str, int] = {}


def _clean_count(name: str, tmp: Path) -> int:
    """CRM requests the operation sends with no fault (measured once per operation)."""
    if name not in _clean_counts:
        op = OPERATIONS[name]
        with _sandbox() as sb, make_client(sb) as client:
            stage = op.stage(sb, client, tmp / "clean-journal")
            sb.clear_requests()
            stage.act(client)
            _clean_counts[name] = len(crm_requests(sb))
    return _clean_counts[name]


def _recent_writes(sb: Sandbox, client: Client) -> None:
    """Someone else writes just before a load (what search's lagging index has not seen)."""
    ids = [str(i) for i in sb.contacts().index[100:120]]
    client.batch_update([{"id": i, "properties": {"firstname": "Moved"}} for i in ids])
    client.batch_create([{"properties": {"email": f"lagging{k}@example.com"}} for k in range(5)])


def _partial_intent(result: PushResult, intent: Intent) -> Intent:
    """What the store must hold after a run with failed inputs: a failed cell keeps what
    HubSpot held before the run (its ``old``), a failed create is not there."""
    created_rows = set(result.created)
    failed_rows: set[int] = set()
    held: dict[tuple[int, str], str | None] = {}
    for record in result.failed.itertuples(index=False):
        row = int(record.row)
        if pd.isna(record.id) or row in created_rows:
            failed_rows.add(row)
        else:
            held[(int(record.id), str(record.property))] = _text(record.old)
    gone = {
        str(record.new).lower()
        for record in result.planned.itertuples(index=False)
        if int(record.row) in failed_rows and record.property == "email"
    }
    partial = intent.without((), gone)
    partial.updates.update(held)
    return partial


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


@pytest.mark.parametrize(("operation", "fault_name"), list(_matrix()))
def test_operation_under_fault(
    operation: str, fault_name: str, tmp_path: Path, ledger: Ledger
) -> None:
    op, fault = OPERATIONS[operation], BY_NAME[fault_name]
    ledger.kind = "fault"
    clean = _clean_count(operation, tmp_path)
    journal_dir = tmp_path / "journal"
    with _sandbox() as sb:
        with make_client(sb) as setup:
            stage = op.stage(sb, setup, journal_dir)
            if fault.name == "index-lag" and operation == "load":
                sb.settings.search_index_lag = LAG
                _recent_writes(sb, setup)
        before = sb.contacts() if operation == "load" else stage.before
        for name, value in fault.settings.items():
            setattr(sb.settings, name, value)
        injected = 0
        if fault.inject:
            for path, method in _targets(op, fault):
                sb.inject(path=path, method=method, count=fault.count, **fault.inject)
                injected += fault.count
        sb.clear_requests()

        outcome: Any = None
        error: HubSpotError | None = None
        client = make_client(sb, **fault.client)
        try:
            outcome = stage.act(client)
        except HubSpotError as exc:
            error = exc
        finally:
            client.close()
        met = _settle(sb, injected)
        ledger.faults += met + (1 if fault.settings else 0)
        ledger.operations += 1
        requests = len(crm_requests(sb))

        if error is not None:
            # Only a fault that stops the operation may end it with an error.
            assert fault.stops, f"{error!r}"
            _check_stop_is_clear(error, fault)
            sb.faults.clear()  # the next day: the daily limit has reset
            with make_client(sb) as fresh:
                if isinstance(error, PushInterruptedError):
                    assert error.result.journal is not None
                    assert not error.result.complete
                    outcome = hs.resume(
                        error.result.journal, fresh, frame=stage.frame, progress=False
                    )
                    ledger.crashes += 1
                else:
                    # Stopped before anything was written (a load, or a correction's
                    # lookup): nothing to resume, so the user runs it again.
                    assert not _written(sb), "a stop before the first write wrote something"
                    outcome = stage.act(fresh)
                ledger.operations += 1
            requests = len(crm_requests(sb))
        ledger.requests += requests
        allowance = fault.allowance * met + (4 if fault.stops else 0)
        if operation == "load":
            allowance += 3  # the loader's plan splits work by timing: a page more or less
        ledger.notes.append(f"{requests} CRM requests (clean run {clean}, allowance {allowance})")
        assert requests <= clean + allowance, (
            f"{requests} CRM requests; a clean run sends {clean}, the fault allows {allowance}"
        )

        if operation == "load":
            schema = Schema.from_definitions(setup_definitions(sb))
            found = ledger.judge(frame_verdict(outcome, schema.decode(sb.contacts())))
            assert found.ok, str(found)
        else:
            assert isinstance(outcome, PushResult)
            if not outcome.complete:
                # Ambiguity hsframe could not settle: the journal finishes it.
                assert outcome.journal is not None
                with make_client(sb) as fresh:
                    outcome = hs.resume(outcome.journal, fresh, frame=stage.frame, progress=False)
                ledger.operations += 1
                assert outcome.complete
            intent = stage.intent
            retried: PushResult | None = None
            if len(outcome.failed):
                assert fault.name == "partial-207", outcome.summary()
                assert outcome.failed["reason"].str.contains("INTERNAL_ERROR").all()
                partial = ledger.judge(
                    verdict(before, sb.contacts(), _partial_intent(outcome, intent))
                )
                assert partial.ok, f"after the partial failure: {partial}"
                with make_client(sb) as fresh:
                    retried = stage.again(fresh)
                ledger.operations += 1
            else:
                assert outcome.ok, outcome.summary()
            found = ledger.judge(verdict(before, sb.contacts(), intent, sb.contacts(archived=True)))
            assert found.ok, str(found)
            if retried is not None:
                assert retried.complete and retried.failed.empty, retried.summary()
                assert retried.ok, retried.summary()  # and no false conflicts


def setup_definitions(sb: Sandbox) -> list[dict[str, Any]]:
    with make_client(sb) as client:
        return client.property_definitions()


def _written(sb: Sandbox) -> bool:
    return any(
        r.method == "POST"
        and not r.path.endswith(("/batch/read", "/search"))
        and r.status
        and r.status < 300
        for r in crm_requests(sb)
    )


def _check_stop_is_clear(error: HubSpotError, fault: Fault) -> None:
    """A stop says what happened and what to do next."""
    text = str(error)
    if fault.name == "429-daily":
        cause = error.cause if isinstance(error, PushInterruptedError) else error
        assert isinstance(cause, RateLimitError) and cause.policy == "DAILY", repr(cause)
        assert "daily" in text.lower()
    if isinstance(error, PushInterruptedError):
        assert "hs.resume(" in text, text


def test_the_matrix_covers_every_operation_and_fault() -> None:
    """The full form's cells: every operation × every fault that can meet it."""
    cells = {(op.name, f.name) for op in OPERATIONS.values() for f in FAULTS if _applies(op, f)}
    assert len(cells) == len(OPERATIONS) * len(FAULTS) - 4  # search 429 x 3, 207 on a load
    assert cells >= REDUCED
