"""Bulk corrections: one-off fixes from a CSV-like frame, keyed by email or id.

A push (:mod:`hsframe.write`) writes back the edits of a frame hsframe loaded, compared with
its baseline. Corrections come from elsewhere (a spreadsheet, a file a colleague sent): one
row per contact, a key column and the values to set, and no baseline to compare with. So
:func:`apply_corrections` finds its contacts itself (a batch read by email or id, then a
search for stored emails with spaces around them), compares them with what HubSpot holds now
and keeps only the cells that differ. From there it shares the push's path: the same
validation and gate, plan (:mod:`hsframe.plan`), conflict check, journal and verification,
through :func:`hsframe.write.run_plan`, and the same :class:`~hsframe.result.PushResult`.

Errors: :class:`CorrectionKeyError` (rows without a key, or two rows naming one contact)
before anything is sent; :class:`~hsframe.write.InvalidEditsError` as for a push.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from os import PathLike
from typing import Any, Literal

import numpy as np
import pandas as pd

from hsframe.client import Client, default_client
from hsframe.errors import HubSpotError
from hsframe.plan import Cell, Plan, Skip, new_push_id, plan_changes, wire_value
from hsframe.result import PushResult, tally
from hsframe.schema import CodecError, Schema
from hsframe.send import Canon, Header, OnConflict, Sender, int_or_none, now
from hsframe.validate import ValidationReport, validate
from hsframe.write import InvalidEditsError, OnInvalid, apply_gate, check_choice, run_plan

__all__ = ["CorrectionKeyError", "apply_corrections"]


# --- errors ------------------------------------------------------------------------------------


class CorrectionKeyError(HubSpotError, ValueError):
    """Corrections without a usable key, or two rows naming the same contact; nothing was
    sent (not even a lookup).

    The message names rows by position in the frame (``frame.iloc``);
    :meth:`describe` names them by line in the file they were read from (the command
    line does).

    Args:
        key: ``"email"`` or ``"id"``.
        missing: Positions of the rows without a usable key.
        repeated: ``(first, again, key)`` for each row that names the contact an earlier
            row names.

    Attributes:
        key: See Args.
        missing: See Args.
        repeated: See Args.

    Example:
        >>> print(CorrectionKeyError("email", missing=[1, 3]))
        2 correction rows have no usable email: rows 1, 3 (frame.iloc positions); nothing was sent.
        Give every row a key, or drop those rows.
        >>> CorrectionKeyError("email", missing=[1, 3]).describe([2, 3, 5, 6], "fixes.csv")
        '2 correction rows have no usable email: lines 3, 6 of fixes.csv; nothing was sent.'
    """

    def __init__(
        self,
        key: str,
        *,
        missing: Sequence[int] = (),
        repeated: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        self.key = key
        self.missing = tuple(missing)
        self.repeated = tuple(repeated)
        hint = (
            "Give every row a key, or drop those rows."
            if self.missing
            else "Keep one row per contact (merge their corrections into it)."
        )
        super().__init__(self.describe(), hint=hint)

    def describe(self, lines: Sequence[int] | None = None, source: str | None = None) -> str:
        """The message, naming rows by position, or by line of the file they came from.

        Args:
            lines: The file line of each row (``lines[position]``); None names positions.
            source: The file's name, for the message.

        Returns:
            The message (without the hint).
        """

        def number(position: int) -> int:
            return position if lines is None else lines[position]

        noun = "row" if lines is None else "line"
        where = " (frame.iloc positions)" if lines is None else f" of {source}" if source else ""
        if self.missing:
            count = len(self.missing)
            shown = ", ".join(str(number(p)) for p in self.missing[:20])
            shown += " ..." if count > 20 else ""
            return (
                f"{count} correction row{'s' * (count != 1)} {'have' if count != 1 else 'has'} "
                f"no usable {self.key}: {noun}{'s' * (count != 1)} {shown}{where}; nothing "
                "was sent."
            )
        compared = "stripped and lower-cased" if self.key == "email" else "as numbers"
        pairs = "; ".join(
            f"{value} in {noun}s {number(first)} and {number(again)}"
            for first, again, value in self.repeated[:10]
        )
        more = f"; and {len(self.repeated) - 10} more" if len(self.repeated) > 10 else ""
        return (
            f"The corrections name the same contact twice ({self.key}s compared {compared}): "
            f"{pairs}{more}{where}; nothing was sent."
        )


# --- corrections --------------------------------------------------------------------------------


def apply_corrections(
    frame: pd.DataFrame,
    *,
    key: Literal["email", "id"] = "email",
    client: Client | None = None,
    dry_run: bool = False,
    on_invalid: OnInvalid = "raise",
    on_conflict: OnConflict = "skip",
    progress: bool = True,
    journal_dir: str | PathLike[str] | None = None,
) -> PushResult:
    """Apply one-off bulk corrections from a CSV-like frame: one row per contact, a key
    column and the properties to set.

    The contacts are looked up (a batch read per 100 keys; by ``email`` with HubSpot's
    ``idProperty=email``), compared with what HubSpot holds now, and only the differing cells
    are written, through the same validation, conflict check, journal and verification as
    :func:`hsframe.write.push`. An empty cell (NA) is not a correction: that property is left
    as it is.

    With ``key="email"``, emails are matched stripped and lower-cased, and rows whose email
    HubSpot does not know become new contacts, written with **batch upsert by email**, not
    batch create: an upsert sent twice (after a lost answer, or by
    :func:`hsframe.recovery.resume`) updates the contact the first one created instead of
    creating a second, and a contact someone creates with that email in the meantime is
    updated, not duplicated. With ``key="id"``, only existing contacts are corrected; ids
    HubSpot does not know are reported in ``skipped``.

    **Stored emails with spaces around them.** Legacy imports leave emails such as
    ``" ann@example.com"`` in a portal. HubSpot's exact lookup by email may not find that
    contact for the key ``ann@example.com`` (whether its email identity ignores the spaces
    is unconfirmed), and the upsert would then create a second contact with the email. So
    emails the lookup did not find are searched for before their rows become new contacts:
    one ``CONTAINS_TOKEN`` filter on ``email`` per email, 5 per search (HubSpot's cap on
    filter groups; search tokenises on punctuation, so the spaces do not matter), and the
    candidates are kept only if their email, stripped and lower-cased, is the key. One
    candidate is the contact: it is corrected like any other, and its email loses the
    spaces (an update of ``email`` in the result). Several (the same email held twice with
    different spaces) refuse the row: it is reported in ``skipped``, naming the contacts,
    since hsframe cannot tell which one is meant; merge them in HubSpot, or key the row by
    id. None: the row is a new contact, as above. A contact created with spaces around its
    email a moment before the search may not be found yet (HubSpot's search index lags).

    Requests: one lookup per 100 rows; with ``key="email"``, one search per 5 emails the
    lookup did not find (more only if a search matches over 200 contacts); then as for a
    push (one conflict-check read and one write per 100 contacts changed, one upsert per
    100 new ones). Searches spend the search budget (5 a second), not the burst budget.

    Args:
        frame: The corrections: a key column (``email``, or ``id`` as a column or the
            index), and one column per property, values as typed or as wire strings
            (``"true"``, ``"2024-03-01"``). Columns that are not properties are reported in
            ``ignored``, never sent.
        key: ``"email"`` or ``"id"``.
        client: The connection; None uses the session's default.
        dry_run: Look up, compare, validate and check, but write nothing.
        on_invalid: As for :func:`hsframe.write.push`.
        on_conflict: As for :func:`hsframe.write.push`.
        progress: Show a progress bar.
        journal_dir: Where to write the journal.

    Returns:
        The :class:`~hsframe.result.PushResult`; ``row`` is the position in ``frame``, from 0
        (``frame.iloc[row]``), in the result, in its skip records and in every error. For a
        CSV read with one header line, that row is on line ``row + 2`` of the file.

    Raises:
        CorrectionKeyError: Rows without a key, or two rows with the same key (named by
            position; a ``ValueError``); nothing is sent.
        ValueError: The frame has no key column.
        InvalidEditsError: Corrections fail validation, or hold values the codec refuses
            (``"1,200"`` for a number), with ``on_invalid="raise"``; each is listed by
            row, property and value. With ``"skip"``, their rows are left out and
            reported in ``skipped`` with the contact id (None for a new contact).

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=20) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     first = sb.contacts()["email"].iloc[0]
        ...     fixes = pd.DataFrame({"email": [f" {first.upper()} ", "new@example.com"],
        ...                           "jobtitle": ["Buyer", "Analyst"]})
        ...     result = apply_corrections(fixes, client=client, progress=False,
        ...                                journal_dir=".")
        >>> sorted(result.applied["property"]), list(result.created)  # row 1 is new
        (['email', 'jobtitle', 'jobtitle'], [1])
    """
    check_choice("key", key, ("email", "id"))
    check_choice("on_invalid", on_invalid, ("raise", "skip"))
    check_choice("on_conflict", on_conflict, ("skip", "overwrite"))
    client = client if client is not None else default_client()
    schema = Schema.from_definitions(client.property_definitions())
    keys, columns, ignored = _correction_keys(frame, key, schema)
    push_id = new_push_id()
    header = Header(
        push_id=push_id,
        kind="corrections",
        portal_id=None,
        started_at=now(),
        dry_run=dry_run,
        on_conflict=on_conflict,
    )
    encoded, refused = _encode_corrections(frame, columns, schema)
    engine_requests = 0
    found: dict[str, dict[str, Any]] = {}
    doubts: dict[str, str] = {}
    if keys:
        lookup = Sender(client, schema, header, Plan(push_id), [])
        found, doubts = _look_up(lookup, list(keys.values()), columns, key)
        engine_requests = lookup.requests
    cells, skips = _correction_cells(keys, columns, encoded, found, doubts, key, Canon(schema))
    refused = [_with_contact(skip, keys[skip.row], found, key) for skip in refused]
    skips[:0] = refused
    report: ValidationReport | None = None
    if cells or refused:
        cells, report, gate_skips = _validate_rows(cells, schema, on_invalid, refused)
        skips.extend(gate_skips)
    plan = plan_changes(cells, schema, push_id=push_id, skipped=skips)
    if not plan.batches:
        result = tally(header, plan, [], requests=engine_requests, report=report, ignored=ignored)
        return result
    result = run_plan(
        client,
        schema,
        header,
        plan,
        progress=progress,
        journal_dir=journal_dir,
        report=report,
        ignored=ignored,
    )
    return replace(result, requests=result.requests + engine_requests)


def _look_up(
    lookup: Sender, keys: Sequence[str], columns: Sequence[str], key: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The contacts the corrections name (key → record), and the keys whose rows must be
    refused (key → why): emails that HubSpot's exact lookup did not find are searched for
    before their rows become new contacts (see :func:`apply_corrections`)."""
    found = lookup.read(keys, columns, by_email=key == "email")
    doubts: dict[str, str] = {}
    if key != "email":
        return found, doubts
    unfound = [k for k in keys if k not in found]
    for value, matches in lookup.search_emails(unfound, columns).items():
        if matches is None:
            doubts[value] = (
                "HubSpot's search cannot tell whether a contact holds this email with spaces "
                "around it (over 10,000 contacts share its words); key this row by id instead"
            )
        elif len(matches) == 1:
            found[value] = matches[0]
        elif matches:
            *others, last = [str(m.get("id")) for m in matches]
            doubts[value] = (
                f"contacts {', '.join(others)} and {last} all hold this email, with different "
                "spaces around it; merge them in HubSpot (Contacts › Actions › Merge), or key "
                "this row by id"
            )
    return found, doubts


