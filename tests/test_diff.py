"""The change set: wire-form, NA-aware comparison after ordinary pandas work.

Two kinds of frames: a real load from the sandbox (every dtype the codec makes, the
registry as ``read_contacts`` fills it), and a small hand-built frame whose wire values are
visible in the test (the unit and property tests). Every test edits its own shallow copy:
with copy-on-write that never reaches the loaded frame or its baseline.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsframe import baseline
from hsframe.client import connect
from hsframe.diff import CHANGE_COLUMNS, FrameError, add, changes, metadata, origin, summary
from hsframe.load import read_contacts
from hsframe.sandbox import Sandbox, generate_contacts, load_properties
from hsframe.schema import CodecError, Schema

# -- a hand-built load -----------------------------------------------------------------------

DEFINITIONS = [
    {"name": "email", "type": "string", "fieldType": "text"},
    {"name": "score", "type": "number", "fieldType": "number"},
    {"name": "visits", "type": "number", "fieldType": "number"},
    {"name": "vip", "type": "bool", "fieldType": "booleancheckbox"},
    {"name": "birthday", "type": "date", "fieldType": "date"},
    {"name": "last_seen", "type": "datetime", "fieldType": "date"},
    {
        "name": "stage",
        "type": "enumeration",
        "fieldType": "select",
        "options": [{"label": s.title(), "value": s} for s in ("lead", "customer", "other")],
    },
    {
        "name": "colors",
        "type": "enumeration",
        "fieldType": "checkbox",
        "options": [{"label": c.title(), "value": c} for c in ("red", "blue", "green")],
    },
    {
        "name": "createdate",
        "type": "datetime",
        "fieldType": "date",
        "modificationMetadata": {"readOnlyValue": True},
    },
]
SCHEMA = Schema.from_definitions(DEFINITIONS, integers=["visits"])
NAMES = list(SCHEMA.names)

WIRE = pd.DataFrame(
    {
        "email": ["ann@example.com", "bob@example.com", None, "dee@example.com", None],
        "score": ["1.5", None, "17", "0", "-2.25"],
        "visits": ["3", "0", None, "12", "7"],
        "vip": ["true", "false", None, "true", "false"],
        "birthday": ["1990-05-01", None, "2001-12-31", "1985-01-15", None],
        "last_seen": [
            "2024-03-01T09:30:00.000Z",
            None,
            "2023-11-05T23:59:59.999Z",
            "2024-01-01T00:00:00.000Z",
            None,
        ],
        "stage": ["lead", "customer", None, "lead", "other"],
        "colors": ["red;blue", None, "green", "blue", None],
        "createdate": ["2020-01-01T00:00:00.000Z"] * 5,
    },
    index=pd.Index([101, 102, 103, 104, 105], name="id"),
)


@pytest.fixture
def small() -> Iterator[pd.DataFrame]:
    """A typed frame registered as a load, as read_contacts leaves it."""
    frame = _register(SCHEMA.decode(WIRE))
    yield frame
    baseline.forget(frame.attrs["hsframe"]["load_id"])


def _register(frame: pd.DataFrame, schema: Schema = SCHEMA) -> pd.DataFrame:
    load_id = uuid.uuid4().hex
    frame.attrs["hsframe"] = {"object_type": "contacts", "portal_id": 1, "load_id": load_id}
    baseline.register(load_id, frame, schema)
    return frame.copy(deep=False)


def _cells(change_set: pd.DataFrame) -> set[tuple[Any, ...]]:
    """A change set as a set of (id, property, old, new, kind), for order-free checks."""
    ids = [None if pd.isna(i) else int(i) for i in change_set["id"]]
    return set(
        zip(
            ids,
            change_set["property"],
            change_set["old"],
            change_set["new"],
            change_set["kind"],
            strict=True,
        )
    )


# -- a real load from the sandbox ------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=300, seed=7) as sb:
        yield sb


@pytest.fixture(scope="module")
def loaded(sandbox: Sandbox) -> pd.DataFrame:
    client = connect(token=sandbox.token, base_url=sandbox.url)
    try:
        return read_contacts(client, progress=False)
    finally:
        client.close()


@pytest.fixture
def df(loaded: pd.DataFrame) -> pd.DataFrame:
    """This test's own copy of the load (shallow: copy-on-write keeps it separate)."""
    return loaded.copy(deep=False)


