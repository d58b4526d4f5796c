"""Tests for hsframe.send: mapping HubSpot's answers to inputs.

The mapping is pure, so it is tested with hand-made batches and answers; sending itself
(conflict checks, settling lost answers) is tested through pushes in test_write.py and
resumes in test_recovery.py.
"""

from __future__ import annotations

import pytest
from push_fixtures import DEFINITIONS

from hsframe.client import BatchResult
from hsframe.plan import Batch, Input
from hsframe.schema import Schema
from hsframe.send import outcome_of


@pytest.fixture
def schema() -> Schema:
    return Schema.from_definitions(DEFINITIONS)


def test_a_207_is_mapped_by_trace_id_never_by_position(schema: Schema) -> None:
    inputs = tuple(
        Input(row=r, id=None, trace=f"p:{r}", properties={"email": f"{r}@example.com"})
        for r in range(3)
    )
    batch = Batch(0, "create", 1, inputs)
    answer = BatchResult(
        207,
        results=[  # out of order, as HubSpot may answer
            {"id": "502", "objectWriteTraceId": "p:2", "properties": {"email": "2@example.com"}},
            {"id": "500", "objectWriteTraceId": "p:0", "properties": {"email": "0@example.com"}},
        ],
        errors=[
            {
                "category": "CONFLICT",
                "message": "Contact already exists. Existing ID: 77",
                "context": {"objectWriteTraceId": ["p:1"]},
            }
        ],
    )
    outcome = outcome_of(batch, answer, schema)
    by_row = {o.row: o for o in outcome.inputs}
    assert (by_row[0].id, by_row[0].created, by_row[0].applied) == (500, True, ("email",))
    assert (by_row[2].id, by_row[2].created) == (502, True)
    assert by_row[1].existing_id == 77 and "already exists" in by_row[1].failed["email"]


def test_a_value_that_did_not_stick_is_failed_not_applied(schema: Schema) -> None:
    item = Input(0, 9, "p:0", {"lifecyclestage": "lead", "jobtitle": "b"})
    answer = BatchResult(
        200,
        results=[
            {"id": "9", "properties": {"lifecyclestage": "customer", "jobtitle": "b"}},
        ],
    )
    outcome = outcome_of(Batch(0, "update", 1, (item,)), answer, schema)
    assert outcome.inputs[0].applied == ("jobtitle",)
    assert "HubSpot kept 'customer'" in outcome.inputs[0].failed["lifecyclestage"]


def test_an_input_the_answer_does_not_mention_is_unknown(schema: Schema) -> None:
    item = Input(0, 9, "p:0", {"jobtitle": "b"})
    outcome = outcome_of(Batch(0, "update", 1, (item,)), BatchResult(200), schema)
    assert outcome.inputs[0].unknown
