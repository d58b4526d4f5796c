"""The review widget, driven as a user would (``.value``, ``.click()``), against the sandbox.

Each test loads a fresh sandbox's contacts over HTTP, edits them with pandas, and checks
what the widget shows and what HubSpot (the sandbox) holds after Push and Undo. Journals go
to the test's temporary directory.
"""

from __future__ import annotations

import doctest
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hsframe.client import READ_SCOPE, Client, connect, set_default_client
from hsframe.diff import add
from hsframe.errors import ServerError
from hsframe.load import read_contacts
from hsframe.sandbox import Sandbox
from hsframe.send import Sending
from hsframe.widgets import ReviewModel, review
from hsframe.widgets.review import Review
from hsframe.write import push

PROPERTIES = ["email", "firstname", "jobtitle", "lifecyclestage"]


@dataclass
class Loaded:
    sb: Sandbox
    client: Client
    df: pd.DataFrame
    journals: Path

    def review(self, **options: Any) -> Review:
        options.setdefault("journal_dir", self.journals)
        return review(self.df, self.client, **options)


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[Loaded]:
    with Sandbox(contacts=60) as sb:
        client = connect(token=sb.token, base_url=sb.url)
        df = read_contacts(client, properties=PROPERTIES, progress=False)
        yield Loaded(sb, client, df, tmp_path / "journals")
        client.close()


def _ids(df: pd.DataFrame, n: int, start: int = 0) -> list[int]:
    return [int(i) for i in df.index[start : start + n]]


def test_counts_and_the_diff_table(loaded: Loaded) -> None:
    df = loaded.df
    ids = _ids(df, 3)
    old = loaded.sb.contacts().loc[ids[0], "jobtitle"]
    df.loc[ids, "jobtitle"] = "Data steward"
    loaded.df = add(df, {"email": "new.person@example.com", "firstname": "Nova"})

    widget = loaded.review()

    assert "<b>3</b> contacts and <b>3</b> cells changed" in widget.counts.value
    assert "<b>1</b> new contact (2 values)" in widget.counts.value
    table = widget.table.value
    assert table.count("class='hsframe-change'") == 5
    assert "Data steward" in table and "new.person@example.com" in table
    assert "→" in table and "new (row" in table
    expected_old = "<i style='color:#57606a'>unset</i>" if old is None else str(old)
    assert expected_old.replace("&", "&amp;") in table
    assert widget.model.phase == "checked"
    assert not widget.push_button.disabled
    assert widget.undo_button.disabled
    assert widget.blocked.value == ""


def test_contact_data_is_escaped(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "jobtitle"] = "<script>alert('x')</script>"

    widget = loaded.review()

    assert "<script>" not in widget.table.value
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in widget.table.value


def test_long_diffs_are_capped_with_a_count(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 20), "jobtitle"] = "Data steward"

    widget = loaded.review(max_rows=5)

    assert widget.table.value.count("class='hsframe-change'") == 5
    assert "… and 15 more changed cells" in widget.table.value


def test_invalid_rows_disable_push_until_skip_is_ticked(loaded: Loaded) -> None:
    df = loaded.df
    good, bad = _ids(df, 2)
    df.loc[good, "jobtitle"] = "Data steward"
    df.loc[bad, "email"] = "not an email"
    before = loaded.sb.contacts().loc[bad, "email"]

    widget = loaded.review()

    assert widget.push_button.disabled
    assert "1 row with invalid cells" in widget.blocked.value
    assert "1 invalid cell" in widget.failures.value and "not an email" in widget.failures.value
    assert "background:#ffebe9" in widget.table.value  # the invalid cell is highlighted
    assert "invalid: " in widget.table.value
    widget.push_button.click()  # a disabled button does nothing, even if clicked
    assert widget.model.phase == "checked"
    assert loaded.sb.contacts().loc[good, "jobtitle"] != "Data steward"

    widget.skip_invalid.value = True
    assert not widget.push_button.disabled and widget.blocked.value == ""
    widget.push_button.click()

    after = loaded.sb.contacts()
    assert after.loc[good, "jobtitle"] == "Data steward"
    assert after.loc[bad, "email"] == before
    assert widget.model.result is not None and len(widget.model.result.skipped) == 1


