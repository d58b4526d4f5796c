"""The notebooks in ``notebooks/``: executed headless, their outputs checked, kept stripped.

Each notebook runs top to bottom in a fresh kernel of this virtualenv's Python (nbclient),
in a temporary working directory, with no ``HUBSPOT_*`` variables, so it starts its own
sandbox; journals go to a temporary ``HSFRAME_JOURNAL_DIR``. Then a probe cell asks the same
kernel for the sandbox's token and its interpreter, and every output (text, HTML, images,
widget state) is searched for the token. The committed files must carry no outputs and no
execution counts: outputs hold contact data and make noisy diffs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01-quickstart", "02-cleanup-session", "03-bulk-corrections"]
SANDBOX_NOTICE = "Running against the local sandbox (no token configured)"
PROBE = "import sys\nprint(sandbox.token)\nprint(sys.prefix)"
FULL_TOKEN = re.compile(r"pat-[a-z]{2,4}\d*-[0-9a-f]{8}-[0-9a-f]{4}-")


def execute(name: str, workdir: Path) -> tuple[Any, str]:
    """Run a notebook in a fresh kernel; returns it (without the probe) and the probe's
    output: the sandbox token and the kernel's ``sys.prefix``, one per line."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=240,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    probe = notebook.cells.pop()
    return notebook, "".join(output.get("text", "") for output in probe.outputs)


def texts(cell: Any) -> str:
    """Everything a cell printed or displayed, as text (HTML and plain renderings)."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        for kind in ("text/plain", "text/html"):
            value = data.get(kind, "")
            parts.append(value if isinstance(value, str) else "".join(value))
    return "".join(parts)


def output_of(notebook: Any, needle: str) -> str:
    """The text output of the code cell whose source contains ``needle``."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return texts(cell)
    raise AssertionError(f"no cell contains {needle!r}")


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each notebook, executed once for all the checks (they take seconds each)."""
    import os

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("HUBSPOT_")}
    saved_journal = os.environ.get("HSFRAME_JOURNAL_DIR")
    os.environ["HSFRAME_JOURNAL_DIR"] = str(tmp_path_factory.mktemp("journal"))
    try:
        runs = {}
        for name in NAMES:
            workdir = tmp_path_factory.mktemp(name)
            notebook, probe = execute(name, workdir)
            token, prefix = probe.split()
            runs[name] = {"notebook": notebook, "token": token, "prefix": prefix, "dir": workdir}
        return runs
    finally:
        os.environ.update(saved)
        if saved_journal is None:
            os.environ.pop("HSFRAME_JOURNAL_DIR", None)
        else:
            os.environ["HSFRAME_JOURNAL_DIR"] = saved_journal


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_are_stripped(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: outputs in {cell.source[:40]!r}"
            assert cell.execution_count is None, f"{name}: an execution count"
    assert "widgets" not in notebook.metadata


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_on_the_sandbox_without_errors_or_the_token(
    name: str, executed: dict[str, Any]
) -> None:
    run = executed[name]
    notebook = run["notebook"]
    assert run["prefix"] == sys.prefix, "the kernel must be this virtualenv's Python"
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    first = texts(notebook.cells[1])
    assert SANDBOX_NOTICE in first
    everything = json.dumps(notebook)  # outputs, widget state, metadata
    token = run["token"]
    assert token.startswith("pat-") and token not in everything
    assert token[8:-4] not in everything
    assert FULL_TOKEN.search(everything) is None
    assert not list(Path(run["dir"]).glob(".env"))  # nothing saved the token


@pytest.mark.slow
def test_quickstart_loads_and_plots(executed: dict[str, Any]) -> None:
    notebook = executed["01-quickstart"]["notebook"]
    assert "1,200 contacts x 83 properties" in output_of(notebook, "read_contacts")
    assert re.search(
        r"Portal 12345678; scopes: crm\.objects\.contacts\.read",
        output_of(notebook, "token_info()"),
    )
    stages = output_of(notebook, "value_counts(dropna=False)")
    assert "lead" in stages and "Lead" in stages  # a stale value, shown as it is
    plot = next(c for c in notebook.cells if "plt.subplots" in c.get("source", ""))
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)
    form = next(c for c in notebook.cells if "token_form()" in c.get("source", ""))
    assert any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in form.outputs
    )


@pytest.mark.slow
def test_cleanup_session_pushes_and_undoes(executed: dict[str, Any]) -> None:
    notebook = executed["02-cleanup-session"]["notebook"]
    emails = output_of(notebook, "normalise_emails")
    assert re.search(r"^\d+ emails changed", emails, re.M)
    phones = output_of(notebook, "format_phones")
    assert re.search(r"^[\d,]+ of [\d,]+ phone numbers rewritten", phones, re.M)
    assert "numemployees" in output_of(notebook, "map_stale_options")  # "1-10" is left
    pushed = re.search(
        r"Pushed: ([\d,]+) cells applied, (\d+) skipped", output_of(notebook, "df.hs.push(")
    )
    assert pushed is not None and int(pushed.group(1).replace(",", "")) > 1000
    undo = re.search(
        r"Undo: ([\d,]+) cells put back, ([\d,]+) could not be", output_of(notebook, "hs.undo(")
    )
    assert undo is not None
    put_back = int(undo.group(1).replace(",", ""))
    refused = int(undo.group(2).replace(",", ""))
    assert put_back + refused == int(pushed.group(1).replace(",", ""))
    assert put_back > refused > 0
    assert "cells differ from the original load" in output_of(notebook, "base=original")


@pytest.mark.slow
def test_bulk_corrections_dry_run_then_apply(executed: dict[str, Any]) -> None:
    notebook = executed["03-bulk-corrections"]["notebook"]
    dry = output_of(notebook, "dry_run=True")
    assert "Dry run: would write 44 cells: 10 contacts updated, 4 created" in dry
    invalid = output_of(notebook, 'str.startswith("invalid")')
    for email in ("andrew.moore@example.com", "amanda.martin@example.com", "sean.obrien@example"):
        assert email in invalid
    applied = output_of(notebook, "if WRITE:")
    assert "Applied 44 cells; created 4 contacts; 0 failed" in applied
    assert "maria.gomez@example.org" in output_of(notebook, "where={")
