"""Validation on wire form: each rule, the changed-cells gate, ids, user expectations, GE hygiene.

Frames here are built by hand (a few contacts, the exact wire strings HubSpot would get), so
every expected failure is visible in the test. The sandbox's generator supplies the large,
messy frames for the scale and realism checks. Great Expectations runs for real: its
behaviour (what it skips, what it caps, what it prints) is part of what is tested.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hsframe.validate as validate_module
from hsframe.validate import FAILURE_COLUMNS, ValidationReport, suite_from_schema, validate

REPO = Path(__file__).resolve().parents[1]


def _prop(name: str, type_: str = "string", field_type: str = "text", **extra: Any) -> dict:
    definition: dict[str, Any] = {
        "name": name,
        "label": name.title(),
        "type": type_,
        "fieldType": field_type,
        "groupName": "contactinformation",
        "description": "",
        "options": [],
        "modificationMetadata": {"readOnlyValue": False},
    }
    definition.update(extra)
    return definition


def _options(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "hidden": False, "displayOrder": i}
        for i, v in enumerate(values)
    ]


PROPS: list[dict[str, Any]] = [
    _prop("email", textDisplayHint="email"),
    _prop("firstname"),
    _prop("lastname"),
    _prop("company"),
    _prop("phone", "string", "phonenumber"),
    _prop(
        "lifecyclestage",
        "enumeration",
        "radio",
        options=_options("subscriber", "lead", "marketingqualifiedlead", "customer"),
    ),
    _prop("hobbies", "enumeration", "checkbox", options=_options("ski", "chess", "go")),
    _prop("seats", "number", "number"),
    _prop("birthday", "date", "date"),
    _prop("last_demo_at", "datetime", "date"),
    _prop("newsletter", "bool", "booleancheckbox", options=_options("true", "false")),
    _prop("customer_code", hasUniqueValue=True),
    _prop("work_email", textDisplayHint="email"),
    _prop("hubspot_owner_id", "enumeration", "select", externalOptions=True),
    _prop(
        "createdate",
        "datetime",
        "date",
        modificationMetadata={"readOnlyValue": True},
    ),
    _prop("hubspotscore", "number", "number", modificationMetadata={"readOnlyValue": True}),
]


def wire_frame(
    rows: Mapping[Any, Mapping[str, Any]] | Sequence[tuple[int | None, Mapping[str, Any]]],
) -> pd.DataFrame:
    """A wire frame: object columns of strings/None, indexed by nullable Int64 ``id``."""
    items = list(rows.items()) if isinstance(rows, dict) else list(rows)
    columns = list(dict.fromkeys(c for _, values in items for c in values))
    data = {c: [values.get(c) for _, values in items] for c in columns}
    index = pd.Index(pd.array([i for i, _ in items], dtype="Int64"), name="id")
    return pd.DataFrame(data, index=index, dtype=object)


def change_set(*cells: tuple[int | None, str, Any, Any]) -> pd.DataFrame:
    """A change set as the diff module produces it (id, property, old, new, kind)."""
    return pd.DataFrame(
        {
            "id": pd.array([c[0] for c in cells], dtype="Int64"),
            "property": [c[1] for c in cells],
            "old": [c[2] for c in cells],
            "new": [c[3] for c in cells],
            "kind": ["update" if c[0] is not None else "create" for c in cells],
        }
    )


def failing(report: ValidationReport) -> set[tuple[Any, str]]:
    """(id, property) of each failure, NA ids as None."""
    return {
        (None if pd.isna(i) else int(i), p)
        for i, p in zip(report.failures["id"], report.failures["property"], strict=True)
    }


# --- each rule accepts good values and catches bad ones ----------------------------------

RULE_CASES = {
    "email": (
        "email",
        [
            "ann@example.com",
            "Ann.Lee+tag@sub.example.co.uk",
            "o'brien@example.org",
            "x_y-z@mail-1.example",
            "ann@xn--bcher-kva.xn--p1ai",
        ],
        [
            "ann@",
            "ann lee@example.com",
            "ann@contoso",
            "@@",
            " lead@example.com",  # padded: distinct addresses, or uniqueness would
            "trail@example.com ",  # judge them too (it compares emails stripped)
            "newline@example.com\n",
            "a@b@example.com",
            "mailto:ann@example.com",
            "ann..lee@example.com",
            ".ann@example.com",
            "ann@-example.com",
            "ann@example.c0m",
            "ann@example.com, bob@example.com",
            "ann at example.com",
        ],
    ),
    "work_email": ("work_email", ["bob@example.net"], ["bob@example", "bob"]),
    "number": (
        "seats",
        ["17", "-3", "0", "1250000.5", "0.001", "007"],
        ["5,333,222", "1e3", "+5", ".5", "5.", "1 000", "12.3.4", "NaN", "17\n", "-", "١٢"],
    ),
    "date": (
        "birthday",
        ["2024-02-29", "2023-12-31", "2000-02-29", "0001-01-01", "9999-12-31"],
        [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
            "2024-1-5",
            "0000-01-01",
            "1714521600000",
            "2024-05-01T00:00:00Z",
            "01/05/2024",
            "2024-05-01\n",
        ],
    ),
    "datetime": (
        "last_demo_at",
        [
            "2024-03-01T09:30:00.000Z",
            "2024-03-01T09:30:00Z",
            "2024-03-01T09:30:00.123456+02:00",
            "2024-03-01T09:30-0500",
            "1709285400000",
        ],
        [
            "2024-03-01 09:30:00Z",
            "2024-03-01T09:30:00",
            "2024-03-01",
            "2024-03-01T24:00:00Z",
            "2024-02-30T09:30:00Z",
            "yesterday",
            "1.7e12",
        ],
    ),
    "bool": ("newsletter", ["true", "false"], ["True", "TRUE", "yes", "1", "false "]),
    "option": (
        "lifecyclestage",
        ["lead", "customer", "marketingqualifiedlead"],
        ["Lead", "lead ", "opportunity", "LEAD", "lead;customer"],
    ),
    "options": (
        "hobbies",
        ["ski", "ski;chess", "go;ski;chess", "chess;chess"],
        ["ski;", ";ski", "Ski", "ski; chess", "ski,chess", "ski;;chess", "bridge", "ski;bridge"],
    ),
}


@pytest.mark.parametrize("rule", sorted(RULE_CASES))
def test_each_rule_accepts_good_values_and_catches_bad_ones(rule: str) -> None:
    column, good, bad = RULE_CASES[rule]
    values = [*good, "", None, *bad]
    frame = wire_frame({1000 + i: {column: v} for i, v in enumerate(values)})
    report = validate(frame, PROPS, rows="all")
    assert set(report.failures["value"]) == set(bad), report.failures
    assert set(report.failures["property"]) == {column}
    assert len(report.failures) == len(bad)  # one row per failing cell


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("phone", ["+1 (415) 555-0123", "call me", ""]),  # phone numbers are stored verbatim
        ("hubspot_owner_id", ["12345", "anything"]),  # options live outside the definition
        ("createdate", ["garbage"]),  # read-only: never sent, so never format-checked
        ("company", ["<b>Acme</b>", "  "]),
        ("not_a_property", ["x"]),  # an extra column on an existing contact is not an edit
    ],
)
def test_properties_without_a_format_rule_pass(column: str, values: list[str]) -> None:
    frame = wire_frame({1000 + i: {column: v} for i, v in enumerate(values)})
    assert validate(frame, PROPS, rows="all").ok


# --- failures name the contact, the property and what to do ------------------------------


def test_failures_map_to_the_right_ids_properties_and_values() -> None:
    frame = wire_frame(
        {
            501: {"email": "ann@example.com", "lifecyclestage": "lead", "seats": "3"},
            502: {"email": "bob@example", "lifecyclestage": "Customer", "seats": "3"},
            503: {"email": "cy@example.com", "lifecyclestage": "lead", "seats": "1,000"},
        }
    )
    report = validate(frame, PROPS, rows="all")
    assert list(report.failures.columns) == list(FAILURE_COLUMNS)
    assert failing(report) == {(502, "email"), (502, "lifecyclestage"), (503, "seats")}
    assert report.invalid_ids == frozenset({502, 503})
    assert report.invalid_rows == frozenset({1, 2})
    assert str(report.failures["id"].dtype) == "Int64"
    assert str(report.failures["row"].dtype) == "Int64"
    by_cell = report.failures.set_index(["id", "property"])
    assert by_cell.loc[(502, "lifecyclestage"), "value"] == "Customer"
    assert by_cell.loc[(502, "lifecyclestage"), "message"] == (
        "'Customer' is not an option of lifecyclestage (did you mean 'customer'?); "
        "options: subscriber, lead, marketingqualifiedlead, customer"
    )
    assert "no commas" in by_cell.loc[(503, "seats"), "message"]
    assert by_cell.loc[(502, "email"), "expectation"] == "expect_column_values_to_match_regex"


def test_option_hint_suggests_the_value_behind_a_label() -> None:
    frame = wire_frame({7: {"lifecyclestage": "Marketingqualifiedlead"}})
    message = validate(frame, PROPS, rows="all").failures.loc[0, "message"]
    assert "did you mean 'marketingqualifiedlead'?" in message


def test_multiselect_message_names_the_values_that_are_not_options() -> None:
    frame = wire_frame({7: {"hobbies": "ski;bridge;;Chess"}})
    message = validate(frame, PROPS, rows="all").failures.loc[0, "message"]
    assert "'bridge', an empty value, 'Chess'" in message
    assert "options: ski, chess, go" in message


def test_long_option_lists_are_shortened_in_messages() -> None:
    many = [f"opt{i}" for i in range(40)]
    props = [_prop("region", "enumeration", "select", options=_options(*many))]
    report = validate(wire_frame({1: {"region": "nowhere"}}), props, rows="all")
    assert "… (28 more)" in report.failures.loc[0, "message"]


def test_properties_accept_the_whole_api_response() -> None:
    frame = wire_frame({1: {"seats": "1,000"}})
    assert not validate(frame, {"results": PROPS}, rows="all").ok
    with pytest.raises(TypeError, match="property definitions"):
        validate(frame, {"name": "seats"}, rows="all")


# --- the push gate: changed cells only ---------------------------------------------------

MESSY = {
    11: {"email": "ANN@example", "lifecyclestage": "Lead", "seats": "1,000", "firstname": "Ann"},
    12: {"email": "bob@example.com", "lifecyclestage": "lead", "seats": "2", "firstname": "Bob"},
    13: {"email": "cy@example.com", "lifecyclestage": "nope", "seats": "x", "firstname": "Cy"},
}


def test_changed_rows_ignore_old_mess_in_unchanged_cells() -> None:
    frame = wire_frame(MESSY)
    frame.loc[11, "firstname"] = "Anne"  # an unrelated fix on a messy row
    changes = change_set((11, "firstname", "Ann", "Anne"))
    report = validate(frame, PROPS, changed=changes)
    assert report.ok, report.failures
    assert report.rows == "changed"
    assert len(validate(frame, PROPS, changed=changes, rows="all").failures) == 5


def test_changed_rows_judge_exactly_the_changed_cells() -> None:
    frame = wire_frame(MESSY)
    frame.loc[11, "seats"] = "1000"  # fixed
    frame.loc[12, "lifecyclestage"] = "Customer"  # broken by the edit
    changes = change_set((11, "seats", "1,000", "1000"), (12, "lifecyclestage", "lead", "Customer"))
    report = validate(frame, PROPS, changed=changes)
    assert failing(report) == {(12, "lifecyclestage")}
    assert report.failures.loc[0, "value"] == "Customer"


def test_without_a_change_set_every_cell_counts_as_changed() -> None:
    frame = wire_frame(MESSY)
    assert failing(validate(frame, PROPS)) == failing(validate(frame, PROPS, rows="all"))


def test_an_empty_change_set_judges_nothing_but_new_contacts() -> None:
    frame = wire_frame(MESSY)
    assert validate(frame, PROPS, changed=change_set()[:0]).ok


def test_clearing_a_value_is_always_allowed() -> None:
    frame = wire_frame(MESSY)
    for column in ("email", "lifecyclestage", "seats"):
        frame.loc[13, column] = ""
    changes = change_set(
        (13, "email", "cy@example.com", ""),
        (13, "lifecyclestage", "nope", ""),
        (13, "seats", "x", ""),
    )
    assert validate(frame, PROPS, changed=changes).ok


# --- uniqueness --------------------------------------------------------------------------


def test_uniqueness_catches_case_variants_of_an_email() -> None:
    frame = wire_frame(
        {
            21: {"email": "ann@example.com"},
            22: {"email": "bob@example.com"},
            23: {"email": "cy@example.com"},
        }
    )
    frame.loc[22, "email"] = "Ann@Example.COM"
    changes = change_set((22, "email", "bob@example.com", "Ann@Example.COM"))
    report = validate(frame, PROPS, changed=changes)
    assert failing(report) == {(22, "email")}  # the unchanged contact 21 is not blamed
    row = report.failures.iloc[0]
    assert row["expectation"] == "expect_column_values_to_be_unique"
    assert row["value"] == "Ann@Example.COM"
    assert "also the email of contact 21" in row["message"]
    assert "ignoring case" in row["message"]
    assert failing(validate(frame, PROPS, rows="all")) == {(21, "email"), (22, "email")}


def test_a_new_email_collides_with_one_stored_with_spaces_around_it() -> None:
    """An old import left ``" ann@example.com "``; a new contact with that address is the
    same person, whether or not HubSpot's own lookup would see through the spaces."""
    frame = wire_frame({21: {"email": " ann@example.com "}, 22: {"email": "bob@example.com"}})
    frame.loc[22, "email"] = "ANN@example.com"
    changes = change_set((22, "email", "bob@example.com", "ANN@example.com"))
    report = validate(frame, PROPS, changed=changes)
    assert failing(report) == {(22, "email")}
    assert "also the email of contact 21" in report.failures.iloc[0]["message"]
    assert "surrounding spaces" in report.failures.iloc[0]["message"]


