"""Tests for hsframe.corrections: bulk corrections against the sandbox.

Everything runs against the sandbox through its in-process adapter, comparing the
sandbox's store (what was really written) before and after.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from store_checks import changed_cells, crm_requests

from hsframe import baseline
from hsframe.client import Client
from hsframe.config import Settings
from hsframe.corrections import CorrectionKeyError, apply_corrections
from hsframe.sandbox import CrmSettings, Sandbox, generate_contacts
from hsframe.write import InvalidEditsError


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    yield Sandbox(contacts=250, settings=CrmSettings(shuffle_results=True))
    baseline.clear()


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session()) as c:
        yield c


# --- corrections ---------------------------------------------------------------------------------


def test_corrections_by_email_update_and_create_once(
    sb: Sandbox, client: Client, journal_dir: Path
) -> None:
    stored = sb.contacts()
    first, second = stored.index[:2]
    fixes = pd.DataFrame(
        {
            "email": [
                f"  {stored.loc[first, 'email'].upper()} ",
                stored.loc[second, "email"],
                "fresh@example.com",
            ],
            "jobtitle": ["Corrected", stored.loc[second, "jobtitle"], "New hire"],
            "city": [None, "Oslo", "Rome"],
        }
    )
    result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    after = sb.contacts()
    expected = {(int(first), "jobtitle"), (int(second), "city")}
    assert changed_cells(stored, after) == expected
    assert list(result.created) == [2]
    assert (after["email"] == "fresh@example.com").sum() == 1
    again = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert again.applied.empty and not again.created


@pytest.mark.parametrize(
    ("fixes", "message"),
    [
        (
            pd.DataFrame({"email": ["a@example.com", None, " "], "city": ["x", "y", "z"]}),
            "rows 1, 2 \\(frame.iloc positions\\)",
        ),
        (pd.DataFrame({"email": ["A@example.com", "a@example.com "], "city": ["x", "y"]}), "twice"),
        (pd.DataFrame({"city": ["x"]}), "no 'email' column"),
    ],
)
def test_corrections_need_one_key_per_row(
    client: Client, fixes: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        apply_corrections(fixes, client=client, progress=False)


@pytest.mark.parametrize("on_invalid", ["raise", "skip"])
def test_invalid_corrections_are_named_by_their_row(
    sb: Sandbox, client: Client, journal_dir: Path, on_invalid: str
) -> None:
    stored = sb.contacts()
    fixes = pd.DataFrame(
        {
            "email": [stored["email"].iloc[i] for i in (3, 4, 5)],
            "lifecyclestage": ["lead", "Customer", "customer"],
        }
    )
    if on_invalid == "raise":
        with pytest.raises(InvalidEditsError, match=r"frame\.iloc positions\)(.|\n)*row 1 "):
            apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
        return
    result = apply_corrections(
        fixes, client=client, progress=False, journal_dir=journal_dir, on_invalid="skip"
    )
    assert list(result.skipped["row"]) == [1]
    assert "did you mean 'customer'" in result.skipped.iloc[0]["reason"]


@pytest.mark.parametrize("on_invalid", ["raise", "skip"])
def test_a_value_the_codec_refuses_is_named_with_its_row_and_contact(
    sb: Sandbox, client: Client, journal_dir: Path, on_invalid: str
) -> None:
    stored = sb.contacts()
    contact = int(stored.index[4])
    fixes = pd.DataFrame(
        {
            "email": [stored["email"].iloc[3], stored.loc[contact, "email"]],
            "jobtitle": ["Buyer", "Analyst"],
            "seats": ["12", "1,200"],
        }
    )
    run = dict(client=client, progress=False, journal_dir=journal_dir)
    if on_invalid == "raise":
        with pytest.raises(InvalidEditsError, match="row 1 ") as caught:
            apply_corrections(fixes, **run)  # type: ignore[arg-type]
        assert "seats" in str(caught.value) and "1,200" in str(caught.value)
        assert sb.contacts().equals(stored)  # nothing was sent
        return
    result = apply_corrections(fixes, on_invalid="skip", **run)  # type: ignore[arg-type]
    refused = result.skipped[result.skipped["property"] == "seats"].iloc[0]
    assert (refused["row"], refused["id"]) == (1, contact)
    assert set(result.skipped["row"]) == {1}  # the row is left out whole, as in a push
    assert set(result.applied["row"]) == {0}


def test_the_headline_counts_a_new_contact_once(client: Client, journal_dir: Path) -> None:
    fixes = pd.DataFrame(
        {
            "email": ["one@example.com", "two@example.com"],
            "jobtitle": ["Buyer", "Analyst"],
            "city": ["Oslo", "Rome"],
        }
    )
    preview = apply_corrections(
        fixes, client=client, dry_run=True, progress=False, journal_dir=journal_dir
    )
    assert "would write 6 cells in 2 contacts" in preview.summary()


def test_corrections_by_id(sb: Sandbox, client: Client, journal_dir: Path) -> None:
    stored = sb.contacts()
    fixes = pd.DataFrame({"id": [stored.index[0], 999_999_999], "jobtitle": ["By id", "Ghost"]})
    result = apply_corrections(
        fixes, key="id", client=client, progress=False, journal_dir=journal_dir
    )
    assert sb.contacts().loc[stored.index[0], "jobtitle"] == "By id"
    assert "no contact with this id" in result.skipped.iloc[0]["reason"]


def test_a_key_error_names_positions_and_can_name_file_lines(client: Client) -> None:
    fixes = pd.DataFrame({"email": ["a@example.com", None, "b@example.com", " "]})
    with pytest.raises(CorrectionKeyError) as caught:
        apply_corrections(fixes, client=client, progress=False)
    error = caught.value
    assert isinstance(error, ValueError) and error.missing == (1, 3)
    assert "rows 1, 3 (frame.iloc positions)" in str(error)
    lines = [2, 3, 5, 6]  # a blank line 4 in the file
    assert "lines 3, 6 of fixes.csv;" in error.describe(lines, "fixes.csv")


# --- corrections: stored emails with spaces around them ------------------------------------------


def legacy(emails: dict[int, str], contacts: int = 40) -> Sandbox:
    """A sandbox whose contacts at these positions hold these emails, as legacy imports
    leave them (HubSpot's exact lookup by email may not find ``" ann@example.com"``)."""
    frame = generate_contacts(contacts)
    column = frame.columns.get_loc("email")
    for position, email in emails.items():
        frame.iloc[position, column] = email
    return Sandbox(contacts=frame)


def connect(sb: Sandbox) -> Client:
    return Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())


