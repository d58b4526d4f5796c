"""Tests for hsframe.write: pushes against the sandbox.

Everything runs against the sandbox through its in-process adapter, comparing the
sandbox's store (what was really written) before and after. The mapping of HubSpot's
answers is tested in test_send.py.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from store_checks import changed_cells, crm_requests

import hsframe.journal
import hsframe.recovery
from hsframe import baseline, diff
from hsframe.client import Client
from hsframe.config import Settings
from hsframe.errors import MissingScopesError
from hsframe.load import read_contacts
from hsframe.result import ALREADY, PushInterruptedError, PushResult
from hsframe.sandbox import CrmSettings, Sandbox
from hsframe.send import ARCHIVE, Event, Started
from hsframe.write import InvalidEditsError, archive, push

PROPERTIES = ["email", "firstname", "lastname", "jobtitle", "city", "lifecyclestage", "seats"]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    yield Sandbox(contacts=250, settings=CrmSettings(shuffle_results=True))
    baseline.clear()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session()) as c:
        yield c


def load(client: Client, properties: list[str] = PROPERTIES) -> pd.DataFrame:
    return read_contacts(client, properties=properties, progress=False)


# --- pushing to the sandbox ------------------------------------------------------------------


EDITS: dict[str, Any] = {
    "set a text": ("jobtitle", "Data steward"),
    "clear a text": ("city", None),
    "set a number": ("seats", 12),
    "change an option": ("lifecyclestage", "customer"),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_push_applies_exactly_the_diff(
    sb: Sandbox, client: Client, journal_dir: Path, edit: str
) -> None:
    name, value = EDITS[edit]
    df = load(client)
    targets = df.index[df[name].notna()][:30] if value is None else df.index[:30]
    df.loc[targets, name] = value
    expected = {(int(i), str(p)) for i, p in diff.changes(df)[["id", "property"]].to_numpy()}
    assert expected
    before = sb.contacts()
    result = push(df, client, progress=False, journal_dir=journal_dir)
    assert result.ok and result.complete
    assert changed_cells(before, sb.contacts()) == expected
    assert {(int(i), p) for i, p in result.applied[["id", "property"]].to_numpy()} == expected


def test_a_second_push_sends_nothing(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    df = load(client)
    df.loc[df.index[:5], "jobtitle"] = "Buyer"
    new = diff.add(df, [{"email": "new.person@example.com", "firstname": "New"}])
    push(new, client, progress=False, journal_dir=journal_dir)
    sb.clear_requests()
    again = push(new, client, progress=False, journal_dir=journal_dir)
    assert again.requests == 0 and not sb.requests
    assert again.journal is None and again.complete
    assert diff.changes(new).empty


def test_new_rows_get_their_ids_in_the_frame(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    new = diff.add(
        df, [{"email": "a.new@example.com", "firstname": "A"}, {"email": "b.new@example.com"}]
    )
    result = push(new, client, progress=False, journal_dir=journal_dir)
    assert len(result.created) == 2
    stored = sb.contacts()
    for row, contact in result.created.items():
        assert new.index[row] == contact
        assert stored.loc[contact, "email"] == new["email"].iloc[row]


@pytest.mark.parametrize("on_conflict", ["skip", "overwrite"])
def test_a_cell_changed_in_hubspot_since_the_load_is_a_conflict(
    sb: Sandbox, client: Client, journal_dir: Path, on_conflict: str
) -> None:
    df = load(client)
    first, second = df.index[:2]
    client.batch_update([{"id": str(first), "properties": {"jobtitle": "Changed by a colleague"}}])
    df.loc[[first, second], "jobtitle"] = "Mine"
    result = push(df, client, progress=False, journal_dir=journal_dir, on_conflict=on_conflict)
    conflict = result.conflicts.iloc[0]
    assert (conflict["id"], conflict["remote"]) == (first, "Changed by a colleague")
    stored = sb.contacts()
    assert stored.loc[second, "jobtitle"] == "Mine"
    if on_conflict == "skip":
        assert conflict["resolution"] == "skipped"
        assert stored.loc[first, "jobtitle"] == "Changed by a colleague"
        assert list(result.applied["id"]) == [second]
    else:
        assert conflict["resolution"] == "overwritten"
        assert stored.loc[first, "jobtitle"] == "Mine"


def test_a_cell_hubspot_already_holds_is_not_sent_again(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    first = df.index[0]
    client.batch_update([{"id": str(first), "properties": {"jobtitle": "Same"}}])
    df.loc[first, "jobtitle"] = "Same"
    sb.clear_requests()
    result = push(df, client, progress=False, journal_dir=journal_dir)
    assert [r.path.rsplit("/", 1)[1] for r in crm_requests(sb)] == ["read"]
    assert result.skipped["reason"].tolist() == [ALREADY]
    assert diff.changes(df).empty


@pytest.mark.parametrize("op", ["create", "update"])
def test_a_partial_failure_is_mapped_to_its_rows_by_trace_id(
    sb: Sandbox, client: Client, journal_dir: Path, op: str
) -> None:
    df = load(client)
    if op == "create":
        rows = [{"email": f"p{i}@example.com", "firstname": f"P{i}"} for i in range(6)]
        frame = diff.add(df, rows)
        failing = list(range(len(df), len(df) + 2))  # the sandbox fails the first inputs
    else:
        frame = df
        frame.loc[frame.index[:6], "jobtitle"] = "Partial"
        failing = [0, 1]
    sb.inject(path=f"/batch/{op}", partial=2)
    result = push(frame, client, progress=False, journal_dir=journal_dir)
    assert sorted(set(result.failed["row"])) == failing
    assert result.failed["reason"].str.contains("INTERNAL_ERROR").all()
    stored = sb.contacts()
    for record in result.applied.itertuples():
        assert stored.loc[record.id, record.property] == record.new
    if op == "create":
        assert len(result.created) == 4
        for row, contact in result.created.items():
            assert stored.loc[contact, "email"] == frame["email"].iloc[row]


def test_a_duplicate_email_on_create_reports_the_existing_contact(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    lowered = df["email"].str.lower()
    taken = lowered[lowered.notna() & ~lowered.duplicated(keep=False)].index[0]
    email = df.loc[taken, "email"]
    rest = df.drop(index=taken)  # the frame no longer shows the contact that has the email
    frame = diff.add(rest, [{"email": email.upper(), "firstname": "Twin"}])
    before = len(sb.contacts())
    result = push(frame, client, progress=False, journal_dir=journal_dir)
    failure = result.failed.iloc[0]
    assert failure["existing_id"] == taken
    assert "already exists" in failure["reason"]
    assert len(sb.contacts()) == before and not result.created


def _stage_frame(client: Client, old: str) -> tuple[pd.DataFrame, int]:
    df = load(client)
    target = int(df.index[df["lifecyclestage"] == old][0])
    return df, target


def test_a_backward_lifecycle_move_is_cleared_then_set(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df, target = _stage_frame(client, "customer")
    df.loc[target, ["lifecyclestage", "jobtitle"]] = ["lead", "Back to lead"]
    sb.clear_requests()
    result = push(df, client, progress=False, journal_dir=journal_dir)
    assert result.ok and len(result.applied) == 2
    assert sb.contacts().loc[target, "lifecyclestage"] == "lead"
    assert [r.path.rsplit("/", 1)[1] for r in crm_requests(sb)] == ["read", "update", "update"]


def test_a_move_that_did_not_stick_is_reported_failed(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df, target = _stage_frame(client, "customer")
    df.loc[target, "lifecyclestage"] = "lead"
    result = push(df, client, progress=False, journal_dir=journal_dir, lifecycle="direct")
    assert result.applied.empty
    assert "HubSpot kept 'customer'" in result.failed.iloc[0]["reason"]
    assert sb.contacts().loc[target, "lifecyclestage"] == "customer"
    assert len(diff.changes(df)) == 1  # the baseline did not move: the next push retries


def test_an_overwritten_stage_that_did_not_stick_is_reported(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df, target = _stage_frame(client, "subscriber")
    client.batch_update([{"id": str(target), "properties": {"lifecyclestage": "customer"}}])
    df.loc[target, "lifecyclestage"] = "lead"  # forward from what was loaded
    result = push(df, client, progress=False, journal_dir=journal_dir, on_conflict="overwrite")
    assert result.conflicts.iloc[0]["remote"] == "customer"
    assert "HubSpot kept 'customer'" in result.failed.iloc[0]["reason"]


@pytest.mark.parametrize("contacts", [1, 100, 101, 250])
def test_requests_stay_within_two_per_hundred_contacts(
    sb: Sandbox, client: Client, journal_dir: Path, contacts: int
) -> None:
    df = load(client)
    df.loc[df.index[:contacts], ["jobtitle", "city"]] = ["Bound", "Nowhere-on-earth"]
    sb.clear_requests()
    result = push(df, client, progress=False, journal_dir=journal_dir)
    assert len(result.applied) == 2 * contacts
    assert result.requests == len(crm_requests(sb)) <= 2 * math.ceil(contacts / 100)


def test_the_journal_holds_the_whole_plan_before_the_first_request(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:120], "jobtitle"] = "Journaled"
    seen: dict[str, Any] = {}

    def at_start(event: Event) -> None:
        if isinstance(event, Started):
            [path] = journal_dir.iterdir()
            seen["mode"] = os.stat(path).st_mode & 0o777
            seen["plan"] = hsframe.journal.read(path).plan
            seen["crm"] = len(crm_requests(sb))

    sb.clear_requests()
    result = push(df, client, progress=False, journal_dir=journal_dir, listeners=[at_start])
    assert seen["mode"] == 0o600 and seen["crm"] == 0
    assert len(seen["plan"].cells) == 120 and len(seen["plan"].batches) == 2
    assert result.journal is not None and sb.token not in result.journal.read_text()


@pytest.mark.parametrize("on_invalid", ["raise", "skip"])
def test_invalid_rows_are_never_sent(
    sb: Sandbox, client: Client, journal_dir: Path, on_invalid: str
) -> None:
    df = load(client)
    good, bad = df.index[:2]
    df.loc[good, "jobtitle"] = "Fine"
    df.loc[bad, ["jobtitle", "email"]] = ["Also fine", "not an email"]
    before = sb.contacts()
    if on_invalid == "raise":
        with pytest.raises(InvalidEditsError, match="1 invalid cell") as caught:
            push(df, client, progress=False, journal_dir=journal_dir)
        assert caught.value.report.failures["id"].tolist() == [bad]
        assert changed_cells(before, sb.contacts()) == set()
        return
    result = push(df, client, progress=False, journal_dir=journal_dir, on_invalid="skip")
    assert changed_cells(before, sb.contacts()) == {(int(good), "jobtitle")}
    assert set(result.skipped["id"]) == {bad}


def test_a_read_only_edit_is_refused(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    df = load(client, ["email", "hs_object_id", "jobtitle"])
    df.loc[df.index[0], "hs_object_id"] = 1
    with pytest.raises(InvalidEditsError, match="read-only"):
        push(df, client, progress=False, journal_dir=journal_dir)


def test_a_token_without_write_scope_is_refused_before_any_crm_request(
    sb: Sandbox, journal_dir: Path
) -> None:
    token = sb.issue_token(["crm.objects.contacts.read"])
    with Client(Settings(token=token, base_url=sb.adapter_url), session=sb.session()) as reader:
        df = load(reader)
        df.loc[df.index[0], "jobtitle"] = "Nope"
        sb.clear_requests()
        with pytest.raises(MissingScopesError, match=r"crm\.objects\.contacts\.write"):
            push(df, reader, progress=False, journal_dir=journal_dir)
        assert not crm_requests(sb) and not journal_dir.exists()
        preview = push(df, reader, progress=False, journal_dir=journal_dir, dry_run=True)
        assert "cannot write" in preview.messages[0]


def test_a_dry_run_writes_nothing(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    df = load(client)
    df.loc[df.index[:3], "jobtitle"] = "Preview"
    before = sb.contacts()
    result = push(df, client, progress=False, journal_dir=journal_dir, dry_run=True)
    assert result.dry_run and result.applied.empty and len(result.planned) == 3
    assert changed_cells(before, sb.contacts()) == set()
    assert hsframe.journal.read(result.journal).header.dry_run  # type: ignore[arg-type]
    assert len(diff.changes(df)) == 3
    assert "would write 3 cells" in repr(result)


def test_a_lost_create_answer_is_settled_by_email_without_a_duplicate(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    frame = diff.add(df, [{"email": "lost.answer@example.com", "firstname": "Lost"}])
    sb.inject(path="/batch/create", drop=True, after=True)
    result = push(frame, client, progress=False, journal_dir=journal_dir)
    emails = sb.contacts()["email"]
    assert (emails == "lost.answer@example.com").sum() == 1
    [contact] = result.created.values()
    assert emails.loc[contact] == "lost.answer@example.com"
    assert result.ok and result.complete


def test_an_interrupted_push_says_how_to_resume(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    df = load(client)
    df.loc[df.index[:150], "jobtitle"] = "Half"
    sb.inject(401, path="/batch/update")  # as if the token had been rotated meanwhile
    with pytest.raises(PushInterruptedError, match="resume") as caught:
        push(df, client, progress=False, journal_dir=journal_dir)
    partial = caught.value.result
    assert not partial.complete and partial.journal is not None
    assert str(partial.journal) in str(caught.value)
    finished = hsframe.recovery.resume(partial.journal, client, frame=df, progress=False)
    assert finished.complete and len(finished.applied) == 150
    assert (sb.contacts().loc[df.index[:150], "jobtitle"] == "Half").all()
    assert diff.changes(df).empty


def test_results_read_well(
    sb: Sandbox, client: Client, journal_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = load(client)
    df.loc[df.index[:2], "jobtitle"] = "Shown"
    result = push(df, client, journal_dir=journal_dir)  # with its progress bar
    assert "Pushing" in capsys.readouterr().err
    assert repr(result).startswith("Push: 2 cells applied")
    assert "journal:" in result.summary()
    assert "<strong>Push: 2 cells applied" in result._repr_html_()
    assert isinstance(result, PushResult)


# --- archiving ----------------------------------------------------------------------------------


def test_archive_is_explicit_and_journaled(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    ids = list(sb.contacts().index[:3])
    result = archive([*ids, ids[0]], client, progress=False, journal_dir=journal_dir)
    assert sorted(result.archived) == sorted(ids)
    assert not set(ids) & set(sb.contacts().index)
    assert set(ids) <= set(sb.contacts(archived=True).index)
    assert hsframe.journal.read(result.journal).ended  # type: ignore[arg-type]
    assert result.planned["property"].eq(ARCHIVE).all()
