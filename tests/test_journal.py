"""Tests for hsframe.journal: the file itself and reading it back.

Its resume and undo are tested in test_recovery.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from journal_fixtures import (
    applied_forgotten,
    chained,
    connect,
    crm_calls,
    edit_record,
    load,
    rechain,
)

from hsframe import baseline, journal
from hsframe.client import Client
from hsframe.journal import JournalError, read, result_of
from hsframe.recovery import resume
from hsframe.sandbox import Sandbox
from hsframe.write import push


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    yield Sandbox(contacts=260)
    baseline.clear()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with connect(sb) as c:
        yield c


# --- the file ------------------------------------------------------------------------------------


def test_journal_goes_to_the_configured_directory_with_private_modes(
    sb: Sandbox, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(journal.JOURNAL_ENV, str(tmp_path / "private" / "journal"))
    df = load(client)
    df.loc[df.index[0], "jobtitle"] = "Private"
    result = push(df, client, progress=False)
    assert result.journal is not None
    assert result.journal.parent == tmp_path / "private" / "journal"
    assert os.stat(result.journal).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "private").st_mode & 0o777 == 0o700
    assert os.stat(result.journal.parent).st_mode & 0o777 == 0o700


def test_journal_records_every_step_and_never_the_token(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:3], "jobtitle"] = "Recorded"
    df.loc[df.index[3], "email"] = sb.contacts()["email"].iloc[10]  # refused: a duplicate
    result = push(df, client, progress=False, journal_dir=journal_dir, on_invalid="skip")
    text = result.journal.read_text()  # type: ignore[union-attr]
    assert sb.token not in text and sb.token.split("-")[-1] not in text
    kinds = [json.loads(line)["record"] for line in text.splitlines()]
    assert kinds == ["header", "plan", "checked", "intent", "outcome", "end"]
    contents = read(result.journal)  # type: ignore[arg-type]
    assert contents.header.portal_id == sb.portal_id and contents.ended
    assert {c.property for c in contents.plan.cells} == {"jobtitle"}  # type: ignore[union-attr]
    assert len(contents.plan.skipped) == 1  # type: ignore[union-attr]


def test_a_half_written_last_line_is_tolerated(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Cut"
    result = push(df, client, progress=False, journal_dir=journal_dir)
    path = result.journal
    assert path is not None
    with open(path, "ab") as handle:
        handle.write(b'{"record":"outcome","batch":0,"att')
    assert read(path).ended
    assert len(result_of(path).applied) == 2


def test_every_record_is_chained_to_the_one_before(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Chained"
    path = push(df, client, progress=False, journal_dir=journal_dir).journal
    assert path is not None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert records[0]["format"] == journal.FORMAT == 2
    expected = [json.loads(line)["chain"] for line in chained(records)]
    assert [r["chain"] for r in records] == expected


@pytest.mark.parametrize(
    ("line", "damage", "forged", "message"),
    [
        (2, lambda text: text[: len(text) // 2] + "\n", False, "line 2: not valid JSON"),
        (3, lambda text: text.replace('"checked"', '"checkd"'), False, "line 3: not a journal"),
        (4, lambda text: text.replace('"inputs"', '"inputz"'), False, "line 4: its chain value"),
        (4, lambda text: text.replace('"inputs"', '"inputz"'), True, "line 4: the 'intent' record"),
    ],
    ids=["cut", "unknown-record", "renamed-field", "renamed-field-chain-forged"],
)
def test_an_edited_line_is_refused_by_number(
    sb: Sandbox,
    client: Client,
    journal_dir: Path,
    line: int,
    damage: Any,
    forged: bool,
    message: str,
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Edited"
    path = push(df, client, progress=False, journal_dir=journal_dir).journal
    assert path is not None
    lines = path.read_text().splitlines(keepends=True)
    lines[line - 1] = damage(lines[line - 1])
    path.write_text("".join(lines))
    if forged:
        rechain(path)
    with pytest.raises(JournalError, match=message):
        read(path)
    with pytest.raises(JournalError):
        resume(path, client, progress=False)


def _new_value(record: dict[str, Any]) -> None:
    record["cells"][0]["new"] = "Edited by hand"
    for batch in record["batches"]:
        for item in batch["inputs"]:
            item["properties"] = {k: "Edited by hand" for k in item["properties"]}


@pytest.mark.parametrize(
    ("line", "change"),
    [(2, _new_value), (5, applied_forgotten)],
    ids=["plan-new-value", "outcome-applied-forgotten"],
)
def test_a_middle_line_edited_into_another_valid_record_is_refused_by_number(
    sb: Sandbox,
    client: Client,
    journal_dir: Path,
    line: int,
    change: Callable[[dict[str, Any]], None],
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Edited"
    path = push(df, client, progress=False, journal_dir=journal_dir).journal
    assert path is not None
    edit_record(path, line, change)
    with pytest.raises(JournalError, match=f"line {line}: its chain value does not match"):
        read(path)


def test_a_deleted_middle_line_is_refused_at_the_line_after_it(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Deleted"
    path = push(df, client, progress=False, journal_dir=journal_dir).journal
    assert path is not None
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert json.loads(lines[3])["record"] == "intent"
    del lines[3]  # the intent goes; the outcome moves up to line 4
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(JournalError, match="line 4: its chain value does not match") as caught:
        read(path)
    assert "edited or damaged" in str(caught.value)


@pytest.mark.parametrize("version", [1, 3])
def test_a_journal_of_another_format_is_refused(
    sb: Sandbox, client: Client, journal_dir: Path, version: int
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Format"
    path = push(df, client, progress=False, journal_dir=journal_dir).journal
    assert path is not None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records[0]["format"] = version
    if version == 1:  # format 1 had no chain
        records = [{k: v for k, v in r.items() if k != "chain"} for r in records]
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    else:
        path.write_text("".join(chained(records)), encoding="utf-8")
    with pytest.raises(JournalError, match=f"line 1: journal format {version};") as caught:
        read(path)
    assert f"reads format {journal.FORMAT} only" in str(caught.value)
    assert f"the hsframe version that wrote format {version}" in caught.value.hint
    sb.clear_requests()
    with pytest.raises(JournalError, match=f"journal format {version};"):
        resume(path, client, progress=False)
    assert not crm_calls(sb)
