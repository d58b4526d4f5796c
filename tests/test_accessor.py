"""``df.hs``: stateless, thin, and clear about frames it cannot work with.

The accessor decides nothing, so these tests check the wiring: each method reaches its
function with the frame (and ``base=``), the accessor keeps no state of its own, and frames
that did not come from hsframe get an error that says what to do. What the functions do is
tested in their own modules; one sandbox load here checks the whole path end to end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hsframe import baseline, diff
from hsframe.accessor import HubSpotAccessor
from hsframe.client import connect
from hsframe.diff import FrameError
from hsframe.load import read_contacts
from hsframe.sandbox import Sandbox
from hsframe.schema import Schema
from hsframe.validate import validate_frame

SCHEMA = Schema.from_definitions(
    [
        {"name": "email", "type": "string", "fieldType": "text"},
        {
            "name": "stage",
            "type": "enumeration",
            "fieldType": "select",
            "options": [{"label": "Lead", "value": "lead"}, {"label": "Other", "value": "other"}],
        },
        {
            "name": "createdate",
            "type": "datetime",
            "fieldType": "date",
            "modificationMetadata": {"readOnlyValue": True},
        },
    ]
)


@pytest.fixture
def small() -> Iterator[pd.DataFrame]:
    wire = pd.DataFrame(
        {
            "email": ["ann@example.com", "bob@example.com"],
            "stage": ["lead", None],
            "createdate": ["2020-01-01T00:00:00.000Z"] * 2,
        },
        index=pd.Index([1, 2], name="id"),
    )
    frame = SCHEMA.decode(wire)
    load_id = uuid.uuid4().hex
    frame.attrs["hsframe"] = {"object_type": "contacts", "portal_id": 7, "load_id": load_id}
    baseline.register(load_id, frame, SCHEMA)
    yield frame.copy(deep=False)
    baseline.forget(load_id)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=200, seed=11) as sb:
        yield sb


@pytest.fixture(scope="module")
def loaded(sandbox: Sandbox) -> pd.DataFrame:
    client = connect(token=sandbox.token, base_url=sandbox.url)
    try:
        return read_contacts(client, progress=False)
    finally:
        client.close()


# -- the accessor itself ---------------------------------------------------------------------


def test_registered_and_stateless(small: pd.DataFrame) -> None:
    assert isinstance(small.hs, HubSpotAccessor)
    assert vars(small.hs).keys() == {"_frame"}  # nothing but the frame it was handed
    small.loc[1, "email"] = "a@example.com"  # edits after an access are seen by the next
    assert len(small.hs.changes()) == 1


def test_methods_delegate(small: pd.DataFrame) -> None:
    small.loc[2, "stage"] = "other"
    pd.testing.assert_frame_equal(small.hs.changes(), diff.changes(small))
    other = small.copy()
    other.loc[1, "email"] = "old@example.com"
    pd.testing.assert_frame_equal(small.hs.changes(base=other), diff.changes(small, base=other))
    grown = small.hs.add({"email": "new@example.com"})
    pd.testing.assert_frame_equal(grown, diff.add(small, {"email": "new@example.com"}))
    assert small.hs.schema is SCHEMA
    assert small.hs.meta == small.attrs["hsframe"]


def test_meta_is_a_copy(small: pd.DataFrame) -> None:
    meta = small.hs.meta
    meta["load_id"] = "elsewhere"
    assert small.hs.meta["load_id"] != "elsewhere"


def test_warnings_point_at_the_users_line(small: pd.DataFrame) -> None:
    small["note"] = "mine"
    with pytest.warns(UserWarning, match="note") as record:
        small.hs.changes()
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.hs.changes(),
        lambda f: f.hs.validate(),
        lambda f: f.hs.add({"email": "x@example.com"}),
        lambda f: f.hs.schema,
        lambda f: f.hs.meta,
    ],
    ids=["changes", "validate", "add", "schema", "meta"],
)
def test_frames_not_from_hsframe_get_a_clear_error(call: object) -> None:
    frame = pd.DataFrame({"email": ["a@b.co"]})
    assert hasattr(frame, "hs")  # the accessor exists, so base= stays reachable
    with pytest.raises(FrameError, match="no hsframe metadata") as caught:
        call(frame)  # type: ignore[operator]
    assert isinstance(caught.value, ValueError)
    assert "read_contacts" in str(caught.value)


def test_lost_attrs_can_still_be_compared_with_base(small: pd.DataFrame) -> None:
    new = small.hs.add({"email": "c@example.com"}).iloc[-1:]
    glued = pd.concat([small, new.set_axis(new.index)])
    glued.attrs = {}
    with pytest.raises(FrameError, match=r"df\.hs\.add"):
        glued.hs.changes()
    result = glued.hs.changes(base=small)
    assert result[["property", "new", "kind"]].values.tolist() == [
        ["email", "c@example.com", "create"]
    ]


def test_reset_index_says_set_index(small: pd.DataFrame) -> None:
    with pytest.raises(FrameError, match=r'df.set_index\("id"\)'):
        small.reset_index().hs.changes()


# -- validation through the accessor ---------------------------------------------------------


def test_validate_judges_the_changed_cells(small: pd.DataFrame) -> None:
    small["stage"] = small["stage"].cat.add_categories(["Lead"])
    small.loc[2, "stage"] = "Lead"  # a label, not the option value
    small.loc[1, "createdate"] = pd.Timestamp("2021-01-01", tz="UTC")  # read-only
    report = small.hs.validate()
    assert not report.ok
    found = report.failures[["id", "row", "property", "expectation"]].values.tolist()
    assert [2, 1, "stage"] in [f[:3] for f in found]
    assert [1, 0, "createdate", "expect_read_only_property_unchanged"] in found
    assert set(report.invalid_ids) == {1, 2}


def test_validate_with_base_and_rows(small: pd.DataFrame) -> None:
    assert small.hs.validate().ok
    other = small.copy()
    other.loc[1, "createdate"] = pd.Timestamp("1999-01-01", tz="UTC")
    report = small.hs.validate(base=other, rows="all")
    assert report.rows == "all"
    assert report.failures["expectation"].tolist() == ["expect_read_only_property_unchanged"]
    assert validate_frame(small, base=other).failures.equals(small.hs.validate(base=other).failures)


# -- end to end on a sandbox load ------------------------------------------------------------


def test_a_load_edit_add_cycle(loaded: pd.DataFrame) -> None:
    df = loaded.copy(deep=False)
    assert df.hs.changes().empty
    assert df.hs.meta["load_id"] == loaded.attrs["hsframe"]["load_id"]
    assert df.hs.schema.is_read_only("hs_object_id")
    first = df.index[0]
    df.loc[first, "firstname"] = "Zed"
    df = df.hs.add({"email": "zed@example.com", "firstname": "Zed", "lifecyclestage": "lead"})
    result = df.hs.changes()
    assert result["kind"].tolist() == ["update", "create", "create", "create"]
    assert result["row"].tolist() == [0, len(loaded), len(loaded), len(loaded)]
    assert df.hs.validate().ok
    assert loaded.hs.changes().empty  # the loaded frame was never touched


def test_push_delegates_and_moves_the_baseline(sandbox: Sandbox, tmp_path: Path) -> None:
    client = connect(token=sandbox.token, base_url=sandbox.url)
    try:
        df = read_contacts(client, properties=["email", "firstname"], progress=False)
        first = int(df.index[0])
        df.loc[first, "firstname"] = "Pushed"
        df = df.hs.add({"email": "pushed.new@example.com", "firstname": "New"})
        dry = df.hs.push(client, dry_run=True, progress=False, journal_dir=tmp_path)
        assert dry.dry_run and len(dry.planned) == 3
        assert sandbox.contacts().loc[first, "firstname"] != "Pushed"
        result = df.hs.push(client, progress=False, journal_dir=tmp_path)
        assert len(result.applied) == 3 and result.journal is not None
        assert result.journal.parent == tmp_path
        assert sandbox.contacts().loc[first, "firstname"] == "Pushed"
        assert not df.index.isna().any()  # the new contact got its id, in place
        assert df.hs.changes().empty  # the baseline moved forward
        assert df.hs.push(client, progress=False, journal_dir=tmp_path).requests == 0
    finally:
        client.close()
