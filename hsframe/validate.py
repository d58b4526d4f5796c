"""Validation of edits before they are written: Great Expectations, judged on wire form.

HubSpot refuses a write for one bad value: a label where an option value belongs, a number
with a thousands separator, a malformed email, a read-only property (hubspot-api.md §3.3,
§5.3, §5.4). A bulk correction in a notebook must find those cells before anything is sent,
name each one by contact id and property, and say what to do about it. This module does that.
Which rules apply to which property, and why they judge wire form, is :mod:`hsframe.rules`;
this module is where they become Great Expectations (GE), the only one that imports GE.

**The schema suite** (:func:`suite_from_schema`) is an ordinary GE ``ExpectationSuite``
built from the definitions, one expectation per rule, each tagged in its ``meta`` with
``{"hsframe": {"rule": ..., "property": ...}}``:

========== ===============================================================
rule       expectation
========== ===============================================================
option     ``ExpectColumnValuesToBeInSet`` (the option values + ``""``)
options    ``ExpectColumnValuesToMatchRegex`` (``a;b;c``)
email      ``ExpectColumnValuesToMatchRegex``
number     ``ExpectColumnValuesToMatchRegex``
date       ``ExpectColumnValuesToMatchRegex``
datetime   ``ExpectColumnValuesToMatchRegex``
bool       ``ExpectColumnValuesToBeInSet`` (true/false)
unique     ``ExpectColumnValuesToBeUnique``
identity   ``ExpectColumnValuesToNotBeNull`` on ``email`` where ``id``,
           ``firstname``, ``lastname`` are null
========== ===============================================================

The suite applies to ``wire.reset_index()``: the id is a column named ``id``. Two rules need
this module's help to mean what they say, which is why GE runs inside :func:`validate`
rather than on the raw frame: uniqueness ignores ``""`` and compares emails
case-insensitively and without surrounding spaces (HubSpot treats ``Ann@x.com`` and
``ann@x.com`` as the same contact, and ``" ann@x.com"``, left by an old import, is the same
person's address whatever HubSpot's lookup makes of the spaces; other unique properties are
compared exactly), and the identity rule treats ``""`` on a new contact as unset.

**Read-only properties unchanged** and **properties that exist** are not questions about one
frame but about the change set, so they are checked here in pandas, from ``changed``, and
reported in the same table.

**Changed cells only.** The push gate (``rows="changed"``) judges only the cells the user
changed (from the change set, plus every value of a new contact), and row-level rules:
uniqueness across the whole column and the identity of new contacts. Old mess elsewhere in a
row never blocks an unrelated fix. ``rows="all"`` judges everything, for analysis.

**Keeping GE fast and quiet.** GE takes a few seconds to import and tens of milliseconds
per expectation, so it is imported on the first validation only, and it is given just the
rows and columns that matter: in changed mode, the changed rows with every unchanged cell
blanked out (GE skips nulls), plus whole columns for uniqueness. It runs in an in-memory
(ephemeral) data context that writes no files, with progress bars switched off in the
context's ``progress_bars`` setting (GE otherwise draws a tqdm bar per validation on
stderr); after each run an empty frame is loaded in its place, since GE holds on to the last
batch's data; and GE's own warnings are silenced around its calls. Failures are mapped back
to rows through GE's ``unexpected_index_list`` (result format ``COMPLETE``) on a positional
index; its ``unexpected_list`` is capped at 200 values even then, so values are read back
from the wire frame. Callers never see a GE object (but for :func:`suite_from_schema`):
they get a :class:`ValidationReport`.

**Module state.** One per-process cache (:func:`_engine`): GE's module, the ephemeral
context with its one pandas asset, and a lock that serialises GE runs. It holds no user data
between calls.
"""

from __future__ import annotations

import functools
import html
import json
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from hsframe import diff
from hsframe.rules import (
    BOOL_VALUES,
    WIRE_PATTERNS,
    Definition,
    identity_columns,
    identity_text,
    multi_pattern,
    parse_definitions,
    rules_of,
)

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

__all__ = [
    "FAILURE_COLUMNS",
    "ValidationReport",
    "suite_from_schema",
    "validate",
    "validate_frame",
]

Rows = Literal["changed", "all"]

#: The columns of :attr:`ValidationReport.failures`, in order.
FAILURE_COLUMNS = ("id", "row", "property", "value", "expectation", "message")

_REF = "hsframe_ref"  # meta key that ties a copied user expectation to its result
_READ_ONLY = "expect_read_only_property_unchanged"
_EXISTS = "expect_property_to_exist"
# Map expectations whose verdict on one row depends on other rows: given whole columns.
_FRAME_WIDE_MAPS = frozenset(
    {
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_multicolumn_values_to_be_unique",
        "expect_column_values_to_be_increasing",
        "expect_column_values_to_be_decreasing",
    }
)
_HTML_ROWS = 50


# --- the GE engine, imported on first use ------------------------------------------------