def test_push_writes_with_progress_and_undo_restores(loaded: Loaded) -> None:
    df = loaded.df
    ids = _ids(df, 4)
    before = loaded.sb.contacts().loc[ids, "jobtitle"].copy()
    df.loc[ids, "jobtitle"] = "Data steward"
    widget = loaded.review()
    seen: list[tuple[int, int]] = []
    widget.model.on_change(lambda model: seen.append(model.progress))

    widget.push_button.click()

    assert widget.model.phase == "pushed"
    assert (loaded.sb.contacts().loc[ids, "jobtitle"] == "Data steward").all()
    assert (widget.progress.value, widget.progress.max) == (4, 4)
    assert widget.progress.layout.display is None  # shown
    assert (0, 4) in seen and seen[-1] == (4, 4)
    assert "Pushed. Undo takes it back." in widget.message.value
    assert "Push: 4 cells applied" in widget.result.value and "Journal" in widget.result.value
    assert widget.push_button.disabled and not widget.undo_button.disabled

    widget.undo_button.click()

    assert widget.model.phase == "undone"
    restored = loaded.sb.contacts().loc[ids, "jobtitle"]
    pd.testing.assert_series_equal(restored, before)
    assert "Undone." in widget.message.value
    assert "Undo: 4 cells applied" in widget.result.value
    assert widget.progress.description == "Undoing"
    assert widget.undo_button.disabled and widget.push_button.disabled


def test_progress_follows_the_batches(tmp_path: Path) -> None:
    with Sandbox(contacts=150) as sb:
        client = connect(token=sb.token, base_url=sb.url)
        df = read_contacts(client, properties=["jobtitle"], progress=False)
        df["jobtitle"] = "Data steward"
        widget = review(df, client, journal_dir=tmp_path)
        seen: list[tuple[int, int]] = []
        widget.model.on_change(lambda model: seen.append(model.progress))

        widget.push_button.click()
        client.close()

    progress = [done for done, total in seen if total == 150]
    assert progress == sorted(progress) and progress[-1] == 150
    assert {50, 100} & set(progress)  # one batch showed before the other one was done


def test_a_read_only_token_cannot_push_and_says_why(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "jobtitle"] = "Data steward"
    reader = connect(token=loaded.sb.issue_token([READ_SCOPE]), base_url=loaded.sb.url)

    widget = review(loaded.df, reader, journal_dir=loaded.journals)

    assert widget.push_button.disabled
    assert "cannot write" in widget.blocked.value
    assert "crm.objects.contacts.write" in widget.blocked.value
    assert "Scopes" in widget.blocked.value
    reader.close()


def test_conflicts_are_shown_and_left_alone(loaded: Loaded) -> None:
    df = loaded.df
    mine, theirs = _ids(df, 2)
    df.loc[[mine, theirs], "jobtitle"] = "Data steward"
    loaded.client.batch_update([{"id": str(theirs), "properties": {"jobtitle": "Changed in CRM"}}])

    widget = loaded.review()

    assert "1 conflict" in widget.conflicts.value and "Changed in CRM" in widget.conflicts.value
    assert "left as they are" in widget.conflicts.value
    assert "conflict: changed in HubSpot since the load (now Changed in CRM)" in (
        widget.table.value
    )
    assert "background:#fff8c5" in widget.table.value
    assert not widget.push_button.disabled

    widget.push_button.click()

    after = loaded.sb.contacts()
    assert after.loc[mine, "jobtitle"] == "Data steward"
    assert after.loc[theirs, "jobtitle"] == "Changed in CRM"
    assert "Pushed, with 1 conflict left alone" in widget.message.value
    assert "Conflicts:" in widget.result.value


def test_without_a_connection_it_validates_locally_and_says_how_to_connect(
    loaded: Loaded,
) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "email"] = "not an email"
    set_default_client(None)

    widget = review(loaded.df, journal_dir=loaded.journals)

    assert widget.model.token is None
    assert "not an email" in widget.failures.value  # validation ran without HubSpot
    assert widget.push_button.disabled
    assert "No connection to HubSpot" in widget.blocked.value
    assert "token_form" in widget.blocked.value


def test_the_default_client_is_used_when_none_is_given(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "jobtitle"] = "Data steward"

    widget = review(loaded.df, journal_dir=loaded.journals)  # connect() set the default

    assert widget.model.can_write is True and not widget.push_button.disabled


def test_no_edits_nothing_to_push(loaded: Loaded) -> None:
    widget = loaded.review()

    assert widget.push_button.disabled
    assert "No edits" in widget.message.value
    assert widget.table.value == ""


