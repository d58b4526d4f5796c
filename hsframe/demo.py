"""The demo: the whole cleanup story on a local sandbox, verified at every step.

``hsframe demo`` (and ``make demo``) is the main job a newcomer runs: it starts a sandbox,
loads, cleans up, validates, pushes, reads back, undoes and reads back again, then prints a
table of the steps. It lives apart from :mod:`hsframe.cli` because it is a session of the
library, not argument parsing: the command only turns its options into :func:`run_demo`'s
arguments, and tests and notebooks can call :func:`run_demo` with any output stream.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from hsframe import cleanup, diff, terminal
from hsframe.client import READ_SCOPE, WRITE_SCOPE, Client
from hsframe.config import Secret, Settings
from hsframe.errors import mask
from hsframe.load import read_contacts
from hsframe.recovery import CANNOT_RESTORE, undo
from hsframe.result import PushResult
from hsframe.sandbox import Sandbox
from hsframe.sandbox.facade import ContactsSource

__all__ = ["DEMO_STALE_MAPPING", "EXIT_FAILED", "EXIT_OK", "run_demo"]

EXIT_OK = 0
"""Every verification held."""
EXIT_FAILED = 1
"""A verification failed (a ✗ in the closing table)."""

DEMO_STALE_MAPPING: dict[str, dict[str, str | None]] = {
    "lifecyclestage": {"prospect": "lead"},
    "hs_lead_status": {"Prospect": "OPEN", "Nurturing": "IN_PROGRESS", "DEAD": "UNQUALIFIED"},
    "industry": {
        "TECHNOLOGY": "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "Healthcare": "HOSPITAL_HEALTH_CARE",
    },
    "numemployees": {"10000+": "1000+"},
    "customer_tier": {"enterprise": "platinum"},
    "product_interest": {"website_builder": "cms"},
}
"""The demo's decisions for stale values that match no option by name (the sample portal's;
``Lead`` → ``lead`` and the like need none). ``numemployees`` ``1-10`` is left for a person:
it straddles two options."""


@dataclass
class _Step:
    """One line of the demo's closing table."""

    name: str
    ok: bool = True
    result: str = ""
    requests: int = 0
    seconds: float = 0.0


@dataclass
class _Demo:
    """The demo's state: where it writes, its client and sandbox, the steps so far."""

    out: TextIO
    sandbox: Sandbox
    client: Client
    progress: bool
    journal_dir: Path
    steps: list[_Step] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, number: int, name: str, title: str) -> Iterator[_Step]:
        self.say(f"\n{number}. {title}")
        step = _Step(name)
        requests = _requests(self.client)
        started = time.monotonic()
        try:
            yield step
        finally:
            step.seconds = time.monotonic() - started
            step.requests = _requests(self.client) - requests
            self.steps.append(step)


def run_demo(
    out: TextIO,
    *,
    contacts: ContactsSource = None,
    latency: float = 0.0,
    progress: bool = False,
) -> int:
    """The main job: a cleanup session on a local sandbox, verified at every step.

    Starts a sandbox (real HTTP on 127.0.0.1), loads every contact with every property,
    normalises emails, tidies names and maps stale enumeration values
    (:mod:`hsframe.cleanup`, :data:`DEMO_STALE_MAPPING`), validates (rows with edits that
    cannot be fixed automatically are skipped), pushes, reads the sandbox's store back to
    verify that exactly the intended cells changed, undoes the push, and verifies again.

    Args:
        out: Where to write the report.
        contacts: The sandbox's contacts (default: the 1,200 samples).
        latency: Seconds per request.
        progress: Show progress bars (on standard error).

    Returns:
        0 when every verification held, 1 otherwise.
    """
    with (
        Sandbox(contacts, latency=latency) as sb,
        Client(Settings(token=Secret(sb.token), base_url=sb.url)) as client,
        tempfile.TemporaryDirectory(prefix="hsframe-demo-") as journals,
    ):
        demo = _Demo(out, sb, client, progress, Path(journals))
        demo.say("hsframe demo: a cleanup session on a local HubSpot sandbox, over real HTTP")
        demo.say(
            f"  sandbox {sb.url}: {len(sb.contacts()):,} contacts, token {mask(sb.token)} "
            "(shown masked); nothing leaves this machine"
        )
        original = sb.contacts()
        _demo_session(demo, original)
        _demo_report(demo)
    return EXIT_OK if all(step.ok for step in demo.steps) else EXIT_FAILED


