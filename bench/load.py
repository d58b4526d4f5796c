"""Benchmark: loading every contact with hsframe and with HubSpot's official SDK.

Why it exists: HubSpot's rate limits, not the CPU, bound a load, and a sequential cursor
walk (the SDK's ``get_all``) cannot come near them. This measures, in one run and under the
same conditions, how far each gets against the sandbox at the Professional tier with a
realistic round trip (300 ms per request by default):

* hsframe: ``read_contacts(client, properties="all")``;
* the SDK: ``HubSpot(access_token=...).crm.contacts.get_all(properties=<all names>)``, then
  ``pandas.DataFrame`` of the records' properties (the property names are fetched with the
  SDK too, as hsframe fetches them).

For each it reports the time, contacts per second, the requests the sandbox answered and
the 429s among them (from the sandbox's own request log, since the SDK may retry on its
own), the speed ratio to the SDK, and the ratio to the rate-limit bound: list pages (100
contacts) on the burst budget plus search pages (200) on the search budget, i.e. 2,900
contacts a second at the Professional tier. It also measures the local cost of decoding
100,000 contacts x 60 properties from the API's records: seconds, and peak memory against
the decoded frame's own size.

Each load runs against a fresh sandbox served from a separate process, as HubSpot is: the
server's work (building JSON) then does not compete with the client's for one interpreter.
The figures are ratios taken on one machine in one run; absolute times vary with the
machine and its load.

Usage::

    python bench/load.py            # 5,000 and 20,000 contacts, then the decode cost
    python bench/load.py --quick    # a small run (1,000 contacts; decode 10,000)
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

from fresh import PeakMemory, in_fresh_process, wide_contacts
from remote import TIER, WINDOW, RemoteSandbox

LATENCY = 0.3
"""Seconds the sandbox takes per request (a realistic HubSpot round trip)."""

BURST_PER_WINDOW = 190
SEARCH_PER_SECOND = 5
LIST_PAGE = 100
SEARCH_PAGE = 200
RATE_BOUND = BURST_PER_WINDOW / WINDOW * LIST_PAGE + SEARCH_PER_SECOND * SEARCH_PAGE
"""Contacts per second the Professional tier's budgets allow: 1,900 + 1,000."""


# -- the two loaders -------------------------------------------------------------------------------


def load_with_hsframe(url: str, token: str) -> int:
    """``read_contacts(properties="all")``; returns the number of rows."""
    from hsframe.client import connect
    from hsframe.load import read_contacts

    with connect(token=token, base_url=url) as client:
        frame = read_contacts(client, properties="all", progress=False)
    return len(frame)


def load_with_sdk(url: str, token: str) -> int:
    """The official SDK's ``get_all`` with every property, then a DataFrame."""
    import hubspot
    import pandas as pd

    api = hubspot.HubSpot(access_token=token, host=url)
    names = [p.name for p in api.crm.properties.core_api.get_all("contacts").results]
    contacts = api.crm.contacts.get_all(properties=names)
    frame = pd.DataFrame([c.properties for c in contacts], index=[c.id for c in contacts])
    return len(frame)


@dataclass(frozen=True)
class Run:
    """One load's figures."""

    tool: str
    contacts: int
    seconds: float
    rows: int
    requests: int
    list_pages: int
    search_pages: int
    rate_limited: int

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds


def measure(tool: str, load: Callable[[str, str], int], contacts: int, latency: float) -> Run:
    """Time one load against a fresh sandbox and count its requests."""
    with RemoteSandbox(contacts, latency) as sb:
        began = time.perf_counter()
        rows = load(sb.url, sb.token)
        seconds = time.perf_counter() - began
        log = sb.log()
    return Run(
        tool=tool,
        contacts=contacts,
        seconds=seconds,
        rows=rows,
        requests=len(log),
        list_pages=sum(1 for m, p, _ in log if m == "GET" and p == "/crm/v3/objects/contacts"),
        search_pages=sum(1 for _, p, _ in log if p.endswith("/search")),
        rate_limited=sum(1 for _, _, status in log if status == 429),
    )


# -- the local decode cost ------------------------------------------------------------------------