def test_old_duplicates_do_not_block_an_unrelated_fix() -> None:
    frame = wire_frame(
        {
            31: {"email": "dup@example.com", "firstname": "A"},
            32: {"email": "DUP@example.com", "firstname": "B"},
            33: {"email": "ok@example.com", "firstname": "C"},
        }
    )
    frame.loc[33, "email"] = "ok2@example.com"
    changes = change_set((33, "email", "ok@example.com", "ok2@example.com"))
    assert validate(frame, PROPS, changed=changes).ok


def test_unique_properties_other_than_email_compare_exactly() -> None:
    frame = wire_frame(
        {41: {"customer_code": "AB1"}, 42: {"customer_code": "ab1"}, 43: {"customer_code": "AB1"}}
    )
    report = validate(frame, PROPS, rows="all")
    assert failing(report) == {(41, "customer_code"), (43, "customer_code")}
    assert "ignoring case" not in report.failures.loc[0, "message"]


def test_cleared_and_unset_values_never_collide() -> None:
    frame = wire_frame(
        {51: {"email": ""}, 52: {"email": ""}, 53: {"email": None}, 54: {"email": None}}
    )
    assert validate(frame, PROPS, rows="all").ok


def test_a_new_contact_colliding_with_an_existing_one_is_named() -> None:
    frame = wire_frame([(61, {"email": "ann@example.com"}), (None, {"email": "ANN@example.com"})])
    report = validate(frame, PROPS, changed=change_set())
    assert failing(report) == {(None, "email")}
    assert report.failures.loc[0, "row"] == 1
    assert "contact 61" in report.failures.loc[0, "message"]
    assert report.invalid_ids == frozenset()
    assert report.invalid_rows == frozenset({1})


