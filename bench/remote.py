"""A sandbox served from a separate process, as HubSpot is, for the benchmarks.

Served in-process, the sandbox's work (building JSON, checking values) would compete with
the client's for one interpreter, and the figures would measure that contention rather than
the tools. The child answers a few commands over a pipe: its request log, a new latency,
one stored property (to check what was really written).
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any

TIER = "professional"
"""The benchmarks' HubSpot tier (190 requests per 10 s, 5 searches a second)."""

WINDOW = 10.0
"""HubSpot's burst window, in seconds."""


def _serve(conn: Connection, contacts: int, latency: float) -> None:
    """Serve a fresh sandbox until told to stop, answering the parent's commands."""
    from hsframe.sandbox import Sandbox

    with Sandbox(contacts=contacts, tier=TIER, latency=latency, window=WINDOW) as sb:
        conn.send((sb.url, sb.token))
        while True:
            command, argument = conn.recv()
            if command == "log":
                conn.send([(r.method, r.path, r.status) for r in sb.requests])
            elif command == "clear":
                sb.clear_requests()
                conn.send(None)
            elif command == "latency":
                sb.latency = argument
                conn.send(None)
            elif command == "values":
                column = sb.contacts()[argument]
                conn.send({int(i): v for i, v in column.items()})
            else:
                return


class RemoteSandbox:
    """A sandbox served by a child process: ``with RemoteSandbox(n, latency) as sb``.

    Attributes:
        url: The sandbox's base URL (set on entering).
        token: Its private app's token (set on entering).
    """

    url: str
    token: str

    def __init__(self, contacts: int, latency: float = 0.0) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, contacts, latency), daemon=True)

    def __enter__(self) -> RemoteSandbox:
        self._process.start()
        self.url, self.token = self._conn.recv()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._conn.send(("stop", None))
        self._process.join(timeout=30)

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def log(self) -> list[tuple[str, str, int | None]]:
        """The request log since the last :meth:`clear`: (method, path, status)."""
        log: list[tuple[str, str, int | None]] = self._ask("log")
        return log

    def clear(self) -> None:
        """Forget the request log."""
        self._ask("clear")

    def set_latency(self, seconds: float) -> None:
        """Make every later request take this long."""
        self._ask("latency", seconds)

    def values(self, name: str) -> dict[int, Any]:
        """One property of every stored contact (what was really written)."""
        values: dict[int, Any] = self._ask("values", name)
        return values
