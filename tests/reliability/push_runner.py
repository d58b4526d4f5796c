"""A process that pushes to a sandbox, to be killed: the crash half of test_crash_resume.

Started once by the test (``python push_runner.py``), it imports hsframe and warms Great
Expectations (seconds that each crash would otherwise pay), prints ``ready``, and then
serves jobs, one JSON line each on standard input::

    {"mode": "push" | "corrections", "url": ..., "journal_dir": ..., "out": ...}

For each job it forks a child that connects with ``hs.connect()`` (the token from
``HUBSPOT_ACCESS_TOKEN``, given to this process's environment by the test; the base URL from
``HUBSPOT_BASE_URL``, set per job), loads, edits deterministically (:func:`push_edits`,
:func:`correction_rows`), and pushes (or applies the corrections) with its journal in
``journal_dir``; it writes the result's summary to ``out`` and exits. The parent prints
``{"pid": ...}`` at once, so that the test can kill the child with SIGKILL whenever it
likes, and reaps the child only when the test sends ``reap`` (so the pid cannot be reused
by another process before then), printing ``{"exit": ...}``. End of input ends the server
(and a child still running, which only happens if the test itself died).

The edits are plain functions of the store's wire values, so that the test derives what
the user meant from the same code, not from hsframe's diff.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import pandas as pd

PROPERTIES = ["email", "firstname", "jobtitle", "city", "lifecyclestage"]
LATER_STAGES = ("opportunity", "customer", "evangelist")


def push_edits(
    store: pd.DataFrame,
) -> tuple[dict[int, dict[str, str | None]], list[dict[str, str]]]:
    """The push's edits as wire values, from the store: (id → property → value, new rows).

    150 titles set, the cities of up to 20 contacts cleared, 6 lifecycle stages moved
    backwards (cleared, then set, in two requests), 3 new contacts.
    """
    ids = sorted(int(i) for i in store.index)
    edits: dict[int, dict[str, str | None]] = {}
    for n, contact in enumerate(ids[:150]):
        edits.setdefault(contact, {})["jobtitle"] = f"Crashed {n % 7}"
    for contact in ids[140:160]:
        if pd.notna(store.at[contact, "city"]):
            edits.setdefault(contact, {})["city"] = None
    later = [c for c in ids if store.at[c, "lifecyclestage"] in LATER_STAGES][:6]
    for contact in later:
        edits.setdefault(contact, {})["lifecyclestage"] = "lead"
    rows = [
        {"email": f"crash.new{k}@example.com", "firstname": f"Crash {k}", "jobtitle": "New"}
        for k in range(3)
    ]
    return edits, rows


def correction_rows(store: pd.DataFrame) -> list[dict[str, str | None]]:
    """Corrections by email: 120 contacts with clean, unique emails (some typed in upper
    case, with spaces), and 4 new emails."""
    emails = store["email"].dropna().astype(str)
    lowered = emails.str.lower()
    clean = emails[~lowered.duplicated(keep=False) & (emails == emails.str.strip())]
    rows: list[dict[str, str | None]] = []
    for n, email in enumerate(clean.iloc[:120]):
        rows.append(
            {
                "email": f" {email.upper()}  " if n % 4 == 0 else email,
                "jobtitle": f"Fixed {n % 5}",
                "city": "Lisbon" if n % 2 else None,
            }
        )
    for k in range(4):
        rows.append({"email": f"fix.new{k}@example.com", "jobtitle": "Hired", "city": "Porto"})
    return rows


def _push(client: Any, hs: Any, diff: Any) -> Any:
    df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
    store = _wire(df)
    edits, rows = push_edits(store)
    for contact, values in edits.items():
        for name, value in values.items():
            df.loc[contact, name] = value
    frame = diff.add(df, rows)
    return hs.write.push(frame, client, progress=False)


def _wire(df: pd.DataFrame) -> pd.DataFrame:
    """The loaded frame's values as wire-like text, for :func:`push_edits`."""
    out = pd.DataFrame(index=df.index)
    for name in PROPERTIES:
        column = df[name].astype(object)
        out[name] = column.where(column.notna(), None).map(lambda v: None if v is None else str(v))
    return out


def _run(job: Mapping[str, Any]) -> str:
    os.environ["HUBSPOT_BASE_URL"] = str(job["url"])
    os.environ["HSFRAME_JOURNAL_DIR"] = str(job["journal_dir"])
    import hsframe as hs
    from hsframe import diff

    client = hs.connect(max_concurrency=int(job.get("concurrency", 2)))
    if job["mode"] == "push":
        result = _push(client, hs, diff)
    else:
        fixes = pd.DataFrame(correction_rows(_wire_store(client, hs)))
        result = hs.apply_corrections(fixes, client=client, progress=False)
    client.close()
    return str(result.summary())


def _wire_store(client: Any, hs: Any) -> pd.DataFrame:
    df = hs.read_contacts(client, properties=PROPERTIES, progress=False)
    return _wire(df)


def _child(job: Mapping[str, Any]) -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # standard output is the parent's channel to the test
    try:
        summary = _run(job)
    except BaseException:
        traceback.print_exc()
        return 1
    with open(str(job["out"]), "w", encoding="utf-8") as handle:
        handle.write(summary)
    return 0


FORK_SAFE_ENV = {
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""Environment for this process: no native thread may exist when it forks (a thread holding
a lock at that moment, such as pyarrow's jemalloc background thread, deadlocks the child)."""


def _threads() -> int:
    """This process's threads, native ones included (Linux); 1 where that cannot be seen."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _warm() -> None:
    """Import what a push imports, and run a validation once, before any fork."""
    import threading

    import tqdm

    tqdm.tqdm.monitor_interval = 0  # no monitor thread: this process forks
    # tqdm's default lock is a multiprocessing lock, shared by every forked child: a child
    # killed while holding it would block every later child. Each child gets its own.
    tqdm.tqdm.set_lock(threading.RLock())
    import hsframe  # noqa: F401
    from hsframe.sandbox import load_properties
    from hsframe.schema import Schema
    from hsframe.validate import validate

    schema = Schema.from_definitions(load_properties())
    validate(pd.DataFrame({"email": ["warm@example.com"]}), schema)


def _say(message: Mapping[str, Any] | str) -> None:
    text = message if isinstance(message, str) else json.dumps(message)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main() -> int:
    _warm()
    _say("ready")
    pending: int | None = None
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        if command == "reap":
            if pending is not None:
                _, status = os.waitpid(pending, 0)
                _say({"pid": pending, "exit": os.waitstatus_to_exitcode(status)})
                pending = None
            continue
        job = json.loads(command)
        if _threads() != 1:
            sys.stderr.write(f"refusing to fork with {_threads()} threads (see FORK_SAFE_ENV)\n")
            return 2
        pid = os.fork()
        if pid == 0:
            os._exit(_child(job))
        pending = pid
        _say({"pid": pid})
    if pending is not None:
        # The test went away without reaping its child: end the child, which we started.
        os.kill(pending, signal.SIGKILL)
        os.waitpid(pending, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