# --- new contacts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ({"company": "Acme"}, False),
        ({"email": "", "firstname": "", "company": "Acme"}, False),
        ({"email": "new@example.com"}, True),
        ({"firstname": "Ann"}, True),
        ({"lastname": "Lee"}, True),
    ],
)
def test_a_new_contact_needs_an_email_or_a_name(values: dict[str, str], ok: bool) -> None:
    frame = wire_frame([(71, {"email": "old@example.com"}), (None, values)])
    report = validate(frame, PROPS, changed=change_set())
    assert report.ok is ok, report.failures
    if not ok:
        row = report.failures.iloc[0]
        assert pd.isna(row["id"]) and row["row"] == 1
        assert row["property"] == "email, firstname, lastname"
        assert row["expectation"] == "expect_column_values_to_not_be_null"
        assert row["message"].startswith("a new contact needs an email or a first name")


def test_identity_rule_works_when_the_frame_lacks_the_name_columns() -> None:
    frame = wire_frame([(None, {"company": "Acme"})])
    report = validate(frame, PROPS)
    assert failing(report) == {(None, "email, firstname, lastname")}


def test_every_value_of_a_new_contact_is_judged() -> None:
    frame = wire_frame(
        [
            (81, {"email": "bad", "seats": "1,0"}),  # old mess, untouched
            (None, {"email": "new@example", "seats": "2,5", "firstname": "N"}),
        ]
    )
    report = validate(frame, PROPS, changed=change_set())
    assert failing(report) == {(None, "email"), (None, "seats")}


