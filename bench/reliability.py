"""The reliability report: run the reliability suite and print what it proved, as Markdown.

The suite (``tests/reliability``) injects faults into the sandbox under every operation,
kills pushes with SIGKILL and resumes them, feeds bad input, and scans everything a user or
a log could see for the token. Each test appends what it did and what it found to a JSONL
file (``HSFRAME_RELIABILITY_RESULTS``); this script runs the suite with that file set and
sums it up:

* faults injected (met by a request), operations run, crashes survived, bad inputs tried,
  places scanned for the token;
* contacts lost, contacts duplicated, cells written outside the diff, token leaks: each
  must be 0 in the tests that pass; what the known bugs (strict xfails, reported for a
  fix) showed is listed apart, with the bugs;
* the matrix of operations x faults.

Usage::

    python bench/reliability.py              # the full form (HSFRAME_RELIABILITY=full), ~6 min
    python bench/reliability.py --reduced    # the form `make test` runs, ~2 min
    python bench/reliability.py --results results.jsonl   # report on a finished run

Exits 1 if a test failed, or if a passing test lost, duplicated or leaked anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "tests/reliability"
RESULTS_ENV = "HSFRAME_RELIABILITY_RESULTS"
MODE_ENV = "HSFRAME_RELIABILITY"
MATRIX_TEST = "test_operation_under_fault["
OPERATIONS = ("load", "push", "corrections", "undo", "resume")
FAULTS = (
    "429-burst",
    "429-search",
    "429-daily",
    "500",
    "502",
    "503",
    "504",
    "drop",
    "drop-after",
    "slow",
    "html",
    "partial-207",
    "shuffled",
    "index-lag",
)
"""The matrix's columns, in the order of tests/reliability/test_faults_matrix.py."""
MUST_BE_ZERO = (
    ("lost", "contacts lost"),
    ("duplicates", "contacts created twice"),
    ("stray", "cells written outside the diff (or left out of it)"),
    ("leaks", "token leaks"),
)


