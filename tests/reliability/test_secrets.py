"""The token never shows, never travels in clear or to another host, and cannot write
without the write scope.

One scanner (:class:`faultkit.TokenScanner`) looks for the token and for its distinctive
tail (what a mask does not show) in everything a user or a log could see: the repr and str
of every public object, log records at DEBUG from every logger while a load, a push, a 401
and a 429 happen, the messages and formatted tracebacks (with local variables) of every
error, the journals, the command's output, the token form's widget state, and executed
notebooks. Each place scanned counts in the report; each hit is a leak.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import nbclient
import nbformat
import pandas as pd
import pytest
from faultkit import (
    FULL,
    WINDOW,
    Ledger,
    TokenScanner,
    make_client,
    newest,
    read_text,
    unique_emails,
    writes,
)

import hsframe as hs
from hsframe import cli, diff, send, write
from hsframe.client import READ_SCOPE, Client
from hsframe.config import InsecureFileWarning, Secret, Settings, save_token
from hsframe.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    HubSpotError,
    MissingScopesError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hsframe.ratelimit import RateBudget
from hsframe.result import PushResult
from hsframe.sandbox import CrmSettings, Sandbox
from hsframe.transport import Transport
from hsframe.validate import ValidationReport

PROPERTIES = ["email", "firstname", "jobtitle", "city"]
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


class Scan:
    """Scans texts for one token and keeps count in the ledger."""

    def __init__(self, token: str, ledger: Ledger) -> None:
        self.scanner = TokenScanner(token)
        self.ledger = ledger
        self.ledger.kind = "secret"
        self.hits: dict[str, list[str]] = {}

    def __call__(self, where: str, text: str) -> None:
        self.ledger.scans += 1
        found = self.scanner.find(text)
        if found:
            self.ledger.leaks += 1
            self.hits[where] = found

    def clean(self) -> None:
        assert not self.hits, f"the token shows in: {sorted(self.hits)}"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=150, window=WINDOW, settings=CrmSettings(shuffle_results=False)) as s:
        yield s


def _push_some(client: Client, journal_dir: Path, title: str = "Scanned") -> PushResult:
    df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
    df.loc[df.index[:120], "jobtitle"] = title
    frame = diff.add(df, [{"email": f"scan.{title.lower()}@example.com", "firstname": "S"}])
    return write.push(frame, client, progress=False, journal_dir=journal_dir)


HERE = str(Path(__file__).resolve().parent)


def _everything_about(error: BaseException, *, with_locals: bool = True) -> str:
    """What a user could see of an error: str, repr, the hint and body, and its tracebacks,
    chained ones included, plain and with every frame's local variables (as IPython's
    verbose mode, rich tracebacks and error trackers show them). The test's own frames are
    left out: their locals are the test's, not hsframe's."""
    parts = [str(error), repr(error)]
    parts += traceback.format_exception(error)
    if isinstance(error, HubSpotError):
        parts += [str(error.hint), json.dumps(error.body, default=str)]
    seen: set[int] = set()
    current: BaseException | None = error
    while with_locals and current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [
            (frame, line)
            for frame, line in traceback.walk_tb(current.__traceback__)
            if not frame.f_code.co_filename.startswith(HERE)
        ]
        parts += traceback.StackSummary.extract(iter(frames), capture_locals=True).format()
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# --- reprs, logs, errors, journals ----------------------------------------------------------------


def test_no_public_object_shows_the_token(sb: Sandbox, tmp_path: Path, ledger: Ledger) -> None:
    scan = Scan(sb.token, ledger)
    settings = Settings(token=Secret(sb.token), base_url=sb.url)
    transport = Transport(settings)
    with make_client(sb) as client:
        result = _push_some(client, tmp_path / "journal")
        df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
        df.loc[df.index[0], "email"] = "not an email"
        report = df.hs.validate()
        info = client.token_info()
        objects: dict[str, Any] = {
            "Client": client,
            "Settings": settings,
            "Secret": settings.token,
            "Transport": transport,
            "RateBudget": transport.budget,
            "Sandbox": sb,
            "Sandbox.auth": sb.auth,
            "Sandbox.core": sb.core,
            "PushResult": result,
            "ValidationReport": report,
            "TokenInfo": info,
            "change set": diff.changes(df),
            "journal contents": hs.journal.read(result.journal),  # type: ignore[arg-type]
        }
        for name, value in objects.items():
            scan(f"repr({name})", repr(value))
            scan(f"str({name})", str(value))
            scan(f"format({name})", f"{value}")
        scan("PushResult.summary()", result.summary())
        scan("PushResult._repr_html_()", result._repr_html_())
        scan("ValidationReport.failures", report.failures.to_string())
        assert isinstance(report, ValidationReport)
        scan("df.attrs", json.dumps(df.attrs, default=str))
    transport.close()
    scan.clean()


def test_debug_logs_never_show_the_token(
    sb: Sandbox, tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger (hsframe's, urllib3's, the sandbox's) at DEBUG, while a load and a push
    run, a 429 is retried, and a rotated token is refused."""
    scan = Scan(sb.token, ledger)
    old = sb.token
    # Each logger by name too: another library may have raised one's level (the official
    # SDK's configuration sets urllib3's to WARNING), which would hide its records here.
    for name in (None, "hsframe", "hsframe.transport", "hsframe.sandbox", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    with make_client(sb) as client:
        sb.inject(429, path="/batch/read")
        sb.inject(503, path="/batch/update")
        _push_some(client, tmp_path / "journal")
        sb.rotate_token()
        with pytest.raises(AuthenticationError):
            hs.read_contacts(client, properties=PROPERTIES, progress=False)
    records = caplog.records
    loggers = {r.name.split(".")[0] for r in records}
    assert {"hsframe", "urllib3"} <= loggers, loggers
    assert any("retrying" in r.getMessage() for r in records)
    for record in records:
        text = f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}"
        scan(f"log {record.name}", text)
    scan("caplog.text", caplog.text)
    assert scan.scanner.token == old  # the token the client used (rotated since)
    scan.clean()