# --- read-only and unknown properties, from the change set -------------------------------


def test_changing_a_read_only_property_is_reported() -> None:
    frame = wire_frame({91: {"createdate": "2024-01-01T00:00:00.000Z", "hubspotscore": "5"}})
    frame.loc[91, "hubspotscore"] = "99"
    changes = change_set((91, "hubspotscore", "5", "99"))
    for rows in ("changed", "all"):
        report = validate(frame, PROPS, changed=changes, rows=rows)
        assert failing(report) == {(91, "hubspotscore")}
        row = report.failures.iloc[0]
        assert row["expectation"] == "expect_read_only_property_unchanged"
        assert row["value"] == "99"
        assert "read-only" in row["message"]


def test_a_new_contact_setting_a_read_only_property_is_reported() -> None:
    frame = wire_frame([(None, {"firstname": "Ann", "hubspotscore": "10", "createdate": None})])
    report = validate(frame, PROPS, rows="all")
    assert failing(report) == {(None, "hubspotscore")}


def test_changing_a_property_the_portal_lacks_is_reported() -> None:
    frame = wire_frame({92: {"firstname": "Ann", "favourite_colour": "blue"}})
    changes = change_set((92, "favourite_colour", None, "blue"))
    report = validate(frame, PROPS, changed=changes)
    assert failing(report) == {(92, "favourite_colour")}
    assert report.failures.loc[0, "expectation"] == "expect_property_to_exist"
    assert "not a contact property" in report.failures.loc[0, "message"]


