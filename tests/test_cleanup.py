"""The cleanup recipes: what each fixes, what it must leave alone, and that the frame stays
an hsframe frame (metadata kept, input untouched, only fixed cells in the change set)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

import hsframe as hs
from hsframe import baseline, cleanup
from hsframe.sandbox import Sandbox


@pytest.fixture(scope="module")
def sample() -> Iterator[pd.DataFrame]:
    """The 1,200 sample contacts (their mess is what the recipes are for)."""
    with Sandbox() as sb, hs.connect(token=sb.token, base_url=sb.url) as client:
        yield hs.read_contacts(client, progress=False)
    baseline.clear()


def frame_with(sample: pd.DataFrame, **columns: list[object]) -> pd.DataFrame:
    """The first rows of the sample with these values put in (one row per value)."""
    n = len(next(iter(columns.values())))
    df = sample.iloc[:n].copy()
    for name, values in columns.items():
        df[name] = pd.array(values, dtype=df[name].dtype)
    return df


def test_normalise_emails_strips_and_lowers_and_nothing_else(sample: pd.DataFrame) -> None:
    df = frame_with(
        sample,
        email=[" Ann.Lee@Contoso.Example\u00a0", "\tbob@example.com", None, "ok@example.org"],
    )
    fixed = cleanup.normalise_emails(df)
    assert fixed["email"].tolist()[:2] == ["ann.lee@contoso.example", "bob@example.com"]
    assert pd.isna(fixed["email"].iloc[2]) and fixed["email"].iloc[3] == "ok@example.org"
    assert df["email"].iloc[1] == "\tbob@example.com"  # the input is not changed
    changes = fixed.hs.changes(base=df)
    assert changes["property"].tolist() == ["email", "email"]


@pytest.mark.parametrize(
    ("typed", "tidy"),
    [
        ("O'BRIEN", "O'Brien"),
        ("o’brien", "O’Brien"),
        ("de la cruz", "de la Cruz"),
        ("VAN DER BERG", "van der Berg"),
        ("MCCARTHY", "McCarthy"),
        ("MÜLLER-LÜDENSCHEIDT", "Müller-Lüdenscheidt"),
        ("ó súilleabháin", "Ó Súilleabháin"),
        ("ДМИТРИЙ", "Дмитрий"),
        ("ΓΙΏΡΓΟΣ", "Γιώργος"),
        ("nguyễn", "Nguyễn"),
        ("VAN", "Van"),
        ("  Ann   Lee ", "Ann Lee"),
        ("van Dijk", "van Dijk"),  # mixed case: as typed
        ("McDonald", "McDonald"),
        ("王芳", "王芳"),
        ("J.R.", "J.R."),
    ],
)
def test_tidy_names(typed: str, tidy: str, sample: pd.DataFrame) -> None:
    df = frame_with(sample, lastname=[typed])
    assert cleanup.tidy_names(df)["lastname"].iloc[0] == tidy


@pytest.mark.parametrize(
    ("number", "country", "e164"),
    [
        ("(415) 555-0123 ext 12", "USA", "+14155550123 ext. 12"),
        ("1-303-555-0128", "U.S.", "+13035550128"),
        ("3035550141", "United States", "+13035550141"),
        ("020 7946 0958", "U.K.", "+442079460958"),
        ("+44 (0)20 7946 0178", None, "+442079460178"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("001 303 555 0144", None, "+13035550144"),
        ("+1 (512) 555-0101", "France", "+15125550101"),  # its own code wins
        ("01.99.00.21.09", "france", "+33199002109"),
        ("(02) 5550 1120", "Australia", "+61255501120"),
        ("415-555-0139", None, "415-555-0139"),  # no country: left
        ("555-0123", "USA", "555-0123"),  # too short for the plan: left
        ("020 7946 0958", "Narnia", "020 7946 0958"),  # unknown country: left
        ("call me", "USA", "call me"),
    ],
)
def test_format_phones(number: str, country: str | None, e164: str, sample: pd.DataFrame) -> None:
    df = frame_with(sample, phone=[number], country=[country])
    assert cleanup.format_phones(df)["phone"].iloc[0] == e164


def test_format_phones_finds_the_phone_columns(sample: pd.DataFrame) -> None:
    fixed = cleanup.format_phones(sample)
    changed = set(fixed.hs.changes(base=sample)["property"])
    assert changed <= {"phone", "mobilephone", "fax", "assistant_phone", "whatsapp_number"}
    assert {"phone", "mobilephone"} <= changed
    assert cleanup.format_phones(fixed).hs.changes(base=fixed).empty  # idempotent


def test_stale_values_lists_what_is_no_longer_an_option(sample: pd.DataFrame) -> None:
    stale = cleanup.stale_values(sample)
    found = {(p, v): o for p, v, _, o in stale.itertuples(index=False)}
    assert found[("lifecyclestage", "Lead")] == "lead"
    assert found[("industry", "Retail")] == "RETAIL"
    assert found[("hs_lead_status", "DEAD")] is None
    assert found[("product_interest", "website_builder")] is None  # one item of a multi-select
    assert stale["contacts"].is_monotonic_decreasing


def test_map_stale_options(sample: pd.DataFrame) -> None:
    mapping = {
        "hs_lead_status": {"DEAD": "UNQUALIFIED"},
        "product_interest": {"website_builder": None},
    }
    fixed = cleanup.map_stale_options(sample, mapping)
    left = cleanup.stale_values(fixed)
    assert "Lead" not in set(left["value"]) and "DEAD" not in set(left["value"])
    assert "website_builder" not in set(left["value"])
    changes = fixed.hs.changes(base=sample)
    dead = sample.index[sample["hs_lead_status"].astype(object) == "DEAD"]
    assert (fixed.loc[dead, "hs_lead_status"] == "UNQUALIFIED").all()
    interest = changes[changes["property"] == "product_interest"]
    assert not interest["new"].str.contains("website_builder", na=False).any()
    assert set(changes["property"]) <= {
        "lifecyclestage",
        "hs_lead_status",
        "industry",
        "customer_tier",
        "product_interest",
        "numemployees",
    }
    untouched = cleanup.map_stale_options(sample, obvious=False)
    assert untouched.hs.changes(base=sample).empty


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({"lifecyclestage": {"prospect": "Lead"}}, ValueError),
        ({"email": {"a": "b"}}, KeyError),
    ],
)
def test_map_stale_options_refuses_bad_mappings(
    mapping: dict[str, dict[str, str | None]], error: type[Exception], sample: pd.DataFrame
) -> None:
    with pytest.raises(error):
        cleanup.map_stale_options(sample, mapping)


def test_recipes_keep_the_frame_pushable(sample: pd.DataFrame) -> None:
    fixed = cleanup.map_stale_options(cleanup.tidy_names(cleanup.normalise_emails(sample)))
    assert fixed.attrs == sample.attrs
    assert sample.hs.changes().empty  # the loaded frame itself is untouched
    assert len(fixed.hs.changes()) > 100