def searches(sb: Sandbox) -> int:
    return sum(r.path.endswith("/search") for r in crm_requests(sb))


def test_a_contact_whose_stored_email_has_spaces_is_corrected_not_duplicated(
    journal_dir: Path,
) -> None:
    sb = legacy({3: "  Ann.Legacy@example.com "})
    contact = int(sb.contacts().index[3])
    fixes = pd.DataFrame({"email": ["ann.legacy@example.com"], "jobtitle": ["Buyer"]})
    with connect(sb) as client:
        result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
        after = sb.contacts()
        assert result.ok and not result.created and len(after) == 40
        # the contact is corrected, and its email loses the spaces (HubSpot lower-cases it)
        assert after.loc[contact, ["email", "jobtitle"]].tolist() == [
            "ann.legacy@example.com",
            "Buyer",
        ]
        assert result.applied[["id", "property"]].values.tolist() == [
            [contact, "email"],
            [contact, "jobtitle"],
        ]
        # HubSpot's exact lookup finds it now: no search, nothing to write
        sb.clear_requests()
        again = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert again.applied.empty and again.requests == 1 and searches(sb) == 0


def test_two_contacts_holding_one_email_with_different_spaces_refuse_the_row(
    journal_dir: Path,
) -> None:
    sb = legacy({3: " twin@example.com", 7: "Twin@example.com  "})
    before = sb.contacts()
    twins = [int(before.index[3]), int(before.index[7])]
    other = int(before.index[10])
    fixes = pd.DataFrame(
        {
            "email": ["twin@example.com", before.loc[other, "email"].strip()],
            "jobtitle": ["Which one?", "Corrected"],
        }
    )
    with connect(sb) as client:
        result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert changed_cells(before, sb.contacts()) == {(other, "jobtitle")}  # nothing for row 0
    assert not result.created and len(sb.contacts()) == 40
    refused = result.skipped[result.skipped["row"] == 0]
    assert sorted(refused["property"]) == ["email", "jobtitle"] and refused["id"].isna().all()
    reason = str(refused["reason"].iloc[0])
    assert f"contacts {twins[0]} and {twins[1]}" in reason
    assert "merge them in HubSpot" in reason and "key this row by id" in reason


@pytest.mark.parametrize("new", [1, 5, 6, 11])
def test_emails_not_found_are_searched_five_at_a_time_then_created(
    sb: Sandbox, client: Client, journal_dir: Path, new: int
) -> None:
    emails = [f"brand.new.{n}@example.com" for n in range(new)]
    fixes = pd.DataFrame({"email": emails, "jobtitle": ["Hire"] * new})
    sb.clear_requests()
    result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert searches(sb) == math.ceil(new / 5)
    # one lookup, the searches, one upsert; all counted
    assert result.requests == len(crm_requests(sb)) == 1 + math.ceil(new / 5) + 1
    assert sorted(result.created) == list(range(new))
    assert sb.contacts()["email"].isin(emails).sum() == new


def test_a_search_that_fills_a_page_is_followed_to_the_next(journal_dir: Path) -> None:
    """CONTAINS_TOKEN is loose: ``ann@example.com`` matches all 250 ``ann.N@example.com``
    (two pages of 200); none is the key, so the row is a new contact."""
    sb = legacy({n: f"ann.{n}@example.com" for n in range(250)}, contacts=250)
    fixes = pd.DataFrame({"email": ["ann@example.com"], "jobtitle": ["New"]})
    with connect(sb) as client:
        result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert searches(sb) == 2
    assert list(result.created) == [0] and len(sb.contacts()) == 251


def test_an_email_search_cannot_finish_refuses_its_row(journal_dir: Path) -> None:
    """Past 10,000 results a search cannot page: the emails are searched for one at a time,
    and a row whose email still matches too many contacts is refused, not created."""
    crowd = 10_001
    sb = legacy({n: f"ann.{n}@example.com" for n in range(crowd)}, contacts=crowd)
    fixes = pd.DataFrame({"email": ["ann@example.com", "bob@example.com"], "jobtitle": ["?", "B"]})
    with connect(sb) as client:
        result = apply_corrections(fixes, client=client, progress=False, journal_dir=journal_dir)
    assert searches(sb) == 3  # both, then each alone
    assert list(result.created) == [1]
    refused = result.skipped[result.skipped["row"] == 0]
    assert "key this row by id" in str(refused["reason"].iloc[0])