# --- the user's own expectations ---------------------------------------------------------


def _gx() -> Any:
    return validate_module._engine().gx


def test_user_expectations_are_added_to_the_schema_suite() -> None:
    gx = _gx()
    frame = wire_frame(
        {
            101: {"firstname": "Ann", "phone": "+1 415 555 0123", "seats": "1,0"},
            102: {"firstname": "Bartholomew", "phone": "call me", "seats": "2"},
        }
    )
    report = validate(
        frame,
        PROPS,
        rows="all",
        expectations=[
            gx.expectations.ExpectColumnValuesToMatchRegex(column="phone", regex=r"^\+[\d ]+$"),
            gx.expectations.ExpectColumnValueLengthsToBeBetween(
                column="firstname", max_value=5, description="first names fit the badge"
            ),
        ],
    )
    assert failing(report) == {(101, "seats"), (102, "phone"), (102, "firstname")}
    by_cell = report.failures.set_index(["id", "property"])
    assert by_cell.loc[(102, "firstname"), "message"] == (
        "'Bartholomew' fails first names fit the badge"
    )
    assert "expect_column_values_to_match_regex(" in by_cell.loc[(102, "phone"), "message"]


def test_a_user_suite_is_copied_not_changed() -> None:
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(gx.ExpectationSuite(name="house_rules"))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToNotBeInSet(column="company", value_set=["n/a"])
    )
    before = suite.to_json_dict()
    frame = wire_frame({111: {"company": "n/a"}, 112: {"company": "Acme"}})
    report = validate(frame, PROPS, suite=suite, rows="all")
    assert failing(report) == {(111, "company")}
    assert suite.to_json_dict() == before
    assert validate(frame, PROPS, suite=suite, rows="all").failures.equals(report.failures)


def test_user_expectations_follow_the_changed_cells_rule() -> None:
    gx = _gx()
    rule = gx.expectations.ExpectColumnValuesToNotBeInSet(column="company", value_set=["n/a"])
    frame = wire_frame({121: {"company": "n/a", "firstname": "A"}, 122: {"company": "Acme"}})
    frame.loc[122, "company"] = "n/a"
    changes = change_set((122, "company", "Acme", "n/a"))
    report = validate(frame, PROPS, expectations=[rule], changed=changes)
    assert failing(report) == {(122, "company")}
    untouched = change_set((121, "firstname", "a", "A"))
    assert validate(frame, PROPS, expectations=[rule], changed=untouched).ok