def _correction_cells(
    keys: Mapping[int, str],
    columns: Sequence[str],
    encoded: Mapping[str, Sequence[str | None]],
    found: Mapping[str, Mapping[str, Any]],
    doubts: Mapping[str, str],
    key: str,
    canon: Canon,
) -> tuple[list[Cell], list[Skip]]:
    """The differing cells of the contacts found (updates), the cells of new ones (upserts
    by email), and the rows that cannot be written (skipped): ids HubSpot does not know,
    emails whose contact is in doubt (``doubts``)."""
    cells: list[Cell] = []
    skips: list[Skip] = []
    for row, value in keys.items():
        record = found.get(value)
        wanted = [(name, encoded[name][row]) for name in columns if encoded[name][row] is not None]
        if value in doubts:
            for name, new in [("email", value), *wanted]:
                skips.append(Skip(row, None, name, None, new, doubts[value]))
        elif record is None and key == "id":
            reason = "no contact with this id in HubSpot"
            skips.extend(Skip(row, int(value), name, None, new, reason) for name, new in wanted)
        elif record is None:
            cells.append(Cell(row, None, "email", None, value, "upsert"))
            cells.extend(Cell(row, None, name, None, new, "upsert") for name, new in wanted)
        else:
            contact = int_or_none(record.get("id"))
            remote = record.get("properties") or {}
            if key == "email":
                # Found by its email stripped: a stored email with spaces around it loses
                # them, so that HubSpot's exact lookup finds it next time.
                wanted.insert(0, ("email", str(remote.get("email") or value).strip()))
            for name, new in wanted:
                old = canon(name, remote.get(name))
                if not canon.same(name, old, new):
                    cells.append(Cell(row, contact, name, old, new, "update"))
    return cells, skips


