"""The sample data and its generator: shape, wire formats, the documented mess, no drift.

The sandbox's store, the client's codec tests and every demo stand on this data, so the
tests pin what they rely on: property definitions shaped like HubSpot's, every value a wire
string in the right format, enumeration values that are options (or documented stale
values), the mess at the rates the module documents, and a committed CSV that is exactly
what the generator produces today.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hsframe import cli
from hsframe.sandbox import seed
from hsframe.sandbox.seed import (
    COLUMNS,
    MESS_RATES,
    SAMPLE_SEED,
    SAMPLE_SIZE,
    STALE_RATES,
    STALE_VALUES,
    generate_contacts,
    load_properties,
    sample_contacts,
    samples_dir,
    write_samples,
)

ROWS = 20_000
READ_ONLY_COLUMNS = {
    "hs_object_id",
    "createdate",
    "lastmodifieddate",
    "hubspotscore",
    "num_associated_deals",
}
NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
RESERVED_DOMAIN = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example)$")
# Digits that only numbers reserved for fiction contain: NANP 555-01XX, Ofcom's
# 020 7946 0XXX and 07700 900XXX, ARCEP's 01 99 00 / 06 39 98, ACMA's 02 5550.
FICTION = re.compile(r"55501\d\d|79460\d{3}|7700900\d{3}|199 ?00|6 ?39 ?98|2 ?5550")


@pytest.fixture(scope="module")
def properties() -> list[dict[str, Any]]:
    return load_properties()


@pytest.fixture(scope="module")
def by_name(properties: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in properties}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_contacts(ROWS, seed=11)


def _values(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].dropna()


def _rate(mask: pd.Series | np.ndarray) -> float:
    return float(np.mean(mask))


# ---------------------------------------------------------------------------- properties


def test_properties_look_like_a_properties_response(properties: list[dict[str, Any]]) -> None:
    raw = json.loads((samples_dir() / "properties.json").read_text(encoding="utf-8"))
    assert set(raw) == {"results"}
    assert len(properties) >= 60
    required = {
        "name", "label", "type", "fieldType", "groupName", "description", "options",
        "displayOrder", "hasUniqueValue", "hidden", "formField", "calculated",
        "externalOptions", "hubspotDefined", "modificationMetadata", "createdAt",
        "updatedAt", "archived",
    }  # fmt: skip
    names = [p["name"] for p in properties]
    assert len(names) == len(set(names))
    for prop in properties:
        assert required <= set(prop), prop["name"]
        assert set(prop["modificationMetadata"]) == {
            "archivable", "readOnlyDefinition", "readOnlyValue", "readOnlyOptions",
        }  # fmt: skip
        for option in prop["options"]:
            assert set(option) == {"label", "value", "description", "displayOrder", "hidden"}
        assert DATETIME.match(prop["createdAt"]) and DATETIME.match(prop["updatedAt"])
        if prop["type"] == "enumeration" and not prop["modificationMetadata"]["readOnlyValue"]:
            assert prop["options"], f"{prop['name']} is an enumeration without options"


@pytest.mark.parametrize(
    ("type_", "field_type"),
    [
        ("string", "text"),
        ("string", "textarea"),
        ("number", "number"),
        ("date", "date"),
        ("datetime", "date"),
        ("bool", "booleancheckbox"),
        ("enumeration", "select"),
        ("enumeration", "radio"),
        ("enumeration", "checkbox"),
        ("enumeration", "booleancheckbox"),
        ("phone_number", "phonenumber"),
        ("number", "calculation_equation"),
    ],
)
def test_every_type_and_field_type_is_defined(
    properties: list[dict[str, Any]], type_: str, field_type: str
) -> None:
    found = [p for p in properties if (p["type"], p["fieldType"]) == (type_, field_type)]
    assert found
    if field_type != "calculation_equation":
        writable = [p for p in found if not p["modificationMetadata"]["readOnlyValue"]]
        assert writable, f"no writable {type_}/{field_type} property"


def test_read_only_and_calculated_flags(by_name: dict[str, dict[str, Any]]) -> None:
    for name in READ_ONLY_COLUMNS | {"notes_last_contacted"}:
        assert by_name[name]["modificationMetadata"]["readOnlyValue"], name
    for name in ("hs_object_id", "num_associated_deals"):
        assert by_name[name]["calculated"], name
    calculated = [p for p in by_name.values() if p["fieldType"] == "calculation_equation"]
    assert calculated
    for prop in calculated:
        assert prop["calculated"] and prop["modificationMetadata"]["readOnlyValue"]
    assert by_name["createdate"]["type"] == "datetime"
    assert by_name["email"]["hasUniqueValue"]
    assert by_name["email"]["textDisplayHint"] == "email"
    assert by_name["customer_code"]["hasUniqueValue"]
    assert not by_name["customer_code"]["hubspotDefined"]
    assert any(not p["hubspotDefined"] for p in by_name.values() if p["type"] == "enumeration")


@pytest.mark.parametrize(
    ("name", "field_type", "values"),
    [
        (
            "lifecyclestage",
            "radio",
            [
                "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                "opportunity", "customer", "evangelist", "other",
            ],
        ),
        (
            "hs_lead_status",
            "radio",
            [
                "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING",
            ],
        ),
        (
            "numemployees",
            "select",
            ["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"],
        ),
    ],
)  # fmt: skip
def test_hubspot_default_options(
    by_name: dict[str, dict[str, Any]], name: str, field_type: str, values: list[str]
) -> None:
    prop = by_name[name]
    assert prop["fieldType"] == field_type and prop["hubspotDefined"]
    assert [o["value"] for o in prop["options"]] == values


def test_stale_values_are_not_options(by_name: dict[str, dict[str, Any]]) -> None:
    for name, stale in STALE_VALUES.items():
        options = {o["value"] for o in by_name[name]["options"]}
        assert options.isdisjoint(stale), name


def test_load_properties_refuses_other_shapes(tmp_path: Path) -> None:
    path = tmp_path / "props.json"
    path.write_text(json.dumps([{"name": "email"}]), encoding="utf-8")
    with pytest.raises(ValueError, match="not a properties response"):
        load_properties(path)


# ---------------------------------------------------------------------------- generator


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    first = generate_contacts(500, seed=3)
    pd.testing.assert_frame_equal(first, generate_contacts(500, seed=3))
    other = generate_contacts(500, seed=4)
    assert not first.equals(other)
    assert (first["email"] != other["email"]).mean() > 0.5


def test_frame_contract(frame: pd.DataFrame, by_name: dict[str, dict[str, Any]]) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert (frame.dtypes == np.dtype(object)).all()
    for column in frame.columns:
        kinds = {type(v) for v in frame[column].tolist()}
        assert kinds <= {str, type(None)}, column
        assert not (frame[column] == "").any(), f"{column} holds empty strings"
        prop = by_name[column]
        read_only = prop["modificationMetadata"]["readOnlyValue"] or prop["calculated"]
        assert read_only == (column in READ_ONLY_COLUMNS), column


def test_ids_unique_and_increasing_from_start_id() -> None:
    frame = generate_contacts(300, seed=1, start_id=90_001)
    ids = frame["hs_object_id"].astype(int)
    assert ids.tolist() == list(range(90_001, 90_301))
    assert frame["hs_object_id"].iloc[0] == "90001"


def test_timestamps(frame: pd.DataFrame) -> None:
    for column in ("createdate", "lastmodifieddate"):
        assert frame[column].notna().all()
        assert frame[column].str.fullmatch(DATETIME.pattern).all()
    created = pd.to_datetime(frame["createdate"], format="ISO8601", utc=True)
    modified = pd.to_datetime(frame["lastmodifieddate"], format="ISO8601", utc=True)
    assert (modified >= created).all()
    assert created.is_monotonic_increasing  # ids are handed out at creation
    assert modified.max() <= pd.Timestamp(seed.DEFAULT_NOW)
    demo = _values(frame, "last_demo_at")
    assert demo.str.fullmatch(DATETIME.pattern).all()
    assert (pd.to_datetime(demo, format="ISO8601", utc=True) <= modified[demo.index]).all()


def test_now_moves_every_timestamp() -> None:
    now = datetime(2021, 3, 4, 5, 6, tzinfo=UTC)
    frame = generate_contacts(200, seed=2, now=now)
    latest = pd.to_datetime(frame["lastmodifieddate"], format="ISO8601", utc=True).max()
    assert latest <= pd.Timestamp(now)
    naive = generate_contacts(200, seed=2, now=now.replace(tzinfo=None))
    pd.testing.assert_frame_equal(frame, naive)


@pytest.mark.parametrize("column", ["date_of_birth", "renewal_date"])
def test_dates(frame: pd.DataFrame, column: str) -> None:
    values = _values(frame, column)
    assert len(values) and values.str.fullmatch(DATE.pattern).all()
    pd.to_datetime(values, format="%Y-%m-%d")  # raises on an impossible date


def test_number_and_bool_formats(frame: pd.DataFrame, by_name: dict[str, dict[str, Any]]) -> None:
    numbers = [c for c in frame.columns if by_name[c]["type"] == "number"]
    assert {"seats", "discount_rate", "annualrevenue", "contract_value"} <= set(numbers)
    for column in numbers:
        values = _values(frame, column)
        assert len(values), column
        assert values.str.fullmatch(NUMBER.pattern).all(), column
    assert _values(frame, "discount_rate").str.contains(".", regex=False).all()
    assert _values(frame, "annualrevenue").str.contains(".", regex=False).any()
    booleans = [c for c in frame.columns if by_name[c]["fieldType"] == "booleancheckbox"]
    assert {"hs_email_optout", "newsletter_opt_in", "is_beta_tester"} <= set(booleans)
    for column in booleans:
        assert set(_values(frame, column)) == {"true", "false"}, column


def test_enumerations_hold_options_or_documented_stale_values(
    frame: pd.DataFrame, by_name: dict[str, dict[str, Any]]
) -> None:
    enumerations = [c for c in frame.columns if by_name[c]["type"] == "enumeration"]
    assert len(enumerations) >= 15
    for column in enumerations:
        allowed = {o["value"] for o in by_name[column]["options"]}
        allowed |= set(STALE_VALUES.get(column, ()))
        values = _values(frame, column)
        if by_name[column]["fieldType"] == "checkbox":
            items = values.str.split(";").explode()
            assert not (items == "").any(), column
            assert not values.str.split(";").map(lambda xs: len(xs) != len(set(xs))).any()
        else:
            items = values
        unknown = set(items) - allowed
        assert not unknown, f"{column}: {sorted(unknown)[:5]}"


@pytest.mark.parametrize("column", ["product_interest", "preferred_channels", "hs_legal_basis"])
def test_multi_selects_are_joined_options(frame: pd.DataFrame, column: str) -> None:
    values = _values(frame, column)
    assert values.str.contains(";", regex=False).mean() > 0.1
    assert not values.str.contains(r"^;|;$|;;|\s;|;\s").any()


# ---------------------------------------------------------------------------- the mess


def _close(observed: float, expected: float, tolerance: float = 0.3) -> None:
    """Within ``tolerance`` (relative) of the documented rate, at 20,000 rows."""
    assert expected * (1 - tolerance) <= observed <= expected * (1 + tolerance), (
        observed,
        expected,
    )


def _email_mask(frame: pd.DataFrame, test: Callable[[str], bool]) -> pd.Series:
    return frame["email"].map(lambda v: v is not None and test(v))


def test_email_mess_rates(frame: pd.DataFrame) -> None:
    emails = frame["email"]
    own = 1 - MESS_RATES["email_missing"] - MESS_RATES["duplicate_person"]  # own address
    _close(_rate(emails.isna()), MESS_RATES["email_missing"])
    _close(
        _rate(_email_mask(frame, lambda v: not EMAIL.match(v.strip()))),
        MESS_RATES["email_invalid"] * own,
    )
    # Copies of duplicates that differ in case add to the mixed-case share.
    mixed = MESS_RATES["email_mixed_case"] * own + MESS_RATES["duplicate_person"] * 0.45
    _close(_rate(_email_mask(frame, lambda v: v != v.lower())), mixed)
    _close(_rate(_email_mask(frame, lambda v: v != v.strip())), MESS_RATES["email_padded"] * own)


def test_invalid_emails_take_every_documented_form(frame: pd.DataFrame) -> None:
    invalid = _values(frame, "email").str.strip()
    invalid = invalid[~invalid.str.match(EMAIL.pattern)].str.lower()
    forms = {
        "no domain": r"@$",
        "space": r"^[^@ ]+ [^@]+@",
        "no tld": r"@[a-z0-9-]+$",
        "double at": r"@@",
        "at word": r" at ",
        "comma": r"@[^;]*,",
        "mailto": r"^mailto:",
        "two addresses": r"; ",
    }
    for name, pattern in forms.items():
        assert invalid.str.contains(pattern).any(), name


def test_duplicates_differ_only_in_case_and_emails_are_otherwise_unique(
    frame: pd.DataFrame,
) -> None:
    emails = _values(frame, "email")
    assert emails.is_unique
    normal = emails.str.strip().str.lower()
    twice = normal[normal.duplicated(keep=False)]
    _close(
        _rate(normal.duplicated()) * len(emails) / len(frame),
        MESS_RATES["duplicate_person"] * 0.45,
        0.35,
    )
    # Each pair is one person: the later record carries (nearly) the same name.
    pairs = frame.loc[twice.index].assign(key=twice).groupby("key")
    same_last = pairs["lastname"].agg(lambda s: s.str.strip().str.lower().nunique() <= 1)
    assert same_last.mean() > 0.6
    assert (pairs.size() == 2).all()


def test_name_mess_rates(frame: pd.DataFrame) -> None:
    first, last = frame["firstname"], frame["lastname"]
    _close(_rate(first.isna()), MESS_RATES["firstname_missing"])
    _close(_rate(last.isna()), MESS_RATES["lastname_missing"])
    both = first.notna() & last.notna()
    upper = both & first.fillna("").str.isupper() & last.fillna("").str.isupper()
    _close(_rate(upper), MESS_RATES["name_upper"], 0.35)
    lower = both & first.fillna("").str.islower() & last.fillna("").str.islower()
    _close(_rate(lower), MESS_RATES["name_lower"], 0.35)
    padded = (first != first.str.strip()) & first.notna() | (
        last != last.str.strip()
    ) & last.notna()
    _close(_rate(padded), MESS_RATES["name_padded"])
    full = first.fillna("").str.strip().str.contains(" ") & last.isna()
    _close(_rate(full), MESS_RATES["name_full_in_first"], 0.4)


def test_names_come_from_many_scripts(frame: pd.DataFrame) -> None:
    names = pd.concat([_values(frame, "firstname"), _values(frame, "lastname")])
    for pattern in (r"[À-ž]", r"[\u4e00-\u9fff]", r"[\u0400-\u04ff]", r"[\uac00-\ud7af]", "'"):
        assert names.str.contains(pattern).any(), pattern
    for name in ("José", "Zoë", "Łukasz", "Nguyễn", "O'Brien", "Müller-Lüdenscheidt"):
        assert (names.str.strip().str.lower() == name.lower()).any(), name
    non_ascii = (frame["firstname"].fillna("") + frame["lastname"].fillna("")).map(
        lambda v: not v.isascii() or "'" in v
    )
    assert 0.2 < _rate(non_ascii) < 0.4


def test_phones_are_fictional_and_in_many_formats(frame: pd.DataFrame) -> None:
    _close(_rate(frame["phone"].isna()), MESS_RATES["phone_missing"], 0.15)
    for column in ("phone", "mobilephone", "fax", "assistant_phone", "whatsapp_number"):
        values = _values(frame, column)
        digits = values.str.replace(r"[^0-9]", "", regex=True)
        spaced = values.str.replace(r"[^0-9 ]", "", regex=True)
        assert (digits.str.contains(FICTION) | spaced.str.contains(FICTION)).all(), column
    phones = _values(frame, "phone")
    for pattern in (
        r"^\+1 \(\d{3}\) 555-01\d\d$",
        r"^\d{3}\.555\.01\d\d$",
        r"^\(\d{3}\)55501\d\d ext \d+$",
        r"^0044 20 7946 0\d{3}$",
        r"^\+33 1 99 00 \d\d \d\d$",
        r"^\(02\) 5550 \d{4}$",
    ):
        assert phones.str.match(pattern).any(), pattern


def test_countries_are_sometimes_spelled_another_way(frame: pd.DataFrame) -> None:
    canonical = {c.name for c in seed._COUNTRIES}
    country = frame["country"]
    _close(_rate(country.notna() & ~country.isin(canonical)), MESS_RATES["country_variant"])


@pytest.mark.parametrize("column", sorted(STALE_VALUES))
def test_stale_values_at_documented_rates(frame: pd.DataFrame, column: str) -> None:
    values = _values(frame, column)
    stale = set(STALE_VALUES[column])
    if column == "product_interest":
        aged = values.str.split(";").map(lambda items: bool(stale & set(items)))
    else:
        aged = values.isin(stale)
    assert aged.sum() >= 5
    _close(_rate(aged), STALE_RATES[column], 0.45)


def test_only_reserved_domains(frame: pd.DataFrame) -> None:
    emails = _values(frame, "email").str.strip().str.lower()
    after_at = emails.str.extractall(r"(?:@+| at )([^@\s;]+)")[0]
    websites = _values(frame, "website").str.lower()
    sites = websites.str.extract(r"^(?:https?://)?(?:www\.)?([^/]+)")[0]
    hosts = pd.concat([after_at, sites]).str.replace(",", ".")
    dotted = hosts[hosts.str.contains(".", regex=False)]
    assert len(dotted) > 0.8 * len(emails)
    foreign = dotted[~dotted.str.contains(RESERVED_DOMAIN)]
    assert foreign.empty, sorted(set(foreign))[:5]


def test_customer_fields_follow_the_lifecycle(frame: pd.DataFrame) -> None:
    codes = _values(frame, "customer_code")
    assert codes.is_unique and codes.str.fullmatch(r"CU-\d{6,7}").all()
    stage = frame["lifecyclestage"]
    customer = stage.isin(["customer", "evangelist", "Customer"])
    assert frame.loc[~customer, "seats"].isna().all()
    assert frame.loc[customer, "seats"].notna().mean() > 0.8
    deals = frame["num_associated_deals"].dropna().astype(int)
    assert (deals[customer[deals.index]] >= 1).all()


# ---------------------------------------------------------------------------- arguments


def test_properties_choose_the_columns(properties: list[dict[str, Any]]) -> None:
    few = [p for p in properties if p["name"] in {"email", "lifecyclestage"}]
    frame = generate_contacts(50, seed=1, properties=few)
    assert list(frame.columns) == ["hs_object_id", "createdate", "lastmodifieddate", "email",
                                   "lifecyclestage"]  # fmt: skip


def test_definitions_without_a_drawn_option_are_refused(
    properties: list[dict[str, Any]],
) -> None:
    changed = json.loads(json.dumps(properties))
    stage = next(p for p in changed if p["name"] == "lifecyclestage")
    stage["options"] = [o for o in stage["options"] if o["value"] != "evangelist"]
    with pytest.raises(ValueError, match="evangelist"):
        generate_contacts(10, properties=changed)


def test_empty_and_invalid_sizes() -> None:
    empty = generate_contacts(0)
    assert list(empty.columns) == list(COLUMNS) and len(empty) == 0
    assert (empty.dtypes == np.dtype(object)).all()
    with pytest.raises(ValueError, match="zero or more"):
        generate_contacts(-1)
    with pytest.raises(ValueError, match="start_id"):
        generate_contacts(5, start_id=0)


# ---------------------------------------------------------------------------- the files


def test_committed_csv_is_what_the_generator_makes() -> None:
    expected = generate_contacts(SAMPLE_SIZE, seed=SAMPLE_SEED)
    pd.testing.assert_frame_equal(sample_contacts(), expected)
    assert len(expected) >= 1000


def test_csv_round_trip_is_byte_exact(tmp_path: Path) -> None:
    (tmp_path / "properties.json").write_bytes((samples_dir() / "properties.json").read_bytes())
    written = write_samples(tmp_path)
    assert written.read_bytes() == (samples_dir() / "contacts.csv").read_bytes()
    pd.testing.assert_frame_equal(sample_contacts(written), sample_contacts())


def test_sample_holds_the_values_a_csv_can_lose() -> None:
    frame = sample_contacts()
    cells = pd.Series(frame.to_numpy().ravel()).dropna()
    assert cells.str.contains("\n").any()  # multi-line text
    assert (cells != cells.str.strip()).any()  # padding
    assert cells.str.contains('"').any() and cells.str.contains(",").any()
    assert cells.str.match(r"^0\d").any()  # leading zeros
    assert frame.isna().any().any() and not (frame == "").any().any()


def test_check_command_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sandbox", "samples", "--check"]) == 0
    assert "matches" in capsys.readouterr().out
