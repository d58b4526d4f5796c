"""Benchmark: pushing edits with hsframe and with HubSpot's official SDK.

Why it exists: writing is bound by HubSpot's rate limits and round trips, not by the CPU, so
what matters is how many requests a push needs and how well they overlap. This measures, in
one run and under the same conditions (the sandbox at the Professional tier, 300 ms per
request), 5,000 changed contacts written three ways:

* hsframe: ``push(frame)``: a conflict-check read and a batch update per 100 contacts, sent
  concurrently inside the rate budget, journaled and verified;
* the SDK one contact per call: ``crm.contacts.basic_api.update(id, ...)`` in a loop. At
  300 ms a call that takes about 25 minutes for 5,000 contacts, so it runs on a sample (300
  contacts by default) and the time is extrapolated; the output says so;
* the SDK in batches: ``crm.contacts.batch_api.update(...)`` with 100 inputs, called in a
  sequential loop.

For each: seconds, requests and 429s (from the sandbox's own request log), and the ratio of
each SDK time to hsframe's. hsframe must stay within ``2 x ceil(N/100)`` requests, conflict
check included; the run fails if it does not. Then the local cost of what a push does before
it sends anything (:func:`hsframe.write.prepare`: the change set and its validation) for
100,000 contacts x 60 properties with 1% of the cells edited: seconds, and peak memory
against the frame's own size.

The sandbox is served from a separate process, as HubSpot is, so that building its answers
does not compete with the client for one interpreter. Compare ratios, not seconds: the
machines these run on are noisy.

Usage::

    python bench/push.py            # 5,000 contacts (SDK one-per-call on 300), local 100,000
    python bench/push.py --quick    # 1,000 contacts (one-per-call on 50), local 10,000
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from fresh import PeakMemory, in_fresh_process, wide_contacts
from remote import TIER, WINDOW, RemoteSandbox

LATENCY = 0.3
"""Seconds the sandbox takes per request (a realistic HubSpot round trip)."""


# -- the three writers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One writer's figures."""

    writer: str
    contacts: int
    seconds: float
    requests: int
    rate_limited: int
    sampled: int  # contacts actually written (fewer than ``contacts`` when extrapolated)

    @property
    def extrapolated(self) -> bool:
        return self.sampled < self.contacts


def measure(writer: str, sb: RemoteSandbox, contacts: int, write: Callable[[], int]) -> Run:
    """Time one writer; count its requests and 429s; scale a sample up to ``contacts``."""
    sb.clear()
    began = time.perf_counter()
    written = write()
    seconds = time.perf_counter() - began
    log = [entry for entry in sb.log() if entry[1].startswith("/crm/")]
    scale = contacts / written
    return Run(
        writer=writer,
        contacts=contacts,
        seconds=seconds * scale,
        requests=round(len(log) * scale),
        rate_limited=sum(1 for _, _, status in log if status == 429),
        sampled=written,
    )


def push_with_hsframe(client: Any, frame: Any, journal_dir: str) -> int:
    from hsframe import write

    result = write.push(frame, client, progress=False, journal_dir=journal_dir)
    if not result.ok or not result.complete:
        raise SystemExit(f"hsframe's push did not apply everything:\n{result}")
    return int(result.applied["id"].nunique())


def update_one_by_one(api: Any, ids: Sequence[int]) -> int:
    from hubspot.crm.contacts import SimplePublicObjectInput

    for contact in ids:
        body = SimplePublicObjectInput(properties={"jobtitle": f"sdk single {contact}"})
        api.crm.contacts.basic_api.update(str(contact), body)
    return len(ids)