def _gate_frame(cells: Sequence[Cell], index: pd.Index) -> pd.DataFrame:
    """The wire frame validation judges: the changed cells' new values, by row.

    Unchanged cells are left unset: in ``rows="changed"`` validation judges only changed
    cells (and new contacts, all of whose values are in the change set), so their values
    would be read and ignored. Corrections come from no loaded frame, so uniqueness is
    judged among the corrections themselves.
    """
    columns: dict[str, np.ndarray] = {}
    for cell in cells:
        column = columns.get(cell.property)
        if column is None:
            column = columns[cell.property] = np.full(len(index), None, dtype=object)
        if cell.new is None and cell.op == "update":
            column[cell.row] = ""  # clears the value
        else:
            column[cell.row] = cell.new
    ids = pd.Index(pd.array(index, dtype="Int64"), name="id")
    return pd.DataFrame({k: pd.Series(v, index=ids, dtype=object) for k, v in columns.items()})


def _validate(
    cells: Sequence[Cell], change_set: pd.DataFrame, index: pd.Index, schema: Schema
) -> ValidationReport:
    """Validate cells that come from no loaded frame (corrections), ``rows="changed"``."""
    return validate(_gate_frame(cells, index), schema, changed=change_set, rows="changed")


def _validate_rows(
    cells: list[Cell], schema: Schema, on_invalid: OnInvalid, refused: Sequence[Skip] = ()
) -> tuple[list[Cell], ValidationReport, list[Skip]]:
    """Validate corrections as a push validates edits, on the rows that change only.

    Rows are renumbered for validation and mapped back: a correction row whose contact was
    not found is no new contact to judge, and uniqueness is judged among the corrections.
    Values the codec refused (``refused``) join the report as failures, so that
    ``on_invalid="raise"`` names them and ``"skip"`` leaves their rows out like any other.
    """
    if not cells:
        report = ValidationReport(_refusals(refused))
        if on_invalid == "raise" and not report.ok:
            raise InvalidEditsError(report)
        return [], report, []
    rows = sorted({c.row for c in cells})
    compact = {row: n for n, row in enumerate(rows)}
    ids = pd.array([None] * len(rows), dtype="Int64")
    for cell in cells:
        if cell.id is not None:
            ids[compact[cell.row]] = cell.id
    renumbered = [replace(c, row=compact[c.row]) for c in cells]
    change_set = pd.DataFrame(
        {
            "id": pd.array([c.id for c in renumbered], dtype="Int64"),
            "row": [c.row for c in renumbered],
            "property": [c.property for c in renumbered],
            "old": [c.old for c in renumbered],
            "new": [c.new for c in renumbered],
            "kind": ["create" if c.op == "upsert" else "update" for c in renumbered],
        }
    )
    found = _validate(renumbered, change_set, pd.Index(ids), schema)
    failures = found.failures.assign(
        row=pd.array(
            [None if pd.isna(r) else rows[int(r)] for r in found.failures["row"]], dtype="Int64"
        )
    )
    if refused:
        failures = pd.concat([_refusals(refused), failures], ignore_index=True)
    report = ValidationReport(failures, rows=found.rows)
    kept, skips = apply_gate(cells, report, on_invalid)
    return kept, report, skips


