"""Property value rules: what HubSpot accepts, how it stores it, how it reports refusals."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from crm_fixtures import PROPERTIES
from hypothesis import given
from hypothesis import strategies as st

from hsframe.sandbox import rules, seed
from hsframe.sandbox.rules import Problem, check_values

DEFS = {p["name"]: p for p in PROPERTIES}


@pytest.mark.parametrize(
    ("name", "sent", "stored"),
    [
        ("email", "Ann.Lee@Example.COM", "ann.lee@example.com"),
        ("email", "o'brien+tag@mail.example.co.uk", "o'brien+tag@mail.example.co.uk"),
        ("email", "user@xn--80ak6aa92e.com", "user@xn--80ak6aa92e.com"),
        ("firstname", "  any text, even 1,000  ", "  any text, even 1,000  "),
        ("phone", "+1 (555) 010-1000 ext. 7", "+1 (555) 010-1000 ext. 7"),
        ("mobilephone", "0044 7700 900123", "0044 7700 900123"),
        ("lifecyclestage", "lead", "lead"),
        ("industry", "MEDIA", "MEDIA"),
        ("interests", "golf", "golf"),
        ("interests", "golf;tennis", "golf;tennis"),
        ("owner", "12345", "12345"),
        ("score", "17", "17"),
        ("score", "-0.25", "-0.25"),
        ("score", "1234567890123", "1234567890123"),
        ("birthday", "2020-02-29", "2020-02-29"),
        ("birthday", "1430438400000", "2015-05-01"),
        ("birthday", "-86400000", "1969-12-31"),
        ("last_seen", "1713261016034", "2024-04-16T09:50:16.034Z"),
        ("last_seen", "2024-04-16T09:50:16.034Z", "2024-04-16T09:50:16.034Z"),
        ("last_seen", "2024-04-16T11:50:16+02:00", "2024-04-16T09:50:16.000Z"),
        ("last_seen", "2024-04-16T09:50:16", "2024-04-16T09:50:16.000Z"),
        ("last_seen", "2024-04-16", "2024-04-16T00:00:00.000Z"),
        ("vip", "true", "true"),
        ("vip", "false", "false"),
        ("customer_code", "C-9", "C-9"),
    ],
)
def test_valid_values_are_stored_in_canonical_form(name: str, sent: str, stored: str) -> None:
    assert check_values({name: sent}, DEFS) == ({name: stored}, [])


@pytest.mark.parametrize(
    ("name", "sent", "error", "message"),
    [
        (
            "email",
            "tb.tb@yahoo.comtttt1",
            "INVALID_EMAIL",
            "Email address tb.tb@yahoo.comtttt1 is invalid",
        ),
        (
            "email",
            "no-at-sign.example.com",
            "INVALID_EMAIL",
            "Email address no-at-sign.example.com is invalid",
        ),
        ("email", "two@@example.com", "INVALID_EMAIL", "Email address two@@example.com is invalid"),
        ("email", "a b@example.com", "INVALID_EMAIL", "Email address a b@example.com is invalid"),
        ("email", "ann@localhost", "INVALID_EMAIL", "Email address ann@localhost is invalid"),
        ("email", "ann@example.c", "INVALID_EMAIL", "Email address ann@example.c is invalid"),
        (
            "email",
            '"ann"@example.com',
            "INVALID_EMAIL",
            'Email address "ann"@example.com is invalid',
        ),
        ("email", "ann@example,com", "INVALID_EMAIL", "Email address ann@example,com is invalid"),
        ("email", " ann@example.com", "INVALID_EMAIL", "Email address  ann@example.com is invalid"),
        (
            "lifecyclestage",
            "Customer",
            "INVALID_OPTION",
            "Customer was not one of the allowed options: [subscriber, lead, "
            "marketingqualifiedlead, salesqualifiedlead, opportunity, customer, evangelist, other]",
        ),
        (
            "industry",
            "reports",
            "INVALID_OPTION",
            "reports was not one of the allowed options: [RETAIL, BANKING, MEDIA]",
        ),
        ("score", "5,333,222", "INVALID_NUMBER", "5,333,222 is not a valid number"),
        ("score", "1.2.3", "INVALID_NUMBER", "1.2.3 is not a valid number"),
        ("score", " 5", "INVALID_NUMBER", " 5 is not a valid number"),
        ("score", "1e5", "INVALID_NUMBER", "1e5 is not a valid number"),
        ("score", "ten", "INVALID_NUMBER", "ten is not a valid number"),
        (
            "birthday",
            "1570233600",
            "INVALID_DATE",
            "1570233600 is at 4:10:33.600 UTC, not midnight!",
        ),
        (
            "birthday",
            "1430438400001",
            "INVALID_DATE",
            "1430438400001 is at 0:00:00.001 UTC, not midnight!",
        ),
        (
            "birthday",
            "2024-02-30",
            "INVALID_DATE",
            "2024-02-30 is not a valid date: use YYYY-MM-DD or UTC-midnight epoch milliseconds",
        ),
        (
            "birthday",
            "01/02/2024",
            "INVALID_DATE",
            "01/02/2024 is not a valid date: use YYYY-MM-DD or UTC-midnight epoch milliseconds",
        ),
        (
            "last_seen",
            "yesterday",
            "INVALID_DATETIME",
            "yesterday is not a valid datetime: use epoch milliseconds or ISO 8601",
        ),
        ("vip", "True", "INVALID_BOOLEAN", 'True is not a valid boolean: use "true" or "false"'),
        ("vip", "yes", "INVALID_BOOLEAN", 'yes is not a valid boolean: use "true" or "false"'),
        (
            "hubspotscore",
            "5",
            "READ_ONLY_VALUE",
            '"hubspotscore" is a read-only property; its value cannot be set',
        ),
        (
            "full_name",
            "Ann Lee",
            "READ_ONLY_VALUE",
            '"full_name" is a calculated property; its value cannot be set',
        ),
        (
            "hs_object_id",
            "7",
            "READ_ONLY_VALUE",
            '"hs_object_id" is a read-only property; its value cannot be set',
        ),
        (
            "createdate",
            "",
            "READ_ONLY_VALUE",
            '"createdate" is a read-only property; its value cannot be set',
        ),
        (
            "favourite_color",
            "red",
            "PROPERTY_DOESNT_EXIST",
            'Property "favourite_color" does not exist',
        ),
        (
            "favourite_color",
            "",
            "PROPERTY_DOESNT_EXIST",
            'Property "favourite_color" does not exist',
        ),
    ],
)
def test_invalid_values_are_refused_with_hubspots_code(
    name: str, sent: str, error: str, message: str
) -> None:
    stored, problems = check_values({name: sent}, DEFS)
    assert stored == {}
    assert problems == [Problem(name, error, message)]


def test_each_bad_part_of_a_multi_select_is_reported() -> None:
    stored, problems = check_values({"interests": "golf;darts;Chess"}, DEFS)
    assert stored == {}
    assert [(p.name, p.error, p.message.split(" was")[0]) for p in problems] == [
        ("interests", "INVALID_OPTION", "darts"),
        ("interests", "INVALID_OPTION", "Chess"),
    ]


def test_every_invalid_property_of_one_write_is_reported() -> None:
    stored, problems = check_values(
        {"email": "nope", "firstname": "Ann", "score": "1,5", "ghost": "x", "vip": "TRUE"}, DEFS
    )
    assert stored == {"firstname": "Ann"}
    assert sorted(p.name for p in problems) == ["email", "ghost", "score", "vip"]


@pytest.mark.parametrize("name", ["email", "score", "birthday", "last_seen", "vip", "industry"])
def test_empty_string_clears_without_format_checks(name: str) -> None:
    assert check_values({name: ""}, DEFS) == ({name: ""}, [])


@pytest.mark.parametrize(
    ("sent", "wire"),
    [(None, ""), (True, "true"), (False, "false"), (5, "5"), (2.5, "2.5"), ("x", "x")],
)
def test_json_scalars_become_wire_strings(sent: Any, wire: str) -> None:
    assert rules.wire_value(sent) == wire


@pytest.mark.parametrize("sent", [{"a": 1}, [1, 2]])
def test_json_containers_are_malformed(sent: Any) -> None:
    with pytest.raises(TypeError):
        check_values({"firstname": sent}, DEFS)


def test_blocklisted_email_is_refused() -> None:
    blocked = {"gone@example.com"}.__contains__
    _, problems = check_values({"email": "Gone@Example.com"}, DEFS, blocked=blocked)
    assert [p.error for p in problems] == ["INVALID_EMAIL"]
    assert "blocklisted" in problems[0].message
    assert check_values({"email": "kept@example.com"}, DEFS, blocked=blocked)[1] == []


def test_enumeration_without_own_options_accepts_any_value() -> None:
    assert check_values({"owner": "anything at all"}, DEFS)[1] == []


def test_validation_error_matches_hubspots_captured_shape() -> None:
    problems = [
        Problem(
            "charlotte_drive_distance__miles_",
            "PROPERTY_DOESNT_EXIST",
            'Property "charlotte_drive_distance__miles_" does not exist',
        ),
        Problem("email", "INVALID_EMAIL", "Email address x is invalid"),
    ]
    body = rules.validation_error(problems).body("c0ffee")
    assert body == {
        "status": "error",
        "message": "Property values were not valid: "
        '[{"isValid":false,"message":"Property \\"charlotte_drive_distance__miles_\\" does '
        'not exist","error":"PROPERTY_DOESNT_EXIST","name":"charlotte_drive_distance__miles_"},'
        '{"isValid":false,"message":"Email address x is invalid","error":"INVALID_EMAIL",'
        '"name":"email"}]',
        "correlationId": "c0ffee",
        "errors": [
            {
                "message": 'Property "charlotte_drive_distance__miles_" does not exist',
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": ["charlotte_drive_distance__miles_"]},
            },
            {
                "message": "Email address x is invalid",
                "code": "INVALID_EMAIL",
                "context": {"propertyName": ["email"]},
            },
        ],
        "category": "VALIDATION_ERROR",
    }
    embedded = json.loads(body["message"].split(": ", 1)[1])
    assert [e["name"] for e in embedded] == ["charlotte_drive_distance__miles_", "email"]


@pytest.mark.parametrize(
    ("current", "new", "backward"),
    [
        ("customer", "lead", True),
        ("lead", "customer", False),
        ("evangelist", "subscriber", True),
        ("lead", "lead", False),
        ("other", "lead", False),
        ("customer", "other", False),
        (None, "subscriber", False),
        ("Customer", "lead", False),
    ],
)
def test_lifecycle_order(current: str | None, new: str, backward: bool) -> None:
    assert rules.is_backward_lifecycle(current, new) is backward


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_datetime_format_round_trips_through_epoch_ms(ms: int) -> None:
    text = rules.format_datetime(ms)
    assert rules.epoch_ms(text, "datetime") == ms
    assert check_values({"last_seen": str(ms)}, DEFS) == ({"last_seen": text}, [])


@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_dates_accept_iso_and_midnight_ms_alike(day: dt.date) -> None:
    ms = (
        dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    ) // dt.timedelta(milliseconds=1)
    assert check_values({"birthday": str(ms)}, DEFS) == ({"birthday": day.isoformat()}, [])
    assert check_values({"birthday": day.isoformat()}, DEFS) == ({"birthday": day.isoformat()}, [])
    assert rules.epoch_ms(day.isoformat(), "date") == ms


@pytest.mark.parametrize("kind", ["number", "date", "datetime"])
def test_vectorised_keys_match_scalar_keys(kind: str) -> None:
    values = np.array(
        [
            "2024-04-16T09:50:16.034Z",
            "2024-04-16",
            "1713261016034",
            "-5",
            "17.25",
            "nonsense",
            None,
            "2024-04-16T11:50:16+02:00",
            "0999-12-31T23:59:59.999Z",
        ],
        dtype=object,
    )
    column = rules.epoch_ms_column(values, kind)
    for value, key in zip(values, column, strict=True):
        scalar = rules.epoch_ms(value, kind) if value is not None else None
        if scalar is None:
            assert np.isnan(key), value
        else:
            assert key == scalar, value


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("a@b.co", True),
        ("first.last@sub.domain.example", True),
        ("x@example.museum", True),
        ("x@-example.com", False),
        ("x@example-.com", False),
        (".x@example.com", False),
        ("x.@example.com", False),
        ("x..y@example.com", False),
        ("x@example.123", False),
        ("x@" + "a" * 250 + ".com", False),
    ],
)
def test_email_check(email: str, valid: bool) -> None:
    assert rules.is_valid_email(email) is valid


def test_sample_property_definitions_are_all_understood() -> None:
    """Every definition of the sample portal validates its own options and types."""
    properties = seed.load_properties()
    definitions = {p["name"]: p for p in properties}
    for definition in properties:
        name = definition["name"]
        if rules.is_read_only(definition):
            assert check_values({name: "x"}, definitions)[1][0].error == "READ_ONLY_VALUE"
            continue
        for option in definition.get("options") or []:
            assert check_values({name: option["value"]}, definitions)[1] == [], (name, option)
        kind = definition["type"]
        sample = {
            "number": "12.5",
            "date": "2024-01-31",
            "datetime": "1713261016034",
            "bool": "true",
            "string": "text",
        }.get(kind)
        if sample is not None and not definition.get("options") and name != "email":
            assert check_values({name: sample}, definitions)[1] == [], name
    assert rules.is_read_only(definitions["hs_object_id"])
    assert definitions["email"]["type"] == "string"
