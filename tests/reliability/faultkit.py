"""The reliability suite's shared machinery: clients, store snapshots, verdicts, the ledger.

Every scenario of the suite ends with the same questions, asked of the sandbox's own store
(what was really written) rather than of what hsframe says it did:

* **lost**: a contact that was live before and is gone, without the user asking;
* **duplicates**: a contact created twice (or created although its email existed);
* **stray cells**: a cell whose value is not what the user intended: written although it
  was not in the diff, or not written although it was (``lastmodifieddate`` aside, which
  HubSpot moves on every write);
* **requests**: how many the client sent, from the sandbox's request log.

:func:`verdict` answers the first three at once; the tests assert on it *after* recording it
in the ledger (:class:`Ledger`), so that ``bench/reliability.py`` can count what happened
even when an assertion fails.

Clients are built with a real clock and a real rate budget, so that HubSpot's windows are
honoured as in production, and with a backoff sleep capped at 50 ms: the transport's
backoff after a 5xx or a dropped connection is what a test would otherwise wait for, and
its length changes nothing the suite checks (only how many retries, which is bounded by
count). Sandboxes use a short burst window (:data:`WINDOW`) for the same reason.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from store_checks import crm_requests

from hsframe.client import Client
from hsframe.config import Secret, Settings
from hsframe.ratelimit import RateBudget
from hsframe.sandbox import Sandbox
from hsframe.transport import Transport

FULL = os.environ.get("HSFRAME_RELIABILITY", "").strip().lower() == "full"
"""Run the full matrix and every crash seed (``make reliability``); else the reduced form."""

RESULTS_ENV = "HSFRAME_RELIABILITY_RESULTS"
"""A JSONL file each test appends its ledger to (``bench/reliability.py`` reads it)."""

WINDOW = 0.5
"""The sandboxes' burst window in seconds: a 429 costs at most this long a pause."""

IGNORED = frozenset({"lastmodifieddate"})
"""Columns every write moves (HubSpot's own bookkeeping): never a stray cell."""

ON_CREATE = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
"""Columns HubSpot fills in on a new contact."""

BACKOFF_CAP = 0.05
"""Longest backoff sleep the suite's clients take (seconds)."""


def quick_sleep(seconds: float) -> None:
    """The transport's backoff sleep, capped (the module docstring says why)."""
    time.sleep(min(max(seconds, 0.0), BACKOFF_CAP))


def make_client(sb: Sandbox, token: str | None = None, **options: Any) -> Client:
    """A client of ``sb`` over HTTP: a real rate budget, a quick backoff.

    Args:
        sb: A started sandbox.
        token: Another token of the sandbox (default: its default app's).
        **options: :class:`~hsframe.config.Settings` fields (``read_timeout``...).
    """
    settings = Settings(token=Secret(token or sb.token), base_url=sb.url, **options)
    transport = Transport(settings, sleep=quick_sleep, budget=RateBudget(settings.tier))
    return Client(transport)


def writes(sb: Sandbox) -> list[Any]:
    """Requests in the log that could have changed the store."""
    return [
        r
        for r in crm_requests(sb)
        if r.method in ("PATCH", "DELETE", "PUT")
        or (r.method == "POST" and not r.path.endswith(("/batch/read", "/search")))
    ]


def unique_emails(frame: pd.DataFrame) -> pd.Series:
    """Id → email of the contacts whose email no other contact shares (any case) and
    holds no surrounding space (the seed data has a few such emails: see test_bad_input)."""
    emails = frame["email"].dropna().astype(str)
    lowered = emails.str.strip().str.lower()
    return emails[~lowered.duplicated(keep=False) & (emails == emails.str.strip())]


# --- what the user meant, and what the store says ------------------------------------------------


@dataclass
class Intent:
    """What an operation is meant to leave in the store.

    Attributes:
        updates: (contact id, property) → the wire value it must hold (None: cleared).
        creates: lower-cased email → wire values of the new contact's properties.
        archives: Ids that must be archived.
    """

    updates: dict[tuple[int, str], str | None] = field(default_factory=dict)
    creates: dict[str, dict[str, str]] = field(default_factory=dict)
    archives: set[int] = field(default_factory=set)

    def without(self, cells: Iterable[tuple[int, str]], creates: Iterable[str] = ()) -> Intent:
        """The intent less some update cells and some creates (those that failed)."""
        dropped, gone = set(cells), {e.lower() for e in creates}
        return Intent(
            {k: v for k, v in self.updates.items() if k not in dropped},
            {e: p for e, p in self.creates.items() if e not in gone},
            set(self.archives),
        )

    @property
    def cells(self) -> int:
        """How many cells the intent writes (creates count one per property)."""
        return len(self.updates) + sum(len(p) for p in self.creates.values())


