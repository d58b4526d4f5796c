"""What each loaded frame looked like when it came from HubSpot, kept for later diffs.

The diff needs the original values of a frame the user has since edited, and the user's
frame cannot carry them: ``df.attrs`` is deep-copied by pandas on every operation (so only
a small dict with the load id lives there), and the ``df.hs`` accessor is rebuilt on every
access. So the original state lives here, in a registry keyed by the load id.

**Module state.** The registry is the one piece of mutable module state in hsframe
(STYLE.md habit 11). It is guarded by a lock (loads may finish on any thread) and holds,
per load id, a shallow copy of the frame as loaded and the :class:`~hsframe.schema.Schema`
that decoded it (the diff and the writer encode with the same one). With copy-on-write
(always on in pandas 3), the copy shares memory with the user's frame until the user edits a
column, and then only that column is duplicated; so keeping a baseline costs little.

Baselines live as long as the Python session, or until :func:`forget` (or :func:`clear`).
A notebook that reloads many large frames can release the old ones with :func:`forget`.
After a push the writer registers the frame as written, so the baseline moves forward and
a second push sends nothing.

Example:
    >>> import pandas as pd
    >>> register("load-1", pd.DataFrame({"email": ["a@b.co"]}))
    >>> get("load-1")["email"].tolist()
    ['a@b.co']
    >>> forget("load-1")
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pandas as pd

from hsframe.errors import HubSpotError
from hsframe.schema import Schema

__all__ = [
    "BaselineNotFoundError",
    "clear",
    "forget",
    "get",
    "load_ids",
    "register",
    "schema",
]


class BaselineNotFoundError(HubSpotError, KeyError):
    """No baseline is registered under a load id (it was forgotten, or the frame was not
    loaded by hsframe in this Python session)."""

    default_hint = (
        "Reload the contacts with hs.read_contacts(), or pass the original frame "
        "explicitly as base=."
    )

    def __str__(self) -> str:
        # KeyError would quote the message; HubSpotError's form reads better.
        return HubSpotError.__str__(self)


@dataclass(frozen=True)
class _Entry:
    frame: pd.DataFrame
    schema: Schema | None


_lock = threading.Lock()
_registry: dict[str, _Entry] = {}


def register(load_id: str, frame: pd.DataFrame, schema: Schema | None = None) -> None:
    """Remember ``frame`` as the original state of the load ``load_id``.

    Registering again under the same id replaces the frame (how the writer moves a
    baseline forward after a push); the schema is kept unless a new one is given.

    Args:
        load_id: The load's id (``df.attrs["hsframe"]["load_id"]``).
        frame: The frame as it came from HubSpot (a shallow copy is kept, so later edits
            to ``frame`` do not reach the baseline).
        schema: The schema that decoded it, for the diff and the writer to encode with.

    Example:
        >>> register("load-2", pd.DataFrame({"n": [1]}))
        >>> "load-2" in load_ids()
        True
        >>> forget("load-2")
    """
    kept = frame.copy(deep=False)
    with _lock:
        previous = _registry.get(load_id)
        if schema is None and previous is not None:
            schema = previous.schema
        _registry[load_id] = _Entry(kept, schema)


def get(load_id: str) -> pd.DataFrame:
    """The original frame of a load (a shallow copy: editing it changes nothing here).

    Args:
        load_id: The load's id.

    Returns:
        The frame as registered.

    Raises:
        BaselineNotFoundError: Nothing is registered under ``load_id``.

    Example:
        >>> register("load-3", pd.DataFrame({"n": [1]}))
        >>> get("load-3").shape
        (1, 1)
        >>> forget("load-3")
    """
    return _entry(load_id).frame.copy(deep=False)


def schema(load_id: str) -> Schema | None:
    """The schema registered with a load (None if none was given).

    Raises:
        BaselineNotFoundError: Nothing is registered under ``load_id``.
    """
    return _entry(load_id).schema


def forget(load_id: str) -> None:
    """Drop a load's baseline, freeing its memory (no error if there is none).

    Example:
        >>> forget("never-registered")
    """
    with _lock:
        _registry.pop(load_id, None)


def clear() -> None:
    """Drop every baseline (tests, or a notebook freeing memory)."""
    with _lock:
        _registry.clear()


def load_ids() -> list[str]:
    """The load ids that have a baseline, oldest first."""
    with _lock:
        return list(_registry)


def _entry(load_id: str) -> _Entry:
    with _lock:
        entry = _registry.get(load_id)
    if entry is None:
        raise BaselineNotFoundError(f"No baseline for load {load_id!r} in this Python session.")
    return entry