def _decode_cost(conn: Connection, contacts: int, properties: int) -> None:
    """In a fresh process: build API records, then decode them, watching memory."""
    import pandas as pd

    from hsframe.schema import Schema

    definitions, wire = wide_contacts(contacts, properties)
    names = list(wire.columns)
    ids = [str(i) for i in range(1_000_001, 1_000_001 + contacts)]
    values = wire.astype(object).where(wire.notna(), None)
    records = [
        {"id": ids[i], "properties": dict(zip(names, row, strict=True))}
        for i, row in enumerate(values.itertuples(index=False, name=None))
    ]
    del wire, values
    schema = Schema.from_definitions(definitions)
    gc.collect()
    with PeakMemory() as memory:
        began = time.perf_counter()
        frame = schema.decode(records, names)
        seconds = time.perf_counter() - began
    size = int(frame.memory_usage(deep=True).sum())
    assert isinstance(frame, pd.DataFrame) and frame.shape == (contacts, properties)
    conn.send((seconds, memory.extra, size))


@dataclass(frozen=True)
class DecodeCost:
    contacts: int
    properties: int
    seconds: float
    peak_extra: int
    frame_bytes: int


def decode_cost(contacts: int, properties: int = 60) -> DecodeCost:
    seconds, peak, size = in_fresh_process(_decode_cost, contacts, properties)
    return DecodeCost(contacts, properties, seconds, peak, size)


# -- report ----------------------------------------------------------------------------------------


def table(runs: Sequence[Run], latency: float) -> str:
    """The Markdown table for the README."""
    lines = [
        f"Sandbox: {TIER} tier ({BURST_PER_WINDOW} requests per {WINDOW:g} s, search "
        f"{SEARCH_PER_SECOND}/s), {latency * 1000:.0f} ms per request. Rate-limit bound: "
        f"{RATE_BOUND:,.0f} contacts/s.",
        "",
        "| contacts | loader | seconds | contacts/s | requests (list / search) | 429s "
        "| vs SDK | vs rate-limit bound |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sdk = {r.contacts: r for r in runs if r.tool == "sdk"}
    for run in runs:
        name = "hsframe `read_contacts`" if run.tool == "hsframe" else "SDK `get_all`"
        base = sdk.get(run.contacts)
        ratio = f"{run.per_second / base.per_second:.1f}x" if base else "—"
        lines.append(
            f"| {run.contacts:,} | {name} | {run.seconds:.1f} | {run.per_second:,.0f} "
            f"| {run.requests} ({run.list_pages} / {run.search_pages}) | {run.rate_limited} "
            f"| {ratio} | {run.per_second / RATE_BOUND:.2f} |"
        )
    return "\n".join(lines)


def decode_line(cost: DecodeCost) -> str:
    return (
        f"Decoding {cost.contacts:,} contacts x {cost.properties} properties (API records → "
        f"typed frame): {cost.seconds:.2f} s; peak extra memory {cost.peak_extra / 1e6:,.0f} MB, "
        f"{cost.peak_extra / cost.frame_bytes:.1f}x the frame's own "
        f"{cost.frame_bytes / 1e6:,.0f} MB."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small run: 1,000 contacts")
    parser.add_argument("--sizes", type=int, nargs="+", help="contact counts to load")
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds per request")
    parser.add_argument("--decode", type=int, help="contacts for the decode measurement")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1_000] if args.quick else [5_000, 20_000])
    decode_size = args.decode or (10_000 if args.quick else 100_000)

    runs: list[Run] = []
    for size in sizes:
        for tool, load in (("sdk", load_with_sdk), ("hsframe", load_with_hsframe)):
            run = measure(tool, load, size, args.latency)
            print(
                f"{tool:8} {size:>7,} contacts: {run.seconds:6.1f} s, {run.requests} requests, "
                f"{run.rate_limited} x 429",
                file=sys.stderr,
            )
            if run.rows != size:
                raise SystemExit(f"{tool} loaded {run.rows} contacts, not {size}")
            runs.append(run)
    cost = decode_cost(decode_size)
    print()
    print(table(runs, args.latency))
    print()
    print(decode_line(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