def test_a_token_refused_at_check_time_blocks_push_and_says_why(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "jobtitle"] = "Data steward"
    loaded.sb.rotate_token()

    widget = loaded.review()

    assert widget.push_button.disabled
    assert "did not confirm this token" in widget.blocked.value
    assert "rotated" in widget.message.value
    assert widget.model.report is not None  # validated locally all the same


def test_a_rotated_token_at_push_time_is_a_message_not_a_traceback(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 2), "jobtitle"] = "Data steward"
    widget = loaded.review()
    loaded.sb.rotate_token()

    widget.push_button.click()

    assert widget.model.phase == "checked"
    assert widget.model.level == "error"
    assert "rotated" in widget.message.value and "Traceback" not in widget.message.value
    assert not widget.push_button.disabled  # try again once the token is fixed


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"status": 401}, "rotated"),
        ({"status": 429, "policy": "DAILY"}, "daily"),
    ],
    ids=["token-refused", "daily-limit"],
)
def test_an_interrupted_push_keeps_what_landed_and_says_how_to_finish(
    tmp_path: Path, fault: dict[str, Any], said: str
) -> None:
    """The second batch is refused: the first one landed and is shown; Undo waits until the
    push is finished (hs.resume), since some writes may have landed unrecorded."""
    with Sandbox(contacts=150) as sb:
        client = connect(token=sb.token, base_url=sb.url, max_concurrency=1)  # in order
        df = read_contacts(client, properties=["jobtitle"], progress=False)
        df["jobtitle"] = "Data steward"

        def refuse_second_batch(event: Any) -> None:
            if isinstance(event, Sending) and event.batch.index == 1:
                sb.inject(path="/batch/update", **fault)

        def pusher(*args: Any, **kwargs: Any) -> Any:
            kwargs["listeners"] = [*kwargs.get("listeners", ()), refuse_second_batch]
            return push(*args, **kwargs)

        model = ReviewModel(df, client, journal_dir=tmp_path, pusher=pusher)
        model.check()
        widget = Review(model)

        widget.push_button.click()
        client.close()

        assert model.phase == "pushed" and model.level == "error"
        assert said in widget.message.value.lower()
        assert "hs.resume(" in widget.message.value
        assert "Traceback" not in widget.message.value
        assert model.result is not None and not model.result.complete
        assert len(model.result.applied) == 100
        assert (sb.contacts()["jobtitle"] == "Data steward").sum() == 100
        assert widget.undo_button.disabled and widget.push_button.disabled


def test_unexpected_errors_are_messages(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 1), "jobtitle"] = "Data steward"

    def broken(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("dry_run"):
            return push(*args, **kwargs)
        raise ServerError("HubSpot had a bad day.", status=503)

    model = ReviewModel(loaded.df, loaded.client, journal_dir=loaded.journals, pusher=broken)
    model.check()
    widget = Review(model)
    widget.push_button.click()
    assert "HubSpot had a bad day." in widget.message.value
    assert model.phase == "checked"

    def buggy(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("oops")

    model = ReviewModel(loaded.df, loaded.client, journal_dir=loaded.journals, pusher=buggy)
    model.check()
    widget = Review(model)
    assert "The conflict check failed unexpectedly: KeyError" in widget.message.value
    assert model.report is not None and model.report.ok  # validated locally instead
    widget.push_button.click()
    assert "The push failed unexpectedly: KeyError" in widget.message.value


@pytest.mark.parametrize("module", ["hsframe.widgets", "hsframe.widgets.review_model"])
def test_docstring_examples_run(module: str) -> None:
    """The examples in the package's and the review model's docstrings run as written."""
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_an_undo_that_fails_is_a_message_and_can_be_tried_again(loaded: Loaded) -> None:
    loaded.df.loc[_ids(loaded.df, 2), "jobtitle"] = "Data steward"

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise ServerError("HubSpot is down for maintenance.", status=503)

    model = ReviewModel(loaded.df, loaded.client, journal_dir=loaded.journals, undoer=refused)
    model.check()
    widget = Review(model)
    widget.push_button.click()

    widget.undo_button.click()

    assert model.phase == "pushed" and model.level == "error"
    assert "HubSpot is down for maintenance." in widget.message.value
    assert not widget.undo_button.disabled