_RESULT_FORMAT = {
    "result_format": "COMPLETE",  # the full unexpected_index_list
    "partial_unexpected_count": 0,  # no "most common values" summary
    "return_unexpected_index_query": False,  # no query string over every failing index
}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence GE's own warnings (deprecations of its dependencies, its internal notices)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class _Engine:
    """GE's module and an ephemeral data context with one pandas asset, built once.

    Get it from :func:`_engine`; every GE run goes through :meth:`run`, which holds the lock
    and leaves no user data inside GE.
    """

    gx: ModuleType
    context: Any
    batches: Any  # the asset's whole-dataframe batch definition
    lock: threading.Lock
    import_seconds: float

    def run(self, frame: pd.DataFrame, expectations: Sequence[Any]) -> list[Any]:
        """Validate one frame; GE's results, one per expectation (in GE's own order)."""
        if not expectations:
            return []
        with self.lock, _quiet():
            try:
                batch = self.batches.get_batch(batch_parameters={"dataframe": frame})
                suite = self.gx.ExpectationSuite(name="hsframe_run", expectations=expectations)
                result = batch.validate(suite, result_format=_RESULT_FORMAT)
            finally:
                # GE keeps the last batch's data until the next one is loaded: load an empty
                # one, so that no user frame outlives the call inside GE.
                empty = self.batches.get_batch(batch_parameters={"dataframe": pd.DataFrame()})
                empty.validate(self.gx.ExpectationSuite(name="hsframe_release"))
        return list(result.results)


@functools.cache
def _engine() -> _Engine:
    """Import GE and build the ephemeral context (the only module state; no user data)."""
    start = time.perf_counter()
    with _quiet():
        import great_expectations as gx
        from great_expectations.data_context.data_context.context_factory import project_manager
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.exceptions import DataContextRequiredError

        # get_context() also makes the new context the process's "current" one; a notebook
        # that uses GE for its own work keeps its context.
        try:
            previous = project_manager.get_current_project()
        except DataContextRequiredError:
            previous = None
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        batches = (
            context.data_sources.add_pandas("hsframe")
            .add_dataframe_asset("wire")
            .add_batch_definition_whole_dataframe("whole")
        )
        if previous is not None:
            project_manager.set_project(previous)
    return _Engine(gx, context, batches, threading.Lock(), time.perf_counter() - start)


# --- the schema suite --------------------------------------------------------------------


def _schema_expectations(
    definitions: Mapping[str, Definition],
    columns: Iterable[str] | None = None,
    *,
    identity: bool = True,
) -> list[Expectation]:
    """The schema suite's expectations (for some columns only, if given).

    :func:`suite_from_schema` takes them all; :func:`validate` builds them per run for the
    columns it judges, with ``identity`` only when there are new contacts.
    """
    gx = _engine().gx
    from great_expectations.expectations.row_conditions import Column

    wanted = list(definitions) if columns is None else [c for c in columns if c in definitions]
    made: list[Expectation] = []
    with _quiet():
        for name in wanted:
            definition = definitions[name]
            made.extend(_expectation(gx, rule, definition) for rule in rules_of(definition))
        names = identity_columns(definitions)
        if identity and names:
            condition: Any = Column("id").is_null()
            for other in names[1:]:
                condition = condition & Column(other).is_null()
            made.append(
                gx.expectations.ExpectColumnValuesToNotBeNull(
                    column=names[0],
                    row_condition=condition,
                    description=identity_text(names),
                    meta={"hsframe": {"rule": "identity", "property": names[0]}},
                )
            )
    return made


def _expectation(gx: ModuleType, rule: str, definition: Definition) -> Expectation:
    """One schema expectation for one rule of one property."""
    name = definition.name
    meta: dict[str, Any] = {"hsframe": {"rule": rule, "property": name}}
    expect = gx.expectations
    if rule == "option":
        return expect.ExpectColumnValuesToBeInSet(
            column=name,
            value_set=[*definition.options, ""],
            description=f"{name} holds one of its option values",
            meta=meta,
        )
    if rule == "options":
        return expect.ExpectColumnValuesToMatchRegex(
            column=name,
            regex=multi_pattern(definition.options),
            description=f"{name} holds option values joined with ';'",
            meta=meta,
        )
    if rule == "bool":
        return expect.ExpectColumnValuesToBeInSet(
            column=name,
            value_set=[*BOOL_VALUES, ""],
            description=f"{name} is true or false",
            meta=meta,
        )
    if rule == "unique":
        casefold = name == "email"
        meta["hsframe"]["casefold"] = casefold
        return expect.ExpectColumnValuesToBeUnique(
            column=name,
            description=f"no two contacts share a {name}"
            + " (ignoring case and surrounding spaces)" * casefold,
            meta=meta,
        )
    return expect.ExpectColumnValuesToMatchRegex(
        column=name,
        regex=WIRE_PATTERNS[rule],
        description=f"{name} is in HubSpot's {rule} format",
        meta=meta,
    )


