"""A push killed with SIGKILL at a random point, then resumed: nothing lost, nothing twice.

The push runs in another process (``push_runner.py``), against a sandbox this process
serves over HTTP; the token reaches it through ``HUBSPOT_ACCESS_TOKEN``, the sandbox's URL
through ``HUBSPOT_BASE_URL``. For each seed the test picks a point, either "the journal has
K lines" (watched as the child writes it, so kills land between and inside any two steps:
after the plan, between a batch's intent and its outcome, between the two phases of a
lifecycle stage moved backwards...) or "after D seconds", and kills the child there with
SIGKILL: no ``finally``, no flush, as when a kernel dies or a laptop lid closes. Then
``hs.resume(journal)`` runs here, and the whole store is compared with what it held before
plus what the user meant (:func:`push_runner.push_edits`).

A child killed before its journal held the plan has sent nothing (the plan is synced
before the first CRM request): the store must be untouched, and the user simply runs the
push again, which the test does.

The same for ``apply_corrections`` with new contacts (upserted by email).

Seeds: 12 per mode in the reduced form, 100 per mode with ``HSFRAME_RELIABILITY=full``.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultkit import FULL, Intent, Ledger, TokenScanner, make_client, read_text, verdict
from push_runner import FORK_SAFE_ENV, correction_rows, push_edits

import hsframe as hs
from hsframe import journal
from hsframe.sandbox import CrmSettings, Sandbox

RUNNER = Path(__file__).with_name("push_runner.py")
SEEDS = range(100) if FULL else range(12)
CONTACTS = 240
LATENCY = 0.01
"""Seconds per request: a push takes long enough to be killed anywhere in it."""
JOB_DEADLINE = 30.0


@dataclass
class Runner:
    """The runner process and a queue of the lines it prints."""

    process: subprocess.Popen[bytes]
    lines: queue.Queue[str]
    token: str
    broken: str = ""

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def hear(self, timeout: float = JOB_DEADLINE) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the runner said nothing for {timeout} s") from None


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """The runner, started once (it warms hsframe's imports) with a token in its
    environment that every sandbox of this module uses."""
    token = f"pat-na1-{uuid.uuid4()}"
    home = tmp_path_factory.mktemp("runner")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HSFRAME_"))}
    env["HUBSPOT_ACCESS_TOKEN"] = token
    env.update(FORK_SAFE_ENV)
    log = open(home / "runner.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [sys.executable, str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=home,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            lines.put(raw.decode().strip())

    reader = threading.Thread(target=pump, daemon=True, name="runner-pump")
    reader.start()
    started = Runner(process, lines, token)
    try:
        assert started.hear(timeout=120.0) == "ready"
        yield started
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        log.close()
        # The runner's own output (tracebacks of children, if any) must not hold the token.
        assert not TokenScanner(token).find(read_text(home / "runner.log"))


def _intent(mode: str, store: Any) -> Intent:
    """What the user meant, from the runner's own edit functions and the store."""
    intent = Intent()
    if mode == "push":
        edits, rows = push_edits(store)
        for contact, values in edits.items():
            for name, value in values.items():
                raw = store.at[contact, name]
                held = None if raw is None or raw != raw else str(raw)
                if held != value:
                    intent.updates[(contact, name)] = value
        for row in rows:
            intent.creates[row["email"]] = dict(row)
        return intent
    emails = {str(e).strip().lower(): int(i) for i, e in store["email"].dropna().items()}
    for fix in correction_rows(store):
        key = str(fix["email"]).strip().lower()
        values = {k: v for k, v in fix.items() if k != "email" and v is not None}
        found = emails.get(key)
        if found is None:
            intent.creates[key] = {"email": key, **{k: str(v) for k, v in values.items()}}
            continue
        for name, value in values.items():
            if store.at[found, name] != value:
                intent.updates[(found, name)] = str(value)
    return intent


def _lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


def _journal(directory: Path) -> Path | None:
    found = sorted(directory.glob("*.jsonl")) if directory.exists() else []
    assert len(found) <= 1, found
    return found[0] if found else None


def _run(
    runner: Runner, sb: Sandbox, mode: str, workdir: Path, kill: tuple[str, float] | None
) -> tuple[bool, int]:
    """Start a job; kill it at the point given (None: let it finish). Returns whether it
    was killed before it finished, and its exit code."""
    journal_dir = workdir / "journal"
    out = workdir / f"out-{time.monotonic_ns()}.txt"
    assert not runner.broken, runner.broken
    job = {"mode": mode, "url": sb.url, "journal_dir": str(journal_dir), "out": str(out)}
    runner.say(json.dumps(job))
    pid = int(json.loads(runner.hear())["pid"])
    killed = False
    deadline = time.monotonic() + JOB_DEADLINE
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if out.exists():
                break
            if kill is not None:
                how, at = kill
                reached = (
                    _lines(_journal(journal_dir)) >= at
                    if how == "lines"
                    else time.monotonic() - started >= at
                )
                if reached:
                    # The child is not reaped until we say so: its pid cannot be reused.
                    os.kill(pid, signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.002)
        else:
            os.kill(pid, signal.SIGKILL)
            # A child that hangs means the runner is broken: fail the rest at once.
            runner.broken = f"a {mode} hung for {JOB_DEADLINE} s (see runner.log)"
            raise AssertionError(runner.broken)
    finally:
        runner.say("reap")
        code = int(json.loads(runner.hear())["exit"])
    if killed and code == 0 and out.exists():
        killed = False  # it finished just before the signal
    return killed, code


@pytest.fixture(scope="module")
def calibration(
    runner: Runner, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, float]]:
    """Per mode, the journal lines and seconds of a run nobody kills: the span to pick
    kill points from."""
    spans = {}
    for mode in ("push", "corrections"):
        workdir = tmp_path_factory.mktemp(f"calibrate-{mode}")
        with Sandbox(contacts=CONTACTS, seed=1000, latency=LATENCY, token=runner.token) as sb:
            started = time.monotonic()
            killed, code = _run(runner, sb, mode, workdir, None)
            seconds = time.monotonic() - started
        assert not killed and code == 0
        spans[mode] = (_lines(_journal(workdir / "journal")), seconds)
    return spans


