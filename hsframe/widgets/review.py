"""The review widget: the diff, what is wrong with it, a guarded Push, progress, and Undo.

A thin view over :class:`~hsframe.widgets.review_model.ReviewModel`: stock ipywidgets in a
``VBox`` (HTML panes for the counts, the diff, the failures, the conflicts and the result; a
"skip invalid rows" checkbox; Push and Undo buttons; an ``IntProgress`` bar). The model
decides what may happen and why not; this module renders its state after every change and
forwards clicks to it.

Everything shown from the frame goes through ``html.escape`` (contact data is user input:
a first name can hold markup), and long tables are capped with "… and N more": a notebook
output with 100,000 rows helps nobody and slows the browser.

Imported on first use by :func:`hsframe.widgets.review`, so that ``import hsframe`` does not
import ipywidgets.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import pandas as pd

from hsframe.widgets.review_model import Level, ReviewModel

__all__ = ["Review"]

_COLOURS: dict[Level, str] = {
    "info": "#57606a",
    "ok": "#1a7f37",
    "warning": "#9a6700",
    "error": "#cf222e",
}
_INVALID = "background:#ffebe9"
_CONFLICT = "background:#fff8c5"


class Review(widgets.VBox):
    """The review widget; build it with :func:`hsframe.widgets.review` (or ``df.hs.review()``).

    Args:
        model: The :class:`~hsframe.widgets.review_model.ReviewModel` to show.
        max_rows: Most rows shown in each table; the rest are counted.
        **kwargs: Passed to ``ipywidgets.VBox``.

    Attributes:
        counts: Contacts and cells changed, new contacts.
        table: The diff, old → new, invalid cells and conflicts highlighted.
        failures: The validation failures.
        conflicts: Cells changed in HubSpot since the load.
        skip_invalid: Push the valid rows and leave rows with invalid cells out.
        push_button: Disabled while :attr:`ReviewModel.blocked` gives a reason.
        blocked: That reason.
        progress: Contacts sent so far, during a push or an undo.
        result: The push's (and the undo's) result.
        undo_button: Takes the push back.
        message: What happened last.
    """

    def __init__(self, model: ReviewModel, *, max_rows: int = 50, **kwargs: Any) -> None:
        self.model = model
        self.max_rows = max_rows
        self._checks = -1  # the model's check the tables show
        self.counts = widgets.HTML()
        self.table = widgets.HTML()
        self.failures = widgets.HTML()
        self.conflicts = widgets.HTML()
        self.skip_invalid = widgets.Checkbox(
            value=model.skip_invalid,
            description="Skip invalid rows (push the rest)",
            indent=False,
        )
        self.push_button = widgets.Button(
            description="Push", button_style="warning", tooltip="Write these edits to HubSpot"
        )
        self.blocked = widgets.HTML()
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, description="Pushing", layout=widgets.Layout(display="none")
        )
        self.result = widgets.HTML()
        self.undo_button = widgets.Button(description="Undo", tooltip="Take the push back")
        self.message = widgets.HTML()
        self.skip_invalid.observe(self._on_skip, names="value")
        self.push_button.on_click(self._on_push)
        self.undo_button.on_click(self._on_undo)
        super().__init__(
            [
                widgets.HTML("<b>Review before pushing</b>"),
                self.counts,
                self.table,
                self.failures,
                self.conflicts,
                self.skip_invalid,
                widgets.HBox([self.push_button, self.undo_button]),
                self.blocked,
                self.progress,
                self.message,
                self.result,
            ],
            **kwargs,
        )
        self.add_class("hsframe-review")
        model.on_change(self._render)
        self._render(model)

    def __repr__(self) -> str:
        return repr(self.model).replace("ReviewModel", "Review", 1)

    # --- events --------------------------------------------------------------------------

    def _on_skip(self, change: dict[str, Any]) -> None:
        self.model.skip_invalid = bool(change["new"])

    def _on_push(self, _button: Any = None) -> None:
        self.model.push()

    def _on_undo(self, _button: Any = None) -> None:
        self.model.undo()

    # --- rendering -----------------------------------------------------------------------

    def _render(self, model: ReviewModel) -> None:
        # The tables change only with a check; progress events come once per batch.
        if model.checks != self._checks:
            self._checks = model.checks
            self.counts.value = _counts_html(model)
            self.table.value = _diff_html(model, self.max_rows)
            self.failures.value = _failures_html(model, self.max_rows)
            self.conflicts.value = _conflicts_html(model, self.max_rows)
        self.skip_invalid.value = model.skip_invalid
        self.skip_invalid.disabled = model.phase != "checked"
        self.push_button.disabled = not model.can_push
        reason = model.blocked
        self.blocked.value = (
            f"<div class='hsframe-blocked' style='color:{_COLOURS['warning']}'>"
            f"{html.escape(reason)}</div>"
            if reason and model.phase == "checked"
            else ""
        )
        self.undo_button.disabled = not model.can_undo
        done, total = model.progress
        running = model.phase in ("pushing", "undoing")
        shown = running or (model.phase in ("pushed", "undone") and total > 0)
        self.progress.layout.display = None if shown else "none"
        self.progress.description = "Undoing" if model.phase in ("undoing", "undone") else "Pushing"
        self.progress.max = max(total, 1)
        self.progress.value = min(done, self.progress.max)
        self.progress.bar_style = "" if running else "success"
        self.message.value = (
            f"<div class='hsframe-message hsframe-{model.level}' "
            f"style='color:{_COLOURS[model.level]};white-space:pre-wrap'>"
            f"{html.escape(model.message)}</div>"
            if model.message
            else ""
        )
        parts = [r._repr_html_() for r in (model.result, model.undo_result) if r is not None]
        self.result.value = "".join(parts)


def _text(value: Any) -> str:
    """A wire value for a table cell: escaped; unset in grey italics."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<i style='color:#57606a'>unset</i>"
    if value == "":
        return "<i style='color:#57606a'>cleared</i>"
    return html.escape(str(value))


