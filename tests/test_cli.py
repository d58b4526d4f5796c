"""The ``hsframe`` command: every subcommand against a sandbox, in-process, plus a few runs
as a real process (``--help``, ``demo``, ``sandbox serve``, Ctrl+C).

In-process runs call :func:`hsframe.cli.main` with captured output; each checks the exit
status and that neither output holds the sandbox's token (only ``sandbox serve`` prints
one). The sandbox serves real HTTP, since the command connects by URL, as a user's would.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pytest
import requests

import hsframe as hs
from hsframe import baseline, diff
from hsframe.cli import main
from hsframe.sandbox import Sandbox
from hsframe.sandbox.seed import samples_dir
from hsframe.send import Sent
from hsframe.write import push

COMMAND = [sys.executable, "-m", "hsframe.cli"]
TOKEN = "pat-na1-7d0c4b8e-0000-4000-8000-cli000000001"
CORRECTIONS = samples_dir() / "corrections.csv"
FULL_TOKEN = re.compile(r"pat-[a-z]{2,4}\d*-[0-9a-f]{8}-[0-9a-f]{4}-")


# --- helpers -------------------------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "journal"
    monkeypatch.setenv("HSFRAME_JOURNAL_DIR", str(directory))
    return directory


def serve(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Sandbox]:
    with Sandbox(**options) as sb:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
        monkeypatch.setenv("HUBSPOT_BASE_URL", sb.url)
        yield sb
    baseline.clear()


@pytest.fixture
def sb(monkeypatch: pytest.MonkeyPatch, journal_dir: Path) -> Iterator[Sandbox]:
    """60 generated contacts, with the token and URL in the environment."""
    yield from serve(monkeypatch, contacts=60)


@pytest.fixture
def samples(monkeypatch: pytest.MonkeyPatch, journal_dir: Path) -> Iterator[Sandbox]:
    """The 1,200 sample contacts (``corrections.csv`` is written for them)."""
    yield from serve(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], sb: Sandbox | None, *argv: str) -> Ran:
    code = main(list(argv))
    out, err = capsys.readouterr()
    if sb is not None:
        for secret in (sb.token, sb.token[8:-4]):
            assert secret not in out and secret not in err, "the token leaked"
    assert FULL_TOKEN.search(out + err) is None, "a token leaked"
    assert "Traceback" not in err
    return Ran(code, out, err)


class Terminal(io.StringIO):
    """Standard input that says it is a terminal, with the user's answers in it."""

    def isatty(self) -> bool:
        return True


def wire(sb: Sandbox) -> pd.DataFrame:
    return sb.contacts().drop(columns=["lastmodifieddate"])


def clean_emails(sb: Sandbox, count: int) -> list[str]:
    """Emails of contacts that are valid as they stand and belong to one contact only."""
    emails = wire(sb)["email"].dropna()
    folded = emails.str.lower()
    ok = emails.str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+") & ~folded.duplicated(keep=False)
    return [str(e) for e in emails[ok].iloc[:count]]


def changed_cells(before: pd.DataFrame, after: pd.DataFrame) -> dict[tuple[int, str], Any]:
    """(id, property) → new value for every cell of ``before``'s contacts that changed."""
    after = after.loc[before.index, before.columns]
    same = (before == after).fillna(False) | (before.isna() & after.isna())
    return {
        (int(i), str(c)): after.at[i, c]
        for c in before.columns
        for i in before.index[~same[c].to_numpy(dtype=bool)]
    }


def lines_of(stream: IO[str]) -> Iterator[str]:
    """Lines of a child's output, giving up after a while instead of hanging the test."""
    pending: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            pending.put(line)
        pending.put("")

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = pending.get(timeout=60)
        except queue.Empty:
            raise AssertionError("the command printed nothing for 60 s") from None
        if not line:
            return
        yield line


# --- the command as a process --------------------------------------------------------------------


def test_the_console_script_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert scripts["hsframe"].value == "hsframe.cli:main"