def _demo_session(demo: _Demo, original: pd.DataFrame) -> None:
    with demo.step(1, "connect", "Connect and check the token") as step:
        info = demo.client.require_scopes("read", "write")
        scopes = ", ".join(f"{s} ✓" for s in (READ_SCOPE, WRITE_SCOPE))
        demo.say(f"   portal {info.portal_id}, app {info.app_id}: {scopes}")
        step.result = f"portal {info.portal_id}, read ✓ write ✓"

    with demo.step(2, "load", "Load every contact with every property") as step:
        frame = read_contacts(demo.client, properties="all", progress=demo.progress)
        kinds = frame.dtypes.astype(str).str.replace(r"\(.*", "", regex=True).value_counts()
        demo.say(f"   {len(frame):,} contacts x {frame.shape[1]} properties, typed:")
        demo.say("   " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
        step.result = f"{len(frame):,} contacts x {frame.shape[1]} properties"

    with demo.step(3, "clean up", "Clean up: emails, names, stale options") as step:
        cleaned = _demo_cleanup(demo, frame)
        change_set = cleaned.hs.changes()
        counted = diff.summary(change_set)
        step.result = f"{counted.cells:,} cells in {counted.contacts:,} contacts"

    with demo.step(4, "validate", "Validate the edits against the portal's schema") as step:
        report = cleaned.hs.validate()
        step.result = _demo_validation(demo, report)

    with demo.step(5, "diff", "The diff, by property") as step:
        by_property = counted.by_property
        rows = [(name, f"{int(row['update']):,}") for name, row in by_property.iterrows()]
        for line in terminal.table(("property", "cells"), rows, indent="   "):
            demo.say(line)
        demo.say(
            f"   {counted.cells:,} cells in {counted.contacts:,} contacts; "
            f"{len(report.invalid_rows):,} of those contacts will be skipped"
        )
        step.result = f"{len(by_property)} properties"

    with demo.step(6, "push", "Push (invalid rows skipped), journaled and verified") as step:
        result = cleaned.hs.push(
            demo.client,
            on_invalid="skip",
            progress=demo.progress,
            journal_dir=demo.journal_dir,
        )
        demo.say(
            f"   {len(result.applied):,} cells applied, {len(result.failed):,} failed, "
            f"{len(result.conflicts):,} conflicts, {len(result.skipped):,} skipped "
            f"(the rows with invalid cells); {result.requests:,} requests"
        )
        demo.say(f"   journal: {result.journal} (a temporary folder)")
        step.ok = result.ok and result.complete
        step.result = f"{len(result.applied):,} cells applied, {len(result.skipped):,} skipped"

    with demo.step(7, "verify", "Verify: read the sandbox back") as step:
        pushed = demo.sandbox.contacts()
        expected = _with_cells(original, result.applied)
        wrong = _mismatches(expected, pushed)
        step.ok = not wrong and len(result.applied) > 0
        compared = expected.drop(columns=["lastmodifieddate"], errors="ignore").size
        unchanged = compared - len(result.applied)
        if step.ok:
            demo.say(
                f"   the {len(result.applied):,} cells hold exactly the new wire values; the "
                f"other {unchanged:,} cells are unchanged (lastmodifieddate aside: HubSpot "
                "stamps it on every write)"
            )
            step.result = f"{len(result.applied):,} cells as intended, nothing else changed"
        else:
            _say_mismatches(demo, wrong)
            step.result = f"{len(wrong):,} cells not as intended"

    with demo.step(8, "undo", "Undo the push") as step:
        undone = undo(result, demo.client, progress=demo.progress, journal_dir=demo.journal_dir)
        kept = _not_restored(undone)
        demo.say(
            f"   {len(undone.applied):,} cells put back; {len(kept):,} could not be; "
            f"{undone.requests:,} requests"
        )
        if len(kept):
            _explain_not_restored(demo, kept)
        step.ok = undone.complete
        step.result = f"{len(undone.applied):,} put back, {len(kept):,} reported"

    with demo.step(9, "verify", "Verify: read the sandbox back again") as step:
        now = demo.sandbox.contacts()
        expected = _with_cells(original, kept)
        wrong = _mismatches(expected, now)
        step.ok = not wrong
        if step.ok:
            demo.say(
                f"   every cell is back to the original, but for the {len(kept):,} cells the "
                "undo reported (emails compared as HubSpot stores them: lower case)"
            )
            step.result = "back to the original, but for the reported cells"
        else:
            _say_mismatches(demo, wrong)
            step.result = f"{len(wrong):,} cells not as expected"


def _demo_cleanup(demo: _Demo, frame: pd.DataFrame) -> pd.DataFrame:
    recipes: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]] = [
        ("emails: strip, lower-case", cleanup.normalise_emails),
        ("names: stray whitespace; ALL CAPS and lower case to Title Case", cleanup.tidy_names),
        (
            "stale options: the obvious matches, then the demo's mapping",
            lambda f: cleanup.map_stale_options(f, DEMO_STALE_MAPPING),
        ),
    ]
    current = frame
    for title, recipe in recipes:
        after = recipe(current)
        changed = diff.changes(after, current)
        demo.say(f"   {title}: {len(changed):,} cells, e.g.")
        for record in _examples(changed, 3).itertuples(index=False):
            demo.say(
                f"     {record.property}: {terminal.cell(record.old)} → {terminal.cell(record.new)}"
            )
        current = after
    for record in cleanup.stale_values(current).itertuples(index=False):
        demo.say(
            f"   left for a person: {record.property} {record.value!r} in "
            f"{record.contacts} contacts (no option clearly means it)"
        )
    return current


