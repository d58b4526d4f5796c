"""The token form in a real browser: JupyterLab served on 127.0.0.1, Debian's chromium.

The widget tests drive the form's Python side; this test checks once that the front end
shows it and talks back: JupyterLab's widget manager renders the form, a token typed into
the password field reaches the kernel, Check runs there, and the scope table appears.

How it runs, and why:

* The sandbox runs in this test's process; its URL reaches the kernel through the
  environment (``HSFRAME_BROWSER_SANDBOX_URL``) and its token only through the browser's
  keyboard, so the token is never printed in the notebook or its outputs. After the check,
  the test asserts that the token is in neither the page nor the saved notebook.
* JupyterLab gets a free port, a token of its own, ``--no-browser``, and a temporary
  directory as root, home, settings and workspaces, into which the notebook is copied: the
  user's own Jupyter set-up plays no part, and nothing is left behind.
* The browser is Debian's chromium (``/usr/bin/chromium``), driven by Playwright: never a
  browser Playwright downloads. Without it the test fails (it does not skip): ``.ci/run``
  installs it with ``apt-get install -y chromium``. Chromium starts with the background
  networking switched off, since this machine has no network beyond the package mirrors.
* A screenshot goes to ``tests/artifacts/`` (ignored by git), on success and on failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hsframe.client import READ_SCOPE, WRITE_SCOPE
from hsframe.sandbox import Sandbox

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "token_form.ipynb"
ARTIFACTS = HERE.parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
URL_ENV = "HSFRAME_BROWSER_SANDBOX_URL"
TIMEOUT_MS = 90_000


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _requirements() -> None:
    """Fail (not skip) with what to install when the browser or its driver is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get "
            "install -y chromium; .ci/run does this). Never a browser Playwright downloads."
        )
    missing = [name for name in ("playwright", "jupyterlab") if not _importable(name)]
    if missing:
        pytest.fail(
            f"Python packages missing: {', '.join(missing)}; install the dev extra "
            "(pip install -e '.[dev]')."
        )


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=20) as sb:
        yield sb


@pytest.fixture
def lab(tmp_path: Path, sandbox: Sandbox) -> Iterator[Lab]:
    _requirements()
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    home = tmp_path / "home"
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No "get notified about Jupyter news?" toast: it would ask the network, and cover the form.
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "JUPYTER"))}
    env.update(
        {
            URL_ENV: sandbox.url,
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "HSFRAME_JOURNAL_DIR": str(home / "journal"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                f"--IdentityProvider.token={token}",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.news_url=",
                "--LabApp.extension_manager=readonly",  # no look-ups in PyPI's index
                "--ServerApp.terminals_enabled=False",
                *(["--allow-root"] if os.geteuid() == 0 else []),  # CI runs as root
            ],
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        _stop(server)


def _wait_until_serving(server: Lab, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.process.returncode}:\n{server.tail()}")
        try:
            server.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{server.tail()}")


def _start_session(server: Lab, notebook: str) -> None:
    """Start the notebook's kernel session through the REST API.

    Opened without a session, JupyterLab starts one itself, and a "Run All Cells" that comes
    before it is ready gets a "Select Kernel" dialog instead; a session made beforehand is
    joined by the page as it opens.
    """
    server.api(
        "/api/sessions",
        method="POST",
        body={"path": notebook, "type": "notebook", "kernel": {"name": "python3"}},
    )


def _stop(server: Lab) -> None:
    """Shut the server down with its kernels; force it only if it does not go."""
    if server.process.poll() is None:
        try:
            server.api("/api/shutdown", method="POST")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def test_token_form_checks_a_token_in_jupyterlab(lab: Lab, sandbox: Sandbox) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "jupyterlab-token-form.png"
    started = time.monotonic()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            _start_session(lab, NOTEBOOK.name)
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?token={lab.token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Notebook")
            # The status bar, not the toolbar's indicator (idle before any kernel is there),
            # says when the kernel is connected and idle.
            page.locator(".jp-StatusBar-Widget", has_text="(ipykernel) | Idle").wait_for()

            _run_all_cells(page)

            form = page.locator(".hsframe-token-form")
            dialog = page.locator(".jp-Dialog")
            form.or_(dialog).first.wait_for()
            if dialog.is_visible():  # JupyterLab asks for a kernel after all: take its pick
                dialog.get_by_role("button", name="Select").click()
            form.wait_for()
            field = form.locator("input[type='password']")
            field.fill(sandbox.token)
            form.locator("button", has_text="Check").click()

            message = form.locator(".hsframe-message.hsframe-connected")
            message.wait_for()
            marks = {
                scope: form.locator(f"tr[data-scope='{scope}'] .hsframe-mark").inner_text()
                for scope in (READ_SCOPE, WRITE_SCOPE)
            }
            assert marks == {READ_SCOPE: "✓", WRITE_SCOPE: "✓"}
            assert str(sandbox.portal_id) in form.locator(".hsframe-account").inner_text()
            assert field.input_value() == ""  # cleared by the check
            assert sandbox.token not in page.inner_text("body")
            # The kernel really asked the sandbox, with the token typed in the browser.
            assert any(r.path.endswith("access-token-info") for r in sandbox.requests)

            page.keyboard.press("Control+s")
            page.wait_for_function(
                "() => !document.querySelector('.jp-NotebookPanel')"
                ".classList.contains('jp-mod-dirty')"
            )
            form.scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=True)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-token-form-failure.png"))
            raise
        finally:
            browser.close()
    saved = (lab.root / NOTEBOOK.name).read_text()
    assert sandbox.token not in saved and sandbox.token[8:] not in saved
    print(f"browser part took {time.monotonic() - started:.1f} s; screenshot: {shot.name}")


def _run_all_cells(page: Any, attempts: int = 2) -> None:
    """Run › Run All Cells, as a person would; returns once the code cell has started.

    A command given before the page's kernel connection is up is dropped (the cell keeps its
    empty ``[ ]:`` prompt); the caller waits for the status bar to say so, and should a
    command be dropped all the same, the menu is used once more. A cell that did start is
    never run twice.
    """
    from playwright.sync_api import expect

    page.locator("#jupyterlab-splash").wait_for(state="detached")
    # Looked up afresh on each poll: JupyterLab replaces the prompt's element.
    prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for attempt in range(1, attempts + 1):
        page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # the notebook is current
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            expect(prompt).not_to_have_text(re.compile(r"\[\s*\]"), timeout=20_000)
            return
        except AssertionError:
            if attempt == attempts:
                raise
            print("Run All Cells: the code cell did not start; using the menu again")