def test_help_lists_the_commands_the_token_rules_and_the_exit_codes() -> None:
    finished = subprocess.run(
        [*COMMAND, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    text = finished.stdout
    for word in ("demo", "sandbox", "token", "pull", "apply", "undo", "resume"):
        assert re.search(rf"^\s+{word}\s", text, re.M), word
    assert "never given on the command line" in text
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130"):
        assert f"  {code}" in text


@pytest.mark.parametrize(
    "command",
    [
        ["demo"],
        ["sandbox", "serve"],
        ["token", "check"],
        ["pull"],
        ["apply"],
        ["undo"],
        ["resume"],
    ],
    ids=" ".join,
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"hsframe {' '.join(command)}" in text and "exit status" in text


def test_demo_runs_end_to_end() -> None:
    finished = subprocess.run(
        [*COMMAND, "demo"], capture_output=True, text=True, timeout=180, check=False
    )
    report = finished.stdout
    assert finished.returncode == 0, report + finished.stderr
    for step in (
        "1. Connect",
        "2. Load every contact with every property",
        "1,200 contacts x 83 properties",
        "emails: strip, lower-case",
        "stale options",
        "4. Validate",
        "rows are skipped",
        "6. Push",
        "7. Verify",
        "cells hold exactly the new wire values",
        "8. Undo",
        "every cell is back to the original",
        "All checks passed.",
    ):
        assert step in report, step
    table = report[report.index("Summary") :].splitlines()[2:11]
    assert [re.split(r"\s{2,}", line.strip())[1] for line in table] == ["✓"] * 9, table
    assert FULL_TOKEN.search(report + finished.stderr) is None  # the token is masked


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_sandbox_serve_prints_url_and_token_serves_and_stops_cleanly(
    stop_signal: signal.Signals,
) -> None:
    arguments = ["sandbox", "serve", "--port", "0", "--contacts", "30", "--tier", "free"]
    arguments += ["--window", "5", "--token", TOKEN]
    with subprocess.Popen(
        [*COMMAND, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        output = lines_of(process.stdout)
        seen: list[str] = []
        url = token = None
        for line in output:
            seen.append(line)
            if found := re.search(r"URL:\s+(http://127\.0\.0\.1:\d+)", line):
                url = found.group(1)
            if found := re.search(r"Token:\s+(\S+)", line):
                token = found.group(1)
            if "Ctrl+C" in line:
                break
        assert url is not None and token == TOKEN, "".join(seen)
        assert "30 contacts" in seen[0]

        with requests.Session() as session:
            answer = session.get(
                f"{url}/crm/v3/objects/contacts?limit=3",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
        assert answer.status_code == 200
        assert len(answer.json()["results"]) == 3
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "5000"

        process.send_signal(stop_signal)
        rest = "".join(output)
        assert process.wait(timeout=30) == 0, rest
    assert "stopped (1 requests served)" in rest


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path) -> None:
    with Sandbox(contacts=400, latency=1.0) as sb:
        env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": sb.token, "HUBSPOT_BASE_URL": sb.url}
        with subprocess.Popen(
            [*COMMAND, "pull", "--out", str(tmp_path / "c.csv"), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        ) as process:
            deadline = time.monotonic() + 30
            while not sb.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert err.startswith("hsframe: error: interrupted") and "Traceback" not in err
    assert not (tmp_path / "c.csv").exists()


# --- usage ---------------------------------------------------------------------------------------


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "sandbox" in capsys.readouterr().out
    assert main(["sandbox"]) == 2
    assert "serve" in capsys.readouterr().out
    assert main(["token"]) == 2
    assert "check" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments",
    [
        ["sandbox", "serve", "--tier", "gold"],
        ["sandbox", "serve", "--contacts", "10", "--sample"],
        ["sandbox", "serve", "--latency", "soon"],
        ["pull"],
        ["pull", "--out", "x.csv", "--limit", "0"],
        ["apply", "x.csv", "--key", "phone"],
        ["apply", "x.csv", "--on-invalid", "ignore"],
        ["token", "check", "--token-env", "A", "--token-stdin"],
        ["token", "check", "--token", "pat-na1-in-history"],
        ["nonsense"],
    ],
)
def test_bad_arguments_are_usage_errors(arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(arguments)
    assert caught.value.code == 2


@pytest.mark.parametrize("option", [["--window", "0"], ["--latency", "-1"]])
def test_bad_sandbox_values_are_explained(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, None, "sandbox", "serve", "--contacts", "1", *option)
    assert result.code == 2
    assert result.err.startswith("hsframe: error: cannot start the sandbox")


def test_a_missing_csv_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, None, "sandbox", "serve", "--contacts", "nowhere.csv")
    assert result.code == 2 and "number or a CSV file" in result.err


# --- token check ---------------------------------------------------------------------------------


def test_token_check_shows_portal_and_scopes(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, sb, "token", "check")
    assert result.code == 0, result.err
    assert f"Portal  {sb.portal_id}" in result.out
    assert re.search(r"crm\.objects\.contacts\.read\s+✓\s+yes", result.out)
    assert re.search(r"crm\.objects\.contacts\.write\s+✓\s+yes", result.out)
    assert f"({'from HUBSPOT_ACCESS_TOKEN'})" in result.out
    assert result.out.rstrip().endswith("with every required scope.")


def test_token_check_fails_on_a_missing_scope_and_says_where_to_add_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for sb in serve(monkeypatch, contacts=1, scopes=["crm.objects.contacts.read"]):
        result = run(capsys, sb, "token", "check")
        assert result.code == 3
        assert re.search(r"crm\.objects\.contacts\.write\s+✗", result.out)
        assert "lacks crm.objects.contacts.write" in result.err and "Scopes" in result.err
        assert run(capsys, sb, "token", "check", "--require", "read").code == 0


def test_token_check_fails_on_a_rotated_token(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    old = sb.token
    sb.rotate_token()
    result = run(capsys, sb, "token", "check")
    assert old not in result.out + result.err
    assert result.code == 3 and "rotated" in result.err


def test_token_check_without_a_token_says_where_to_get_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, None, "token", "check")
    assert result.code == 3
    assert "HUBSPOT_ACCESS_TOKEN is not set" in result.err and "Private Apps" in result.err


def test_an_unsafe_base_url_is_refused(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, sb, "token", "check", "--base-url", "http://api.example.com")
    assert result.code == 3 and "unencrypted" in result.err


@pytest.mark.parametrize("source", ["env", "stdin", "dotenv"])
def test_the_token_comes_from_a_variable_stdin_or_dotenv(
    source: str,
    sb: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = sb.token
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    argv = ["token", "check"]
    if source == "env":
        monkeypatch.setenv("MY_PORTAL_TOKEN", token)
        argv += ["--token-env", "MY_PORTAL_TOKEN"]
    elif source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.StringIO(token + "\n"))
        argv += ["--token-stdin"]
    else:
        Path(".env").write_text(f"HUBSPOT_ACCESS_TOKEN={token}\n")
        os.chmod(".env", 0o600)
    result = run(capsys, sb, *argv)
    assert result.code == 0, result.err
    where = {"env": "MY_PORTAL_TOKEN", "stdin": "standard input", "dotenv": "from .env"}[source]
    assert where in result.out


def test_warnings_are_one_line(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(".env").write_text(f"HUBSPOT_ACCESS_TOKEN={sb.token}\n")
    os.chmod(".env", 0o644)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    result = run(capsys, sb, "pull", "--out", "c.parquet", "--properties", "email,emial")
    assert result.code == 0
    warnings = [line for line in result.err.splitlines() if line.startswith("hsframe: warning:")]
    assert any("chmod 600" in line for line in warnings)
    assert any("emial" in line for line in warnings)


# --- pull ----------------------------------------------------------------------------------------


def test_pull_writes_parquet_equal_to_read_contacts(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, sb, "pull", "--out", "contacts.parquet")
    assert result.code == 0, result.err
    assert "Loaded 60 contacts x 83 properties" in result.out
    assert os.stat("contacts.parquet").st_mode & 0o777 == 0o600
    written = pd.read_parquet("contacts.parquet")
    expected = hs.read_contacts(hs.connect(), progress=False)
    pd.testing.assert_frame_equal(
        written, expected, check_index_type=False, check_categorical=False
    )
    assert [str(t) for t in written.dtypes] == [str(t) for t in expected.dtypes]


def test_pull_writes_csv_as_wire_strings_with_a_formula_guard(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    client = hs.connect()
    frame = hs.read_contacts(client, properties=["email", "phone", "company"], progress=False)
    frame.loc[frame.index[0], "company"] = '=HYPERLINK("http://example.com")'
    frame.loc[frame.index[1], "company"] = "@Work Studio"
    hs.write.push(frame, client, progress=False)
    stored = wire(sb)[["email", "phone", "company"]]

    result = run(capsys, sb, "pull", "--out", "c.csv", "--properties", "email,phone,company")
    assert result.code == 0, result.err
    written = pd.read_csv("c.csv", dtype=str, keep_default_na=False, na_values=[""])
    written = written.set_index(written["id"].astype("int64").rename("id")).drop(columns="id")
    starts = tuple("=+-@")
    for name in stored.columns:
        for contact, value in stored[name].items():
            cell = written.at[contact, name]
            if value is None:
                assert pd.isna(cell)
            elif value.startswith(starts):
                assert cell == "'" + value  # a spreadsheet shows it, never runs it
            else:
                assert cell == value
    guarded = sum(str(v).startswith(starts) for v in stored.to_numpy().ravel())
    assert guarded >= 3 and f"{guarded} cells guarded" in result.out

    assert run(capsys, sb, "pull", "--out", "raw.csv.gz", "--raw-csv").code == 0
    raw = pd.read_csv("raw.csv.gz", dtype=str, keep_default_na=False, na_values=[""])
    assert raw.loc[raw["id"] == str(frame.index[0]), "company"].item() == frame["company"].iloc[0]


def test_pull_filters_and_limits(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    stored = wire(sb)
    argv = ["pull", "--out", "leads.parquet", "--properties", "email,lifecyclestage"]
    result = run(capsys, sb, *argv, "--where", "lifecyclestage=lead", "--where", "email!=")
    assert result.code == 0, result.err
    leads = pd.read_parquet("leads.parquet")
    # HubSpot's search compares text without case: a stale "Lead" matches "lead" too
    expected = stored[(stored["lifecyclestage"].str.lower() == "lead") & stored["email"].notna()]
    assert sorted(leads.index) == sorted(expected.index)
    assert list(leads.columns) == ["email", "lifecyclestage"]

    assert run(capsys, sb, "pull", "--out", "few.parquet", "--limit", "7").code == 0
    assert list(pd.read_parquet("few.parquet").index) == sorted(stored.index)[:7]

    result = run(
        capsys, sb, "pull", "--out", "some.parquet", "--where", "lifecyclestage=lead|customer"
    )
    assert result.code == 0
    some = pd.read_parquet("some.parquet")
    assert set(some["lifecyclestage"].astype(str).str.lower()) <= {"lead", "customer"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "c.xlsx"], ".parquet, .csv or .csv.gz"),
        (["--out", "nowhere/c.csv"], "does not exist"),
        (["--out", "c.csv", "--where", "lifecyclestage~lead"], "NAME=VALUE"),
        (["--out", "c.csv", "--where", "a=1", "--where", "a=2"], "twice"),
        (["--out", "c.csv", "--where", "nosuchproperty=1"], "does not have"),
        (["--out", "c.csv", "--archived", "--where", "email="], "archived"),
    ],
)
def test_pull_explains_bad_input(
    argv: list[str], message: str, sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, sb, "pull", *argv)
    assert result.code == 2
    assert result.err.startswith("hsframe: error:") and message in result.err
    assert len(result.err.strip().splitlines()) == 1


# --- apply ---------------------------------------------------------------------------------------


def expected_corrections(before: pd.DataFrame) -> tuple[dict[tuple[int, str], Any], list[dict]]:
    """What corrections.csv should do to the sample contacts, worked out independently:
    cell changes of existing contacts, and the new contacts. Rows known to be invalid (a
    lifecycle stage that is not an option, a malformed email, a number with a thousands
    separator) are left out."""
    rows = pd.read_csv(CORRECTIONS, dtype=str, keep_default_na=False, na_values=[""])
    invalid = {"amanda.martin@example.com", "sean.obrien@example"}
    by_email = {str(e).strip().lower(): int(i) for i, e in before["email"].dropna().items()}
    changes: dict[tuple[int, str], Any] = {}
    created: list[dict] = []
    for record in rows.to_dict("records"):
        email = record.pop("email").strip().lower()
        record.pop("note")
        values = {k: v for k, v in record.items() if isinstance(v, str) and v != "1,200"}
        if email in invalid:
            continue
        if email in by_email:
            contact = by_email[email]
            for name, value in values.items():
                if before.at[contact, name] != value:
                    changes[(contact, name)] = value
        else:
            created.append({"email": email, **values})
    return changes, created


def test_apply_dry_run_shows_the_diff_and_writes_nothing(
    samples: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    before = wire(samples)
    result = run(capsys, samples, "apply", str(CORRECTIONS), "--dry-run", "--on-invalid", "skip")
    assert result.code == 0, result.err
    changes, created = expected_corrections(before)
    cells = len(changes) + sum(len(c) for c in created)
    assert f"Would write {cells} cells" in result.out and f"{len(created)} new ones" in result.out
    assert "Not contact properties, never sent: note." in result.out
    assert re.search(r"^\s+2\s+1812\s+jobtitle\s+\(unset\)\s+Head of Procurement", result.out, re.M)
    assert re.search(r"^\s+13\s+1519\s+lifecyclestage\s+subscriber\s+Hot lead", result.out, re.M)
    assert "Dry run: nothing written." in result.out
    pd.testing.assert_frame_equal(wire(samples), before)


def test_apply_refuses_invalid_corrections_unless_told_to_skip(
    samples: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    before = wire(samples)
    result = run(capsys, samples, "apply", str(CORRECTIONS), "--yes")
    assert result.code == 1
    assert "3 row(s) hold invalid corrections" in result.err and "--on-invalid skip" in result.err
    assert "Invalid: 3 row(s)" in result.out
    for line in ("12", "13", "18"):
        assert re.search(rf"^\s+{line}\s", result.out[result.out.index("Invalid:") :], re.M)
    pd.testing.assert_frame_equal(wire(samples), before)


def test_apply_writes_exactly_the_corrections(
    samples: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    before = wire(samples)
    changes, created = expected_corrections(before)
    result = run(capsys, samples, "apply", str(CORRECTIONS), "--yes", "--on-invalid", "skip")
    assert result.code == 0, result.out + result.err
    after = wire(samples)
    assert changed_cells(before, after) == changes
    new = after.loc[~after.index.isin(before.index)]
    assert len(new) == len(created)
    for contact in created:
        [row] = new.index[new["email"] == contact["email"]]
        for name, value in contact.items():
            assert new.at[row, name] == value
    assert f"({len(created)} created)" in result.out
    assert re.search(r"Take it back with `hsframe undo .+\.jsonl`", result.out)


def test_apply_asks_first_and_refuses_without_a_terminal(
    samples: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = wire(samples)
    argv = ["apply", str(CORRECTIONS), "--on-invalid", "skip"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    result = run(capsys, samples, *argv)
    assert result.code == 2 and "not a terminal" in result.err and "--yes" in result.err
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    result = run(capsys, samples, *argv)
    assert result.code == 0 and "[y/N]" in result.err and "Nothing written." in result.out
    pd.testing.assert_frame_equal(wire(samples), before)
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    result = run(capsys, samples, *argv)
    assert result.code == 0 and "cells applied" in result.out
    assert changed_cells(before, wire(samples)) == expected_corrections(before)[0]


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "delimiter", "warned"),
    [("utf-8-sig", ",", False), ("utf-8", ";", False), ("latin-1", ",", True)],
    ids=["bom", "semicolons", "latin-1"],
)
def test_apply_reads_bom_semicolons_and_latin_1(
    encoding: str,
    delimiter: str,
    warned: bool,
    sb: Sandbox,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    [email] = clean_emails(sb, 1)
    text = f"email{delimiter}firstname\n{email.upper()}{delimiter}Zoë\n"
    path = write_csv(tmp_path / "fixes.csv", text, encoding)
    result = run(capsys, sb, "apply", str(path), "--yes")
    assert result.code == 0, result.err
    assert ("not UTF-8" in result.err) is warned
    stored = wire(sb)
    assert stored.loc[stored["email"] == email, "firstname"].item() == "Zoë"


def test_cells_that_look_like_formulas_are_data(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    emails = clean_emails(sb, 2)
    text = (
        "email,company,phone,jobtitle\n"
        f"{emails[0]},=Equals Design,+44 20 7946 0123,-\n"
        f"{emails[1]},'@Work Studio,'+1 415 555 0100,'=2+2\n"
    )
    path = write_csv(tmp_path / "fixes.csv", text, "utf-8")
    assert run(capsys, sb, "apply", str(path), "--yes").code == 0
    stored = wire(sb).set_index("email")
    assert stored.loc[emails[0], ["company", "phone", "jobtitle"]].tolist() == [
        "=Equals Design",
        "+44 20 7946 0123",
        "-",
    ]
    # a ' before = + - @ is the guard `pull` adds: it goes
    assert stored.loc[emails[1], ["company", "phone", "jobtitle"]].tolist() == [
        "@Work Studio",
        "+1 415 555 0100",
        "=2+2",
    ]


def test_a_pulled_csv_applies_back_as_no_change(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, sb, "pull", "--out", "all.csv").code == 0
    result = run(capsys, sb, "apply", "all.csv", "--key", "id", "--dry-run")
    assert result.code == 0, result.out + result.err
    assert "Nothing to write" in result.out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("email,firstname\na@example.com\n", "line 2: 1 fields"),
        ("email,email\na@example.com,b@example.com\n", "more than once"),
        ("firstname\nAnn\n", "no 'email' column"),
        (
            "email,firstname\na@example.com,Ann\n\nA@example.com ,Bob\n",
            "same contact twice (emails compared stripped and lower-cased): a@example.com in "
            "lines 2 and 4 of",
        ),
        (
            "email,firstname\na@example.com,Ann\n ,Bob\n",
            "1 correction row has no usable email: line 3 of",
        ),
    ],
)
def test_apply_explains_a_bad_file(
    text: str, message: str, sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "fixes.csv", text, "utf-8")
    result = run(capsys, sb, "apply", str(path), "--yes")
    assert result.code == 2 and message in result.err
    assert run(capsys, sb, "apply", "nowhere.csv").code == 2


# --- undo and resume -----------------------------------------------------------------------------


def test_undo_takes_an_apply_back(samples: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    before = wire(samples)
    result = run(capsys, samples, "apply", str(CORRECTIONS), "--yes", "--on-invalid", "skip")
    journal = re.search(r"hsframe undo (\S+\.jsonl)", result.out).group(1)  # type: ignore[union-attr]

    preview = run(capsys, samples, "undo", journal, "--dry-run")
    assert preview.code == 0 and "Would put back" in preview.out
    assert run(capsys, samples, "undo", journal).code == 2  # nobody to ask
    result = run(capsys, samples, "undo", journal, "--yes")
    assert result.code == 0, result.out + result.err
    assert "4 contacts archived" in result.out
    pd.testing.assert_frame_equal(wire(samples), before)


def test_resume_finishes_an_interrupted_push(
    sb: Sandbox, journal_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Crash(Exception):
        pass

    def crash(event: Any) -> None:
        if isinstance(event, Sent):
            raise Crash

    client = hs.connect(max_concurrency=1)
    frame = hs.read_contacts(client, properties=["jobtitle"], progress=False)
    frame.loc[:, "jobtitle"] = "Resumed"
    frame = diff.add(frame, [{"email": f"resume{i}@example.com"} for i in range(150)])
    with pytest.raises(Crash):
        push(frame, client, progress=False, listeners=[crash])
    [journal] = journal_dir.iterdir()

    result = run(capsys, sb, "resume", str(journal))
    assert result.code == 0, result.out + result.err
    stored = wire(sb)
    assert (stored["jobtitle"] == "Resumed").sum() == 60
    assert stored["email"].str.startswith("resume").sum() == 150
    again = run(capsys, sb, "resume", str(journal))
    assert again.code == 0 and "Already complete" in again.out, again.out
    assert "; 0 requests." in again.out


def test_a_damaged_or_missing_journal_is_a_usage_error(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, sb, "undo", "nowhere.jsonl").code == 2
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text('{"record": "nonsense"}\n')
    result = run(capsys, sb, "resume", str(damaged))
    assert result.code == 2 and result.err.startswith("hsframe: error:")


# --- errors --------------------------------------------------------------------------------------


def test_hubspot_failures_are_one_line_and_exit_4(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.inject(418, path="/crm/v3/properties", count=10)
    result = run(capsys, sb, "pull", "--out", "c.csv")
    assert result.code == 4
    assert result.err.startswith("hsframe: error:") and len(result.err.strip().splitlines()) == 1
    assert not Path("c.csv").exists()


def test_a_rotated_token_exits_3(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sb.rotate_token()
    result = run(capsys, sb, "pull", "--out", "c.csv")
    assert result.code == 3 and "rotated" in result.err