# -- the shape of the result -----------------------------------------------------------------


def test_no_op_diff_after_load_is_empty(df: pd.DataFrame) -> None:
    result = changes(df)
    assert result.empty
    assert list(result.columns) == list(CHANGE_COLUMNS)
    assert [str(t) for t in result.dtypes] == [
        "Int64",
        "int64",
        "string",
        "object",
        "object",
        "string",
    ]
    assert result.attrs == {"ignored_columns": [], "unloaded_columns": []}


def test_load_matches_the_remote_store_in_wire_form(df: pd.DataFrame, sandbox: Sandbox) -> None:
    """The loaded frame, encoded, is exactly what the sandbox holds: base= takes wire strings."""
    assert changes(df, base=sandbox.contacts()).empty


def test_one_row_per_changed_cell(small: pd.DataFrame) -> None:
    small.loc[101, "email"] = "ANN@example.com"
    small.loc[103, "score"] = 18.0
    small.loc[101, "vip"] = False
    result = changes(small)
    assert result[["id", "row", "property", "old", "new", "kind"]].values.tolist() == [
        [101, 0, "email", "ann@example.com", "ANN@example.com", "update"],
        [101, 0, "vip", "true", "false", "update"],
        [103, 2, "score", "17", "18", "update"],
    ]
    assert str(result["id"].dtype) == "Int64"


# -- dtype round trips are never changes -----------------------------------------------------


def _tz(s: pd.Series) -> pd.Series:
    return s.dt.tz_convert("America/New_York")


ROUND_TRIPS = {
    "object": lambda s: s.astype(object),
    "Float64->float64": lambda s: s.astype("float64") if str(s.dtype) == "Float64" else None,
    "Int64->Float64": lambda s: s.astype("Float64") if str(s.dtype) == "Int64" else None,
    "Int64->float64": lambda s: s.astype("float64") if str(s.dtype) == "Int64" else None,
    "category->string": lambda s: s.astype("string") if s.dtype == "category" else None,
    "category->str": lambda s: s.astype(str).where(s.notna()) if s.dtype == "category" else None,
    "string->category": lambda s: s.astype("category") if str(s.dtype) == "string" else None,
    "string->python string": (
        lambda s: s.astype("string[python]") if str(s.dtype) == "string" else None
    ),
    "boolean->object": lambda s: s.astype(object) if str(s.dtype) == "boolean" else None,
    "datetime->other zone": (lambda s: _tz(s) if isinstance(s.dtype, pd.DatetimeTZDtype) else None),
    "datetime->ns": (
        lambda s: s.dt.as_unit("ns") if pd.api.types.is_datetime64_any_dtype(s.dtype) else None
    ),
}


@pytest.mark.parametrize("trip", list(ROUND_TRIPS))
def test_dtype_round_trip_is_not_a_change(df: pd.DataFrame, trip: str) -> None:
    touched = 0
    for name in df.columns:
        converted = ROUND_TRIPS[trip](df[name])
        if converted is not None:
            df[name] = converted
            touched += 1
    assert touched, f"no column of the load has a dtype for {trip}"
    assert changes(df).empty


def test_empty_string_is_unset(small: pd.DataFrame) -> None:
    small.loc[103, "email"] = ""  # was unset: still unset
    assert changes(small).empty


# -- ordinary pandas work --------------------------------------------------------------------


def test_loc_edits_across_a_column(df: pd.DataFrame, loaded: pd.DataFrame) -> None:
    has = df["email"].notna()
    df.loc[has, "email"] = df.loc[has, "email"].str.upper()
    result = changes(df)
    expected = int((loaded["email"].str.upper() != loaded["email"]).fillna(False).sum())
    assert expected > 0
    assert len(result) == expected
    assert set(result["property"]) == {"email"}
    upper = result["new"].tolist()
    assert upper == [s.upper() for s in result["old"]]
    # each row points at the frame's row
    positions = result["row"].to_numpy()
    assert (df.index[positions] == pd.Index(result["id"])).all()


