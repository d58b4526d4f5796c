"""Fixtures of the reliability suite: the ledger each test fills, and clean baselines.

Set ``HSFRAME_RELIABILITY=full`` for the full matrix and every crash seed (``make
reliability``); without it the suite runs its reduced form (``make test``). Set
``HSFRAME_RELIABILITY_RESULTS`` to a file and every test appends one JSON line to it: what it
injected and ran, and what it found (``bench/reliability.py`` turns them into the report).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from faultkit import RESULTS_ENV, Ledger

from hsframe import baseline

_REPORT = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep each phase's report on the item, so the ledger knows how the test ended."""
    report = yield
    item.stash.setdefault(_REPORT, {})[report.when] = report
    return report


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """The test's :class:`~faultkit.Ledger`; written to the results file at teardown."""
    entry = Ledger()
    started = time.monotonic()
    yield entry
    reports = request.node.stash.get(_REPORT, {})
    call = reports.get("call")
    reason = ""
    if call is None:
        outcome = "error"
    elif hasattr(call, "wasxfail"):
        outcome = "xfailed" if call.skipped else "xpassed"
        reason = str(call.wasxfail)
    else:
        outcome = call.outcome
    entry.record(
        os.environ.get(RESULTS_ENV),
        request.node.nodeid,
        outcome,
        time.monotonic() - started,
        reason=reason,
    )


@pytest.fixture(autouse=True)
def _clean_baselines() -> Iterator[None]:
    yield
    baseline.clear()
