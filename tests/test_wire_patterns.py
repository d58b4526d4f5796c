"""The wire formats of the rules, against Python's own parsers, on both regex engines.

Hypothesis draws dates, datetimes and decimals; Python's own parsers and formatters say which
are real, and ``WIRE_PATTERNS`` must agree. What each rule lets through in a frame is tested
through validation (tests/test_validate.py), and the suite's contents through its public
face (tests/test_expectations.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsframe.rules import WIRE_PATTERNS


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z"))
def test_date_pattern_is_exactly_the_calendar(text: str) -> None:
    try:
        real = dt.date.fromisoformat(text) is not None
    except ValueError:
        real = False
    assert bool(re.match(WIRE_PATTERNS["date"], text)) == real


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_every_real_date_matches(day: dt.date) -> None:
    assert re.match(WIRE_PATTERNS["date"], day.isoformat())


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.timezones()))
def test_every_iso_datetime_with_a_zone_matches(moment: dt.datetime) -> None:
    for spec in ("seconds", "milliseconds", "microseconds"):
        text = moment.isoformat(timespec=spec)
        if not re.search(r"[+-]\d\d:\d\d$", text):
            continue  # offsets with seconds (+05:30:15) are not ISO 8601 zone designators
        assert re.match(WIRE_PATTERNS["datetime"], text), text


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_plain_decimal_numbers_match(number: Any) -> None:
    assert re.match(WIRE_PATTERNS["number"], format(number, "f"))


@pytest.mark.parametrize("dtype", [object, "str"])
def test_patterns_behave_the_same_on_both_string_engines(dtype: Any) -> None:
    """pandas runs regexes through pyarrow (RE2) for ``str`` columns and ``re`` otherwise."""
    samples = ["17", "17\n", "2024-02-29", "2023-02-29", "ann@example.com", "a b@example.com"]
    column = pd.Series(samples, dtype=dtype)
    for pattern in WIRE_PATTERNS.values():
        expected = [bool(re.match(pattern, s)) for s in samples]
        assert column.str.contains(pattern).tolist() == expected