def _examples(changed: pd.DataFrame, count: int) -> pd.DataFrame:
    """A few rows of a change set, one per property first, spread over the rest."""
    first = changed.drop_duplicates("property")
    if len(first) >= count or len(changed) <= count:
        return first.head(count) if len(first) >= count else changed.head(count)
    rest = changed.drop(index=first.index)
    step = max(1, len(rest) // (count - len(first)))
    return pd.concat([first, rest.iloc[::step].head(count - len(first))])


_PROBLEMS = {
    "expect_column_values_to_be_unique": "duplicates another contact's",
    "expect_column_values_to_match_regex": "malformed",
    "expect_column_values_to_be_in_set": "not an option",
}


def _demo_validation(demo: _Demo, report: Any) -> str:
    failures = report.failures
    if report.ok:
        demo.say("   every edited cell is valid")
        return "all edits valid"
    counts = failures.groupby(["property", "expectation"]).size()
    demo.say(f"   {len(failures):,} invalid cells in {len(report.invalid_rows):,} contacts:")
    rows = [
        (prop, _PROBLEMS.get(str(rule), str(rule)), f"{n:,}") for (prop, rule), n in counts.items()
    ]
    for line in terminal.table(("property", "problem", "cells"), rows, indent="     "):
        demo.say(line)
    demo.say("   for example:")
    for record in _examples(failures.rename(columns={"expectation": "rule"}), 3).itertuples(
        index=False
    ):
        contact = "new" if pd.isna(record.id) else int(record.id)
        demo.say(f"     contact {contact}: {terminal.cell(record.message, 120)}")
    demo.say(
        "   No recipe can fix these: a duplicate email is the same person twice (merge them "
        "in HubSpot), a malformed one needs a person. Their rows are skipped "
        '(on_invalid="skip"); everything else goes ahead.'
    )
    return f"{len(failures):,} invalid cells: their rows skipped"


def _with_cells(frame: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (wire strings by id) with each cell's ``new`` value written in."""
    expected = frame.copy()
    for record in cells.itertuples(index=False):
        value = None if pd.isna(record.new) else record.new
        expected.at[int(record.id), str(record.property)] = value
    return expected


def _not_restored(undone: PushResult) -> pd.DataFrame:
    """The push's cells that the undo reported as not put back, with the pushed value as
    ``new`` (what the sandbox still holds)."""
    parts = []
    for table in (undone.failed, undone.skipped, undone.conflicts):
        if len(table):
            keep = table[["id", "property", "old", "reason"]].rename(columns={"old": "new"})
            parts.append(keep)
    if not parts:
        return pd.DataFrame(columns=["id", "property", "new", "reason"])
    return pd.concat(parts, ignore_index=True)


def _explain_not_restored(demo: _Demo, kept: pd.DataFrame) -> None:
    """Say why the undo left cells as the push wrote them, from the reasons it gave."""
    reasons = kept["reason"].astype(str)
    own = reasons.str.startswith(CANNOT_RESTORE)
    if own.any():
        stale = sorted({v for reason in reasons[own] for v in _refused_options(reason)})
        emails = bool((kept.loc[own, "property"] == "email").any())
        what = []
        if stale:
            what.append(f"options that no longer exist ({', '.join(map(repr, stale[:6]))})")
        if emails:
            what.append("emails with stray spaces")
        demo.say(
            f"   HubSpot no longer accepts {int(own.sum()):,} of the old values: "
            f"{' and '.join(what) or 'see the journal'}. The undo reported them and put back "
            "the other cells of the same contacts."
        )
    for reason, n in reasons[~own].value_counts().head(3).items():
        demo.say(f"   {n:,} x {terminal.cell(reason, 110)}")


def _refused_options(reason: str) -> list[str]:
    """The stale values an undo reported as no longer options ("'Lead' is not an option")."""
    return re.findall(r"\('([^']+?)' is not an option of", reason)


def _mismatches(
    expected: pd.DataFrame, actual: pd.DataFrame, *, ignore: Sequence[str] = ("lastmodifieddate",)
) -> list[tuple[Any, str, Any, Any]]:
    """Cells where ``actual`` differs from ``expected`` (emails compared in lower case, as
    HubSpot stores them); ``ignore`` lists columns HubSpot changes on every write."""
    if not expected.index.equals(actual.index):
        return [("(contacts)", "id", len(expected), len(actual))]
    found: list[tuple[Any, str, Any, Any]] = []
    for name in expected.columns:
        if name in ignore:
            continue
        mine = expected[name].astype(object)
        theirs = actual[name].astype(object) if name in actual.columns else None
        if theirs is None:
            found.append(("(all)", str(name), "column", "missing"))
            continue
        if name == "email":
            mine, theirs = mine.str.lower(), theirs.str.lower()
        same = (mine == theirs).fillna(False) | (mine.isna() & theirs.isna())
        for contact in same.index[~same.to_numpy(dtype=bool)]:
            found.append((contact, str(name), expected.at[contact, name], actual.at[contact, name]))
    return found


def _say_mismatches(demo: _Demo, wrong: list[tuple[Any, str, Any, Any]]) -> None:
    demo.say(f"   ✗ {len(wrong):,} cells are not as expected, e.g.:")
    for contact, name, want, got in wrong[:5]:
        expected, found = terminal.cell(want), terminal.cell(got)
        demo.say(f"     contact {contact} {name}: expected {expected}, found {found}")


def _demo_report(demo: _Demo) -> None:
    rows = [
        (
            step.name,
            "✓" if step.ok else "✗",
            step.result,
            f"{step.requests:,}",
            f"{step.seconds:.2f}",
        )
        for step in demo.steps
    ]
    demo.say("\nSummary")
    for line in terminal.table(("step", "ok", "result", "requests", "seconds"), rows):
        demo.say(line)
    total = sum(step.seconds for step in demo.steps)
    requests = sum(step.requests for step in demo.steps)
    verdict = (
        "All checks passed."
        if all(step.ok for step in demo.steps)
        else "Some checks FAILED (✗ above)."
    )
    demo.say(f"  {requests:,} requests over HTTP in {total:.1f} s. {verdict}")


def _requests(client: Client) -> int:
    return client.transport.stats.requests