def _point(seed: int, span: tuple[int, float]) -> tuple[str, float]:
    """Where to kill a run: when its journal has K lines (three runs in four), else after
    D seconds (which may be before it wrote anything)."""
    rng = random.Random(seed)
    lines, seconds = span
    if rng.random() < 0.75:
        return ("lines", float(rng.randint(1, max(1, lines - 1))))
    return ("seconds", rng.uniform(0.0, seconds))


@pytest.mark.parametrize("mode", ["push", "corrections"])
@pytest.mark.parametrize("seed", list(SEEDS))
def test_a_killed_run_is_finished_by_resume(
    runner: Runner,
    calibration: dict[str, tuple[int, float]],
    mode: str,
    seed: int,
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    ledger.kind = "crash"
    settings = CrmSettings(shuffle_results=True)
    with Sandbox(
        contacts=CONTACTS, seed=seed, latency=LATENCY, token=runner.token, settings=settings
    ) as sb:
        before = sb.contacts()
        intent = _intent(mode, before)
        point = _point(seed, calibration[mode])
        killed, code = _run(runner, sb, mode, tmp_path, point)
        ledger.operations += 1
        path = _journal(tmp_path / "journal")
        if not killed:
            assert code == 0, "the run failed without being killed (see runner.log)"
        else:
            ledger.notes.append(f"killed at {point}, journal lines {_lines(path)}")
            contents = journal.read(path) if path is not None else None
            if contents is None or contents.plan is None:
                # Killed before the plan was on disk: nothing may have been written.
                untouched = ledger.judge(verdict(before, sb.contacts(), Intent()))
                assert untouched.ok, f"written before the journal held the plan: {untouched}"
                killed_again, code = _run(runner, sb, mode, tmp_path / "again", None)
                assert not killed_again and code == 0
            else:
                assert path is not None
                with make_client(sb) as client:
                    result = hs.resume(path, client, progress=False)
                assert result.complete, result.summary()
                assert result.failed.empty and result.conflicts.empty, result.summary()
                assert journal.read(path).ended
            ledger.crashes += 1
            ledger.operations += 1
        found = ledger.judge(verdict(before, sb.contacts(), intent))
        assert found.ok, str(found)