def _more(total: int, shown: int, what: str) -> str:
    more = total - shown
    return f"<p>… and {more:,} more {what}</p>" if more > 0 else ""


def _counts_html(model: ReviewModel) -> str:
    s = model.summary
    if s is None:
        return ""
    return (
        "<p class='hsframe-counts'>"
        f"<b>{s.contacts:,}</b> contact{'s' * (s.contacts != 1)} and "
        f"<b>{s.cells:,}</b> cell{'s' * (s.cells != 1)} changed; "
        f"<b>{s.new_contacts:,}</b> new contact{'s' * (s.new_contacts != 1)}"
        + (f" ({s.new_cells:,} values)" if s.new_contacts else "")
        + "</p>"
    )


def _problems(model: ReviewModel) -> tuple[dict[tuple[int, str], str], dict[tuple[int, str], str]]:
    """Invalid cells and conflicting cells, keyed by (row, property), with what to say."""
    invalid: dict[tuple[int, str], str] = {}
    if model.report is not None:
        for record in model.report.failures.itertuples(index=False):
            if pd.isna(record.row):
                continue
            for name in str(record.property).split(", "):
                invalid.setdefault((int(record.row), name), str(record.message))
    conflicts: dict[tuple[int, str], str] = {}
    if len(model.conflicts):
        for record in model.conflicts.itertuples(index=False):
            remote = getattr(record, "remote", None)
            shown = "unset" if remote is None or pd.isna(remote) else str(remote)
            conflicts[(int(record.row), str(record.property))] = (
                f"changed in HubSpot since the load (now {shown})"
            )
    return invalid, conflicts


def _diff_html(model: ReviewModel, max_rows: int) -> str:
    changes = model.changes
    if changes.empty:
        return ""
    invalid, conflicts = _problems(model)
    bad_rows = model.invalid_rows
    records = list(changes.itertuples(index=False))

    def status(record: Any) -> tuple[int, str, str]:
        key = (int(record.row), str(record.property))
        if key in invalid:
            return 0, _INVALID, "invalid: " + invalid[key]
        if key in conflicts:
            return 1, _CONFLICT, "conflict: " + conflicts[key]
        if int(record.row) in bad_rows:
            return 2, _INVALID, "its row has invalid cells"
        return 3, "", ""

    # Problems first, so that a capped table still shows every one it can.
    ranked = sorted(((status(r), i, r) for i, r in enumerate(records)), key=lambda t: t[:2])
    lines = [
        "<tr><th>id</th><th>property</th><th>old</th><th></th><th>new</th><th>kind</th>"
        "<th>note</th></tr>"
    ]
    for (_, style, note), _, record in ranked[:max_rows]:
        who = (
            f"new (row {int(record.row)})"
            if pd.isna(record.id)
            else html.escape(str(int(record.id)))
        )
        lines.append(
            f"<tr class='hsframe-change' style='{style}'><td style='white-space:nowrap'>{who}</td>"
            f"<td><code>{html.escape(str(record.property))}</code></td>"
            f"<td>{_text(record.old)}</td><td>→</td><td>{_text(record.new)}</td>"
            f"<td>{html.escape(str(record.kind))}</td><td>{html.escape(note)}</td></tr>"
        )
    table = f"<table class='hsframe-diff'>{''.join(lines)}</table>"
    return table + _more(len(records), min(len(records), max_rows), "changed cells")


def _failures_html(model: ReviewModel, max_rows: int) -> str:
    report = model.report
    if report is None or report.ok:
        return ""
    failures = report.failures
    shown = failures[["id", "row", "property", "value", "message"]].head(max_rows)
    table = shown.to_html(index=False, na_rep="", escape=True, classes="hsframe-failures")
    n = len(failures)
    return (
        f"<p style='color:{_COLOURS['error']}'><b>{n:,} invalid cell{'s' * (n != 1)}</b> "
        "(never sent):</p>" + table + _more(n, len(shown), "failures")
    )


def _conflicts_html(model: ReviewModel, max_rows: int) -> str:
    conflicts = model.conflicts
    if not len(conflicts):
        return ""
    wanted = ("id", "property", "old", "new", "remote", "resolution")
    columns = [c for c in wanted if c in conflicts]
    shown = conflicts[columns].head(max_rows)
    table = shown.to_html(index=False, na_rep="", escape=True, classes="hsframe-conflicts")
    n = len(conflicts)
    action = "overwritten" if model.on_conflict == "overwrite" else "left as they are"
    return (
        f"<p style='color:{_COLOURS['warning']}'><b>{n:,} conflict{'s' * (n != 1)}</b>: "
        f"changed in HubSpot since the load; they will be {action}.</p>"
        + table
        + _more(n, len(shown), "conflicts")
    )