ERRORS: dict[str, Callable[[Sandbox, Client, Path], None]] = {}


def _error(name: str) -> Callable[[Callable[[Sandbox, Client, Path], None]], Any]:
    def register(fn: Callable[[Sandbox, Client, Path], None]) -> Any:
        ERRORS[name] = fn
        return fn

    return register


@_error("AuthenticationError")
def _unauthorized(sb: Sandbox, client: Client, tmp: Path) -> None:
    sb.inject(401, path="/crm/v3/properties")
    client.property_definitions(refresh=True)


@_error("MissingScopesError")
def _missing_scope(sb: Sandbox, client: Client, tmp: Path) -> None:
    with make_client(sb, token=sb.issue_token([READ_SCOPE])) as reader:
        df = hs.read_contacts(reader, properties=PROPERTIES, progress=False)
        df.loc[df.index[0], "jobtitle"] = "x"
        write.push(df, reader, progress=False, journal_dir=tmp)


@_error("NotFoundError")
def _not_found(sb: Sandbox, client: Client, tmp: Path) -> None:
    client.get("99999999", ["email"])


@_error("ValidationError")
def _invalid(sb: Sandbox, client: Client, tmp: Path) -> None:
    client.batch_update([{"id": str(sb.contacts().index[0]), "properties": {"nope": "x"}}])


@_error("ConflictError")
def _conflict(sb: Sandbox, client: Client, tmp: Path) -> None:
    email = str(unique_emails(sb.contacts()).iloc[0])
    client.batch_create([{"properties": {"email": email}}])


@_error("RateLimitError")
def _daily(sb: Sandbox, client: Client, tmp: Path) -> None:
    sb.inject(429, policy="DAILY", path="/crm/v3/properties")
    client.property_definitions(refresh=True)


@_error("ServerError")
def _server(sb: Sandbox, client: Client, tmp: Path) -> None:
    sb.inject(500, path="/crm/v3/properties", count=10)
    client.property_definitions(refresh=True)