def update_in_batches(api: Any, ids: Sequence[int]) -> int:
    from hubspot.crm.contacts import (
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    for start in range(0, len(ids), 100):
        inputs = [
            SimplePublicObjectBatchInput(id=str(c), properties={"jobtitle": f"sdk batch {c}"})
            for c in ids[start : start + 100]
        ]
        api.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    return len(ids)


def run_pushes(contacts: int, sample: int, latency: float) -> list[Run]:
    """The three writers against one sandbox, on the same contacts, in one run."""
    import hubspot

    import hsframe.journal  # noqa: F401  (installs the journal every push records to)
    from hsframe.client import connect
    from hsframe.load import read_contacts

    with RemoteSandbox(contacts) as sb, tempfile.TemporaryDirectory() as journal_dir:
        with connect(token=sb.token, base_url=sb.url) as client:
            sb.set_latency(0.0)  # loading is not what is measured here
            frame = read_contacts(client, properties=["email", "jobtitle"], progress=False)
            sb.set_latency(latency)
            ids = [int(i) for i in frame.index[:contacts]]
            frame.loc[ids, "jobtitle"] = [f"hsframe {i}" for i in ids]
            seconds = warm_up(frame)
            print(f"Great Expectations' one-time import: {seconds:.1f} s", file=sys.stderr)
            runs = [
                measure(
                    "hsframe", sb, contacts, lambda: push_with_hsframe(client, frame, journal_dir)
                )
            ]
        api = hubspot.HubSpot(access_token=sb.token, host=sb.url)
        runs.append(measure("sdk-batch", sb, contacts, lambda: update_in_batches(api, ids)))
        runs.append(
            measure("sdk-single", sb, contacts, lambda: update_one_by_one(api, ids[:sample]))
        )
        stored = sb.values("jobtitle")
        if any(stored[i] != f"sdk batch {i}" for i in ids[sample:]) or any(
            stored[i] != f"sdk single {i}" for i in ids[:sample]
        ):
            raise SystemExit("the SDK runs did not write what they were asked to")
    return runs


# -- the local cost of a push ----------------------------------------------------------------------


def warm_up(frame: Any) -> float:
    """Validate one edit of a copy of ``frame``, so that Great Expectations' one-time import
    (a few seconds, once per Python session) is not counted in what is measured next.
    Returns the seconds it took."""
    from hsframe import write

    probe = frame.iloc[:1].copy()
    name = next(c for c in ("jobtitle", "city", "firstname") if c in probe.columns)
    probe.loc[probe.index[0], name] = "warming up"
    began = time.perf_counter()
    write.prepare(probe)
    return time.perf_counter() - began


def _edit(frame: Any, schema: Any, fraction: float, seed: int) -> int:
    """Edit ``fraction`` of the frame's cells, spread over its writable columns, with
    values each property accepts. Returns the number of cells assigned."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    writable = [c for c in frame.columns if not schema.is_read_only(c)]
    per_column = math.ceil(fraction * frame.size / len(writable))
    for name in writable:
        rows = frame.index[np.sort(rng.choice(len(frame), per_column, replace=False))]
        kind = schema.kind(name)
        options = schema.options(name)
        n = len(rows)
        values: Any
        if name == "email":
            values = [f"edited.{i}@example.com" for i in rows]
        elif kind == "string":
            values = [f"edited {i}" for i in range(n)]
        elif kind == "number":
            values = pd.array(rng.integers(1, 1_000, n), dtype=frame[name].dtype)
        elif kind == "bool":
            values = pd.array(rng.integers(0, 2, n).astype(bool), dtype="boolean")
        elif kind == "date":
            values = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
        elif kind == "datetime":
            values = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
                rng.integers(0, 10**9, n), "s"
            )
        elif options:
            values = [options[i % len(options)] for i in range(n)]
        else:
            continue
        frame.loc[rows, name] = values
    return per_column * len(writable)


def _local_cost(conn: Connection, contacts: int, properties: int) -> None:
    """In a fresh process: a loaded-looking frame, 1% of it edited, then prepare()."""
    import pandas as pd

    from hsframe import baseline, write
    from hsframe.schema import Schema

    definitions, wire = wide_contacts(contacts, properties)
    schema = Schema.from_definitions(definitions)
    frame = schema.decode(wire)
    frame.index = pd.Index(frame.index.astype("Int64"), name="id")
    del wire
    frame.attrs["hsframe"] = {"object_type": "contacts", "load_id": "bench", "portal_id": 1}
    baseline.register("bench", frame, schema)
    edited = frame.copy()
    del frame
    warm_up(edited)
    assigned = _edit(edited, schema, 0.01, seed=2)
    size = int(edited.memory_usage(deep=True).sum())
    gc.collect()
    with PeakMemory() as memory:
        began = time.perf_counter()
        ready = write.prepare(edited)
        seconds = time.perf_counter() - began
    assert ready.report is not None
    conn.send(
        (
            seconds,
            memory.extra,
            size,
            assigned,
            len(ready.change_set),
            len(ready.report.failures),
        )
    )


@dataclass(frozen=True)
class LocalCost:
    contacts: int
    properties: int
    seconds: float
    peak_extra: int
    frame_bytes: int
    assigned: int
    changed: int
    failures: int


def local_cost(contacts: int, properties: int = 60) -> LocalCost:
    return LocalCost(contacts, properties, *in_fresh_process(_local_cost, contacts, properties))


# -- report ----------------------------------------------------------------------------------------

_NAMES = {
    "hsframe": "hsframe `push`",
    "sdk-batch": "SDK `batch_api.update`, sequential loop",
    "sdk-single": "SDK `basic_api.update`, one contact per call",
}


def table(runs: Sequence[Run], latency: float) -> str:
    """The Markdown table for the README."""
    contacts = runs[0].contacts
    bound = 2 * math.ceil(contacts / 100)
    hsframe = next(r for r in runs if r.writer == "hsframe")
    lines = [
        f"Sandbox: {TIER} tier (190 requests per {WINDOW:g} s), {latency * 1000:.0f} ms per "
        f"request; {contacts:,} contacts changed (one property each). hsframe's bound: "
        f"2 x ceil(N/100) = {bound} requests, conflict check included.",
        "",
        "| writer | seconds | requests | 429s | time vs hsframe |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        star = "*" if run.extrapolated else ""
        lines.append(
            f"| {_NAMES[run.writer]} | {run.seconds:,.1f}{star} | {run.requests:,}{star} "
            f"| {run.rate_limited} | {run.seconds / hsframe.seconds:,.1f}x |"
        )
    sampled = [r for r in runs if r.extrapolated]
    for run in sampled:
        lines.append("")
        lines.append(
            f"\\* extrapolated from {run.sampled:,} contacts written one per call "
            f"({run.seconds / run.contacts * 1000:.0f} ms each) to {run.contacts:,}."
        )
    return "\n".join(lines)


def local_line(cost: LocalCost) -> str:
    return (
        f"Before sending anything (`hsframe.write.prepare`: change set + validation), "
        f"{cost.contacts:,} contacts x {cost.properties} properties with 1% of the cells "
        f"edited ({cost.changed:,} changed cells): {cost.seconds:.2f} s; peak extra memory "
        f"{cost.peak_extra / 1e6:,.0f} MB, {cost.peak_extra / cost.frame_bytes:.1f}x the "
        f"frame's own {cost.frame_bytes / 1e6:,.0f} MB."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small run: 1,000 contacts")
    parser.add_argument("--contacts", type=int, help="changed contacts to push")
    parser.add_argument("--sample", type=int, help="contacts the one-per-call SDK writes")
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds per request")
    parser.add_argument("--local", type=int, help="contacts for the local-cost measurement")
    args = parser.parse_args(argv)
    contacts = args.contacts or (1_000 if args.quick else 5_000)
    sample = min(contacts, args.sample or (50 if args.quick else 300))
    local = args.local or (10_000 if args.quick else 100_000)

    runs = run_pushes(contacts, sample, args.latency)
    for run in runs:
        note = f" (extrapolated from {run.sampled:,})" if run.extrapolated else ""
        print(
            f"{run.writer:10} {run.seconds:8.1f} s, {run.requests:,} requests, "
            f"{run.rate_limited} x 429{note}",
            file=sys.stderr,
        )
    hsframe = next(r for r in runs if r.writer == "hsframe")
    if hsframe.requests > 2 * math.ceil(contacts / 100):
        raise SystemExit(f"hsframe sent {hsframe.requests} requests, over the bound")
    cost = local_cost(local)
    print()
    print(table(runs, args.latency))
    print()
    print(local_line(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
