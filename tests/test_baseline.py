"""The baseline registry: what each load looked like, kept apart from the user's edits."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

from hsframe import baseline
from hsframe.errors import HubSpotError
from hsframe.schema import Schema

SCHEMA = Schema.from_definitions([{"name": "email", "type": "string"}])


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    baseline.clear()
    yield
    baseline.clear()


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"email": pd.array(["a@b.co", None], dtype="string")},
        index=pd.Index(pd.array([1, 2], dtype="Int64"), name="id"),
    )


def test_register_and_get() -> None:
    original = frame()
    baseline.register("load-1", original, SCHEMA)
    pd.testing.assert_frame_equal(baseline.get("load-1"), original)
    assert baseline.schema("load-1") is SCHEMA
    assert baseline.load_ids() == ["load-1"]


def test_edits_to_the_users_frame_never_reach_the_baseline() -> None:
    original = frame()
    baseline.register("load-1", original)
    original.loc[1, "email"] = "changed@b.co"
    original["extra"] = 1
    kept = baseline.get("load-1")
    assert kept.loc[1, "email"] == "a@b.co" and "extra" not in kept


def test_edits_to_a_returned_copy_never_reach_the_registry() -> None:
    baseline.register("load-1", frame())
    first = baseline.get("load-1")
    first.loc[1, "email"] = "changed@b.co"
    assert baseline.get("load-1").loc[1, "email"] == "a@b.co"


def test_registering_again_moves_the_baseline_and_keeps_the_schema() -> None:
    baseline.register("load-1", frame(), SCHEMA)
    moved = frame().assign(email=["new@b.co", None])
    baseline.register("load-1", moved)
    assert baseline.get("load-1").loc[1, "email"] == "new@b.co"
    assert baseline.schema("load-1") is SCHEMA
    other = Schema.from_definitions([{"name": "email", "type": "string"}])
    baseline.register("load-1", moved, other)
    assert baseline.schema("load-1") is other


def test_missing_baseline_says_what_to_do() -> None:
    with pytest.raises(baseline.BaselineNotFoundError) as caught:
        baseline.get("nope")
    error = caught.value
    assert isinstance(error, HubSpotError) and isinstance(error, KeyError)
    assert "'nope'" in str(error) and "base=" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    with pytest.raises(baseline.BaselineNotFoundError):
        baseline.schema("nope")


def test_forget_and_clear() -> None:
    baseline.register("a", frame())
    baseline.register("b", frame())
    baseline.forget("a")
    baseline.forget("a")  # no error the second time
    assert baseline.load_ids() == ["b"]
    baseline.clear()
    assert baseline.load_ids() == []


def test_threads_can_register_at_once() -> None:
    def work(i: int) -> None:
        baseline.register(f"load-{i}", frame())
        baseline.get(f"load-{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(baseline.load_ids()) == 20