def run_suite(results: Path, *, full: bool, extra: Sequence[str]) -> tuple[int, float]:
    """Run the suite with the results file set; returns pytest's exit code and seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    env[RESULTS_ENV] = str(results)
    if full:
        env[MODE_ENV] = "full"
    else:
        env.pop(MODE_ENV, None)
    command = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", *extra]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    return done.returncode, time.monotonic() - started


def read(results: Path) -> list[dict[str, Any]]:
    """The entries of a results file (one per test)."""
    entries = []
    for line in results.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return entries


def _sum(entries: Iterable[dict[str, Any]], key: str) -> int:
    return sum(int(e.get(key) or 0) for e in entries)


def _matrix_cell(test: str) -> tuple[str, str] | None:
    if MATRIX_TEST not in test:
        return None
    ident = test.split(MATRIX_TEST, 1)[1].rstrip("]")
    operation, _, fault = ident.partition("-")
    return operation, fault


def report(entries: list[dict[str, Any]], seconds: float | None, code: int | None) -> str:
    """The Markdown report."""
    outcomes = Counter(e["outcome"] for e in entries)
    good = [e for e in entries if e["outcome"] == "passed"]
    known = [e for e in entries if e["outcome"] == "xfailed"]
    full = any(e.get("full") for e in entries)
    lines = [
        f"Reliability suite, {'full' if full else 'reduced'} form: {len(entries)} tests "
        f"({outcomes['passed']} passed, {outcomes['failed'] + outcomes['error']} failed, "
        f"{outcomes['xfailed']} known bugs as strict xfails"
        + (f", {outcomes['xpassed']} known bugs now fixed (xpassed)" if outcomes["xpassed"] else "")
        + ")"
        + (f" in {seconds:.0f} s." if seconds is not None else "."),
        "",
        "| measure | count |",
        "| --- | ---: |",
        f"| faults injected (met by a request) | {_sum(entries, 'faults'):,} |",
        f"| operations run (loads, pushes, corrections, undos, resumes) | "
        f"{_sum(entries, 'operations'):,} |",
        f"| crashes survived (SIGKILL or interrupted, then resumed) | "
        f"{_sum(entries, 'crashes'):,} |",
        f"| bad inputs tried | {_sum(entries, 'bad_inputs'):,} |",
        f"| outputs scanned for the token | {_sum(entries, 'scans'):,} |",
        f"| CRM requests sent by the operations | {_sum(entries, 'requests'):,} |",
    ]
    for key, label in MUST_BE_ZERO:
        shown = f"{_sum(good, key):,}"
        in_known = _sum(known, key)
        if in_known:
            shown += f" (+{in_known:,} in known bugs)"
        lines.append(f"| {label} (must be 0) | {shown} |")
    lines.append("")

    cells: dict[str, dict[str, str]] = defaultdict(dict)
    faults: list[str] = []
    marks = {"passed": "✓", "xfailed": "bug", "xpassed": "✓ (fixed)", "failed": "✗", "error": "✗"}
    for entry in entries:
        where = _matrix_cell(entry["test"])
        if where is None:
            continue
        operation, fault = where
        if fault not in faults:
            faults.append(fault)
        cells[operation][fault] = marks.get(entry["outcome"], entry["outcome"])
    if cells:
        faults.sort(key=lambda f: FAULTS.index(f) if f in FAULTS else len(FAULTS))
        lines += ["| operation | " + " | ".join(faults) + " |"]
        lines += ["| --- |" + " :---: |" * len(faults)]
        for operation in [op for op in OPERATIONS if op in cells]:
            row = [cells[operation].get(fault, "–") for fault in faults]
            lines.append(f"| {operation} | " + " | ".join(row) + " |")
        legend = (
            "✓: the store ends as meant, within the request bound; "
            + ("bug: a known bug (below); " if known else "")
            + "–: not run: the operation never meets the fault (only a load and corrections "
            "search; a load writes nothing that could fail in part)"
        )
        legend += "." if full else ", or the cell is left to the full form."
        lines += ["", legend, ""]

    if known:
        lines.append("Known bugs (strict xfails, reported for a fix):")
        lines.append("")
        by_reason: dict[str, list[str]] = defaultdict(list)
        for entry in known:
            by_reason[entry.get("reason") or "(no reason given)"].append(
                entry["test"].split("::", 1)[-1]
            )
        for reason, tests in by_reason.items():
            lines.append(f"- {reason} Tests: " + ", ".join(f"`{t}`" for t in tests) + ".")
        lines.append("")
    failed = [e for e in entries if e["outcome"] in ("failed", "error", "xpassed")]
    if failed:
        lines.append("Failed (or xpassed: remove the xfail):")
        lines.append("")
        lines += [f"- `{e['test']}` ({e['outcome']})" for e in failed]
        lines.append("")
    if code not in (None, 0) and not failed:
        lines.append(f"pytest exited with {code}; see its output above.")
    return "\n".join(lines)


def verdict(entries: list[dict[str, Any]], code: int | None) -> int:
    """0 when every test passed (or failed as a known bug) and nothing was lost or leaked."""
    good = [e for e in entries if e["outcome"] == "passed"]
    broken = any(e["outcome"] in ("failed", "error", "xpassed") for e in entries)
    harmed = any(_sum(good, key) for key, _ in MUST_BE_ZERO)
    return 1 if broken or harmed or (code not in (None, 0)) or not entries else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="the reduced form (make test's)")
    parser.add_argument("--results", type=Path, help="report on this results file; run nothing")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.results is not None:
        entries = read(args.results)
        print(report(entries, None, None))
        return verdict(entries, None)
    with tempfile.TemporaryDirectory(prefix="hsframe-reliability-") as folder:
        results = Path(folder) / "results.jsonl"
        results.touch()
        code, seconds = run_suite(results, full=not args.reduced, extra=args.pytest_args)
        entries = read(results)
    print()
    print(report(entries, seconds, code))
    return verdict(entries, code)


if __name__ == "__main__":
    sys.exit(main())