def test_boolean_subset_drops_rows_without_deleting(small: pd.DataFrame) -> None:
    small.loc[101, "email"] = "a@example.com"
    small.loc[104, "email"] = "d@example.com"
    subset = small[small.index != 104]
    result = changes(subset)
    assert _cells(result) == {(101, "email", "ann@example.com", "a@example.com", "update")}
    assert (small.loc[[101], "email"] == "a@example.com").all()  # the full frame still has both
    assert len(changes(small)) == 2


def test_copy_keeps_the_baseline(small: pd.DataFrame) -> None:
    copied = small.copy()
    copied.loc[102, "stage"] = "lead"
    assert _cells(changes(copied)) == {(102, "stage", "customer", "lead", "update")}
    assert changes(small).empty


def test_reordered_rows_and_columns(small: pd.DataFrame) -> None:
    small.loc[102, "visits"] = 5
    small.loc[105, "birthday"] = pd.Timestamp("2000-02-29")
    expected = _cells(changes(small))
    shuffled = small.iloc[[4, 2, 0, 3, 1], ::-1]
    result = changes(shuffled)
    assert _cells(result) == expected
    assert result["row"].tolist() == [0, 4]  # 105 is now first, 102 last
    assert result["property"].tolist() == ["birthday", "visits"]


def test_clearing_a_value_gives_none(small: pd.DataFrame) -> None:
    small.loc[101, "score"] = pd.NA
    small.loc[101, "email"] = None
    small.loc[101, "stage"] = np.nan
    small.loc[101, "last_seen"] = pd.NaT
    result = changes(small)
    assert set(result["property"]) == {"score", "email", "stage", "last_seen"}
    assert result["new"].tolist() == [None] * 4
    assert all(isinstance(v, str) for v in result["old"])


def test_setting_an_unset_value(small: pd.DataFrame) -> None:
    small.loc[103, "email"] = "cy@example.com"
    small.loc[103, "vip"] = True
    assert _cells(changes(small)) == {
        (103, "email", None, "cy@example.com", "update"),
        (103, "vip", None, "true", "update"),
    }


def test_multiselect_lists_and_strings(small: pd.DataFrame) -> None:
    small["colors"] = small["colors"].astype(object)
    small.at[101, "colors"] = ["red", "blue"]  # same as "red;blue"
    small.at[104, "colors"] = ["blue", "green"]
    assert _cells(changes(small)) == {(104, "colors", "blue", "blue;green", "update")}


def test_added_columns_are_warned_and_ignored(small: pd.DataFrame) -> None:
    small["domain"] = small["email"].str.split("@").str[1]
    small[0] = 1
    with pytest.warns(UserWarning, match="domain, 0") as record:
        result = changes(small)
    assert record[0].filename == __file__  # points at the user's line
    assert result.empty
    assert result.attrs["ignored_columns"] == ["domain", "0"]


def test_read_only_edits_stay_in_the_change_set(small: pd.DataFrame) -> None:
    assert SCHEMA.is_read_only("createdate")
    small.loc[102, "createdate"] = pd.Timestamp("2021-01-01", tz="UTC")
    assert _cells(changes(small)) == {
        (102, "createdate", "2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z", "update")
    }


def test_codec_errors_name_the_cell(small: pd.DataFrame) -> None:
    small["last_seen"] = small["last_seen"].dt.tz_localize(None)
    with pytest.raises(CodecError, match="last_seen") as caught:
        changes(small)
    assert "tz_localize" in str(caught.value)


# -- new rows --------------------------------------------------------------------------------


