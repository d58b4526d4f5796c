"""Tests for hsframe.recovery: resuming a run that stopped, and undoing one.

Crashes are simulated two ways: a listener that raises at a chosen event (the journal, which
listens first, has recorded it; the rest of the run never happens, as in a killed process),
and the sandbox's ``after=True`` faults (the write happens, the answer is lost).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from journal_fixtures import (
    applied_forgotten,
    connect,
    crm_calls,
    edit_record,
    load,
    rechain,
)

from hsframe import baseline, diff
from hsframe.client import Client
from hsframe.errors import ConfigurationError
from hsframe.journal import JournalError, read, result_of
from hsframe.recovery import CANNOT_RESTORE, resume, undo
from hsframe.result import ALREADY, GONE
from hsframe.sandbox import Sandbox
from hsframe.sandbox.seed import sample_contacts
from hsframe.send import ARCHIVE, Checked, Event, Sending, Sent
from hsframe.write import archive, push


class Crash(Exception):
    """Stands for the process dying."""


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    yield Sandbox(contacts=260)
    baseline.clear()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with connect(sb) as c:
        yield c


def the_journal(directory: Path) -> Path:
    [path] = [p for p in directory.iterdir() if "-push-" in p.name]
    return path


def edited(client: Client) -> pd.DataFrame:
    """250 contacts retitled (three update batches) and three new contacts (one create)."""
    df = load(client)
    df.loc[df.index[:250], "jobtitle"] = "Resumed"
    rows = [{"email": f"new{i}@example.com", "firstname": f"New {i}"} for i in range(3)]
    return diff.add(df, rows)


# --- resume --------------------------------------------------------------------------------------


def _crash_at(kind: type, number: int) -> Any:
    seen = {"n": 0}

    def listener(event: Event) -> None:
        if isinstance(event, kind):
            seen["n"] += 1
            if seen["n"] == number:
                raise Crash(f"crashed at {kind.__name__} #{number}")

    return listener


@pytest.mark.parametrize(
    "crash",
    [
        pytest.param((Checked, 1), id="after the conflict check"),
        pytest.param((Sending, 2), id="intent recorded, never sent"),
        pytest.param((Sent, 1), id="one batch done, one in flight"),
        pytest.param((Sent, 3), id="creates in flight"),
    ],
)
def test_resume_finishes_a_crashed_push_without_duplicates(
    sb: Sandbox, journal_dir: Path, crash: tuple[type, int]
) -> None:
    with connect(sb, max_concurrency=2) as client:
        df = edited(client)
        expected = diff.changes(df)
        with pytest.raises(Crash):
            push(df, client, progress=False, journal_dir=journal_dir, listeners=[_crash_at(*crash)])
        path = the_journal(journal_dir)
        assert not read(path).ended and not result_of(path).complete
        sb.clear_requests()
        result = resume(path, client, frame=df, progress=False)
    assert result.complete and result.ok
    assert len(result.applied) == len(expected)
    stored = sb.contacts()
    assert (stored.loc[df.index[:250], "jobtitle"] == "Resumed").all()
    for i in range(3):
        assert (stored["email"] == f"new{i}@example.com").sum() == 1
    assert diff.changes(df).empty  # the frame learnt its new ids, its baseline moved on
    # nothing that landed was written again: one write per batch, at most
    calls = crm_calls(sb)
    assert calls.count("update") <= 3 and calls.count("create") <= 1
    assert read(path).ended
    assert resume(path, client, progress=False).requests == 0


@pytest.mark.parametrize(
    "cut",
    ["nothing", "half a line", "a whole line but its newline"],
)
def test_the_chain_continues_across_a_resume(sb: Sandbox, journal_dir: Path, cut: str) -> None:
    with connect(sb, max_concurrency=1) as client:
        df = load(client)
        df.loc[df.index[:150], "jobtitle"] = "Continued"
        with pytest.raises(Crash):
            push(
                df, client, progress=False, journal_dir=journal_dir, listeners=[_crash_at(Sent, 1)]
            )
        path = the_journal(journal_dir)
        data = path.read_bytes()
        if cut == "half a line":
            data += data[data[:-1].rfind(b"\n") + 1 :][:40]
        elif cut == "a whole line but its newline":
            data = data[:-1]  # the outcome never counted: resume settles its batch again
        path.write_bytes(data)
        kept = data[: data.rfind(b"\n") + 1].count(b"\n")
        result = resume(path, client, frame=df, progress=False)
    assert result.complete and result.ok and len(result.applied) == 150
    contents = read(path)  # the whole file, old part and resumed part, is one chain
    assert contents.ended
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[kept])["record"] == "resumed"  # right after the last whole record
    after = max(n for n, line in enumerate(lines, 1) if '"record":"outcome"' in line)
    assert after > kept  # an outcome the resume wrote
    edit_record(path, after, applied_forgotten)
    with pytest.raises(JournalError, match=f"line {after}: its chain value does not match"):
        read(path)


def test_resume_settles_a_lost_create_by_email(sb: Sandbox, journal_dir: Path) -> None:
    with connect(sb, max_retries=0) as client:
        df = load(client)
        frame = diff.add(df, [{"email": "twice@example.com", "firstname": "Once"}])
        sb.inject(path="/batch/create", drop=True, after=True)  # created, answer lost
        sb.inject(path="/batch/read", drop=True)  # and the read-back fails too
        first = push(frame, client, progress=False, journal_dir=journal_dir)
        assert not first.complete
        assert "outcome unknown" in first.failed.iloc[0]["reason"]
        sb.clear_requests()
        result = resume(first, client, frame=frame, progress=False)
    assert crm_calls(sb) == ["read"]  # found by email: not created again
    assert (sb.contacts()["email"] == "twice@example.com").sum() == 1
    assert result.complete and list(result.created.values()) == [frame.index[-1]]


def test_resume_refuses_another_portals_token(sb: Sandbox, journal_dir: Path) -> None:
    with connect(sb, max_concurrency=1) as client:
        df = load(client)
        df.loc[df.index[:150], "jobtitle"] = "Elsewhere"
        with pytest.raises(Crash):
            push(
                df, client, progress=False, journal_dir=journal_dir, listeners=[_crash_at(Sent, 1)]
            )
    path = the_journal(journal_dir)
    lines = path.read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    header["portal_id"] = 1
    lines[0] = json.dumps(header) + "\n"
    path.write_text("".join(lines))
    rechain(path)  # an edit on purpose (this test's point is the portal, not the chain)
    with connect(sb) as client, pytest.raises(ConfigurationError, match="portal 1"):
        resume(path, client, progress=False)


def test_an_unfinished_run_must_be_resumed_before_it_is_undone(
    sb: Sandbox, journal_dir: Path
) -> None:
    with connect(sb, max_concurrency=1) as client:
        df = load(client)
        df.loc[df.index[:150], "jobtitle"] = "Unfinished"
        with pytest.raises(Crash):
            push(
                df, client, progress=False, journal_dir=journal_dir, listeners=[_crash_at(Sent, 1)]
            )
        path = the_journal(journal_dir)
        with pytest.raises(JournalError, match="resume"):
            undo(path, client, progress=False, journal_dir=journal_dir)
        resume(path, client, progress=False)
        assert len(undo(path, client, progress=False, journal_dir=journal_dir).applied) == 150


def test_a_dry_run_has_nothing_to_resume(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    df = load(client)
    df.loc[df.index[0], "jobtitle"] = "Dry"
    preview = push(df, client, progress=False, journal_dir=journal_dir, dry_run=True)
    with pytest.raises(ValueError, match="dry run"):
        resume(preview, client, progress=False)


# --- undo ----------------------------------------------------------------------------------------


def test_undo_of_an_edited_journal_is_refused_and_writes_nothing(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    targets = df.index[:2]
    df.loc[targets, "jobtitle"] = "Pushed"
    pushed = push(df, client, progress=False, journal_dir=journal_dir)
    assert pushed.journal is not None

    def older(record: dict[str, Any]) -> None:  # the value undo would write back
        record["cells"][0]["old"] = "Edited by hand"

    edit_record(pushed.journal, 2, older)
    before = sb.contacts()
    sb.clear_requests()
    with pytest.raises(JournalError, match="line 2: its chain value does not match"):
        undo(pushed, client, progress=False, journal_dir=journal_dir)
    assert not crm_calls(sb)
    assert sb.contacts().equals(before)
    assert [p.name for p in journal_dir.iterdir()] == [pushed.journal.name]  # no undo journal


def test_undo_restores_and_reports_cells_changed_since(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    before = sb.contacts()
    targets = df.index[:4]
    df.loc[targets, "jobtitle"] = "Regretted"
    pushed = push(df, client, progress=False, journal_dir=journal_dir)
    changed = targets[0]
    client.batch_update([{"id": str(changed), "properties": {"jobtitle": "Colleague's"}}])
    undone = undo(pushed, client, progress=False, journal_dir=journal_dir)
    after = sb.contacts()
    for contact in targets[1:]:
        assert after.loc[contact, "jobtitle"] == before.loc[contact, "jobtitle"]
    assert after.loc[changed, "jobtitle"] == "Colleague's"
    assert list(undone.conflicts["id"]) == [changed]
    assert undone.conflicts.iloc[0]["remote"] == "Colleague's"
    assert read(undone.journal).header.of == pushed.push_id  # type: ignore[arg-type]


def test_undo_reports_old_values_hubspot_now_refuses_and_restores_the_rest(
    journal_dir: Path,
) -> None:
    seed = sample_contacts().head(3).copy()
    seed.loc[seed.index[0], ["email", "lifecyclestage", "jobtitle"]] = [
        "  messy@example.com ",  # stray spaces
        "Lead",  # a stale option: the option is "lead"
        "Old title",
    ]
    with Sandbox(contacts=seed) as sb, connect(sb) as client:
        [messy] = sb.contacts().index[sb.contacts()["jobtitle"] == "Old title"]
        df = load(client)
        df.loc[messy, "email"] = "messy@example.com"
        df.loc[messy, "lifecyclestage"] = "lead"
        df.loc[messy, "jobtitle"] = "New title"
        pushed = push(df, client, progress=False, journal_dir=journal_dir)
        assert len(pushed.applied) == 3
        undone = undo(pushed, client, progress=False, journal_dir=journal_dir)
        after = sb.contacts()
    baseline.clear()
    assert after.loc[messy, "jobtitle"] == "Old title"
    assert list(undone.applied["property"]) == ["jobtitle"]
    refused = undone.skipped[undone.skipped["reason"].str.startswith(CANNOT_RESTORE)]
    assert sorted(refused["property"]) == ["email", "lifecyclestage"]
    assert set(refused["id"]) == {messy} and undone.failed.empty
    assert after.loc[messy, "lifecyclestage"] == "lead"  # left as the push wrote it


def test_undo_archives_created_contacts_only_if_unchanged(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    frame = diff.add(
        df,
        [
            {"email": "keep.me@example.com", "firstname": "Keep"},
            {"email": "drop.me@example.com", "firstname": "Drop"},
        ],
    )
    pushed = push(frame, client, progress=False, journal_dir=journal_dir)
    keep, drop = (pushed.created[r] for r in sorted(pushed.created))
    client.batch_update([{"id": str(keep), "properties": {"firstname": "Edited since"}}])
    undone = undo(pushed, client, progress=False, journal_dir=journal_dir)
    assert undone.archived == (drop,)
    assert keep in sb.contacts().index and drop not in sb.contacts().index
    assert "not archived" in undone.conflicts.iloc[0]["reason"]


def test_undoing_twice_writes_nothing_the_second_time(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Twice"
    frame = diff.add(df, [{"email": "undo.twice@example.com", "firstname": "Twice"}])
    pushed = push(frame, client, progress=False, journal_dir=journal_dir)
    first = undo(pushed, client, progress=False, journal_dir=journal_dir)
    assert first.ok and len(first.archived) == 1 and len(first.applied) == 2
    sb.clear_requests()
    second = undo(pushed, client, progress=False, journal_dir=journal_dir)
    assert second.ok and not second.archived and second.applied.empty
    assert set(crm_calls(sb)) == {"read"}
    reasons = set(second.skipped["reason"])
    assert reasons == {ALREADY, GONE}


def test_an_undo_can_be_undone(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    df = load(client)
    target = int(df.index[df["lifecyclestage"] == "lead"][0])
    df.loc[target, ["lifecyclestage", "city"]] = ["customer", "Undo City"]
    pushed = push(df, client, progress=False, journal_dir=journal_dir)
    undone = undo(pushed, client, progress=False, journal_dir=journal_dir)
    assert undone.ok and sb.contacts().loc[target, "lifecyclestage"] == "lead"  # clear, then set
    redone = undo(undone, client, progress=False, journal_dir=journal_dir)
    assert redone.ok
    assert tuple(sb.contacts().loc[target, ["lifecyclestage", "city"]]) == ("customer", "Undo City")


def test_undo_of_an_archive_says_where_to_restore(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    ids = list(sb.contacts().index[:2])
    gone = archive(ids, client, progress=False, journal_dir=journal_dir)
    sb.clear_requests()
    undone = undo(gone, client, progress=False, journal_dir=journal_dir)
    assert not crm_calls(sb)
    assert undone.skipped["property"].eq(ARCHIVE).all() and len(undone.skipped) == 2
    assert "Restore" in undone.skipped.iloc[0]["reason"]
