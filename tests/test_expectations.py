"""The public face of validation: what it exports, and the suite it builds from a schema.

``suite_from_schema`` is the one hsframe function that hands out a Great Expectations object,
so its contents are pinned here: which rule each property gets, how each expectation is
tagged, and that the suite is usable on its own, with plain GE, on ``wire.reset_index()``.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import Counter
from typing import Any

import pandas as pd
import pytest

import hsframe.expectations as expectations
import hsframe.rules as rules_module
import hsframe.validate as validate_module
from hsframe.rules import WIRE_PATTERNS
from hsframe.sandbox.seed import load_properties


def test_public_names_are_pinned() -> None:
    assert expectations.__all__ == [
        "FAILURE_COLUMNS",
        "WIRE_PATTERNS",
        "ValidationReport",
        "suite_from_schema",
        "validate",
    ]
    for name in expectations.__all__:
        home = rules_module if name in rules_module.__all__ else validate_module
        assert getattr(expectations, name) is getattr(home, name)


def test_importing_it_does_not_import_great_expectations() -> None:
    code = (
        "import sys, hsframe.expectations\n"
        "assert 'great_expectations' not in sys.modules, 'imported too early'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def portal() -> list[dict[str, Any]]:
    """The sample portal's property definitions (data/samples/properties.json)."""
    return load_properties()


@pytest.fixture(scope="module")
def suite(portal: list[dict[str, Any]]) -> Any:
    return expectations.suite_from_schema(portal)


def _rules(suite: Any) -> dict[tuple[str, str], Any]:
    return {
        (e.meta["hsframe"]["property"], e.meta["hsframe"]["rule"]): e for e in suite.expectations
    }


def test_it_is_a_great_expectations_suite_bound_to_no_context(suite: Any) -> None:
    gx = validate_module._engine().gx
    assert isinstance(suite, gx.ExpectationSuite)
    assert suite.name == "hsframe_schema"
    assert "." not in suite.name  # a file-backed GE project would nest dotted names
    assert suite.id is None
    assert suite.meta["hsframe"] == {"applies_to": "wire.reset_index()"}
    assert expectations.suite_from_schema([], name="mine").name == "mine"


def test_every_expectation_is_tagged_and_described(suite: Any) -> None:
    for expectation in suite.expectations:
        tag = expectation.meta["hsframe"]
        assert set(tag) >= {"rule", "property"}
        assert expectation.description


@pytest.mark.parametrize(
    ("prop", "rule", "expectation_type"),
    [
        ("lifecyclestage", "option", "expect_column_values_to_be_in_set"),  # radio
        ("industry", "option", "expect_column_values_to_be_in_set"),  # select
        ("hs_email_optout", "option", "expect_column_values_to_be_in_set"),  # booleancheckbox
        ("gdpr_delete_requested", "option", "expect_column_values_to_be_in_set"),  # hidden
        ("preferred_channels", "options", "expect_column_values_to_match_regex"),  # checkbox
        ("email", "email", "expect_column_values_to_match_regex"),
        ("work_email", "email", "expect_column_values_to_match_regex"),  # textDisplayHint
        ("seats", "number", "expect_column_values_to_match_regex"),
        ("renewal_date", "date", "expect_column_values_to_match_regex"),
        ("last_demo_at", "datetime", "expect_column_values_to_match_regex"),
        ("is_beta_tester", "bool", "expect_column_values_to_be_in_set"),
        ("email", "unique", "expect_column_values_to_be_unique"),
        ("customer_code", "unique", "expect_column_values_to_be_unique"),
        ("email", "identity", "expect_column_values_to_not_be_null"),
    ],
)
def test_each_property_gets_its_rule(
    suite: Any, prop: str, rule: str, expectation_type: str
) -> None:
    assert _rules(suite)[(prop, rule)].expectation_type == expectation_type


@pytest.mark.parametrize(
    "prop",
    [
        "createdate",  # read-only: never sent
        "hs_analytics_source",  # read-only enumeration
        "hs_object_id",  # read-only and calculated
        "full_name",  # calculated
        "hubspot_owner_id",  # externalOptions: the options live elsewhere
        "phone",  # stored verbatim
        "firstname",
    ],
)
def test_some_properties_get_no_rule_of_their_own(suite: Any, prop: str) -> None:
    assert not [key for key in _rules(suite) if key[0] == prop]


def test_rule_counts_follow_the_definitions(suite: Any, portal: list[dict[str, Any]]) -> None:
    counts = Counter(rule for _, rule in _rules(suite))
    writable = [p for p in portal if not p["modificationMetadata"]["readOnlyValue"]]
    writable = [p for p in writable if not p.get("calculated")]
    assert counts["number"] == sum(p["type"] == "number" for p in writable)
    assert counts["options"] == sum(p["fieldType"] == "checkbox" for p in writable)
    assert counts["identity"] == 1


def test_option_values_include_clearing_and_only_the_internal_values(suite: Any) -> None:
    stage = _rules(suite)[("lifecyclestage", "option")]
    assert "" in stage.value_set
    assert "lead" in stage.value_set and "Lead" not in stage.value_set
    assert _rules(suite)[("email", "unique")].meta["hsframe"]["casefold"] is True
    assert _rules(suite)[("customer_code", "unique")].meta["hsframe"]["casefold"] is False


def test_the_identity_rule_is_a_row_condition_on_new_contacts(suite: Any) -> None:
    identity = _rules(suite)[("email", "identity")]
    condition = identity.configuration.kwargs["row_condition"]
    assert condition["type"] == "and"
    names = [c["column"]["name"] for c in condition["conditions"]]
    assert names == ["id", "firstname", "lastname"]
    assert all(c["is_null"] for c in condition["conditions"])


def test_the_suite_runs_with_plain_great_expectations(suite: Any) -> None:
    """A user can take the suite elsewhere: on ``wire.reset_index()`` it finds bad formats."""
    gx = validate_module._engine().gx
    wire = pd.DataFrame(
        {
            "email": ["ann@example.com", "bob@example", None],
            "lifecyclestage": ["lead", "Customer", None],
            "firstname": ["Ann", "Bob", None],
            "lastname": [None, None, None],
        },
        index=pd.Index(pd.array([1, 2, None], dtype="Int64"), name="id"),
    )
    frame = wire.reset_index()
    chosen = [e for e in suite.expectations if all(c in frame.columns for c in _columns(e))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="ephemeral")
        batch = (
            context.data_sources.add_pandas("mine")
            .add_dataframe_asset("wire")
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        own = gx.ExpectationSuite(name="mine", expectations=[e.copy() for e in chosen])
        result = batch.validate(own, result_format="COMPLETE")
    failed = {
        (r.expectation_config.meta["hsframe"]["rule"], tuple(r.result["unexpected_index_list"]))
        for r in result.results
        if not r.success
    }
    assert failed == {("email", (1,)), ("option", (1,)), ("identity", (2,))}


def _columns(expectation: Any) -> list[str]:
    kwargs = expectation.configuration.kwargs
    condition = kwargs.get("row_condition") or {}
    columns = [kwargs["column"]]
    columns += [c["column"]["name"] for c in condition.get("conditions", [])]
    return columns


def test_wire_patterns_are_read_only() -> None:
    with pytest.raises(TypeError):
        WIRE_PATTERNS["email"] = ".*"  # type: ignore[index]
