"""Helpers shared by the journal's and recovery's tests: a sandbox client, a loaded frame,
and the ways a test edits a journal file (a slip that breaks the chain, or a forgery that
recomputes it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from hsframe.client import Client
from hsframe.config import Settings
from hsframe.load import read_contacts
from hsframe.sandbox import Sandbox

PROPERTIES = ["email", "firstname", "jobtitle", "city", "lifecyclestage"]


def connect(sb: Sandbox, **options: Any) -> Client:
    settings = Settings(token=sb.token, base_url=sb.adapter_url, **options)
    return Client(settings, session=sb.session())


def load(client: Client) -> pd.DataFrame:
    return read_contacts(client, properties=PROPERTIES, progress=False)


def crm_calls(sb: Sandbox) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in sb.requests if r.path.startswith("/crm/v3/objects")]


def chained(records: list[dict[str, Any]]) -> list[str]:
    """The lines of ``records`` with their chain computed as hsframe.journal's docstring
    specifies: what anyone who edits a journal on purpose can do (it is not a signature)."""
    chain, lines = "0" * 64, []
    for record in records:
        body = {k: v for k, v in record.items() if k != "chain"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        chain = hashlib.sha256((chain + canonical).encode()).hexdigest()
        lines.append(json.dumps({**body, "chain": chain}) + "\n")
    return lines


def rechain(path: Path) -> None:
    """Recompute every line's chain after an edit (a forgery, not a slip)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(chained(records)), encoding="utf-8")


def edit_record(path: Path, line: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit one record into another valid one, leaving its chain value as it was."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[line - 1])
    change(record)
    lines[line - 1] = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def applied_forgotten(record: dict[str, Any]) -> None:
    """Edit an outcome so that its first input applied nothing."""
    record["inputs"][0]["applied"] = []  # undo would leave that write in place
