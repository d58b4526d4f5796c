"""The ``hsframe`` command: ``sandbox serve`` as a real process, ``demo`` end to end."""

from __future__ import annotations

import importlib.metadata
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

import pytest
import requests

from hsframe.cli import main

COMMAND = [sys.executable, "-m", "hsframe.cli"]
TOKEN = "pat-na1-7d0c4b8e-0000-4000-8000-cli000000001"


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


def test_the_console_script_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts")
    assert scripts["hsframe"].value == "hsframe.cli:main"


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


def test_demo_runs_end_to_end() -> None:
    finished = subprocess.run(
        [*COMMAND, "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = finished.stdout
    for step in (
        "access-token-info",
        "GET /crm/v3/objects/contacts",
        "POST /crm/v3/objects/contacts/search",
        "PATCH /crm/v3/objects/contacts/",
        "(matches)",
        "Round trip complete: 5 requests over HTTP",
    ):
        assert step in report, report
    assert re.search(r"pat-na1-[0-9a-f]{8}-", report) is None  # the token is masked


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "sandbox" in capsys.readouterr().out
    assert main(["sandbox"]) == 2
    assert "serve" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments",
    [
        ["sandbox", "serve", "--tier", "gold"],
        ["sandbox", "serve", "--contacts", "10", "--sample"],
        ["sandbox", "serve", "--latency", "soon"],
        ["nonsense"],
    ],
)
def test_bad_arguments_are_usage_errors(arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(arguments)
    assert caught.value.code == 2


@pytest.mark.parametrize("option", [["--window", "0"], ["--latency", "-1"]])
def test_bad_values_are_explained(option: list[str]) -> None:
    with pytest.raises(SystemExit, match="cannot start the sandbox"):
        main(["sandbox", "serve", "--contacts", "1", *option])


def test_a_missing_csv_is_explained() -> None:
    with pytest.raises(SystemExit, match="number or a CSV file"):
        main(["sandbox", "serve", "--contacts", "nowhere.csv"])
