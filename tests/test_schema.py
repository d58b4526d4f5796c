"""The codec: property definitions → dtypes, wire strings ↔ typed columns, exact round trip."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsframe.errors import HubSpotError
from hsframe.schema import (
    BOOL,
    DATE,
    DATETIME,
    FLOAT,
    INT,
    STRING,
    CodecError,
    CodecWarning,
    Schema,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

OPTIONS = ["lead", "customer", "other"]
MULTI = ["red", "green", "blue"]

DEFINITIONS: list[dict[str, Any]] = [
    {
        "name": "hs_object_id",
        "type": "number",
        "fieldType": "number",
        "modificationMetadata": {"readOnlyValue": True},
    },
    {"name": "score", "type": "number", "fieldType": "number"},
    {"name": "visits", "type": "number", "fieldType": "number"},
    {"name": "ok", "type": "bool", "fieldType": "booleancheckbox"},
    {"name": "birthday", "type": "date", "fieldType": "date"},
    {"name": "createdate", "type": "datetime", "fieldType": "date"},
    {
        "name": "stage",
        "type": "enumeration",
        "fieldType": "radio",
        "options": [
            {"value": "customer", "label": "Customer", "displayOrder": 2, "hidden": False},
            {"value": "lead", "label": "Lead", "displayOrder": 1, "hidden": False},
            {"value": "other", "label": "Other", "displayOrder": -1, "hidden": True},
        ],
    },
    {
        "name": "colors",
        "type": "enumeration",
        "fieldType": "checkbox",
        "options": [{"value": v, "label": v, "hidden": False} for v in MULTI],
    },
    {"name": "email", "type": "string", "fieldType": "text", "hasUniqueValue": True},
    {"name": "phone", "type": "phone_number", "fieldType": "phonenumber"},
]


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.from_definitions(DEFINITIONS, integers=["visits"])


def records(*bags: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": str(i + 1), "properties": bag} for i, bag in enumerate(bags)]


# -- definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "dtype"),
    [
        ("hs_object_id", "number", INT),
        ("score", "number", FLOAT),
        ("visits", "number", INT),
        ("ok", "bool", BOOL),
        ("birthday", "date", DATE),
        ("createdate", "datetime", DATETIME),
        ("colors", "multiselect", STRING),
        ("email", "string", STRING),
        ("phone", "string", STRING),
    ],
)
def test_kinds_and_dtypes(schema: Schema, name: str, kind: str, dtype: Any) -> None:
    assert schema.kind(name) == kind
    assert schema.dtype(name) == dtype


def test_enumeration_is_a_categorical_of_options_in_display_order(schema: Schema) -> None:
    assert schema.kind("stage") == "enumeration"
    assert schema.options("stage") == ("lead", "customer", "other")
    dtype = schema.dtype("stage")
    assert isinstance(dtype, pd.CategoricalDtype)
    assert list(dtype.categories) == ["lead", "customer", "other"]
    assert schema.options("colors") == tuple(MULTI)
    assert schema.options("email") == ()


def test_flags_and_lookup(schema: Schema) -> None:
    assert schema.is_read_only("hs_object_id") and not schema.is_read_only("email")
    assert schema.is_unique("email") and not schema.is_unique("phone")
    assert schema.names[:2] == ("hs_object_id", "score")
    assert "email" in schema and "nope" not in schema
    assert len(schema) == len(DEFINITIONS) and list(schema) == list(schema.names)
    assert schema.unknown(["email", "emial", "phone", "x"]) == ["emial", "x"]
    assert schema.definition("email")["hasUniqueValue"] is True
    with pytest.raises(KeyError, match="emial"):
        schema.dtype("emial")
    assert "10 properties" in repr(schema)


def test_definition_copies_cannot_change_the_schema(schema: Schema) -> None:
    schema.definition("email")["type"] = "number"
    assert schema.kind("email") == "string"


@pytest.mark.parametrize(
    ("definition", "dtype"),
    [
        ({"name": "num_notes", "type": "number"}, INT),
        ({"name": "hs_analytics_num_visits", "type": "number"}, INT),
        ({"name": "hs_created_by_user_id", "type": "number"}, INT),
        ({"name": "associatedcompanyid", "type": "number"}, INT),
        (
            {
                "name": "hubspotscore",
                "type": "number",
                "hubspotDefined": True,
                "numberDisplayHint": "unformatted",
            },
            INT,
        ),
        (
            {
                "name": "nps",
                "type": "number",
                "hubspotDefined": False,
                "numberDisplayHint": "unformatted",
            },
            FLOAT,
        ),
        ({"name": "annualrevenue", "type": "number", "numberDisplayHint": "currency"}, FLOAT),
        ({"name": "numemployees", "type": "number"}, FLOAT),
    ],
)
def test_integer_rule_reads_the_definition_only(definition: dict[str, Any], dtype: Any) -> None:
    assert Schema.from_definitions([definition]).dtype(definition["name"]) == dtype


def test_calculated_without_metadata_is_read_only() -> None:
    schema = Schema.from_definitions([{"name": "x", "type": "number", "calculated": True}])
    assert schema.is_read_only("x")


def test_definitions_may_come_as_a_frame() -> None:
    frame = pd.DataFrame(DEFINITIONS)
    assert Schema.from_definitions(frame).names == tuple(d["name"] for d in DEFINITIONS)


def test_sample_definitions_cover_every_type() -> None:
    path = SAMPLES / "properties.json"
    if not path.exists():
        pytest.skip("sample definitions not written yet")
    definitions = json.loads(path.read_text(encoding="utf-8"))["results"]
    schema = Schema.from_definitions(definitions)
    kinds = {schema.kind(n) for n in schema.names}
    assert kinds == {"number", "bool", "date", "datetime", "enumeration", "multiselect", "string"}
    assert schema.dtype("hs_object_id") == INT
    assert schema.is_read_only("hs_object_id")
    assert schema.options("lifecyclestage")[:2] == ("subscriber", "lead")


# -- decoding ----------------------------------------------------------------------------------


def test_decode_records_builds_typed_columns_indexed_by_id(schema: Schema) -> None:
    frame = schema.decode(
        records(
            {
                "hs_object_id": "1",
                "score": "1250000.5",
                "visits": "17",
                "ok": "true",
                "birthday": "2024-03-01",
                "createdate": "2024-04-16T09:50:16.034Z",
                "stage": "lead",
                "colors": "red;blue",
                "email": "a@b.co",
                "phone": "+1 555",
            },
            {"ok": "false", "stage": None},
            {},
        )
    )
    assert frame.index.name == "id" and frame.index.dtype == INT
    assert frame.index.tolist() == [1, 2, 3]
    assert list(frame.columns) == list(schema.names)
    for name in schema.names:
        if schema.kind(name) != "enumeration":
            assert frame[name].dtype == schema.dtype(name), name
    first = frame.loc[1]
    assert first["score"] == 1250000.5 and first["visits"] == 17
    assert first["birthday"] == pd.Timestamp("2024-03-01")
    assert first["createdate"] == pd.Timestamp("2024-04-16T09:50:16.034Z")
    assert first["stage"] == "lead" and first["colors"] == "red;blue"
    assert frame.loc[2, "ok"] is np.False_ or frame.loc[2, "ok"] == False  # noqa: E712
    assert frame.loc[3].isna().all()


def test_decode_selects_and_orders_properties(schema: Schema) -> None:
    frame = schema.decode(records({"email": "a@b.co", "score": "2"}), ["email", "score"])
    assert list(frame.columns) == ["email", "score"]
    with pytest.raises(KeyError, match="nope"):
        schema.decode(records({}), ["nope"])


def test_decode_empty_gives_typed_empty_frame(schema: Schema) -> None:
    frame = schema.decode([])
    assert frame.empty and frame.index.dtype == INT
    assert frame["createdate"].dtype == DATETIME


def test_stale_enumeration_values_become_extra_categories(schema: Schema) -> None:
    frame = schema.decode(records({"stage": "zombie"}, {"stage": "lead"}, {"stage": "alpha"}))
    assert list(frame["stage"].cat.categories) == ["lead", "customer", "other", "alpha", "zombie"]
    assert frame["stage"].tolist() == ["zombie", "lead", "alpha"]
    assert schema.encode(frame["stage"]).tolist() == ["zombie", "lead", "alpha"]


def test_empty_string_on_the_wire_is_unset(schema: Schema) -> None:
    frame = schema.decode(records({"email": "", "score": "", "stage": "", "ok": ""}))
    assert frame.loc[1, ["email", "score", "stage", "ok"]].isna().all()


def test_decode_wire_frame_reads_id_strings_as_the_index(schema: Schema) -> None:
    wire = pd.DataFrame(
        {"score": ["1.5", None], "stage": ["lead", None]},
        index=pd.Index(["10", "11"], name="id"),
    )
    frame = schema.decode(wire)
    assert frame.index.dtype == INT and frame.index.tolist() == [10, 11]
    assert frame["score"].dtype == FLOAT


@pytest.mark.parametrize(
    ("name", "wire", "expected"),
    [
        ("birthday", "1709251200000", pd.Timestamp("2024-03-01")),
        ("createdate", "1713261016034", pd.Timestamp("2024-04-16T09:50:16.034Z")),
        ("createdate", "2024-04-16T11:50:16.034+02:00", pd.Timestamp("2024-04-16T09:50:16.034Z")),
        ("createdate", "2024-04-16T09:50:16Z", pd.Timestamp("2024-04-16T09:50:16Z")),
        ("createdate", "2024-04-16T09:50:16.0349Z", pd.Timestamp("2024-04-16T09:50:16.034Z")),
        ("score", "17.0", 17.0),
        ("score", "1e3", 1000.0),
        ("visits", "17.0", 17),
        ("hs_object_id", "12345678901234567", 12345678901234567),
        ("ok", "TRUE", True),
    ],
)
def test_decode_accepts_other_wire_forms(
    schema: Schema, name: str, wire: str, expected: Any
) -> None:
    frame = schema.decode(records({name: wire}), [name])
    assert frame.loc[1, name] == expected
    assert frame[name].dtype == schema.dtype(name)


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("score", "n/a"),
        ("score", "1,000"),
        ("score", "nan"),
        ("score", "inf"),
        ("visits", "seven"),
        ("ok", "yes"),
        ("birthday", "2024-02-30"),
        ("birthday", "March 1st"),
        ("createdate", "yesterday"),
    ],
)
def test_bad_wire_values_become_na_with_a_warning(schema: Schema, name: str, wire: str) -> None:
    with pytest.warns(CodecWarning, match=name):
        frame = schema.decode(records({name: wire}, {}), [name])
    assert frame[name].isna().all()
    assert frame[name].dtype == schema.dtype(name)


def test_fractions_in_an_integer_property_fall_back_to_float(schema: Schema) -> None:
    with pytest.warns(CodecWarning, match="Float64"):
        frame = schema.decode(records({"visits": "1.5"}, {"visits": "2"}), ["visits"])
    assert frame["visits"].dtype == FLOAT
    assert frame["visits"].tolist() == [1.5, 2.0]


def test_non_string_values_in_hand_made_records_are_stringified(schema: Schema) -> None:
    frame = schema.decode(records({"score": 5, "ok": True}), ["score", "ok"])
    assert frame.loc[1, "score"] == 5.0 and bool(frame.loc[1, "ok"]) is True


# -- encoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (17.0, "17"),
        (1250000.5, "1250000.5"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (1e-7, "0.0000001"),
        (123456789012345.67, "123456789012345.67"),
        (-2.5, "-2.5"),
    ],
)
def test_canonical_number_form(schema: Schema, value: float, wire: str) -> None:
    series = pd.Series([value], name="score", dtype=FLOAT)
    assert schema.encode(series).tolist() == [wire]
    assert schema.encode_value("score", value) == wire
    assert schema.encode_value("score", np.float64(value)) == wire


def test_big_integers_keep_every_digit(schema: Schema) -> None:
    series = pd.Series([12345678901234567, None], name="hs_object_id", dtype=INT)
    assert schema.encode(series).tolist()[0] == "12345678901234567"
    assert schema.encode_value("hs_object_id", "12345678901234567") == "12345678901234567"


def test_encode_frame_keeps_shape_and_gives_string_columns(schema: Schema) -> None:
    wire = pd.DataFrame(
        {
            "score": ["1.5", None],
            "ok": ["false", "true"],
            "birthday": ["2024-03-01", None],
            "createdate": ["2024-04-16T09:50:16.034Z", None],
            "stage": ["customer", None],
        },
        index=pd.Index(pd.array([5, 6], dtype=INT), name="id"),
    )
    typed = schema.decode(wire)
    back = schema.encode(typed)
    assert (back.dtypes == STRING).all()
    pd.testing.assert_frame_equal(back, wire.astype(STRING))
    cleared = schema.encode(typed, for_write=True)
    assert cleared.loc[6].tolist() == ["", "true", "", "", ""]


def test_encode_refuses_unknown_columns(schema: Schema) -> None:
    with pytest.raises(KeyError, match="mine"):
        schema.encode(pd.DataFrame({"mine": [1]}))


@pytest.mark.parametrize(
    ("name", "value", "wire"),
    [
        ("score", 3, "3"),
        ("score", "17.50", "17.5"),
        ("score", "0017", "17"),
        ("score", Decimal("1E+2"), "100"),
        ("score", Decimal("-0.0"), "0"),
        ("visits", 2.0, "2"),
        ("ok", True, "true"),
        ("ok", np.False_, "false"),
        ("ok", "true", "true"),
        ("birthday", dt.date(2024, 3, 1), "2024-03-01"),
        ("birthday", dt.datetime(2024, 3, 1), "2024-03-01"),
        ("birthday", pd.Timestamp("2024-03-01", tz="UTC"), "2024-03-01"),
        ("birthday", "2024-03-01", "2024-03-01"),
        ("birthday", "1709251200000", "2024-03-01"),
        (
            "createdate",
            pd.Timestamp("2024-01-01 10:00", tz="Europe/Paris"),
            "2024-01-01T09:00:00.000Z",
        ),
        (
            "createdate",
            dt.datetime(2024, 1, 1, 9, 0, 0, 123999, tzinfo=dt.UTC),
            "2024-01-01T09:00:00.123Z",
        ),
        ("createdate", "2024-01-01T09:00:00Z", "2024-01-01T09:00:00.000Z"),
        ("createdate", "1704099600000", "2024-01-01T09:00:00.000Z"),
        ("stage", "lead", "lead"),
        ("stage", "not-an-option-yet", "not-an-option-yet"),
        ("stage", 17, "17"),
        ("stage", True, "true"),
        ("colors", "red;blue", "red;blue"),
        ("colors", ["blue", "red"], "blue;red"),
        ("colors", ("red",), "red"),
        ("colors", {"blue", "red"}, "red;blue"),
        ("colors", [], None),
        ("email", "a@b.co", "a@b.co"),
        ("phone", 5551234, "5551234"),
        ("email", "", None),
        ("score", None, None),
        ("score", np.nan, None),
        ("createdate", pd.NaT, None),
        ("ok", pd.NA, None),
    ],
)
def test_encode_value_accepts_what_is_unambiguous(
    schema: Schema, name: str, value: Any, wire: str | None
) -> None:
    assert schema.encode_value(name, value) == wire
    # The same values in an object column a user filled by hand.
    column = pd.Series([value, None], name=name, dtype=object)
    got = schema.encode(column).tolist()[0]
    assert pd.isna(got) if wire is None else got == wire


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("score", "abc", "not a number"),
        ("score", "1,000", "thousands"),
        ("score", True, "boolean"),
        ("score", float("inf"), "finite"),
        ("score", [1], "list"),
        ("ok", 1, "True/False"),
        ("ok", "yes", "True/False"),
        ("birthday", "01/03/2024", "YYYY-MM-DD"),
        ("birthday", "2024-02-30", "calendar"),
        ("birthday", pd.Timestamp("2024-03-01 12:00"), "midnight"),
        ("createdate", pd.Timestamp("2024-03-01 12:00"), "naive"),
        ("createdate", "2024-03-01 12:00", "naive"),
        ("createdate", "soon", "ISO 8601"),
        ("createdate", dt.date(2024, 3, 1), "zone"),
        ("stage", 3.5, "option value"),
        ("colors", ["red", 1], "option value"),
        ("colors", ["a;b"], "option value"),
        ("email", 1.5, "not a string"),
    ],
)
def test_encode_value_refuses_the_rest_naming_column_and_value(
    schema: Schema, name: str, value: Any, reason: str
) -> None:
    with pytest.raises(CodecError, match=reason) as caught:
        schema.encode_value(name, value)
    assert caught.value.column == name
    assert repr(value)[:10] in str(caught.value)


@pytest.mark.parametrize(
    ("index", "named"),
    [
        (pd.Index([10, 11, 12, 13], name="id"), ["contact 11", "contact 13"]),  # hsframe's
        (pd.Index([10, 11, 12, 13], name="row"), ["row 11", "row 13"]),  # the diff's new rows
        (pd.RangeIndex(4), ["row 1", "row 3"]),  # positions
        (pd.Index([10, 11, 12, 13]), ["index label 11", "index label 13"]),
        (pd.Index(list("abcd")), ["index label 'b'", "index label 'd'"]),
    ],
    ids=["contact-ids", "diff-rows", "positions", "labels", "text-labels"],
)
def test_codec_error_names_cells_by_what_their_labels_are(
    schema: Schema, index: pd.Index, named: list[str]
) -> None:
    """A cell is named by what its label is, so that "row" always means a position."""
    column = pd.Series(["1", "x", "2", "y"], name="score", index=index, dtype=object)
    with pytest.raises(CodecError) as caught:
        schema.encode(column)
    assert [label for label, _, _ in caught.value.problems] == [index[1], index[3]]
    assert f"{named[0]}: 'x'" in str(caught.value) and f"{named[1]}: 'y'" in str(caught.value)


def test_codec_error_names_a_new_contact_without_an_id(schema: Schema) -> None:
    index = pd.Index(pd.array([7, None], dtype="Int64"), name="id")
    column = pd.Series(["x", "y"], name="score", index=index, dtype=object)
    with pytest.raises(CodecError, match=r"contact 7: 'x'.*a new contact \(no id yet\): 'y'"):
        schema.encode(column)


def test_codec_error_lists_rows_and_is_part_of_the_tree(schema: Schema) -> None:
    column = pd.Series(["1", "x", "2", "y"], name="score", index=[10, 11, 12, 13], dtype=object)
    with pytest.raises(CodecError) as caught:
        schema.encode(column)
    error = caught.value
    assert [label for label, _, _ in error.problems] == [11, 13]
    assert isinstance(error, HubSpotError) and isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert (again.problems, again.noun, str(again)) == (error.problems, error.noun, str(error))


def test_codec_error_shortens_long_lists(schema: Schema) -> None:
    column = pd.Series(["x"] * 12, name="score", dtype=object)
    with pytest.raises(CodecError, match="and 7 more"):
        schema.encode(column)


def test_naive_datetime_column_is_refused_with_a_fix(schema: Schema) -> None:
    column = pd.Series(pd.to_datetime(["2024-01-01 10:00", None]), name="createdate")
    with pytest.raises(CodecError, match=r"tz_localize"):
        schema.encode(column)
    fixed = column.dt.tz_localize("Europe/Paris")
    assert schema.encode(fixed).tolist() == ["2024-01-01T09:00:00.000Z", pd.NA]


def test_datetime_columns_are_floored_to_the_millisecond(schema: Schema) -> None:
    column = pd.Series(
        pd.to_datetime(["1969-12-31T23:59:59.9995Z", "2024-01-01T00:00:00.0019Z"], utc=True),
        name="createdate",
    )
    assert schema.encode(column).tolist() == [
        "1969-12-31T23:59:59.999Z",
        "2024-01-01T00:00:00.001Z",
    ]


def test_date_column_off_midnight_is_refused(schema: Schema) -> None:
    column = pd.Series(
        pd.to_datetime(["2024-03-01", "2024-03-02 08:00"], format="ISO8601"), name="birthday"
    )
    with pytest.raises(CodecError, match="normalize") as caught:
        schema.encode(column)
    assert [label for label, _, _ in caught.value.problems] == [1]
    assert schema.encode(column.dt.normalize()).tolist() == ["2024-03-01", "2024-03-02"]


def test_aware_date_column_is_read_in_utc(schema: Schema) -> None:
    column = pd.Series(pd.to_datetime(["2024-03-01"]).tz_localize("UTC"), name="birthday")
    assert schema.encode(column).tolist() == ["2024-03-01"]


def test_non_finite_floats_are_refused(schema: Schema) -> None:
    column = pd.Series([1.0, np.inf], name="score", dtype="float64")
    with pytest.raises(CodecError, match="finite"):
        schema.encode(column)


@pytest.mark.parametrize(
    ("name", "column", "wire"),
    [
        ("score", pd.Series([1, 2], dtype="int64"), ["1", "2"]),
        ("visits", pd.Series([1.0, np.nan], dtype="float64"), ["1", pd.NA]),
        ("ok", pd.Series([True, False], dtype=bool), ["true", "false"]),
        ("stage", pd.Series(["lead", None], dtype="str"), ["lead", pd.NA]),
        ("email", pd.Series(["a", "b"]).astype("category"), ["a", "b"]),
        ("email", pd.Series(["a", ""], dtype=STRING), ["a", pd.NA]),
    ],
)
def test_other_dtypes_encode_vectorised(
    schema: Schema, name: str, column: pd.Series, wire: list[Any]
) -> None:
    assert schema.encode(column.rename(name)).tolist() == wire


def test_wire_for_write_is_where_na_becomes_the_clear_string(schema: Schema) -> None:
    assert schema.wire_for_write("email", pd.NA) == ""
    assert schema.wire_for_write("email", None) == ""
    assert schema.wire_for_write("email", "") == ""
    assert schema.wire_for_write("score", 2.50) == "2.5"
    assert schema.wire_for_write("stage", "lead") == "lead"
    with pytest.raises(CodecError):
        schema.wire_for_write("ok", "maybe")


# -- round trips (hypothesis) ------------------------------------------------------------------

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
int64s = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
dates = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31))
instants = st.datetimes(
    min_value=dt.datetime(1000, 1, 1),
    max_value=dt.datetime(9999, 12, 31),
    timezones=st.just(dt.UTC),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
option_like = st.text(min_size=1, max_size=12).filter(lambda s: ";" not in s)
texts = st.text(min_size=1, max_size=40)


def with_na(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.one_of(st.none(), values), min_size=1, max_size=20)


def canonical_number(value: float) -> str:
    return Schema.from_definitions([{"name": "n", "type": "number"}]).encode_value("n", value) or ""


WIRE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "score": finite_floats.map(canonical_number),
    "visits": int64s.map(str),
    "ok": st.sampled_from(["true", "false"]),
    "birthday": dates.map(lambda d: d.isoformat()),
    "createdate": instants.map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    ),
    "stage": st.one_of(st.sampled_from(OPTIONS), option_like),
    "colors": st.lists(st.one_of(st.sampled_from(MULTI), option_like), min_size=1).map(";".join),
    "email": texts,
    "phone": texts,
}


@pytest.mark.parametrize("name", sorted(WIRE_STRATEGIES))
@FAST
@given(data=st.data())
def test_canonical_wire_decodes_and_encodes_back_unchanged(
    schema: Schema, name: str, data: st.DataObject
) -> None:
    wire = data.draw(with_na(WIRE_STRATEGIES[name]))
    typed = schema.decode(records(*({name: w} for w in wire)), [name])
    assert schema.encode(typed)[name].tolist() == [pd.NA if w is None else w for w in wire]
    # The same through a wire frame, and value by value.
    frame = pd.DataFrame({name: wire}, dtype=object)
    assert schema.encode(schema.decode(frame))[name].tolist() == schema.encode(typed)[name].tolist()
    for value, w in zip(typed[name], wire, strict=True):
        assert schema.encode_value(name, value) == w


TYPED_STRATEGIES: dict[str, tuple[st.SearchStrategy[Any], Any]] = {
    "score": (finite_floats, FLOAT),
    "visits": (int64s, INT),
    "ok": (st.booleans(), BOOL),
    "birthday": (dates.map(pd.Timestamp), DATE),
    "createdate": (instants.map(pd.Timestamp), DATETIME),
    "email": (texts, STRING),
    "colors": (st.lists(st.sampled_from(MULTI), min_size=1).map(";".join), STRING),
}


@pytest.mark.parametrize("name", sorted(TYPED_STRATEGIES))
@FAST
@given(data=st.data())
def test_typed_values_encode_and_decode_back_equal(
    schema: Schema, name: str, data: st.DataObject
) -> None:
    values, dtype = TYPED_STRATEGIES[name]
    column = pd.Series(pd.array(data.draw(with_na(values)), dtype=dtype), name=name)
    wire = schema.encode(column)
    back = schema.decode(wire.to_frame())[name]
    pd.testing.assert_series_equal(back, column, check_exact=True)


@FAST
@given(values=with_na(st.sampled_from([*OPTIONS, "stale-1", "stale-2"])))
def test_categorical_round_trip_keeps_values(schema: Schema, values: list[str | None]) -> None:
    typed = schema.decode(records(*({"stage": v} for v in values)), ["stage"])["stage"]
    assert [None if pd.isna(v) else v for v in typed] == values
    again = schema.decode(schema.encode(typed).to_frame())["stage"]
    pd.testing.assert_series_equal(again, typed)
