"""Plain text for a terminal: one cell shortened to fit, and aligned tables.

The command's reports (``hsframe apply``, ``undo``, ``token check``) and the demo's print
the same way, so the formatting lives here, below both, rather than in either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["CELL_WIDTH", "cell", "table"]

CELL_WIDTH = 42
"""Characters a cell may take in a table before it is cut with ``…``."""


def cell(value: Any, width: int = CELL_WIDTH) -> str:
    """``value`` as one short line: ``(unset)`` for a missing value, ``repr`` when
    whitespace would hide, cut to ``width`` characters."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(unset)"
    text = str(value)
    if text != text.strip() or any(ch in text for ch in "\n\r\t"):
        text = repr(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    """The lines of an aligned table; columns of numbers are right-aligned."""
    cells = [[str(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(cells) and all(re.fullmatch(r"[\d,.\-]+|-?\d+(\.\d+)?", r[i] or "0") for r in cells)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return (indent + "  ".join(parts)).rstrip()

    return [line(list(headers)), *(line(r) for r in cells)]