def test_add_appends_new_contacts(small: pd.DataFrame) -> None:
    dtypes = small.dtypes
    grown = add(
        small,
        [
            {"email": "new@example.com", "stage": "lead", "score": 2, "vip": "true"},
            {"email": "two@example.com", "birthday": "1999-09-09", "stage": "prospect"},
        ],
    )
    assert grown.attrs == small.attrs
    assert grown.index.isna().tolist() == [False] * 5 + [True] * 2
    assert str(grown.index.dtype) == "Int64" and grown.index.name == "id"
    for name in NAMES:  # same dtypes (an enumeration gains the new value as a category)
        assert type(grown[name].dtype) is type(dtypes[name]), name
    assert "prospect" in grown["stage"].cat.categories
    result = changes(grown)
    assert result[["id", "row", "property", "old", "new", "kind"]].astype(object).where(
        result.notna(), None
    ).values.tolist() == [
        [None, 5, "email", None, "new@example.com", "create"],
        [None, 5, "score", None, "2", "create"],
        [None, 5, "vip", None, "true", "create"],
        [None, 5, "stage", None, "lead", "create"],
        [None, 6, "email", None, "two@example.com", "create"],
        [None, 6, "birthday", None, "1999-09-09", "create"],
        [None, 6, "stage", None, "prospect", "create"],
    ]
    assert small.shape == (5, len(NAMES))  # the original is untouched


def test_add_with_edits_and_a_dataframe(small: pd.DataFrame) -> None:
    small.loc[101, "visits"] = 4
    rows = pd.DataFrame({"email": ["x@example.com"], "visits": [1]})
    grown = add(small, rows)
    assert _cells(changes(grown)) == {
        (101, "visits", "3", "4", "update"),
        (None, "email", None, "x@example.com", "create"),
        (None, "visits", None, "1", "create"),
    }


def test_add_refuses_bad_values_and_existing_ids(small: pd.DataFrame) -> None:
    with pytest.raises(CodecError, match="score"):
        add(small, {"score": "1,000"})
    with pytest.raises(FrameError, match="existing contacts"):
        add(small, small.iloc[:1])
    with pytest.raises(TypeError, match="dict"):
        add(small, ["email"])  # type: ignore[list-item]


def test_new_contacts_list_properties_that_were_not_loaded(small: pd.DataFrame) -> None:
    narrow = _register(small[["email"]].copy())
    grown = add(narrow, {"email": "n@example.com", "stage": "lead"})
    assert str(grown["stage"].dtype) == "category"
    assert _cells(changes(grown)) == {
        (None, "email", None, "n@example.com", "create"),
        (None, "stage", None, "lead", "create"),
    }
    grown.loc[101, "stage"] = "customer"  # unknown remote value: not compared
    with pytest.warns(UserWarning, match="not loaded.*stage"):
        result = changes(grown)
    assert result.attrs["unloaded_columns"] == ["stage"]
    assert set(result["kind"]) == {"create"}


def test_concat_that_drops_attrs_says_what_to_do(small: pd.DataFrame) -> None:
    new = pd.DataFrame(
        {"email": ["c@example.com"]}, index=pd.Index([pd.NA], dtype="Int64", name="id")
    )
    glued = pd.concat([small, new])
    assert "hsframe" not in glued.attrs  # pandas dropped them
    with pytest.raises(FrameError, match=r"df\.hs\.add") as caught:
        changes(glued)
    assert "base=" in str(caught.value)
    result = changes(glued, base=small)
    assert _cells(result) == {(None, "email", None, "c@example.com", "create")}


def test_concat_that_keeps_attrs_works(small: pd.DataFrame) -> None:
    new = pd.DataFrame(
        {"email": ["c@example.com"]}, index=pd.Index([pd.NA], dtype="Int64", name="id")
    )
    new.attrs = small.attrs
    glued = pd.concat([small, new])
    assert _cells(changes(glued)) == {(None, "email", None, "c@example.com", "create")}


def test_concat_with_a_default_index_is_refused(small: pd.DataFrame) -> None:
    glued = pd.concat([small, pd.DataFrame({"email": ["c@example.com"]})])
    with pytest.raises(FrameError, match="not indexed by contact id") as caught:
        changes(glued, base=small)
    assert "df.hs.add" in str(caught.value)


# -- base= and the frame's shape -------------------------------------------------------------


def test_explicit_base_wins(small: pd.DataFrame) -> None:
    other = small.copy()
    other.loc[101, "email"] = "old@example.com"
    result = changes(small, base=other)
    assert _cells(result) == {(101, "email", "old@example.com", "ann@example.com", "update")}


