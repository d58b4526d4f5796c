"""Local costs, measured in a fresh process: the decode of a load, the prepare of a push.

A process that has already loaded and validated frames holds warm caches and freed memory
that a new measurement would reuse, and its memory high-water mark says nothing about the
step being measured. So each local measurement runs in a process of its own
(:func:`in_fresh_process`), on contacts from the sandbox's generator shaped like a real
portal's (:func:`wide_contacts`), and its memory is sampled while the step runs
(:class:`PeakMemory`).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["PeakMemory", "in_fresh_process", "wide_contacts"]


def in_fresh_process(target: Callable[..., None], *args: Any) -> Any:
    """Run ``target(conn, *args)`` in a new (spawned) process; return what it sends."""
    context = mp.get_context("spawn")
    conn, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args))
    process.start()
    figures = conn.recv()
    process.join()
    return figures


def wide_contacts(contacts: int, properties: int) -> tuple[list[dict[str, Any]], Any]:
    """The sample portal's definitions, and ``contacts`` generated contacts as wire strings
    with ``properties`` columns: the generated ones, then further defined properties, left
    unset (as many are in a real portal)."""
    from hsframe.sandbox import generate_contacts, load_properties

    definitions = load_properties()
    wire = generate_contacts(contacts, seed=1)
    names = list(wire.columns)
    names += [d["name"] for d in definitions if d["name"] not in names]
    return definitions, wire.reindex(columns=names[:properties])


class PeakMemory:
    """Samples this process's resident memory every few milliseconds (psutil), falling
    back on the kernel's high-water mark when psutil is missing.

    Use as ``with PeakMemory() as memory: ...``; then ``memory.extra`` is the peak above
    what the process held when the block began.
    """

    def __init__(self) -> None:
        try:
            import psutil

            self._process: Any = psutil.Process()
        except ImportError:
            self._process = None
        self.start = self._rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _rss(self) -> int:
        if self._process is not None:
            return int(self._process.memory_info().rss)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def extra(self) -> int:
        """Bytes at the peak above the start."""
        return self.peak - self.start