def test_a_users_column_wide_expectation_sees_the_whole_column() -> None:
    gx = _gx()
    rule = gx.expectations.ExpectColumnValuesToBeUnique(column="company")
    frame = wire_frame(
        {
            201: {"company": "Acme"},
            202: {"company": "Beta"},
            203: {"company": "Old"},
            204: {"company": "Old"},
        }
    )
    frame.loc[202, "company"] = "Acme"
    changes = change_set((202, "company", "Beta", "Acme"))
    report = validate(frame, PROPS, expectations=[rule], changed=changes)
    assert failing(report) == {(202, "company")}  # not 201 (unchanged), not 203/204 (old)


def test_frame_level_user_expectations_are_reported_without_an_id() -> None:
    gx = _gx()
    frame = wire_frame({131: {"company": "A"}, 132: {"company": "B"}})
    report = validate(
        frame,
        PROPS,
        expectations=[gx.expectations.ExpectTableRowCountToBeBetween(max_value=1)],
        changed=change_set(),
    )
    assert len(report.failures) == 1
    row = report.failures.iloc[0]
    assert pd.isna(row["id"]) and pd.isna(row["row"])
    assert row["value"] == "2"
    assert row["message"].startswith("observed 2: fails expect_table_row_count_to_be_between(")
    assert not report.ok and report.invalid_ids == frozenset()
    assert "(1 frame-level)" in report.summary()


def test_multicolumn_user_expectations_report_every_column() -> None:
    gx = _gx()
    frame = wire_frame(
        {141: {"firstname": "Ann", "lastname": "Lee"}, 142: {"firstname": "Bo", "lastname": "Bo"}}
    )
    rule = gx.expectations.ExpectSelectColumnValuesToBeUniqueWithinRecord(
        column_list=["firstname", "lastname"]
    )
    report = validate(frame, PROPS, expectations=[rule], rows="all")
    assert failing(report) == {(142, "firstname, lastname")}
    assert report.failures.loc[0, "value"] == "{'firstname': 'Bo', 'lastname': 'Bo'}"


def test_a_broken_user_expectation_is_reported_as_not_run() -> None:
    gx = _gx()
    frame = wire_frame({151: {"company": "A"}})
    rule = gx.expectations.ExpectColumnValuesToBeInSet(column="nope", value_set=["x"])
    report = validate(frame, PROPS, expectations=[rule], rows="all")
    assert len(report.failures) == 1
    assert report.failures.loc[0, "message"].startswith("could not run ")
    assert 'The column "nope"' in report.failures.loc[0, "message"]