def test_base_of_wire_strings(small: pd.DataFrame) -> None:
    small.loc[105, "score"] = -2.5
    remote = WIRE.astype(object)
    remote.index = remote.index.astype(str)  # ids as strings, as a CSV gives them
    remote.index.name = "id"
    assert _cells(changes(small, base=remote)) == {(105, "score", "-2.25", "-2.5", "update")}


def test_base_without_metadata_needs_a_schema(small: pd.DataFrame) -> None:
    bare = small.copy()
    bare.attrs = {}
    with pytest.raises(FrameError, match="property definitions"):
        changes(bare, base=bare.copy())
    bare.loc[101, "vip"] = pd.NA
    result = changes(bare, base=small.copy().assign(vip=small["vip"]), schema=SCHEMA)
    assert _cells(result) == {(101, "vip", "true", None, "update")}


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda f: f.reset_index(), r'set_index\("id"\)'),
        (lambda f: f.reset_index(drop=True), r"0, 1, 2"),
        (lambda f: f.rename_axis("contact"), r"named 'contact'"),
        (lambda f: pd.concat([f, f.iloc[:2]]), r"more than once \(101, 102\)"),
        (lambda f: f.set_index("email", drop=False).rename_axis("id"), r"does not hold contact"),
    ],
    ids=["reset", "reset-drop", "renamed", "duplicated", "not-ids"],
)
def test_a_broken_index_is_a_clear_error(small: pd.DataFrame, mangle: Any, message: str) -> None:
    with pytest.raises(FrameError, match=message) as caught:
        changes(mangle(small))
    assert isinstance(caught.value, ValueError)
    assert 'set_index("id")' in str(caught.value)


def test_unknown_ids_are_refused(small: pd.DataFrame) -> None:
    stray = small.rename(index={105: 999})
    with pytest.raises(FrameError, match="999") as caught:
        changes(stray)
    assert "df.hs.add" in str(caught.value)


def test_duplicated_columns_are_refused(small: pd.DataFrame) -> None:
    doubled = pd.concat([small, small[["email"]]], axis=1)
    with pytest.raises(FrameError, match="same name: email"):
        changes(doubled)


def test_frames_not_from_hsframe(small: pd.DataFrame) -> None:
    with pytest.raises(FrameError, match="no hsframe metadata"):
        changes(pd.DataFrame({"email": ["a@b.co"]}))
    with pytest.raises(FrameError, match="no hsframe metadata"):
        metadata(pd.DataFrame())
    forgotten = small.copy()
    baseline.forget(small.attrs["hsframe"]["load_id"])
    with pytest.raises(baseline.BaselineNotFoundError, match="base="):
        changes(forgotten)


def test_origin_and_metadata(small: pd.DataFrame) -> None:
    found = origin(small)
    assert found.schema is SCHEMA
    assert found.meta == small.attrs["hsframe"]
    meta = metadata(small)
    meta["load_id"] = "changed"
    assert small.attrs["hsframe"]["load_id"] != "changed"


# -- summary ---------------------------------------------------------------------------------


def test_summary_counts(small: pd.DataFrame) -> None:
    small.loc[[101, 102], "stage"] = "other"
    small.loc[101, "email"] = "z@example.com"
    grown = add(small, [{"email": "a@example.com", "stage": "lead"}, {"email": "b@example.com"}])
    counted = summary(changes(grown))
    assert (counted.contacts, counted.cells, counted.new_contacts, counted.new_cells) == (
        2,
        3,
        2,
        3,
    )
    assert counted.by_property.to_dict("index") == {
        "email": {"update": 1, "create": 2},
        "stage": {"update": 2, "create": 1},
    }
    assert str(counted).startswith("3 cell(s) of 2 contact(s) changed; 2 new contact(s)")
    empty = summary(changes(small.iloc[2:]))
    assert (empty.contacts, empty.cells, str(empty)) == (
        0,
        0,
        "0 cell(s) of 0 contact(s) changed; 0 new contact(s)",
    )
    with pytest.raises(ValueError, match="not a change set"):
        summary(pd.DataFrame({"id": []}))


