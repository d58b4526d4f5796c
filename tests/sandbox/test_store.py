"""The in-memory store: seeding, the frame view, writes, history, unique values, threads."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from crm_fixtures import PROPERTIES, ManualClock, contact, frame, make_store

from hsframe.sandbox.rules import epoch_ms, unique_key
from hsframe.sandbox.store import Conflict, Store


def test_from_frame_sorts_by_id_and_serves_every_definition() -> None:
    rows = [contact(30, firstname="C"), contact(10, firstname="A"), contact(20, firstname="B")]
    store = make_store(rows)
    seen = store.frame()
    assert seen.index.name == "id"
    assert seen.index.tolist() == [10, 20, 30]
    assert seen.index.dtype == np.int64
    assert list(seen.columns) == [p["name"] for p in PROPERTIES]
    assert set(seen.dtypes) == {np.dtype(object)}
    assert seen["firstname"].tolist() == ["A", "B", "C"]
    assert seen["hs_object_id"].tolist() == ["10", "20", "30"]
    assert seen["score"].tolist() == [None, None, None]


def test_unset_and_empty_values_read_back_as_none() -> None:
    rows = [contact(1, firstname="", lastname=None), contact(2, firstname=pd.NA, lastname="x")]  # type: ignore[arg-type]
    seen = make_store(rows).frame()
    assert seen.loc[1, "firstname"] is None
    assert seen.loc[1, "lastname"] is None
    assert seen.loc[2, "firstname"] is None


def test_ids_may_come_from_the_index_and_must_be_unique_integers() -> None:
    by_index = pd.DataFrame({"firstname": ["A", "B"]}, index=pd.Index([7, 3], name="id"))
    store = Store.from_frame(PROPERTIES, by_index, clock=ManualClock())
    assert store.frame().index.tolist() == [3, 7]
    assert store.frame().loc[7, "hs_object_id"] == "7"
    with pytest.raises(ValueError, match="unique"):
        make_store([contact(1), contact(1)])
    with pytest.raises(ValueError, match="id"):
        Store.from_frame(PROPERTIES, frame([{"hs_object_id": None}]))
    with pytest.raises(ValueError, match="integers"):
        Store.from_frame(PROPERTIES, frame([{"hs_object_id": "1.5"}]))


def test_system_definitions_are_added_when_missing_and_timestamps_filled() -> None:
    clock = ManualClock()
    store = Store.from_frame(
        [{"name": "email", "type": "string", "fieldType": "text"}],
        pd.DataFrame({"hs_object_id": ["5"], "email": ["a@b.co"]}, dtype=object),
        clock=clock,
    )
    assert store.names == ("email", "hs_object_id", "createdate", "lastmodifieddate")
    row = store.frame().loc[5]
    assert row["createdate"] == row["lastmodifieddate"] == "2025-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="unique names"):
        Store([{"name": "x"}, {"name": "x"}])


def test_columns_that_are_not_properties_are_ignored() -> None:
    store = make_store([contact(1, not_a_property="x", firstname="A")])
    assert "not_a_property" not in store.frame().columns


def test_create_assigns_increasing_ids_and_timestamps() -> None:
    clock = ManualClock()
    store = make_store(clock=clock)
    first = store.create({"email": "new@example.com", "firstname": "New", "lastname": ""})
    second = store.create({})
    assert first == 106 and second == 107
    row = store.frame().loc[first]
    assert row["hs_object_id"] == "106"
    assert row["createdate"] == row["lastmodifieddate"] == "2025-01-01T00:00:00.000Z"
    assert row["lastname"] is None
    assert store.frame().index.tolist()[-2:] == [106, 107]


def test_update_changes_values_and_lastmodifieddate_strictly_increases() -> None:
    clock = ManualClock()
    store = make_store(clock=clock)
    stamps = []
    for value in ["x", "y", "y", ""]:  # the same instant, a repeated value and a clear
        store.update(101, {"company": value})
        stamps.append(store.frame().loc[101, "lastmodifieddate"])
    assert stamps == sorted(set(stamps))
    assert len(stamps) == 4
    assert store.frame().loc[101, "company"] is None
    assert store.frame().loc[101, "createdate"] == "2023-01-01T00:00:00.000Z"
    with pytest.raises(KeyError):
        store.update(999, {"company": "x"})


def test_unique_values_collide_case_insensitively_among_live_contacts() -> None:
    store = make_store()
    with pytest.raises(Conflict) as caught:
        store.create({"email": "ANN.LEE@example.com"})
    assert caught.value.existing_id == 101
    with pytest.raises(Conflict):
        store.update(102, {"customer_code": "C-1"})
    store.update(103, {"customer_code": "C-1"})  # its own value
    store.create({"customer_code": "c-1"})  # other unique properties compare exactly
    assert store.find("email", "Ann.Lee@EXAMPLE.com") == 101
    store.update(101, {"email": "ann@new.example"})
    assert store.find("email", "ann.lee@example.com") is None
    assert store.create({"email": "ann.lee@example.com"}) > 105


def test_archive_releases_unique_values_and_hides_the_contact() -> None:
    store = make_store()
    assert store.archive(102)
    assert not store.archive(102)
    assert 102 not in store.frame().index
    archived = store.frame(archived=True)
    assert archived.index.tolist() == [102]
    assert store.find("email", "bob@example.org") is None
    assert store.find("email", "bob@example.org", archived=True) == 102
    assert store.find("email", "bob@example.org", archived=None) == 102
    replacement = store.create({"email": "bob@example.org"})
    assert store.find("email", "bob@example.org") == replacement
    assert len(store) == 5


def test_purge_removes_for_good() -> None:
    store = make_store()
    store.archive(105)
    assert store.purge(105) and store.purge(104)
    assert not store.purge(104)
    assert 104 not in store.frame().index and store.frame(archived=True).empty
    assert store.read([104, 105], ["email"], archived=None) == [None, None]
    assert store.create({}) == 106  # ids are never reused


def test_history_lists_versions_newest_first() -> None:
    clock = ManualClock()
    store = make_store(clock=clock)
    store.update(101, {"company": "Initech"})
    clock.advance(60)
    store.update(101, {"company": ""})
    record = store.read([101], ["company"], history=["company", "firstname", "score"])[0]
    assert record is not None and record.history is not None
    company = record.history["company"]
    assert [v["value"] for v in company] == ["", "Initech", "Acme Corp"]
    assert [v["sourceType"] for v in company] == ["INTEGRATION", "INTEGRATION", "IMPORT"]
    assert company[0]["timestamp"] == "2025-01-01T00:01:00.000Z"
    assert company[2]["timestamp"] == "2024-01-01T00:00:00.000Z"  # the loaded lastmodifieddate
    assert record.history["firstname"] == [
        {"value": "Ann", "timestamp": "2024-01-01T00:00:00.000Z", "sourceType": "IMPORT"}
    ]
    assert record.history["score"][0]["value"] == "10"
    assert record.properties == {"company": None}
    created = store.create({"firstname": "Zed"})
    versions = store.read([created], [], history=["firstname", "lastname"])[0]
    assert versions is not None and versions.history == {
        "firstname": [
            {"value": "Zed", "timestamp": "2025-01-01T00:01:00.000Z", "sourceType": "INTEGRATION"}
        ],
        "lastname": [],
    }


def test_page_walks_in_id_order_and_skips_other_states() -> None:
    store = make_store()
    store.archive(102)
    records, after = store.page(None, 2, ["email"])
    assert [r.id for r in records] == [101, 103] and after == 103
    records, after = store.page(after, 2, ["email"])
    assert [r.id for r in records] == [104, 105] and after is None
    records, after = store.page(None, 10, ["email"], archived=True)
    assert [r.id for r in records] == [102] and after is None
    assert records[0].archived and records[0].archived_at is not None


def test_read_by_state() -> None:
    store = make_store()
    store.archive(101)
    assert store.read([101], ["email"]) == [None]
    assert store.read([101], ["email"], archived=True)[0] is not None
    assert store.read([101, 102, 999], ["email"], archived=None)[1] is not None


def test_search_view_sees_writes_only_after_the_lag() -> None:
    clock = ManualClock()
    store = make_store(clock=clock)
    store.update(101, {"company": "Later Inc"})
    created = store.create({"email": "fresh@example.com", "score": "99"})
    store.archive(102)
    as_of = clock.now - 5  # the index is 5 s behind
    view = store.search_view(["company", "score"], as_of)
    row = {int(i): r for r, i in enumerate(view.ids)}
    assert view.raw["company"][row[101]] == "Acme Corp"
    assert view.lower["company"][row[101]] == "acme corp"
    assert not view.visible[row[created]]
    assert view.visible[row[102]]  # archived after the index caught up: still found
    assert view.numeric["score"][row[101]] == 10
    now = store.search_view(["company"], None)
    assert now.raw["company"][row[101]] == "Later Inc"
    assert not now.visible[row[102]] and now.visible[row[created]]
    seen = store.read([101], ["company", "lastmodifieddate"], as_of=as_of)[0]
    assert seen is not None
    assert seen.properties["company"] == "Acme Corp"
    assert seen.updated_at == "2024-01-01T00:00:00.000Z"


def test_numeric_keys_follow_writes() -> None:
    store = make_store()
    store.update(101, {"score": "42", "birthday": "2000-01-02", "last_seen": ""})
    view = store.search_view(["score", "birthday", "last_seen"])
    assert view.numeric["score"][0] == 42
    assert view.numeric["birthday"][0] == epoch_ms("2000-01-02", "date")
    assert np.isnan(view.numeric["last_seen"][0])


def test_merge_keeps_the_primary_and_fills_its_gaps() -> None:
    store = make_store()
    store.merge(104, 101)
    merged = store.frame().loc[104]
    assert merged["firstname"] == "Dan" and merged["lastname"] == "lee"
    assert merged["company"] == "Acme Corp"  # taken: the primary had none
    assert merged["email"] == "ann.lee@example.com"  # the primary had no email
    assert merged["hs_merged_object_ids"] == "101"
    assert 101 not in store.frame().index and store.find("email", "ann.lee@example.com") == 104
    store.merge(102, 103)
    merged = store.frame().loc[102]
    assert merged["email"] == "bob@example.org"
    assert merged["hs_additional_emails"] == "cara@example.com"
    assert merged["customer_code"] == "C-1"
    with pytest.raises(KeyError):
        store.merge(102, 103)


def test_blocklist_is_case_insensitive() -> None:
    store = make_store()
    store.block_email("Gone@Example.com")
    assert store.is_blocked("gone@example.com")
    assert not store.is_blocked("kept@example.com")


def test_concurrent_writers_keep_the_store_consistent() -> None:
    store = make_store()
    errors: list[BaseException] = []
    conflicts = Counter[int]()

    def work(worker: int) -> None:
        try:
            for i in range(200):
                try:
                    new = store.create({"email": f"user{i % 50}@example.com", "score": str(i)})
                except Conflict:
                    conflicts[worker] += 1
                    continue
                store.update(new, {"firstname": f"w{worker}", "score": str(i + 1)})
                if i % 3 == 0:
                    store.archive(new)
                store.page(None, 100, ["email"])
                store.search_view(["email", "score"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    live = store.frame()
    emails = [e for e in live["email"] if e is not None]
    assert len(emails) == len(set(emails))  # no duplicate live email ever got in
    assert live["hs_object_id"].tolist() == [str(i) for i in live.index]
    assert live.index.is_monotonic_increasing
    everyone = pd.concat([live, store.frame(archived=True)])
    assert everyone.index.is_unique
    for email in emails:
        assert store.find("email", email) == int(live.index[live["email"] == email][0])
    view = store.search_view(["score"])
    rows = {int(i): r for r, i in enumerate(view.ids)}
    for object_id, score in live["score"].dropna().items():
        assert view.numeric["score"][rows[int(object_id)]] == float(score)
    assert sum(conflicts.values()) > 0
    assert unique_key("email", "A@B.CO") == "a@b.co"


def _synthetic(n: int, width: int) -> tuple[list[dict[str, object]], pd.DataFrame]:
    rng = np.random.default_rng(0)
    kinds = ["string", "number", "datetime", "date", "enumeration", "bool"]
    properties: list[dict[str, object]] = [
        {"name": "email", "type": "string", "fieldType": "text", "hasUniqueValue": True}
    ]
    columns: dict[str, object] = {
        "hs_object_id": np.arange(1, n + 1).astype(str).astype(object),
        "createdate": pd.Series(
            pd.to_datetime(rng.integers(1.5e12, 1.7e12, n), unit="ms", utc=True)
        )
        .dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_numpy(dtype=object),
        "email": np.char.add(np.arange(n).astype(str), "@example.com").astype(object),
    }
    for i in range(width):
        kind = kinds[i % len(kinds)]
        name = f"p{i}"
        properties.append({"name": name, "type": kind, "fieldType": "text"})
        if kind == "number":
            values = rng.integers(0, 1000, n).astype(str).astype(object)
        elif kind == "datetime":
            values = columns["createdate"]
        elif kind == "date":
            values = np.full(n, "2024-01-31", dtype=object)
        else:
            values = np.full(n, f"value {i}", dtype=object)
        values = np.where(rng.random(n) < 0.3, None, values)
        columns[name] = values
    return properties, pd.DataFrame(columns, dtype=object)


def test_from_frame_ingests_twenty_thousand_contacts_of_sixty_properties() -> None:
    properties, seed = _synthetic(20_000, 60)
    store = Store.from_frame(properties, seed)
    assert len(store) == 20_000
    frame = store.frame()
    assert frame.index[0] == int(seed["hs_object_id"].iloc[0])
    assert frame["createdate"].iloc[-1] == seed["createdate"].iloc[-1]
