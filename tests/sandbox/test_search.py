"""Search: request parsing, every operator, query, sorting, cursors and the result cap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from crm_fixtures import PROPERTIES, contact, make_store

from hsframe.sandbox import search
from hsframe.sandbox.rules import epoch_ms
from hsframe.sandbox.store import SearchView, Store
from hsframe.sandbox.wire import ApiError

DEFS = {p["name"]: p for p in PROPERTIES}


def ids_for(store: Store, body: dict[str, Any]) -> list[int]:
    request = search.parse({"limit": 200, **body})
    view = store.search_view(request.referenced())
    rows, total = search.run(view, request, store.definitions)
    found = view.ids[rows].tolist()
    assert total == len(found)
    return [int(i) for i in found]


def one(name: str, operator: str, **value: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [{"propertyName": name, "operator": operator, **value}]}]}


BIRTHDAY_1985 = str(int(epoch_ms("1985-12-24", "date") or 0))


@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [
        ("email", "EQ", {"value": "ANN.LEE@EXAMPLE.COM"}, [101]),
        ("lastname", "EQ", {"value": "lee"}, [101, 104]),
        ("lastname", "NEQ", {"value": "LEE"}, [102, 103, 105]),
        ("score", "EQ", {"value": "10.0"}, [101]),
        ("score", "NEQ", {"value": "10"}, [102, 103, 104, 105]),
        ("score", "LT", {"value": "7"}, [103]),
        ("score", "LTE", {"value": "7"}, [103, 105]),
        ("score", "GT", {"value": "7"}, [101, 102]),
        ("score", "GTE", {"value": 10}, [101, 102]),
        ("score", "BETWEEN", {"value": "-3", "highValue": "10"}, [101, 103, 105]),
        ("score", "IN", {"values": ["7", "25.5"]}, [102, 105]),
        ("score", "NOT_IN", {"values": ["7", "25.5"]}, [101, 103, 104]),
        ("lifecyclestage", "IN", {"values": ["LEAD", "customer"]}, [101, 102]),
        ("lifecyclestage", "NOT_IN", {"values": ["lead", "customer"]}, [103, 104, 105]),
        ("email", "HAS_PROPERTY", {}, [101, 102, 103, 105]),
        ("email", "NOT_HAS_PROPERTY", {}, [104]),
        ("email", "NOT_HAS_PROPERTY", {"value": "ignored"}, [104]),
        ("company", "CONTAINS_TOKEN", {"value": "ACME"}, [101, 103]),
        ("company", "CONTAINS_TOKEN", {"value": "corp"}, [101]),
        ("company", "CONTAINS_TOKEN", {"value": "acme labs"}, [103]),
        ("company", "CONTAINS_TOKEN", {"value": "acm"}, []),
        ("company", "NOT_CONTAINS_TOKEN", {"value": "acme"}, [102, 104, 105]),
        ("email", "CONTAINS_TOKEN", {"value": "*@example.com"}, [101, 103]),
        ("email", "CONTAINS_TOKEN", {"value": "example"}, [101, 102, 103, 105]),
        ("email", "CONTAINS_TOKEN", {"value": "ann*"}, [101]),
        ("interests", "EQ", {"value": "chess"}, [101, 105]),
        ("interests", "IN", {"values": ["tennis", "GOLF"]}, [101, 102]),
        ("interests", "NEQ", {"value": "chess"}, [102, 103, 104]),
        ("interests", "CONTAINS_TOKEN", {"value": "golf"}, [101]),
        ("birthday", "GT", {"value": "1988-01-01"}, [101]),
        ("birthday", "EQ", {"value": BIRTHDAY_1985}, [102]),
        ("last_seen", "GTE", {"value": "2024-03-02"}, [102]),
        ("last_seen", "LT", {"value": "1709287200001"}, [101]),
        (
            "last_seen",
            "BETWEEN",
            {"value": "2024-03-01T00:00:00Z", "highValue": "2024-03-01T23:59:59Z"},
            [101],
        ),
        ("createdate", "GTE", {"value": "2023-01-01T00:00:00.000Z"}, [101, 102, 103, 104, 105]),
        ("hs_object_id", "IN", {"values": ["102", "104"]}, [102, 104]),
        ("firstname", "LT", {"value": "C"}, [101, 102]),
        ("firstname", "BETWEEN", {"value": "b", "highValue": "d"}, [102, 103]),
        ("firstname", "GTE", {"value": "dan"}, [104, 105]),
        ("vip", "EQ", {"value": "TRUE"}, [101]),
        ("ghost", "EQ", {"value": "x"}, []),
        ("ghost", "NEQ", {"value": "x"}, [101, 102, 103, 104, 105]),
        ("ghost", "NOT_HAS_PROPERTY", {}, [101, 102, 103, 104, 105]),
    ],
)
def test_operator(name: str, operator: str, value: dict[str, Any], expected: list[int]) -> None:
    assert ids_for(make_store(), one(name, operator, **value)) == expected


def test_filters_in_a_group_are_anded_and_groups_ored() -> None:
    store = make_store()
    window = [
        {"propertyName": "hs_object_id", "operator": "GTE", "value": "102"},
        {"propertyName": "hs_object_id", "operator": "LT", "value": "104"},
    ]
    assert ids_for(store, {"filterGroups": [{"filters": window}]}) == [102, 103]
    either = {
        "filterGroups": [
            {"filters": window},
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "eve"}]},
        ]
    }
    assert ids_for(store, either) == [102, 103, 105]
    assert ids_for(store, {}) == [101, 102, 103, 104, 105]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", [101, 103]),
        ("ANN lee", [101]),
        ("lee", [101, 104]),
        ("example.org", [102]),
        ("555", [101]),
        ("nn", []),
        ("acme globex", []),
    ],
)
def test_query_matches_token_prefixes_of_searchable_properties(
    query: str, expected: list[int]
) -> None:
    assert ids_for(make_store(), {"query": query}) == expected


@pytest.mark.parametrize(
    ("sorts", "expected"),
    [
        ([{"propertyName": "score", "direction": "DESCENDING"}], [102, 101, 105, 103, 104]),
        (["-score"], [102, 101, 105, 103, 104]),
        (["score"], [103, 105, 101, 102, 104]),
        ([{"propertyName": "score"}], [103, 105, 101, 102, 104]),
        (["lastname"], [103, 101, 104, 102, 105]),
        (["-lastname"], [102, 101, 104, 103, 105]),
        (["-hs_object_id", "score"], [105, 104, 103, 102, 101]),
        (["ghost"], [101, 102, 103, 104, 105]),
        ([], [101, 102, 103, 104, 105]),
    ],
)
def test_one_sort_with_unset_values_last(sorts: list[Any], expected: list[int]) -> None:
    assert ids_for(make_store(), {"sorts": sorts}) == expected


def test_archived_contacts_never_match() -> None:
    store = make_store()
    store.archive(101)
    assert ids_for(store, one("email", "CONTAINS_TOKEN", value="example")) == [102, 103, 105]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"filterGroups": [{"filters": []}] * 6}, "Too many filter groups (6)"),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "a", "operator": "HAS_PROPERTY"}] * 11}
                ]
            },
            "Too many filters in one group (11)",
        ),
        (
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "a", "operator": "HAS_PROPERTY"}] * 9}
                ]
                * 3
            },
            "Too many filters (27)",
        ),
        ({"limit": 201}, "at most 200"),
        ({"limit": 0}, "positive integer"),
        ({"limit": "many"}, "positive integer"),
        ({"after": "not-a-cursor"}, "Invalid paging cursor"),
        ({"after": search.encode_after(10_000)}, "limited to 10000"),
        ({"after": "12000"}, "limited to 10000"),
        (one("email", "EQ"), "needs a value"),
        (one("email", "LIKE", value="x"), "Invalid filter operator"),
        (one("email", "IN", values=[]), "non-empty values"),
        (one("score", "BETWEEN", value="1"), "highValue"),
        ({"filterGroups": [{"filters": [{"operator": "EQ", "value": "x"}]}]}, "propertyName"),
        ({"filterGroups": "all"}, "filterGroups must be a list"),
        ({"sorts": [{"propertyName": "score", "direction": "UP"}]}, "sort direction"),
        ({"sorts": [42]}, "A sort must be"),
        ({"query": "x" * 3001}, "3000"),
        ({"properties": "email"}, "properties must be a list"),
        ([], "JSON object"),
    ],
)
def test_bad_requests_are_400_validation_errors(body: Any, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        search.parse(body)
    assert caught.value.status == 400
    assert caught.value.category == "VALIDATION_ERROR"
    assert fragment in caught.value.message


def test_caps_are_configurable() -> None:
    limits = search.Limits(max_filter_groups=1, max_filters=2, max_filters_per_group=2)
    with pytest.raises(ApiError, match="filter groups"):
        search.parse({"filterGroups": [{"filters": []}] * 2}, limits)
    assert search.parse({"filterGroups": [{"filters": []}]}, limits).groups == ((),)


@pytest.mark.parametrize(
    ("name", "value"), [("score", "ten"), ("birthday", "soon"), ("last_seen", "1,000")]
)
def test_unparseable_values_for_typed_properties_are_400(name: str, value: str) -> None:
    with pytest.raises(ApiError, match="not a valid") as caught:
        ids_for(make_store(), one(name, "GT", value=value))
    assert caught.value.status == 400


@pytest.mark.parametrize("offset", [0, 1, 99, 9_999])
def test_cursors_are_opaque_and_round_trip(offset: int) -> None:
    cursor = search.encode_after(offset)
    assert not cursor.isdigit() and cursor != str(offset)
    assert search.decode_after(cursor) == offset
    assert search.decode_after(str(offset)) == offset
    assert search.decode_after(offset) == offset


def test_defaults() -> None:
    request = search.parse({})
    assert (request.limit, request.offset, request.groups, request.sort) == (10, 0, (), None)
    assert search.parse({"after": "0", "limit": None}).limit == 10


def test_results_stop_at_ten_thousand() -> None:
    n = 10_050
    view = SearchView(ids=np.arange(1, n + 1, dtype=np.int64), visible=np.ones(n, dtype=bool))
    last = search.parse({"limit": 200, "after": search.encode_after(9_900)})
    rows, total = search.run(view, last, DEFS)
    assert (len(rows), total) == (100, n)
    assert view.ids[rows][-1] == 10_000


def test_a_filtered_page_over_twenty_thousand_contacts_is_fast() -> None:
    rng = np.random.default_rng(1)
    stages = ["subscriber", "lead", "customer", "other"]
    rows = [
        contact(
            i,
            email=f"user{i}@example.com",
            firstname=f"Name{i % 97}",
            lifecyclestage=stages[i % 4],
            score=str(int(rng.integers(0, 100))),
            last_seen=f"2024-0{1 + i % 9}-15T12:00:00.000Z",
        )
        for i in range(1, 20_001)
    ]
    store = make_store(rows)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                    {"propertyName": "score", "operator": "GTE", "value": "50"},
                    {"propertyName": "last_seen", "operator": "GT", "value": "2024-03-01"},
                ]
            }
        ],
        "sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}],
        "limit": 100,
    }

    def page() -> int:
        request = search.parse(body)
        view = store.search_view(request.referenced())
        found, total = search.run(view, request, store.definitions)
        store.read(view.ids[found].tolist(), ["email", "firstname", "score"])
        return total

    assert page() > 0