def suite_from_schema(properties: Any, *, name: str = "hsframe_schema") -> ExpectationSuite:
    """Build a Great Expectations suite from the portal's property definitions.

    The one hsframe function that hands you a GE object, so that you can inspect the rules,
    extend them, or use them elsewhere. :func:`validate` builds the same rules itself.

    Args:
        properties: The property definitions: the ``results`` list of
            ``GET /crm/v3/properties/contacts`` (or the whole response).
        name: The suite's name. No dots: a file-backed GE project stores a dotted name as
            nested directories.

    Returns:
        An ``ExpectationSuite`` bound to no data context, whose expectations apply to
        ``wire.reset_index()`` (a wire frame with its id as the column ``id``). Each carries
        ``meta["hsframe"]`` = ``{"rule": ..., "property": ...}``; the rules are listed in
        this module's docstring.

    Example:
        >>> props = [
        ...     {"name": "email", "type": "string", "fieldType": "text"},
        ...     {"name": "lifecyclestage", "type": "enumeration", "fieldType": "radio",
        ...      "options": [{"label": "Lead", "value": "lead"},
        ...                  {"label": "Customer", "value": "customer"}]},
        ... ]
        >>> suite = suite_from_schema(props)
        >>> [(e.expectation_type, e.meta["hsframe"]["rule"]) for e in suite.expectations]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('expect_column_values_to_match_regex', 'email'),
         ('expect_column_values_to_be_unique', 'unique'),
         ('expect_column_values_to_be_in_set', 'option'),
         ('expect_column_values_to_not_be_null', 'identity')]
    """
    definitions = parse_definitions(properties)
    expectations = _schema_expectations(definitions)
    gx = _engine().gx
    with _quiet():
        return gx.ExpectationSuite(
            name=name,
            expectations=expectations,
            meta={"hsframe": {"applies_to": "wire.reset_index()"}},
        )


# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class ValidationReport:
    """What validation found: one row per failing cell, with its contact id.

    Attributes:
        failures: A DataFrame with the columns :data:`FAILURE_COLUMNS`: ``id`` (the contact
            id, ``NA`` for a new contact or a frame-level finding), ``row`` (the row's
            position in the validated frame, which also locates new contacts), ``property``
            (a column name, or several joined with ``", "`` for a row-level rule), ``value``
            (the wire string, or None), ``expectation`` (GE's expectation type, or hsframe's
            ``expect_read_only_property_unchanged`` / ``expect_property_to_exist``) and
            ``message`` (what is wrong and what to do).
        rows: ``"changed"`` or ``"all"``, as validated.

    Example:
        >>> report = ValidationReport(pd.DataFrame(columns=list(FAILURE_COLUMNS)))
        >>> report.ok, report.invalid_ids
        (True, frozenset())
        >>> print(report)
        ValidationReport: ok, no failures (rows="changed")
    """

    failures: pd.DataFrame
    rows: str = "changed"

    @property
    def ok(self) -> bool:
        """True when nothing failed: the push gate lets everything through."""
        return len(self.failures) == 0

    @property
    def invalid_ids(self) -> frozenset[int]:
        """Ids of the existing contacts with a failing cell (for ``on_invalid="skip"``)."""
        ids = self.failures["id"].dropna()
        return frozenset(int(i) for i in ids)

    @property
    def invalid_rows(self) -> frozenset[int]:
        """Positions of the rows with a failing cell, new contacts included."""
        rows = self.failures["row"].dropna()
        return frozenset(int(r) for r in rows)

    def _headline(self) -> str:
        if self.ok:
            return f'ok, no failures (rows="{self.rows}")'
        contacts = len(self.invalid_rows)
        frame_level = int(self.failures["row"].isna().sum())
        text = (
            f"{len(self.failures):,} failing cell{'s' * (len(self.failures) != 1)} "
            f"in {contacts:,} contact{'s' * (contacts != 1)}"
        )
        if frame_level:
            text += f" ({frame_level} frame-level)"
        return text + f' (rows="{self.rows}")'

    def _counts(self) -> pd.DataFrame:
        return (
            self.failures.groupby(["property", "expectation"], sort=True)
            .size()
            .rename("failures")
            .reset_index()
            .sort_values("failures", ascending=False, kind="stable")
        )

    def summary(self) -> str:
        """The counts: failing cells and contacts, then failures per property and rule.

        Returns:
            A few lines of text, the first one a headline.

        Example:
            >>> failures = pd.DataFrame(
            ...     [[12, 0, "lifecyclestage", "Lead", "expect_column_values_to_be_in_set",
            ...       "..."]], columns=list(FAILURE_COLUMNS))
            >>> print(ValidationReport(failures).summary())
            ValidationReport: 1 failing cell in 1 contact (rows="changed")
              lifecyclestage  expect_column_values_to_be_in_set  1
        """
        lines = [f"ValidationReport: {self._headline()}"]
        if not self.ok:
            counts = self._counts()
            width_p = max(len(str(p)) for p in counts["property"])
            width_e = max(len(str(e)) for e in counts["expectation"])
            for prop, expectation, n in counts.itertuples(index=False):
                lines.append(f"  {prop:<{width_p}}  {expectation:<{width_e}}  {n:,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """A compact table for Jupyter: the headline and the first failures, escaped."""
        head = f"<p><strong>ValidationReport</strong>: {html.escape(self._headline())}</p>"
        if self.ok:
            return f'<div class="hsframe-validation">{head}</div>'
        cells = ["<th>" + html.escape(c) + "</th>" for c in FAILURE_COLUMNS]
        body = ["<tr>" + "".join(cells) + "</tr>"]
        for record in self.failures.head(_HTML_ROWS).itertuples(index=False):
            body.append(
                "<tr>" + "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in record) + "</tr>"
            )
        more = len(self.failures) - _HTML_ROWS
        tail = f"<p>… and {more:,} more (see <code>.failures</code>)</p>" if more > 0 else ""
        return f'<div class="hsframe-validation">{head}<table>{"".join(body)}</table>{tail}</div>'


def _cell_text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


# --- validation --------------------------------------------------------------------------


@dataclass
class _Scope:
    """Which cells are judged (and which count as edits for the read-only check).

    ``cells`` maps a column to the sorted positions of existing rows changed in it; ``new``
    holds the positions of new contacts (every value of theirs counts as changed). ``every``
    means every cell is judged (``rows="all"``, or no change set to tell).
    """

    n: int
    new: np.ndarray
    cells: dict[str, np.ndarray] = field(default_factory=dict)
    every: bool = False

    def judged(self, column: str, positions: np.ndarray) -> np.ndarray:
        """Mask over ``positions``: which of them are judged in ``column``."""
        if self.every:
            return np.ones(len(positions), dtype=bool)
        keep = np.isin(positions, self.new)
        if column in self.cells:
            keep |= np.isin(positions, self.cells[column])
        return keep

    def rows_for(self, columns: Iterable[str]) -> np.ndarray:
        """Sorted positions of the rows judged in any of ``columns``."""
        if self.every:
            return np.arange(self.n)
        parts = [self.new] + [self.cells[c] for c in columns if c in self.cells]
        return np.unique(np.concatenate(parts)) if parts else np.arange(0)

    def touches(self, columns: Iterable[str]) -> bool:
        """Whether anything in ``columns`` is judged at all."""
        return self.every or len(self.new) > 0 or any(c in self.cells for c in columns)


def _ids(index: pd.Index) -> pd.arrays.IntegerArray:
    """The frame's index as nullable Int64 contact ids."""
    try:
        return pd.array(index, dtype="Int64")
    except (TypeError, ValueError):
        raise TypeError(
            "the wire frame must be indexed by contact id (nullable Int64, NA for new "
            f"contacts); its index holds {index.dtype}"
        ) from None


def _edits(wire: pd.DataFrame, ids: Any, changed: pd.DataFrame | None) -> _Scope:
    """The changed cells of existing contacts, and the new contacts, as positions."""
    n = len(wire)
    new = np.flatnonzero(np.asarray(pd.isna(ids)))
    scope = _Scope(n=n, new=new)
    if changed is None or len(changed) == 0:
        return scope
    missing = {"id", "property"} - set(changed.columns)
    if missing:
        raise ValueError(
            f"changed must be a change set with columns id, property, old, new, kind; "
            f"it lacks {sorted(missing)}"
        )
    edits = changed.loc[changed["id"].notna(), ["id", "property"]]
    edits = edits.assign(id=pd.array(edits["id"], dtype="Int64"))
    rows = pd.DataFrame({"id": ids, "row": np.arange(n)}).dropna(subset=["id"])
    matched = edits.merge(rows, on="id", how="inner")
    for prop, group in matched.groupby("property", sort=False):
        scope.cells[str(prop)] = np.unique(group["row"].to_numpy(dtype=np.int64))
    return scope


def _values(wire: pd.DataFrame, column: str, positions: np.ndarray) -> np.ndarray:
    """A column's wire values at some positions, as objects with None for missing."""
    if column not in wire.columns:
        return np.full(len(positions), None, dtype=object)
    series = wire[column]
    if isinstance(series, pd.DataFrame):  # duplicated column names: the first one
        series = series.iloc[:, 0]
    taken = series.iloc[positions].to_numpy(dtype=object, copy=True)
    taken[pd.isna(taken)] = None
    return taken


def validate(
    wire: pd.DataFrame,
    properties: Any,
    *,
    suite: ExpectationSuite | None = None,
    expectations: Iterable[Expectation] | None = None,
    changed: pd.DataFrame | None = None,
    rows: Rows = "changed",
) -> ValidationReport:
    """Judge a wire-form frame against the portal's schema and your own expectations.

    Args:
        wire: The values HubSpot would receive: wire strings (None = unset, ``""`` =
            clear), indexed by contact id (nullable ``Int64``, ``NA`` for new contacts),
            one column per property.
        properties: The property definitions (the ``results`` list of
            ``GET /crm/v3/properties/contacts``, or the whole response).
        suite: Your own GE ``ExpectationSuite``, added to the schema suite (expectations
            the schema suite already has are not run twice). It is copied, never changed.
        expectations: More GE expectation objects to add, copied likewise.
        changed: The change set (columns ``id, property, old, new, kind``) saying which
            cells of existing contacts were edited. Used to judge only those in
            ``rows="changed"`` and, in both modes, to check that no read-only or unknown
            property was changed. New contacts are recognised by their ``NA`` id in the
            frame, and all their values count as changed. Without a change set, every cell
            counts as changed, and only new contacts are checked for read-only and unknown
            properties.
        rows: ``"changed"`` (the push gate) judges the changed cells, every value of a new
            contact, uniqueness of changed values across the whole column, and your
            frame-level expectations; ``"all"`` judges every cell (analysis).

    Returns:
        A :class:`ValidationReport`; ``.ok`` is True when nothing failed.

    Raises:
        ValueError: ``rows`` is neither ``"changed"`` nor ``"all"``, or ``changed`` lacks
            the ``id`` and ``property`` columns.
        TypeError: ``suite`` or ``expectations`` are not GE objects, or the frame is not
            indexed by contact id.

    Example:
        >>> props = [
        ...     {"name": "email", "type": "string", "fieldType": "text"},
        ...     {"name": "lifecyclestage", "type": "enumeration", "fieldType": "radio",
        ...      "options": [{"label": "Lead", "value": "lead"},
        ...                  {"label": "Customer", "value": "customer"}]},
        ... ]
        >>> wire = pd.DataFrame(
        ...     {"email": ["ann@example.com", "bob@example", None],
        ...      "lifecyclestage": ["Lead", "customer", "lead"]},
        ...     index=pd.Index([101, 102, None], dtype="Int64", name="id"))
        >>> changes = pd.DataFrame({"id": [101], "property": ["lifecyclestage"],
        ...     "old": ["lead"], "new": ["Lead"], "kind": ["update"]})
        >>> report = validate(wire, props, changed=changes)  # row 2: a nameless new contact
        >>> report.ok, sorted(report.invalid_ids), sorted(report.invalid_rows)
        (False, [101], [0, 2])
        >>> print(report.failures.loc[0, "message"])
        'Lead' is not an option of lifecyclestage (did you mean 'lead'?); options: lead, customer
        >>> validate(wire, props, rows="all").invalid_ids  # bob's old email is judged too
        frozenset({101, 102})
    """
    if rows not in ("changed", "all"):
        raise ValueError(f'rows must be "changed" or "all", not {rows!r}')
    definitions = parse_definitions(properties)
    user = _user_expectations(suite, expectations)
    ids = _ids(wire.index)
    edits = _edits(wire, ids, changed)
    if rows == "all" or changed is None:
        scope = _Scope(n=len(wire), new=edits.new, every=True)
    else:
        scope = edits

    run = _Run(wire=wire, ids=ids, definitions=definitions, scope=scope)
    run.check_edits(edits, check_existing=changed is not None)
    own = run.check_schema(user)
    run.check_user(own)
    return ValidationReport(run.table(), rows=rows)


def _user_expectations(
    suite: ExpectationSuite | None, expectations: Iterable[Expectation] | None
) -> list[Expectation]:
    """Copies of the user's expectations (GE binds an expectation to one suite)."""
    if suite is None and expectations is None:
        return []
    gx = _engine().gx
    from great_expectations.expectations.expectation import Expectation as GxExpectation

    given: list[Any] = []
    if suite is not None:
        if not isinstance(suite, gx.ExpectationSuite):
            raise TypeError(f"suite must be a great_expectations ExpectationSuite, not {suite!r}")
        given.extend(suite.expectations)
    given.extend(expectations or ())
    copies: list[Expectation] = []
    with _quiet():
        for i, expectation in enumerate(given):
            if not isinstance(expectation, GxExpectation):
                raise TypeError(
                    "expectations must be great_expectations expectation objects, "
                    f"not {expectation!r:.80}"
                )
            meta = {**(expectation.meta or {}), _REF: i}
            copies.append(expectation.copy(update={"id": None, "meta": meta}))
    return copies


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    """The columns an expectation reads, from its configuration's kwargs."""
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    columns.extend(kwargs.get("column_list") or ())
    return [str(c) for c in columns]


def _key(expectation: Any) -> str:
    """What makes two expectations the same check (type and arguments)."""
    config = expectation.configuration
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return str(config.type) + json.dumps(kwargs, sort_keys=True, default=str)


def _rule_of(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The hsframe rule an expectation's meta names (empty for the user's own)."""
    rule = (meta or {}).get("hsframe")
    return rule if isinstance(rule, dict) and "rule" in rule else {}


@dataclass
class _Run:
    """One validation: builds GE's frames, runs GE, turns results into failure rows."""

    wire: pd.DataFrame
    ids: Any
    definitions: dict[str, Definition]
    scope: _Scope
    found: list[tuple[Any, ...]] = field(default_factory=list)

    # -- native checks (no GE): read-only and unknown properties --------------------------

    def check_edits(self, edits: _Scope, *, check_existing: bool) -> None:
        """Edits to read-only properties, and to properties the portal does not have."""
        columns = set(edits.cells) if check_existing else set()
        if len(edits.new):
            columns |= {str(c) for c in self.wire.columns}
        for column in sorted(columns):
            definition = self.definitions.get(column)
            if definition is not None and not definition.read_only:
                continue
            existing = edits.cells.get(column, np.arange(0)) if check_existing else np.arange(0)
            positions = np.unique(np.concatenate([existing, edits.new]))
            values = _values(self.wire, column, positions)
            is_new = np.isin(positions, edits.new)
            for position, value, new in zip(positions, values, is_new, strict=True):
                if new and (value is None or value == ""):
                    continue  # a new contact that leaves the property unset
                if definition is None:
                    expectation = _EXISTS
                    message = (
                        f"{column} is not a contact property in this portal; drop the "
                        "change or create the property in HubSpot first"
                    )
                else:
                    expectation = _READ_ONLY
                    message = (
                        f"{column} is read-only in HubSpot; undo this change "
                        "(HubSpot refuses the whole write)"
                    )
                self.add(int(position), column, value, expectation, message)

    # -- the schema suite ------------------------------------------------------------------

    def check_schema(self, user: list[Expectation]) -> list[Expectation]:
        """Run the schema rules (and user-supplied copies of them) on the judged cells.

        Returns:
            The user's expectations that are not schema rules, left to :meth:`check_user`.
        """
        wire_columns = {str(c) for c in self.wire.columns}
        in_scope = [c for c in self.wire.columns if c in self.definitions and self._touched(c)]
        schema = _schema_expectations(self.definitions, in_scope, identity=len(self.scope.new) > 0)
        seen = {_key(e) for e in schema}
        own: list[Expectation] = []
        for expectation in user:
            rule = _rule_of(expectation.meta)
            if rule.get("property") not in self.definitions:
                own.append(expectation)
            elif _key(expectation) not in seen:
                seen.add(_key(expectation))
                columns = _columns_of(expectation.configuration.kwargs)
                applies = all(c in wire_columns for c in columns) and any(
                    c in in_scope for c in columns
                )
                if applies or (rule["rule"] == "identity" and len(self.scope.new)):
                    schema.append(expectation)
        unique = [e for e in schema if _rule_of(e.meta)["rule"] == "unique"]
        cells = [e for e in schema if _rule_of(e.meta)["rule"] != "unique"]
        self._run_cells(cells)
        self._run_unique(unique)
        return own

    def _touched(self, column: str) -> bool:
        """Whether any cell of ``column`` is judged (a new contact's unset ones are not)."""
        if self.scope.every or column in self.scope.cells:
            return True
        new = _values(self.wire, column, self.scope.new)
        return any(v is not None and v != "" for v in new)

    def _run_cells(self, expectations: list[Any]) -> None:
        """Per-cell rules on the judged rows; unjudged cells are blanked (GE skips nulls)."""
        if not expectations:
            return
        columns = list(
            dict.fromkeys(c for e in expectations for c in _columns_of(e.configuration.kwargs))
        )
        if any(_rule_of(e.meta)["rule"] == "identity" for e in expectations):
            identity = [c for c in identity_columns(self.definitions) if c not in columns]
            columns.extend(identity)
        positions = self.scope.rows_for(columns)
        data: dict[str, Any] = {"id": self.ids[positions]}
        is_new = np.isin(positions, self.scope.new)
        for column in columns:
            values = _values(self.wire, column, positions)
            values[is_new & (values == "")] = None  # "clear" on a new contact means unset
            if not self.scope.every:
                values[~self.scope.judged(column, positions)] = None
            data[column] = values
        frame = pd.DataFrame(data, index=positions, copy=False)
        self.collect(_engine().run(frame, expectations))

    def _run_unique(self, expectations: list[Any]) -> None:
        """Uniqueness over whole columns; only judged cells are reported."""
        if not expectations:
            return
        everyone = np.arange(len(self.wire))
        data: dict[str, Any] = {}
        for expectation in expectations:
            column = _columns_of(expectation.configuration.kwargs)[0]
            values = pd.Series(_values(self.wire, column, everyone), index=everyone)
            values = values.where(values != "", None)  # "" clears: it collides with nothing
            if _rule_of(expectation.meta).get("casefold"):
                values = values.str.strip().str.lower()
            data[column] = values.astype(object)
        frame = pd.DataFrame(data, index=everyone)
        self.collect(_engine().run(frame, expectations), compared=frame)

    # -- the user's expectations -----------------------------------------------------------

    def check_user(self, own: list[Expectation]) -> None:
        """The user's expectations: row-wise ones on the judged rows, the rest on everything."""
        from great_expectations.expectations.expectation import (
            ColumnMapExpectation,
            ColumnPairMapExpectation,
            MulticolumnMapExpectation,
        )

        maps = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
        rowwise: list[Any] = []
        whole: list[Any] = []
        for expectation in own:
            columns = _columns_of(expectation.configuration.kwargs)
            is_map = isinstance(expectation, maps)
            if is_map and columns and not self.scope.touches(columns):
                continue  # nothing is judged in its columns
            if is_map and expectation.expectation_type not in _FRAME_WIDE_MAPS:
                rowwise.append(expectation)
            else:
                whole.append(expectation)
        if rowwise:
            columns = list(
                dict.fromkeys(c for e in rowwise for c in _columns_of(e.configuration.kwargs))
            )
            frame = self._view(self.scope.rows_for(columns), columns)
            self.collect(_engine().run(frame, rowwise))
        if whole:
            frame = self._view(np.arange(len(self.wire)), [str(c) for c in self.wire.columns])
            self.collect(_engine().run(frame, whole))

    def _view(self, positions: np.ndarray, columns: list[str]) -> pd.DataFrame:
        """``wire.reset_index()`` for some rows and columns, indexed by row position."""
        present = [c for c in columns if c in self.wire.columns and c != "id"]
        frame = self.wire[present].iloc[positions].copy(deep=False)
        frame.insert(0, "id", self.ids[positions])
        frame.index = pd.Index(positions)
        return frame

    # -- results -> failure rows -----------------------------------------------------------

    def collect(self, results: list[Any], *, compared: pd.DataFrame | None = None) -> None:
        """Turn GE's results into failure rows, keeping only the judged cells.

        Args:
            results: GE's results; every frame given to GE is indexed by row position.
            compared: For uniqueness, the values GE compared (lower-cased emails), to name
                the contacts a value collides with.
        """
        for result in results:
            if result.success:
                continue
            config = result.expectation_config
            columns = _columns_of(config.kwargs)
            label = ", ".join(columns)
            error = _error_message(result)
            if error is not None:
                message = f"could not run {_describe(config)}: {error}"
                self.add(None, label, None, config.type, message)
                continue
            found = result.result or {}
            if "unexpected_index_list" not in found:
                observed = found.get("observed_value")
                message = f"observed {observed!r}: fails {_describe(config)}"
                self.add(None, label, _cell_text(observed) or None, config.type, message)
                continue
            # The full index list, not unexpected_list: GE caps that at 200 values even
            # in COMPLETE; values are read back from the wire frame.
            positions = np.asarray(found["unexpected_index_list"], dtype=np.int64)
            keep = np.zeros(len(positions), dtype=bool)
            for column in columns:
                keep |= self.scope.judged(column, positions)
            rule = _rule_of(config.meta)
            groups = _groups(compared[columns[0]], positions) if compared is not None else {}
            kept = positions[keep]
            cells = [_values(self.wire, column, kept) for column in columns]
            for i, position in enumerate(kept):
                if len(columns) == 1:
                    value = None if cells[0][i] is None else str(cells[0][i])
                else:
                    value = repr({c: cells[j][i] for j, c in enumerate(columns)})
                self._add_result(int(position), columns, value, config, rule, groups)

    def _add_result(
        self,
        position: int,
        columns: list[str],
        value: str | None,
        config: Any,
        rule: Mapping[str, Any],
        groups: Mapping[Any, list[int]],
    ) -> None:
        kind = rule.get("rule")
        definition = self.definitions.get(str(rule.get("property")))
        if kind == "identity":
            names = identity_columns(self.definitions) or tuple(columns)
            message = f"{identity_text(names)}; HubSpot refuses to create it otherwise"
            self.add(position, ", ".join(names), None, config.type, message)
            return
        if kind and definition is not None:
            partners = ""
            if kind == "unique":
                same = groups.get(_normal(value, bool(rule.get("casefold"))), [])
                partners = self._contacts([p for p in same if p != position])
            message = _schema_message(kind, definition, value, partners)
        else:
            message = f"{value!r} fails {_describe(config)}"
        self.add(position, ", ".join(columns), value, config.type, message)

    def _contacts(self, positions: list[int]) -> str:
        """Name some rows: by contact id, or by position for new contacts."""
        names = [
            f"the new contact at row {p}" if pd.isna(self.ids[p]) else f"contact {self.ids[p]}"
            for p in positions[:3]
        ]
        if len(positions) > 3:
            names.append(f"{len(positions) - 3} more")
        return ", ".join(names) or "another contact"

    def add(
        self, position: int | None, prop: str, value: Any, expectation: str, message: str
    ) -> None:
        """Record one failure."""
        contact = None if position is None else self.ids[position]
        contact_id = None if contact is None or pd.isna(contact) else int(contact)
        self.found.append((contact_id, position, prop, value, expectation, message))

    def table(self) -> pd.DataFrame:
        """The failures as a DataFrame, by row then property; frame-level ones last."""
        frame = pd.DataFrame(self.found, columns=list(FAILURE_COLUMNS), dtype=object)
        frame["id"] = pd.array(frame["id"], dtype="Int64")
        frame["row"] = pd.array(frame["row"], dtype="Int64")
        for column in ("property", "expectation", "message"):
            frame[column] = frame[column].astype(str)
        frame = frame.sort_values(
            ["row", "property", "expectation"], kind="stable", na_position="last"
        )
        return frame.reset_index(drop=True)


def _normal(value: str | None, casefold: bool) -> str | None:
    """A value as uniqueness compares it (emails: without case or surrounding spaces)."""
    return value.strip().lower() if casefold and value is not None else value


def _groups(compared: pd.Series, positions: np.ndarray) -> dict[Any, list[int]]:
    """Duplicate values (as compared) → the positions holding them."""
    groups: dict[Any, list[int]] = {}
    for position, value in zip(positions, compared.iloc[positions], strict=True):
        groups.setdefault(value, []).append(int(position))
    return groups


def _error_message(result: Any) -> str | None:
    """GE's reason when an expectation could not be evaluated (a metric error), else None."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _describe(config: Any) -> str:
    """An expectation in words: its description, or its type and arguments."""
    if getattr(config, "description", None):
        return str(config.description)
    args = ", ".join(f"{k}={v!r}" for k, v in config.kwargs.items() if k != "batch_id")
    return f"{config.type}({args})"


def _option_list(definition: Definition, limit: int = 12) -> str:
    shown = ", ".join(definition.options[:limit])
    rest = len(definition.options) - limit
    return shown + (f", … ({rest} more)" if rest > 0 else "")


def _hint(definition: Definition, value: str) -> str:
    """' (did you mean ...?)' when a value is an option's label or differs only in case."""
    guess = definition.labels.get(value.strip().casefold())
    return f" (did you mean {guess!r}?)" if guess is not None and guess != value else ""


def _schema_message(kind: str, definition: Definition, value: str | None, partners: str) -> str:
    """What is wrong with one value, and what to write instead."""
    name = definition.name
    shown = repr(value)
    if kind == "option":
        return (
            f"{shown} is not an option of {name}{_hint(definition, value or '')}; "
            f"options: {_option_list(definition)}"
        )
    if kind == "options":
        bad = [p for p in (value or "").split(";") if p not in definition.options]
        listed = ", ".join(repr(p) if p else "an empty value" for p in bad)
        hint = _hint(definition, bad[0]) if bad else ""
        return (
            f"{shown} holds values that are not options of {name}: {listed}{hint}; "
            f"options: {_option_list(definition)} (join several with ';', no spaces)"
        )
    if kind == "bool":
        return f"{shown} is not a bool value; write true or false (lower case)"
    if kind == "email":
        return (
            f"{shown} is not an email address HubSpot accepts; it needs one @, no spaces "
            "and a dotted domain (name@example.com)"
        )
    if kind == "number":
        return (
            f"{shown} is not a number HubSpot accepts; write digits with an optional "
            "leading '-' and at most one '.', no commas, spaces or exponent (1250000.5)"
        )
    if kind == "date":
        return f"{shown} is not a date HubSpot accepts; write a real date as YYYY-MM-DD"
    if kind == "datetime":
        return (
            f"{shown} is not a datetime HubSpot accepts; write ISO 8601 with a time zone "
            "(2024-03-01T09:30:00.000Z) or epoch milliseconds"
        )
    if kind == "unique":
        ignoring = " (ignoring case and surrounding spaces)" if name == "email" else ""
        return (
            f"{shown} is also the {name} of {partners}; HubSpot keeps {name} unique"
            f"{ignoring}, so change one of them"
        )
    return f"{shown} fails the {kind} rule of {name}"


def validate_frame(
    frame: pd.DataFrame,
    suite: ExpectationSuite | None = None,
    *,
    expectations: Iterable[Expectation] | None = None,
    rows: Literal["changed", "all"] = "changed",
    base: pd.DataFrame | None = None,
) -> ValidationReport:
    """Validate an edited frame: its wire form, judged with its change set.

    Encodes the frame's property columns with the load's codec (exactly what HubSpot would
    receive), computes the change set against the baseline, and hands both, with the
    portal's property definitions, to :func:`hsframe.validate.validate`.

    Args:
        frame: A frame from :func:`hsframe.load.read_contacts`, edited.
        suite: Your own Great Expectations suite, added to the schema suite.
        expectations: More GE expectations to add.
        rows: ``"changed"`` (the push gate: the edited cells, new contacts and row-level
            rules) or ``"all"`` (every cell, for analysis).
        base: The original to compare against (default: the registered baseline).

    Returns:
        The :class:`~hsframe.validate.ValidationReport`.

    Raises:
        hsframe.diff.FrameError: The frame is not from hsframe or its index is not the
            contact id (the message says what to do).
        hsframe.schema.CodecError: An edited value cannot be encoded at all.

    Example:
        >>> import hsframe as hs
        >>> with hs.sandbox.Sandbox(contacts=10) as sb:
        ...     client = hs.connect(token=sb.token, base_url=sb.url)
        ...     df = hs.read_contacts(client, properties=["email", "lifecyclestage"],
        ...                           progress=False)
        ...     client.close()
        >>> df.loc[df.index[0], "email"] = "not an email"
        >>> report = validate_frame(df)
        >>> report.ok, report.failures["property"].tolist()
        (False, ['email'])
    """
    found = diff.origin(frame, base)
    changed = diff.changes(frame, found.base, schema=found.schema)
    names = [c for c in frame.columns if isinstance(c, str) and c in found.schema]
    wire = found.schema.encode(frame[names])
    assert isinstance(wire, pd.DataFrame)
    definitions = [found.schema.definition(name) for name in found.schema.names]
    return validate(
        wire,
        definitions,
        suite=suite,
        expectations=expectations,
        changed=changed,
        rows=rows,
    )
