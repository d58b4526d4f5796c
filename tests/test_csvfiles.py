"""CSV files as spreadsheets write and read them (hsframe.csvfiles), without a portal."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsframe.csvfiles import (
    CsvFileError,
    EncodingGuessWarning,
    read_corrections,
    write_private,
)


def _file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "fixes.csv"
    path.write_bytes(content)
    return path


def test_rows_keep_their_file_lines_past_blank_lines_and_multi_line_cells(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        b'email,notes\n\nann@example.com,"two\nlines"\n   ,  \nbob@example.com,\n',
    )
    read = read_corrections(path)
    assert read.lines == [3, 6]
    assert read.frame.to_dict("records") == [
        {"email": "ann@example.com", "notes": "two\nlines"},
        {"email": "bob@example.com", "notes": None},  # empty: no correction
    ]


def test_the_delimiter_comes_from_the_header_and_a_bom_is_ignored(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeffemail;jobtitle\nann@example.com;CEO, Europe\n".encode())
    read = read_corrections(path)
    assert list(read.frame.columns) == ["email", "jobtitle"]
    assert read.frame.iloc[0]["jobtitle"] == "CEO, Europe"
    assert read.encoding == "UTF-8"


def test_a_file_that_is_not_utf8_is_read_with_a_warning(tmp_path: Path) -> None:
    path = _file(tmp_path, "email,firstname\nzoe@example.com,Zoë\n".encode("cp1252"))
    with pytest.warns(EncodingGuessWarning, match="Windows-1252"):
        read = read_corrections(path)
    assert read.frame.iloc[0]["firstname"] == "Zoë"


def test_only_the_guard_quote_is_taken_off(tmp_path: Path) -> None:
    path = _file(tmp_path, b"email,phone,note\nann@example.com,'+44 20,'quoted\n")
    row = read_corrections(path).frame.iloc[0]
    assert row["phone"] == "+44 20" and row["note"] == "'quoted"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b",,\nx,y,z\n", "should name the columns"),
        (b"email,email\na,b\n", "more than once"),
        (b"email,jobtitle\nann@example.com,CEO\nbob@example.com\n", "line 3: 1 fields"),
    ],
    ids=["empty", "no-names", "repeated", "short-row"],
)
def test_a_broken_file_is_refused_naming_the_line(
    content: bytes, message: str, tmp_path: Path
) -> None:
    with pytest.raises(CsvFileError, match=message):
        read_corrections(_file(tmp_path, content))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="no such file"):
        read_corrections(tmp_path / "nowhere.csv")


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "contacts.csv"
    write_private(target, lambda handle: handle.write(b"old"))

    def fail(handle: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_private(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["contacts.csv"]
    assert target.stat().st_mode & 0o777 == 0o600
