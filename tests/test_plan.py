"""Tests for hsframe.plan: cells into batch requests, with no request made."""

from __future__ import annotations

import pytest
from push_fixtures import DEFINITIONS

from hsframe.plan import Cell, plan_changes
from hsframe.schema import Schema


@pytest.fixture
def schema() -> Schema:
    return Schema.from_definitions(DEFINITIONS)


def test_plan_batches_hold_at_most_100_inputs_with_only_the_changed_properties(
    schema: Schema,
) -> None:
    cells = [Cell(row, 1000 + row, "jobtitle", "a", "b") for row in range(250)]
    cells += [Cell(7, 1007, "seats", "1", "2")]
    plan = plan_changes(cells, schema, push_id="p")
    assert [len(b.inputs) for b in plan.batches] == [100, 100, 50]
    by_id = {i.id: dict(i.properties) for b in plan.batches for i in b.inputs}
    assert by_id[1007] == {"jobtitle": "b", "seats": "2"}
    assert by_id[1008] == {"jobtitle": "b"}
    assert all(b.op == "update" and b.phase == 1 for b in plan.batches)


def test_plan_gives_every_input_a_deterministic_trace_id(schema: Schema) -> None:
    cells = [
        Cell(3, None, "email", None, "a@example.com", "create"),
        Cell(1, 5, "seats", None, "2"),
    ]
    first = plan_changes(cells, schema, push_id="abc")
    again = plan_changes(cells, schema, push_id="abc")
    traces = sorted(i.trace for b in first.batches for i in b.inputs)
    assert traces == ["abc:1", "abc:3"]
    assert first == again


def test_plan_sends_a_clear_as_the_empty_string_and_leaves_new_contacts_unset(
    schema: Schema,
) -> None:
    plan = plan_changes(
        [
            Cell(0, 11, "jobtitle", "CEO", None),
            Cell(1, None, "email", None, "n@example.com", "create"),
            Cell(1, None, "jobtitle", None, None, "create"),
        ],
        schema,
        push_id="p",
    )
    sent = {(b.op, i.row): dict(i.properties) for b in plan.batches for i in b.inputs}
    assert sent == {("update", 0): {"jobtitle": ""}, ("create", 1): {"email": "n@example.com"}}


@pytest.mark.parametrize(
    ("old", "new", "phases"),
    [
        ("customer", "lead", [1, 2]),  # backwards: clear, then set
        ("lead", "customer", [1]),  # forwards: direct
        ("customer", "other", [1]),  # other is outside the order
        (None, "lead", [1]),
        ("customer", None, [1]),  # clearing is direct
    ],
)
def test_plan_writes_a_backward_lifecycle_move_as_clear_then_set(
    schema: Schema, old: str | None, new: str | None, phases: list[int]
) -> None:
    cells = [Cell(0, 9, "lifecyclestage", old, new), Cell(0, 9, "jobtitle", "a", "b")]
    plan = plan_changes(cells, schema, push_id="p")
    assert [b.phase for b in plan.batches] == phases
    if phases == [1, 2]:
        first, second = plan.batches
        assert dict(first.inputs[0].properties) == {"lifecyclestage": "", "jobtitle": "b"}
        assert first.inputs[0].interim == ("lifecyclestage",)
        assert dict(second.inputs[0].properties) == {"lifecyclestage": "lead"}
    direct = plan_changes(cells, schema, push_id="p", lifecycle="direct")
    assert [b.phase for b in direct.batches] == [1]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (Cell(0, 1, "hs_object_id", "1", "2"), "read-only"),
        (Cell(0, 1, "no_such_property", "a", "b"), "not a contact property"),
        (Cell(0, 1, "seats", "1", "1,000"), "cannot be written"),
    ],
)
def test_plan_refuses_what_must_not_be_sent(schema: Schema, cell: Cell, reason: str) -> None:
    plan = plan_changes([cell], schema, push_id="p")
    assert not plan.batches
    assert reason in plan.skipped[0].reason