@dataclass
class Verdict:
    """How the store compares with the intent.

    Attributes:
        lost: Ids live before, gone after, not meant to be archived.
        duplicates: New contacts beyond one per intended create (or with an email that
            existed before).
        stray: Cells that differ from the intent: (id or email, property, wanted, got).
        missing: Intended creates not found.
        unarchived: Ids meant to be archived that are still live.
    """

    lost: list[int] = field(default_factory=list)
    duplicates: int = 0
    stray: list[tuple[Any, str, Any, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unarchived: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The store holds exactly what was meant."""
        return not (self.lost or self.duplicates or self.stray or self.missing or self.unarchived)

    def __str__(self) -> str:
        if self.ok:
            return "the store holds exactly what was meant"
        parts = []
        if self.lost:
            parts.append(f"{len(self.lost)} contacts lost: {self.lost[:10]}")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate contacts")
        if self.missing:
            parts.append(f"{len(self.missing)} creates missing: {self.missing[:10]}")
        if self.unarchived:
            parts.append(f"{len(self.unarchived)} not archived: {self.unarchived[:10]}")
        if self.stray:
            parts.append(f"{len(self.stray)} stray cells, e.g. {self.stray[:5]}")
        return "; ".join(parts)


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def verdict(
    before: pd.DataFrame,
    after: pd.DataFrame,
    intent: Intent,
    archived_after: pd.DataFrame | None = None,
) -> Verdict:
    """Compare the store after an operation with the store before it plus the intent.

    Every cell of every contact is compared (wire strings; :data:`IGNORED` aside).

    Args:
        before: ``sb.contacts()`` before the operation.
        after: ``sb.contacts()`` after it.
        intent: What the operation was meant to do.
        archived_after: ``sb.contacts(archived=True)`` after it, when archives are meant.
    """
    found = Verdict()
    ids_before = {int(i) for i in before.index}
    ids_after = {int(i) for i in after.index}
    found.lost = sorted(ids_before - ids_after - intent.archives)
    found.unarchived = sorted(intent.archives & ids_after)
    if archived_after is not None:
        archived_ids = {int(i) for i in archived_after.index}
        found.unarchived += sorted(intent.archives - ids_after - archived_ids)

    columns = [c for c in before.columns if c in after.columns and c not in IGNORED]
    common = sorted(ids_before & ids_after)
    expected = before.loc[common, columns].astype(object)
    for (contact, name), value in intent.updates.items():
        if contact in expected.index and name in expected.columns:
            expected.at[contact, name] = value
    got = after.loc[common, columns].astype(object)
    wanted = expected.where(expected.notna(), None)
    held = got.where(got.notna(), None)
    differ = ~((wanted == held) | (wanted.isna() & held.isna()))
    for (contact, name), bad in differ.stack().items():
        if bad:
            found.stray.append(
                (int(contact), str(name), wanted.at[contact, name], held.at[contact, name])
            )

    before_emails = (
        {str(e).strip().lower() for e in before["email"].dropna()}
        if "email" in before.columns
        else set()
    )
    new_ids = sorted(ids_after - ids_before)
    by_email: dict[str, list[int]] = {}
    for contact in new_ids:
        email = _text(after.at[contact, "email"]) if "email" in after.columns else None
        by_email.setdefault((email or "").strip().lower(), []).append(contact)
    for email, props in intent.creates.items():
        rows = by_email.pop(email.lower(), [])
        if not rows:
            found.missing.append(email)
            continue
        found.duplicates += len(rows) - 1
        for contact in rows:
            record = after.loc[contact]
            for name in after.columns:
                if name in ON_CREATE:
                    continue
                want = props.get(name)
                have = _text(record[name])
                same = (want is None and have is None) or (
                    want is not None
                    and have is not None
                    and (want == have or (name == "email" and want.lower() == have.lower()))
                )
                if not same:
                    found.stray.append((email, str(name), want, have))
    for email, rows in by_email.items():
        if email and email in before_emails:
            found.duplicates += len(rows)
        else:
            found.stray.extend((email or contact, "(created)", None, contact) for contact in rows)
    return found


def frame_verdict(frame: pd.DataFrame, truth: pd.DataFrame) -> Verdict:
    """Compare a loaded frame with the store it was loaded from (both decoded).

    Lost: contacts of the store missing from the frame. Duplicates: ids the frame holds
    twice. Stray: cells whose values differ.
    """
    found = Verdict()
    index = [int(i) for i in frame.index]
    found.duplicates = len(index) - len(set(index))
    expected_ids = {int(i) for i in truth.index}
    found.lost = sorted(expected_ids - set(index))
    extra = sorted(set(index) - expected_ids)
    found.stray.extend((contact, "(not in the store)", None, contact) for contact in extra)
    if found.duplicates:
        return found
    common = sorted(expected_ids & set(index))
    columns = [c for c in truth.columns if c in frame.columns]
    mine = frame.loc[common, columns]
    theirs = truth.loc[common, columns]
    for name in columns:
        left, right = mine[name].astype(object), theirs[name].astype(object)
        same = (left == right).fillna(False) | (left.isna() & right.isna())
        for contact in same.index[~same.to_numpy(dtype=bool)]:
            found.stray.append((int(contact), str(name), right[contact], left[contact]))
    return found


# --- the ledger ---------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What one test did, for the report: counts, written to :data:`RESULTS_ENV`.

    Attributes:
        kind: ``fault``, ``crash``, ``bad-input`` or ``secret``.
        faults: Faults injected that requests met (consumed from the sandbox's queue).
        operations: Operations run (loads, pushes, corrections, undos, resumes).
        crashes: Processes killed (or runs interrupted) whose work was then finished.
        bad_inputs: Bad inputs tried.
        lost: Contacts lost.
        duplicates: Contacts created twice.
        stray: Cells written outside the diff (or intended cells not written).
        leaks: Places the token was found.
        scans: Texts scanned for the token.
        requests: CRM requests the test's operations sent.
        notes: Anything else worth reading in the report.
    """

    kind: str = "fault"
    faults: int = 0
    operations: int = 0
    crashes: int = 0
    bad_inputs: int = 0
    lost: int = 0
    duplicates: int = 0
    stray: int = 0
    leaks: int = 0
    scans: int = 0
    requests: int = 0
    notes: list[str] = field(default_factory=list)

    def judge(self, found: Verdict) -> Verdict:
        """Add a verdict's losses, duplicates and stray cells; return it (to assert on)."""
        self.lost += len(found.lost)
        self.duplicates += found.duplicates
        self.stray += len(found.stray) + len(found.missing) + len(found.unarchived)
        return found

    def record(
        self, path: str | None, test: str, outcome: str, seconds: float, reason: str = ""
    ) -> None:
        """Append this ledger as one JSON line to ``path`` (nothing when None)."""
        if not path:
            return
        entry = {
            "test": test,
            "outcome": outcome,
            "reason": reason,
            "seconds": round(seconds, 3),
            "kind": self.kind,
            "faults": self.faults,
            "operations": self.operations,
            "crashes": self.crashes,
            "bad_inputs": self.bad_inputs,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "stray": self.stray,
            "leaks": self.leaks,
            "scans": self.scans,
            "requests": self.requests,
            "notes": self.notes,
            "full": FULL,
        }
        with _ledger_lock, open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


_ledger_lock = threading.Lock()


# --- the token ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenScanner:
    """Finds a token in text: whole, or its distinctive tail (everything after the
    ``pat-<region>-`` prefix except the last four characters, which masks show), or any of
    its UUID groups longer than four characters.
    """

    token: str

    @property
    def needles(self) -> tuple[str, ...]:
        body = re.sub(r"^pat-[a-z]{2,4}\d*-", "", self.token)
        groups = [g for g in re.split(r"[-_]", body) if len(g) > 4]
        tail = body[:-4]
        return tuple(dict.fromkeys([self.token, tail, *groups]))

    def find(self, text: str) -> list[str]:
        """The needles found in ``text`` (empty: no trace of the token)."""
        return [n for n in self.needles if n and n in text]


def scan_all(scanner: TokenScanner, texts: Mapping[str, str]) -> dict[str, list[str]]:
    """Where the token shows: name of the text → needles found."""
    return {name: hits for name, text in texts.items() if (hits := scanner.find(text))}


def read_text(path: Path) -> str:
    """A file's text, whatever its bytes."""
    return path.read_bytes().decode("utf-8", errors="replace")


def newest(directory: Path, pattern: str = "*.jsonl") -> Path:
    """The most recently written file matching ``pattern`` in ``directory``."""
    paths: Sequence[Path] = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime_ns)
    if not paths:
        raise AssertionError(f"no {pattern} in {directory}")
    return paths[-1]