def test_the_schema_suite_passed_back_in_does_not_double_report() -> None:
    frame = wire_frame({161: {"seats": "1,0", "email": "bad"}})
    alone = validate(frame, PROPS, rows="all")
    again = validate(frame, PROPS, suite=suite_from_schema(PROPS), rows="all")
    assert again.failures.equals(alone.failures)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rows": "some"}, ValueError, "rows must be"),
        ({"changed": pd.DataFrame({"id": [1]})}, ValueError, "lacks \\['property'\\]"),
        ({"suite": "my suite"}, TypeError, "ExpectationSuite"),
        ({"expectations": ["not one"]}, TypeError, "expectation objects"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        validate(wire_frame({1: {"company": "A"}}), PROPS, **kwargs)


def test_a_frame_not_indexed_by_ids_is_refused() -> None:
    frame = pd.DataFrame({"company": ["A"]}, index=pd.Index(["ann"], name="id"))
    with pytest.raises(TypeError, match="indexed by contact id"):
        validate(frame, PROPS)


def test_empty_and_columnless_frames() -> None:
    index = pd.Index(pd.array([], dtype="Int64"), name="id")
    empty = pd.DataFrame({"email": pd.Series([], dtype=object)}, index=index)
    assert validate(empty, PROPS, rows="all").ok
    assert validate(empty, PROPS, changed=change_set()[:0]).ok
    nameless = pd.DataFrame(index=pd.Index(pd.array([1, None], dtype="Int64"), name="id"))
    assert failing(validate(nameless, PROPS)) == {(None, "email, firstname, lastname")}


def test_a_portal_with_hundreds_of_properties() -> None:
    """Real portals have hundreds of properties; building GE's frame must not fragment."""
    props = [_prop(f"n{i}", "number", "number") for i in range(300)]
    index = pd.Index(pd.array([1, 2], dtype="Int64"), name="id")
    frame = pd.DataFrame({f"n{i}": ["1", "x"] for i in range(300)}, index=index, dtype=object)
    report = validate(frame, props, rows="all")  # PerformanceWarning would fail the test
    assert len(report.failures) == 300 and report.invalid_ids == frozenset({2})


@pytest.mark.parametrize("dtype", ["str", "string", object])
def test_any_string_dtype_and_a_plain_integer_index(dtype: Any) -> None:
    frame = pd.DataFrame(
        {"seats": pd.array(["1", None, "x"], dtype=dtype)}, index=pd.Index([5, 6, 7], name="id")
    )
    report = validate(frame, PROPS, rows="all")
    assert failing(report) == {(7, "seats")}
    assert report.failures.loc[0, "value"] == "x"


# --- the report --------------------------------------------------------------------------


def test_report_summary_and_repr_count_failures() -> None:
    frame = wire_frame({171: {"seats": "1,0", "email": "x"}, 172: {"seats": "2,0"}})
    report = validate(frame, PROPS, rows="all")
    text = repr(report)
    assert text.splitlines()[0] == 'ValidationReport: 3 failing cells in 2 contacts (rows="all")'
    assert re.search(r"seats\s+expect_column_values_to_match_regex\s+2", text)
    assert report.summary() == text
    assert repr(validate(wire_frame({1: {"seats": "2"}}), PROPS)) == (
        'ValidationReport: ok, no failures (rows="changed")'
    )


def test_html_repr_is_compact_and_escaped() -> None:
    frame = wire_frame({i: {"lifecyclestage": f"<script>{i}</script>"} for i in range(60)})
    page = validate(frame, PROPS, rows="all")._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;0&lt;/script&gt;" in page
    assert page.count("<tr>") == 51  # a header and the first 50 failures
    assert "and 10 more" in page
    ok_page = validate(wire_frame({1: {"seats": "2"}}), PROPS)._repr_html_()
    assert "ok, no failures" in ok_page and "<table>" not in ok_page


def test_the_report_exposes_no_great_expectations_object() -> None:
    gx = _gx()
    frame = wire_frame({181: {"seats": "1,0"}})
    report = validate(
        frame, PROPS, rows="all", expectations=[gx.expectations.ExpectTableRowCountToBeBetween()]
    )
    values = [*vars(report).values(), *report.failures.to_numpy().ravel()]
    assert not [v for v in values if type(v).__module__.startswith("great_expectations")]


# --- Great Expectations: lazy, quiet, ephemeral ------------------------------------------


def _python(code: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (so GE's first import is part of it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GX_", "HUBSPOT_"))}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


def _first_use(props_file: Path, before: str = "", after: str = "") -> str:
    """A script that validates a small frame in a fresh process (GE imported inside)."""
    return "\n".join(
        [
            "import json",
            "import pandas as pd",
            before,
            "from hsframe.validate import validate",
            f"props = json.loads(open({str(props_file)!r}, encoding='utf-8').read())",
            "frame = pd.DataFrame(",
            "    {'email': ['ann@example.com', 'bad'], 'seats': ['1', '1,0']},",
            "    index=pd.Index(pd.array([1, None], dtype='Int64'), name='id'),",
            ")",
            "report = validate(frame, props, rows='all')",
            "assert len(report.failures) == 2, report",
            after,
        ]
    )


@pytest.fixture
def props_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("definitions") / "properties.json"
    path.write_text(json.dumps(PROPS), encoding="utf-8")
    return path


def test_great_expectations_is_not_imported_until_validation_runs(tmp_path: Path) -> None:
    code = """
        import sys
        import hsframe.validate, hsframe.expectations
        assert "great_expectations" not in sys.modules
    """
    result = _python(code, tmp_path, tmp_path)
    assert result.returncode == 0, result.stderr


def test_first_validation_writes_no_files_and_prints_nothing(
    tmp_path: Path, props_file: Path
) -> None:
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    result = _python(_first_use(props_file), cwd, home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar, no warning, no log line
    assert result.stdout == ""
    assert list(cwd.iterdir()) == []
    assert list(home.iterdir()) == []


def test_validation_prints_and_warns_nothing_in_process(
    capfd: pytest.CaptureFixture[str],
) -> None:
    gx = _gx()
    frame = wire_frame({191: {"seats": "1,0", "email": "a@example.com"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(
            frame,
            PROPS,
            rows="all",
            expectations=[gx.expectations.ExpectColumnValuesToBeUnique(column="seats")],
        )
    assert capfd.readouterr() == ("", "")


def test_a_notebooks_own_gx_context_stays_current(tmp_path: Path, props_file: Path) -> None:
    before = "\n".join(
        [
            "import warnings",
            "with warnings.catch_warnings():",
            "    warnings.simplefilter('ignore')",
            "    import great_expectations as gx",
            "    from great_expectations.data_context.data_context.context_factory import (",
            "        project_manager,",
            "    )",
            "    mine = gx.get_context(mode='ephemeral')",
        ]
    )
    after = "assert project_manager.get_current_project() is mine"
    result = _python(_first_use(props_file, before, after), tmp_path, tmp_path)
    assert result.returncode == 0, result.stderr


# --- realistic data and scale ------------------------------------------------------------


def _sandbox_frame(n: int, seed: int = 3) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    from hsframe.sandbox.seed import generate_contacts, load_properties

    contacts = generate_contacts(n, seed=seed)
    index = pd.Index(pd.array(contacts["hs_object_id"].astype(int), dtype="Int64"), name="id")
    return contacts.set_index(index), load_properties()


def test_the_sandbox_mess_is_found_and_old_mess_does_not_block() -> None:
    wire, props = _sandbox_frame(2_000)
    report = validate(wire, props, rows="all")
    found = set(zip(report.failures["property"], report.failures["expectation"], strict=True))
    assert ("email", "expect_column_values_to_match_regex") in found  # "ann lee@..." etc.
    assert ("email", "expect_column_values_to_be_unique") in found  # case-variant duplicates
    assert any(e == "expect_column_values_to_be_in_set" for _, e in found)  # stale options
    # Fix every bad lifecycle stage: only those cells are judged, and they pass now.
    bad = report.failures[report.failures["property"] == "lifecyclestage"]
    edited = wire.copy()
    edited.loc[bad["id"].to_numpy(), "lifecyclestage"] = "lead"
    changes = change_set(
        *[
            (int(i), "lifecyclestage", v, "lead")
            for i, v in zip(bad["id"], bad["value"], strict=True)
        ]
    )
    assert validate(edited, props, changed=changes).ok


def test_scattered_edits_in_a_large_frame_are_judged_cell_by_cell() -> None:
    wire, props = _sandbox_frame(20_000)
    validate(wire.iloc[:10], props)  # GE's import is not part of the figure
    read_only = {p["name"] for p in props if p["modificationMetadata"]["readOnlyValue"]}
    writable = [c for c in wire.columns if c not in read_only]
    rng = np.random.default_rng(0)
    k = wire.size // 100  # 1 % of the cells, scattered
    rows = rng.integers(0, len(wire), k)
    columns = rng.choice(writable, k)
    values = {c: wire[c].to_numpy(dtype=object, copy=True) for c in wire.columns}
    cells = []
    for r, c in zip(rows, columns, strict=True):
        old = values[c][r]
        values[c][r] = new = old.strip().lower() if isinstance(old, str) else "x"
        cells.append((int(wire.index[r]), str(c), old, new))
    edited = pd.DataFrame(values, index=wire.index)
    changes = change_set(*cells).drop_duplicates(["id", "property"], keep="last")
    report = validate(edited, props, changed=changes)
    assert not report.ok  # "x" is no valid number, date or option
    judged = set(zip(changes["id"], changes["property"], strict=True))
    assert failing(report) <= judged


def test_definitions_are_not_mutated() -> None:
    before = copy.deepcopy(PROPS)
    validate(wire_frame({1: {"seats": "1,0"}}), PROPS, rows="all")
    suite_from_schema(PROPS)
    assert before == PROPS