@_error("TransportError")
def _dropped(sb: Sandbox, client: Client, tmp: Path) -> None:
    sb.inject(drop=True, path="/batch/create", count=3)
    client.batch_create([{"properties": {"email": "dropped@example.com"}}])


@_error("ConfigurationError")
def _plain_http(sb: Sandbox, client: Client, tmp: Path) -> None:
    hs.connect(token=sb.token, base_url="http://example.com")


@_error("PushInterruptedError")
def _interrupted(sb: Sandbox, client: Client, tmp: Path) -> None:
    sb.inject(429, policy="DAILY", path="/batch/update")
    _push_some(client, tmp)


@_error("JournalError")
def _journal(sb: Sandbox, client: Client, tmp: Path) -> None:
    path = tmp / "broken.jsonl"
    path.write_text('{"record":"header","format":1}\nnot json\n{}\n')
    hs.resume(path, client, progress=False)


@_error("InvalidEditsError")
def _invalid_edits(sb: Sandbox, client: Client, tmp: Path) -> None:
    df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
    df.loc[df.index[0], "email"] = "no"
    write.push(df, client, progress=False, journal_dir=tmp)


@pytest.mark.parametrize("name", list(ERRORS))
def test_no_error_shows_the_token(name: str, sb: Sandbox, tmp_path: Path, ledger: Ledger) -> None:
    scan = Scan(sb.token, ledger)
    with make_client(sb, max_retries=1) as client:
        client.property_definitions()
        with pytest.raises(HubSpotError) as caught:
            ERRORS[name](sb, client, tmp_path)
    error = caught.value
    assert type(error).__name__ == name, repr(error)
    scan(f"{name} (str, repr, tracebacks with locals)", _everything_about(error))
    scan.clean()
    expected: dict[str, type[HubSpotError]] = {
        "AuthenticationError": AuthenticationError,
        "MissingScopesError": MissingScopesError,
        "NotFoundError": NotFoundError,
        "ValidationError": ValidationError,
        "ConflictError": ConflictError,
        "RateLimitError": RateLimitError,
        "ServerError": ServerError,
        "TransportError": TransportError,
        "ConfigurationError": ConfigurationError,
    }
    if name in expected:
        assert isinstance(error, expected[name])
    assert error.hint, "every error says what to do next"