def _refusals(refused: Sequence[Skip]) -> pd.DataFrame:
    """Values the codec refused, as validation failures (the columns of a report)."""
    return pd.DataFrame(
        {
            "id": pd.array([s.id for s in refused], dtype="Int64"),
            "row": pd.array([s.row for s in refused], dtype="Int64"),
            "property": [s.property for s in refused],
            "value": [s.new for s in refused],
            "expectation": ["expect_value_to_be_encodable"] * len(refused),
            "message": [
                f"{s.new} cannot be written: {s.reason.removeprefix('invalid: ')}" for s in refused
            ],
        }
    )


def _with_contact(skip: Skip, value: str, found: Mapping[str, Mapping[str, Any]], key: str) -> Skip:
    """A refused correction with the id of the contact its row names (None: a new one)."""
    if key == "id":
        return replace(skip, id=int(value))
    record = found.get(value)
    return replace(skip, id=None if record is None else int_or_none(record.get("id")))


def _correction_keys(
    frame: pd.DataFrame, key: str, schema: Schema
) -> tuple[dict[int, str], list[str], tuple[str, ...]]:
    """Row position → normalised key; the property columns; the ignored columns."""
    if key in frame.columns:
        raw = frame[key]
    elif frame.index.name == key:
        raw = frame.index.to_series()
    else:
        raise ValueError(f"the corrections have no {key!r} column (nor an index named {key!r})")
    values = raw.astype(object).to_numpy()
    keys: dict[int, str] = {}
    missing: list[int] = []
    for position, value in enumerate(values):
        text = None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
        if key == "email":
            text = str(text).strip().lower() if text is not None else ""
        else:
            try:
                number = float(text) if text is not None and str(text).strip() else math.nan
                text = str(int(number)) if number == number and float(number).is_integer() else ""
            except (TypeError, ValueError):
                text = ""
        if not text:
            missing.append(position)
        else:
            keys[position] = text
    if missing:
        raise CorrectionKeyError(key, missing=missing)
    seen: dict[str, int] = {}
    repeated: list[tuple[int, int, str]] = []
    for position, value in keys.items():
        if value in seen:
            repeated.append((seen[value], position, value))
        else:
            seen[value] = position
    if repeated:
        raise CorrectionKeyError(key, repeated=repeated)
    columns = [str(c) for c in frame.columns if c != key and c in schema and c != "id"]
    ignored = tuple(str(c) for c in frame.columns if c != key and c not in schema)
    return keys, columns, ignored


def _encode_corrections(
    frame: pd.DataFrame, columns: Sequence[str], schema: Schema
) -> tuple[dict[str, list[str | None]], list[Skip]]:
    """Each correction column in wire form (None: no correction); refused values as skips."""
    encoded: dict[str, list[str | None]] = {}
    refused: list[Skip] = []
    for name in columns:
        series = frame[name].reset_index(drop=True)
        try:
            wire = schema.encode(series.rename(name))
            assert isinstance(wire, pd.Series)
            encoded[name] = [wire_value(v) for v in wire.astype(object)]
        except CodecError:
            values: list[str | None] = []
            for position, value in enumerate(series.astype(object)):
                try:
                    values.append(schema.encode_value(name, value))
                except CodecError as exc:
                    values.append(None)
                    reason = exc.problems[0][2] if exc.problems else exc.message
                    refused.append(
                        Skip(position, None, name, None, repr(value), f"invalid: {reason}")
                    )
            encoded[name] = values
    return encoded, refused
