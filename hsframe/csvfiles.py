"""CSV files as people trade them with spreadsheets: written safely, read forgivingly.

A pulled CSV gets opened in Excel or Google Sheets, and a corrections CSV comes back from
one. Both directions have traps that a plain ``to_csv``/``read_csv`` walks into:

**Writing** (:func:`write_csv`, :func:`write_private`). The file holds personal data, so it
is created with mode 0600, and whole or not at all: written to a temporary name in the same
folder, then renamed, so a crash leaves no half file under the real name. Values are wire
strings (what HubSpot returns; :mod:`hsframe.schema`), indexed by ``id``. A text cell that
starts like a formula (``=``, ``+``, ``-``, ``@``, a tab, a carriage return) gets a leading
``'``, so a spreadsheet shows it instead of running it (CSV injection: a contact's job title
``=HYPERLINK(...)`` came from a web form, not from the user). Numbers, dates and booleans
have strict wire forms and are never guarded; ``guard=False`` writes the raw values.

**Reading** (:func:`read_corrections`). Excel saves in the machine's code page and with a
``;`` in much of Europe: the text is UTF-8 (a BOM is fine), else Windows-1252, else Latin-1,
with a :class:`EncodingGuessWarning` that says to check accented names; the delimiter is
whichever of ``,``, ``;`` and tab the header line holds most. Blank lines are skipped, empty
cells are None ("no correction"), and the guard's ``'`` is taken off again. Each row keeps
the line it came from, so that every message about it can name the line, which is what a
person with the file open looks for.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from hsframe import diff

__all__ = [
    "FORMULA_START",
    "CorrectionsFile",
    "CsvFileError",
    "EncodingGuessWarning",
    "read_corrections",
    "write_csv",
    "write_private",
]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for the start of a formula."""

_GUARDED_KINDS = ("string", "enumeration", "multiselect")


class CsvFileError(ValueError):
    """A file that cannot be read as corrections: missing, empty, or with a broken header
    or row; the message names the file and the line."""


class EncodingGuessWarning(UserWarning):
    """A file was not UTF-8, so its encoding was guessed: accented letters may be wrong."""


@dataclass(frozen=True)
class CorrectionsFile:
    """A corrections file, read.

    Attributes:
        frame: One row per non-blank line, one column per header name; text, or None for
            an empty cell.
        lines: The file line of each row (``lines[i]`` for ``frame.iloc[i]``), from 1,
            the header being line 1.
        encoding: The encoding the text was read in (``UTF-8``, ``Windows-1252``...).
    """

    frame: pd.DataFrame
    lines: list[int]
    encoding: str


def write_private(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file whole or not at all, created with mode 0600 (it holds personal data).

    Args:
        path: The file to create or replace.
        write: Writes the content to the binary handle it is given.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     target = Path(folder) / "out.txt"
        ...     write_private(target, lambda handle: handle.write(b"hello"))
        ...     target.read_bytes(), oct(target.stat().st_mode & 0o777)
        (b'hello', '0o600')
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_csv(path: Path, frame: pd.DataFrame, *, guard: bool = True) -> int:
    """Write a loaded frame as wire strings with an ``id`` column (gzipped if the name ends
    in ``.gz``), privately (:func:`write_private`).

    Args:
        path: The file to write.
        frame: A frame from :func:`hsframe.read_contacts` (its columns that are properties
            are written).
        guard: Put a ``'`` before text cells that start like a formula.

    Returns:
        How many cells were guarded.
    """
    schema = diff.origin(frame).schema
    names = [str(c) for c in frame.columns if c in schema]
    wire = schema.encode(frame[names])
    assert isinstance(wire, pd.DataFrame)
    guarded = 0
    if guard:
        for name in names:
            if schema.kind(name) not in _GUARDED_KINDS:
                continue  # numbers, dates and booleans have strict wire forms: never formulas
            column = wire[name]
            risky = column.str.startswith(FORMULA_START).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                guarded += int(risky.sum())
                wire[name] = column.where(~risky, "'" + column)

    def write(handle: IO[bytes]) -> None:
        if path.name.lower().endswith(".gz"):
            with (
                gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text,
            ):
                wire.to_csv(text, index=True, index_label="id", lineterminator="\n")
        else:
            with io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
                wire.to_csv(text, index=True, index_label="id", lineterminator="\n")

    write_private(path, write)
    return guarded


def read_corrections(path: Path) -> CorrectionsFile:
    """Read a corrections CSV as a spreadsheet saved it (module docstring).

    Args:
        path: The file.

    Returns:
        The :class:`CorrectionsFile`.

    Raises:
        CsvFileError: No such file, an empty file, a header without names or with a name
            twice, or a row with another number of fields than the header (by line).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     source = Path(folder) / "fixes.csv"
        ...     _ = source.write_text("email;jobtitle\\n\\nann@example.com;'=Boss\\n")
        ...     read = read_corrections(source)
        >>> read.frame.to_dict("records"), read.lines, read.encoding
        ([{'email': 'ann@example.com', 'jobtitle': '=Boss'}], [3], 'UTF-8')
    """
    if not path.is_file():
        raise CsvFileError(f"{path}: no such file")
    text, encoding = _decode(path.read_bytes(), path)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError(f"{path} is empty") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise CsvFileError(f"{path}: the first line should name the columns")
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    if repeated:
        raise CsvFileError(f"{path}: the columns {repeated} appear more than once")
    rows: list[list[str | None]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    for record in reader:
        line = start
        start = reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            raise CsvFileError(
                f"{path}, line {line}: {len(record)} fields, but the header names {len(names)}"
            )
        rows.append([_unguard(cell) if cell.strip() else None for cell in record])
        lines.append(line)
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    frame = frame.drop(columns=[n for n in names if not n])
    return CorrectionsFile(frame, lines, encoding)


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "Latin-1"
    warnings.warn(
        f"{path} is not UTF-8; read it as {encoding}. Check accented names in the diff, and "
        "save the file as UTF-8 next time.",
        EncodingGuessWarning,
        stacklevel=3,
    )
    return text, encoding


def _unguard(value: str) -> str:
    """Remove the ``'`` that :func:`write_csv` puts before a formula-looking cell."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value