def test_journals_hold_no_token_and_are_private(
    sb: Sandbox, tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = Scan(sb.token, ledger)
    journal_dir = tmp_path / "private" / "journals"
    monkeypatch.setenv("HSFRAME_JOURNAL_DIR", str(journal_dir))
    previous = os.umask(0)  # the most permissive umask: modes must not depend on it
    try:
        with make_client(sb) as client:
            pushed = write.push(_edited(client), client, progress=False)
            hs.undo(pushed, client, progress=False)
            fixes = pd.DataFrame({"email": ["journal.scan@example.com"], "city": ["Oslo"]})
            hs.apply_corrections(fixes, client=client, progress=False)
            hs.archive(list(sb.contacts().index[-2:]), client, progress=False)
    finally:
        os.umask(previous)
    paths = sorted(journal_dir.glob("*.jsonl"))
    assert len(paths) == 4
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        scan(f"journal {path.name.split('-')[1]}", read_text(path))
    assert stat.S_IMODE(journal_dir.stat().st_mode) == 0o700
    scan.clean()


def _edited(client: Client) -> pd.DataFrame:
    df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
    df.loc[df.index[:5], "city"] = "Journaled"
    return diff.add(df, [{"email": "journaled@example.com"}])


# --- files: .env ----------------------------------------------------------------------------------


def test_dotenv_is_private_and_a_readable_one_is_warned_about(
    sb: Sandbox, tmp_path: Path, ledger: Ledger
) -> None:
    scan = Scan(sb.token, ledger)
    path = save_token(sb.token, tmp_path / ".env")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    environ: dict[str, str] = {}
    with hs.connect(base_url=sb.url, environ=environ, dotenv_path=path) as client:
        assert client.token_info().portal_id == sb.portal_id
        scan("repr(client from .env)", repr(client))
    path.chmod(0o644)
    with pytest.warns(InsecureFileWarning, match="chmod 600") as warned:
        hs.connect(base_url=sb.url, environ=environ, dotenv_path=path).close()
    scan("InsecureFileWarning", str(warned[0].message))
    scan.clean()


# --- the command ----------------------------------------------------------------------------------


def test_the_command_never_prints_the_token(
    sb: Sandbox,
    tmp_path: Path,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scan = Scan(sb.token, ledger)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sb.token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", sb.url)
    monkeypatch.setenv("HSFRAME_JOURNAL_DIR", str(tmp_path / "journal"))
    emails = sb.contacts()["email"].dropna()
    fixes = tmp_path / "fixes.csv"
    fixes.write_text(f"email,city\n{emails.iloc[0]},Oslo\nnew.cli@example.com,Rome\n")
    runs: list[tuple[str, list[str]]] = [
        ("token check", ["token", "check"]),
        ("pull", ["pull", "--out", str(tmp_path / "all.csv"), "--properties", "email,city"]),
        ("apply dry run", ["apply", str(fixes), "--dry-run"]),
        ("apply", ["apply", str(fixes), "--yes"]),
    ]
    codes = {}
    for label, argv in runs:
        codes[label] = cli.main(argv)
        out, err = capsys.readouterr()
        scan(f"hsframe {label}", out + err)
    assert set(codes.values()) == {0}, codes
    journal = newest(tmp_path / "journal", "*-corrections-*.jsonl")
    for label, argv in [
        ("undo", ["undo", str(journal), "--yes"]),
        ("resume", ["resume", str(journal)]),
    ]:
        codes[label] = cli.main(argv)
        out, err = capsys.readouterr()
        scan(f"hsframe {label}", out + err)
    # failures: a daily limit, then a rotated token, then an unsafe URL
    sb.inject(429, policy="DAILY", path="/crm/v3/objects/contacts")
    codes["daily"] = cli.main(["pull", "--out", str(tmp_path / "daily.csv")])
    out, err = capsys.readouterr()
    scan("hsframe pull (daily limit)", out + err)
    sb.rotate_token()
    codes["rotated"] = cli.main(["token", "check"])
    out, err = capsys.readouterr()
    scan("hsframe token check (rotated)", out + err)
    codes["http"] = cli.main(["token", "check", "--base-url", "http://example.com"])
    out, err = capsys.readouterr()
    scan("hsframe token check (plain http)", out + err)
    assert (codes["daily"], codes["rotated"], codes["http"]) == (4, 3, 3), codes
    scan.clean()
    # and as a real process, the (rotated) token in its environment
    scan = Scan(sb.token, ledger)
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": sb.token, "HUBSPOT_BASE_URL": sb.url}
    ran = subprocess.run(
        [sys.executable, "-m", "hsframe.cli", "token", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    scan("hsframe token check (process)", ran.stdout + ran.stderr)
    scan.clean()


# --- widgets and notebooks ------------------------------------------------------------------------


def test_the_token_form_keeps_the_token_out_of_its_state(
    sb: Sandbox, tmp_path: Path, ledger: Ledger
) -> None:
    scan = Scan(sb.token, ledger)
    form = hs.widgets.token_form(base_url=sb.url, env_file=tmp_path / ".env")
    form.token.value = sb.token
    form.check_button.click()
    result = form.result
    assert result is not None and result.status == "connected" and result.client is not None
    scan("repr(TokenForm)", repr(form))
    scan("repr(TokenResult)", repr(result))
    states = [w.get_state() for w in _widgets(form)]
    scan("widget state", json.dumps(states, default=str))
    result.client.close()
    scan.clean()


def _widgets(root: Any) -> list[Any]:
    found, todo = [], [root]
    while todo:
        widget = todo.pop()
        found.append(widget)
        todo.extend(getattr(widget, "children", ()))
    return found


@pytest.mark.slow
def test_executed_notebooks_hold_no_token(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/test_notebooks.py runs the notebooks in ``make test`` and scans them; here
    (all three in the full form, the first in the reduced one) the same scan is counted
    for the report, journals included. No HUBSPOT_* variable is set (the autouse fixture
    clears them), so each notebook starts its own sandbox; a last cell prints its token."""
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    names = names if FULL else names[:1]
    ledger.kind = "secret"
    monkeypatch.setenv("HSFRAME_JOURNAL_DIR", str(tmp_path / "journal"))
    for name in names:
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        notebook.cells.append(nbformat.v4.new_code_cell("print(sandbox.token)"))
        workdir = tmp_path / name
        workdir.mkdir()
        nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=240,
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
        probe = notebook.cells.pop()
        token = "".join(o.get("text", "") for o in probe.outputs).strip()
        assert token.startswith("pat-")
        scan = Scan(token, ledger)
        scan(f"notebook {name}", json.dumps(notebook))
        for path in (tmp_path / "journal").glob("*.jsonl"):
            scan(f"notebook {name} journal", read_text(path))
        scan.clean()


# --- where the token may go -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://api.hubapi.com",
        "http://10.0.0.1:8080",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "ftp://127.0.0.1",
        "https://user:secret@api.hubapi.com",
    ],
)
def test_plain_http_to_another_host_is_refused(url: str, ledger: Ledger) -> None:
    scan = Scan("pat-na1-00000000-1111-4222-8333-444455556666", ledger)
    with pytest.raises(ConfigurationError) as caught:
        hs.connect(token=scan.scanner.token, base_url=url)
    says = _everything_about(caught.value, with_locals=False)
    assert "unencrypted" in says or "credentials" in says or "not an http" in says, says
    scan(f"ConfigurationError for {url}", says)
    scan.clean()


@pytest.mark.parametrize("source", ["argument", "environment", "dotenv"])
def test_a_settings_error_shows_no_token_in_a_traceback_with_locals(
    source: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = "pat-na1-00000000-1111-4222-8333-444455556666"
    scan = Scan(token, ledger)
    monkeypatch.chdir(tmp_path)
    if source == "dotenv":
        monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
        hs.config.save_token(token, tmp_path / ".env")
    else:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    given = token if source == "argument" else None
    bad: list[dict[str, Any]] = [{"base_url": "http://example.com"}, {"tier": "gold"}]
    for options in bad:
        with pytest.raises((ConfigurationError, ValueError)) as caught:
            hs.connect(token=given, **options)
        scan(f"{options} from the {source}", _everything_about(caught.value))
    scan.clean()


def test_the_warning_about_a_readable_env_file_shows_no_token_as_an_error(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under ``-W error`` the warning is raised inside the .env reader: its frames too."""
    token = "pat-na1-00000000-1111-4222-8333-444455556666"
    scan = Scan(token, ledger)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    (tmp_path / ".env").write_text(f"HUBSPOT_ACCESS_TOKEN={token}\n")
    (tmp_path / ".env").chmod(0o644)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hs.config.InsecureFileWarning)
        with pytest.raises(hs.config.InsecureFileWarning) as caught:
            hs.connect()
    scan("the .env warning raised as an error", _everything_about(caught.value))
    scan.clean()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"])
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    hs.connect(token="pat-na1-00000000-1111-4222-8333-444455556666", base_url=url).close()


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with ``self.server.answer`` and records the headers."""

    def _handle(self) -> None:
        server: Any = self.server
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server.seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = server.answer
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(answer: tuple[int, dict[str, str], bytes]) -> Any:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    server.answer = answer
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(
    ("host", "target"), [("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")]
)
def test_a_redirect_to_another_host_never_carries_the_token(
    status: int, host: str, target: str, ledger: Ledger
) -> None:
    token = "pat-na1-0a1b2c3d-1111-4222-8333-444455556666"
    scan = Scan(token, ledger)
    elsewhere = _serve((200, {"Content-Type": "application/json"}, b'{"results": []}'))
    port = elsewhere.server_address[1]
    location = f"http://{target}:{port}/crm/v3/objects/contacts"
    first = _serve((status, {"Location": location}, b""))
    try:
        base = f"http://{host}:{first.server_address[1]}"
        with hs.connect(token=token, base_url=base, max_retries=0) as client:
            with pytest.raises(HubSpotError) as caught:
                client.list_page(["email"])
            assert caught.value.status == status
            with pytest.raises(HubSpotError):
                client.batch_update([{"id": "1", "properties": {"city": "x"}}])
        assert [h.get("authorization") for h in first.seen] == [f"Bearer {token}"] * 2
        assert not any("authorization" in h for h in elsewhere.seen)
        assert elsewhere.seen == []  # never followed at all
        scan("redirect error", _everything_about(caught.value))
    finally:
        for server in (first, elsewhere):
            server.shutdown()
            server.server_close()
    scan.clean()


# --- the write scope ------------------------------------------------------------------------------


WRITES: dict[str, Callable[[Client, Sandbox, Path, PushResult], Any]] = {
    "push": lambda c, sb, tmp, done: write.push(_edited(c), c, progress=False, journal_dir=tmp),
    "apply_corrections": lambda c, sb, tmp, done: hs.apply_corrections(
        pd.DataFrame({"email": ["scope@example.com"], "city": ["Oslo"]}),
        client=c,
        progress=False,
        journal_dir=tmp,
    ),
    "archive": lambda c, sb, tmp, done: hs.archive(
        list(sb.contacts().index[:2]), c, progress=False, journal_dir=tmp
    ),
    "undo": lambda c, sb, tmp, done: hs.undo(done, c, progress=False, journal_dir=tmp),
    "resume": lambda c, sb, tmp, done: hs.resume(done.journal, c, progress=False),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("operation", list(WRITES))
def test_a_write_needs_the_write_scope_before_the_first_batch(
    operation: str, sb: Sandbox, tmp_path: Path, ledger: Ledger
) -> None:
    scan = Scan(sb.token, ledger)
    with make_client(sb) as writer:
        done = _push_some(writer, tmp_path / "done", "Done")
        if operation == "resume":
            done = _crashed(writer, tmp_path / "crashed")
    journal_bytes = done.journal.read_bytes() if done.journal is not None else b""
    reader_token = sb.issue_token([READ_SCOPE])
    before = sb.contacts()
    with make_client(sb, token=reader_token) as reader:
        sb.clear_requests()
        with pytest.raises(MissingScopesError) as caught:
            WRITES[operation](reader, sb, tmp_path / "journal", done)
    assert not writes(sb), [(r.method, r.path) for r in writes(sb)]
    assert sb.contacts().equals(before)
    if operation == "resume":
        assert done.journal is not None and done.journal.read_bytes() == journal_bytes
    assert not (tmp_path / "journal").exists(), "a journal was opened for a refused run"
    text = str(caught.value)
    assert "crm.objects.contacts.write" in text and "Private Apps" in text, text
    assert caught.value.missing == ("crm.objects.contacts.write",)
    scanner = TokenScanner(reader_token)
    scan("MissingScopesError", _everything_about(caught.value))
    assert not scanner.find(_everything_about(caught.value))
    scan.clean()


def _crashed(client: Client, journal_dir: Path) -> PushResult:
    """A push interrupted after its first batch (its result names the journal)."""

    def crash(event: send.Event) -> None:
        if isinstance(event, send.Sent):
            raise RuntimeError("the kernel died")

    with pytest.raises(RuntimeError):
        write.push(
            _edited(client), client, progress=False, journal_dir=journal_dir, listeners=[crash]
        )
    [path] = journal_dir.iterdir()
    return hs.journal.result_of(path)


def test_a_secret_is_revealed_only_where_it_is_sent(ledger: Ledger) -> None:
    """Settings keep the token as a Secret; a plain string given to them is wrapped."""
    token = "pat-eu1-9f8e7d6c-1111-4222-8333-444455556666"
    scan = Scan(token, ledger)
    settings = Settings(token=cast(Any, token))
    assert isinstance(settings.token, Secret)
    budget = RateBudget("professional")
    for value in (settings, settings.token, budget, Secret(token)):
        scan(type(value).__name__, repr(value) + str(value) + f"{value!s:>80}")
    scan("Settings.__dict__", repr(vars(settings)))
    scan.clean()