# -- property: exactly the edited cells ------------------------------------------------------

POOLS: dict[str, list[Any]] = {
    "email": [None, "", "ann@example.com", "x@example.com", "Ann@Example.com"],
    "score": [None, 0.0, 1.5, 17.0, -2.25, 1e21, 3e-7],
    "visits": [None, 0, 3, 12, 7, 10**12],
    "vip": [None, True, False],
    "birthday": [None, pd.Timestamp("1990-05-01"), pd.Timestamp("2020-02-29")],
    "last_seen": [
        None,
        pd.Timestamp("2024-03-01T09:30:00Z"),
        pd.Timestamp("2024-03-01T10:30:00+01:00"),
        pd.Timestamp("1970-01-01T00:00:00.001Z"),
    ],
    "stage": [None, "lead", "customer", "other"],
    "colors": [None, "red;blue", "blue", "green;red", ""],
    "createdate": [pd.Timestamp("2020-01-01T00:00:00Z"), pd.Timestamp("2022-06-01T12:00:00Z")],
}


@st.composite
def edits(draw: st.DrawFn) -> tuple[list[tuple[int, str, Any]], list[int]]:
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, len(WIRE) - 1), st.sampled_from(NAMES)),
            unique=True,
            max_size=20,
        )
    )
    chosen = [(row, name, draw(st.sampled_from(POOLS[name]))) for row, name in cells]
    kept = draw(st.lists(st.integers(0, len(WIRE) - 1), unique=True, min_size=1))
    return chosen, kept


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits())
def test_changes_lists_exactly_the_edited_cells(
    plan: tuple[list[tuple[int, str, Any]], list[int]],
) -> None:
    cells, kept = plan
    frame = _register(SCHEMA.decode(WIRE))
    try:
        everywhere = set()
        for row, name, value in cells:
            frame.iloc[row, frame.columns.get_loc(name)] = value
            ident = int(WIRE.index[row])
            old = WIRE.iloc[row][name]
            old = None if pd.isna(old) else old
            new = SCHEMA.encode_value(name, value)
            if old != new:
                everywhere.add((row, (ident, name, old, new, "update")))
        assert _cells(changes(frame)) == {cell for _, cell in everywhere}
        expected = {cell for row, cell in everywhere if row in kept}
        subset = frame.iloc[kept]  # a random subset, in a random order
        result = changes(subset)
        assert _cells(result) == expected
        assert len(result) == len(expected)
        assert (subset.index[result["row"].to_numpy()] == pd.Index(result["id"])).all()
    finally:
        baseline.forget(frame.attrs["hsframe"]["load_id"])


# -- speed -----------------------------------------------------------------------------------


def test_scattered_edits_across_sixty_properties_are_all_found() -> None:
    n, width = 20_000, 60
    wire = generate_contacts(n, seed=3)
    wire.index = pd.Index(wire["hs_object_id"].astype("int64"), name="id")
    definitions = load_properties()
    by_name = {d["name"]: d for d in definitions}
    writable = [
        c for c in wire.columns if not Schema.from_definitions([by_name[c]]).is_read_only(c)
    ]
    for name in writable[: width - wire.shape[1]]:
        definitions.append({**by_name[name], "name": f"{name}_2"})
        wire[f"{name}_2"] = wire[name]
    schema = Schema.from_definitions(definitions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generator's deliberate mess
        frame = _register(schema.decode(wire), schema)
    assert frame.shape == (n, width)
    rng = np.random.default_rng(0)
    for name in frame.columns:  # 1% of the cells take another row's value
        rows = rng.choice(n, n // 100, replace=False)
        donors = rng.choice(n, n // 100, replace=False)
        frame.iloc[rows, frame.columns.get_loc(name)] = frame[name].iloc[donors].array
    result = changes(frame)
    assert 0.3 * n * width / 100 < len(result) <= n * width / 100
    baseline.forget(frame.attrs["hsframe"]["load_id"])


# -- docs ------------------------------------------------------------------------------------
