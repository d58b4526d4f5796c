"""Sending a planned run to HubSpot: conflict checks, batch writes, outcomes, events.

A run's plan (:mod:`hsframe.plan`, pure) says what to send; :mod:`hsframe.write` decides
what to plan, and :mod:`hsframe.result` sums the run up in a
:class:`~hsframe.result.PushResult`. In between lies
everything that talks to HubSpot and must be exactly right when the network is not: the
:class:`Sender` reads each update batch's contacts for conflicts just before writing it,
sends the batches on a small thread pool, maps each answer to its inputs by id or trace id
(:func:`outcome_of`, pure), verifies every written value, and settles batches whose answer
was lost. It lives apart from the planning and the result so that this part, the one with
threads and retries, can be read and tested on its own; :mod:`hsframe.recovery` resumes runs
with it.
:func:`~hsframe.corrections.apply_corrections` finds its contacts with it too: by batch read,
then by search for emails stored with spaces around them (:meth:`Sender.search_emails`).

**Outcomes that were lost.** HubSpot can apply a write and the answer can still be lost (a
dropped connection, a 5xx after the fact). Updates, upserts and archives are retried by the
transport (writing the same values twice is harmless); creates are not, since a repeat could
create a contact twice. A batch that ends without a usable answer is *settled* by reading
back: an update that HubSpot holds is applied, one that still holds the old value is sent
again; a create is looked up by its email (the one reliable unique key; trace ids are not
searchable): found means created, not found means sent again, and a new contact without an
email is reported, never sent twice. :func:`hsframe.recovery.resume` settles the same way.

**Events.** The journal, the progress bar and any other listener (a review widget) are
called with :data:`Event` values: :class:`Started`, :class:`Checked`, :class:`Sending`,
:class:`Sent`, :class:`Finished`. Listeners run on the calling thread, in order, so a listener
that raises stops the push as a crash would (tests use that to leave a journal half done).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

import pandas as pd
from tqdm.auto import tqdm

from hsframe.client import (
    MAX_SEARCH_GROUPS,
    MAX_SEARCH_LIMIT,
    MAX_SEARCH_RESULTS,
    BatchResult,
    Client,
)
from hsframe.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    HubSpotError,
    MissingScopesError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hsframe.plan import (
    LIFECYCLE,
    Batch,
    Input,
    Op,
    Plan,
    chunks,
)
from hsframe.schema import CodecError, Schema

__all__ = [
    "ARCHIVE",
    "BatchOutcome",
    "Canon",
    "Check",
    "Checked",
    "Doubt",
    "Event",
    "Finished",
    "Header",
    "InputOutcome",
    "Kind",
    "Listener",
    "OnConflict",
    "ProgressBar",
    "Sender",
    "Sending",
    "Sent",
    "Started",
    "first_line",
    "int_or_none",
    "now",
    "outcome_of",
]


Kind: TypeAlias = Literal["push", "corrections", "archive", "undo"]
"""What started a journaled run."""

OnConflict: TypeAlias = Literal["skip", "overwrite"]
"""What a run does with a cell changed in HubSpot since the load: skip it, or write it."""


ARCHIVE = "(archive)"
"""The ``property`` of a result row that stands for archiving the whole contact."""

_EXISTING_ID = re.compile(r"Existing ID: (\d+)")
_FATAL = (AuthenticationError, MissingScopesError, RateLimitError, ConfigurationError)
_AMBIGUOUS = (ServerError, TransportError)
_MAX_ATTEMPTS = 3
# A contact found by email while settling a create counts as ours if HubSpot dates it no
# earlier than this many seconds before the batch was sent (clocks differ a little).
_CLOCK_SLACK = 120.0


@dataclass(frozen=True)
class Header:
    """What a journal's first record says about the run.

    Attributes:
        push_id: The run's id.
        kind: ``push``, ``corrections``, ``archive`` or ``undo``.
        portal_id: The HubSpot account written to.
        started_at: When, ISO 8601 UTC.
        dry_run: Whether nothing is written.
        on_conflict: ``skip`` or ``overwrite``.
        load_id: The load whose frame was pushed, if any.
        of: For an undo, the id of the run it takes back.
    """

    push_id: str
    kind: Kind
    portal_id: int | None
    started_at: str
    dry_run: bool = False
    on_conflict: OnConflict = "skip"
    load_id: str | None = None
    of: str | None = None


@dataclass(frozen=True)
class Check:
    """The conflict check's verdict on one cell.

    ``state`` is ``ok`` (HubSpot holds the expected value: send), ``already`` (it holds the
    new value: nothing to send), ``conflict`` (someone changed it) or ``missing`` (the
    contact is gone).
    """

    row: int
    id: int | None
    property: str
    remote: str | None
    state: Literal["ok", "already", "conflict", "missing"]


@dataclass(frozen=True)
class InputOutcome:
    """What became of one input.

    Attributes:
        row: The input's row.
        id: The contact id (a created contact's new id).
        applied: Properties that HubSpot holds as sent (final values).
        interim: Step values that landed (the clear of clear-then-set).
        failed: Property → why it was not applied.
        existing_id: For a create refused because the email exists: that contact's id.
        created: The input created a contact.
        archived: The input archived its contact.
        unknown: No answer said what happened (settle by reading back).
        resend: Properties found not written, to be sent again (next attempt).
    """

    row: int
    id: int | None
    applied: tuple[str, ...] = ()
    interim: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    existing_id: int | None = None
    created: bool = False
    archived: bool = False
    unknown: bool = False
    resend: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one batch request (one attempt).

    Attributes:
        index: The batch's index.
        attempt: The attempt.
        op: The operation.
        status: HubSpot's HTTP status, or None (no answer; or settled by reading back).
        inputs: One outcome per input.
        error: The error that answered the whole batch, if any.
        settled: The outcome was found by reading back, after the answer was lost.
    """

    index: int
    attempt: int
    op: Op
    status: int | None
    inputs: tuple[InputOutcome, ...]
    error: str | None = None
    settled: bool = False


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """A run begins: its header and its whole plan (the journal writes both, then syncs)."""

    header: Header
    plan: Plan


@dataclass(frozen=True)
class Checked:
    """One batch's conflict check is done (also on resume, for what was left)."""

    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Sending:
    """A batch is about to be sent (the journal records the intent first)."""

    batch: Batch
    at: str


@dataclass(frozen=True)
class Sent:
    """A batch's outcome is known."""

    outcome: BatchOutcome
    at: str


@dataclass(frozen=True)
class Finished:
    """The run is over; ``counts`` sums it up (applied, failed, conflicts...)."""

    counts: Mapping[str, int]
    requests: int
    at: str


Event: TypeAlias = Started | Checked | Sending | Sent | Finished
"""What listeners are called with: one Started; per batch a Checked (updates), a Sending
and a Sent, batches overlapping; one Finished."""

Listener: TypeAlias = Callable[[Event], None]
"""A callable that is told each :data:`Event` of a run, on the calling thread."""


# --- comparing wire values ------------------------------------------------------------------------


class Canon:
    """Compares wire values as HubSpot means them: canonical form, emails ignoring case."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def __call__(self, name: str, raw: Any) -> str | None:
        if raw is None or raw == "":
            return None
        if name in self.schema:
            try:
                return self.schema.encode_value(name, str(raw))
            except CodecError:
                pass
        return str(raw)

    @staticmethod
    def same(name: str, a: str | None, b: str | None) -> bool:
        if a is None or b is None:
            return a is b
        return a == b or (name == "email" and a.lower() == b.lower())


def _expected(sent: str) -> str | None:
    """What HubSpot holds after ``sent`` lands ("" clears)."""
    return None if sent == "" else sent


def now() -> str:
    """The current UTC time as HubSpot writes it (ISO 8601, milliseconds, ``Z``)."""
    moment = dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return pd.Timestamp(stamp).timestamp()
    except (ValueError, TypeError):
        return None


# --- mapping answers to inputs (pure) -------------------------------------------------------------


def outcome_of(
    batch: Batch, answer: BatchResult | BaseException, schema: Schema | Canon
) -> BatchOutcome:
    """Map HubSpot's answer to one outcome per input, by id or trace id, never by position,
    and verify each written value against the properties HubSpot returned. Pure.

    An exception answers the whole batch: a refusal (400, 404, 409) fails every input; a
    server error or a lost connection leaves them ``unknown`` (settle by reading back); an
    error that stops the run (401, 403, 429) leaves them to be sent again.

    Args:
        batch: The batch that was sent.
        answer: HubSpot's answer, or the error the request raised.
        schema: The portal's properties (values are compared in canonical wire form).

    Returns:
        The :class:`BatchOutcome`, inputs in the batch's order.

    Example:
        >>> schema = Schema.from_definitions([{"name": "jobtitle", "type": "string"}])
        >>> batch = Batch(0, "update", 1, (Input(0, 7, "p:0", {"jobtitle": "CEO"}),))
        >>> kept = BatchResult(200, results=[{"id": "7", "properties": {"jobtitle": "CTO"}}])
        >>> outcome_of(batch, kept, schema).inputs[0].failed
        {'jobtitle': "not applied: HubSpot kept 'CTO'"}
    """
    canon = schema if isinstance(schema, Canon) else Canon(schema)
    if isinstance(answer, BaseException):
        return _outcome_of_error(batch, answer)
    by_trace = {i.trace: i for i in batch.inputs}
    by_id = {str(i.id): i for i in batch.inputs if i.id is not None}
    by_key = {i.key.lower(): i for i in batch.inputs if i.key}
    outcomes: dict[str, InputOutcome] = {}
    for result in answer.results:
        item = by_trace.get(str(result.get("objectWriteTraceId")))
        if item is None and batch.op == "update":
            item = by_id.get(str(result.get("id")))
        if item is None and batch.op == "upsert":
            email = (result.get("properties") or {}).get("email")
            item = by_key.get(str(email).lower()) if email else None
        if item is None:
            continue
        contact = int_or_none(result.get("id"))
        applied, interim, failed = _verify(item, result.get("properties") or {}, canon)
        created = batch.op == "create" or (batch.op == "upsert" and bool(result.get("new")))
        outcomes[item.trace] = InputOutcome(
            item.row, contact, applied, interim, failed, created=created
        )
    unmatched: list[str] = []
    for error in answer.errors:
        context = error.get("context") or {}
        message = str(error.get("message") or error.get("category") or "refused")
        existing = _existing(error)
        items = [by_trace[t] for t in context.get("objectWriteTraceId") or () if t in by_trace]
        if not items:
            ids = [str(i) for i in context.get("ids") or ()]
            items = [by_id[i] for i in ids if i in by_id] or [
                by_key[i.lower()] for i in ids if i.lower() in by_key
            ]
        if not items:
            unmatched.append(message)
        for item in items:
            if item.trace not in outcomes:
                outcomes[item.trace] = _all_failed(item, _reason(error, message), existing)
    rest = [i for i in batch.inputs if i.trace not in outcomes]
    for item in rest:
        if unmatched:
            reason = f"{unmatched[0]} (HubSpot did not say which input)"
            outcomes[item.trace] = _all_failed(item, reason, None)
        elif batch.op == "archive" and answer.status == 204:
            outcomes[item.trace] = InputOutcome(item.row, item.id, archived=True)
        else:
            outcomes[item.trace] = _unknown(item, "HubSpot's answer did not mention it")
    return BatchOutcome(
        batch.index,
        batch.attempt,
        batch.op,
        answer.status,
        tuple(outcomes[i.trace] for i in batch.inputs),
    )


def _outcome_of_error(batch: Batch, error: BaseException) -> BatchOutcome:
    text = first_line(error)
    if isinstance(error, _FATAL):
        inputs = tuple(
            InputOutcome(i.row, i.id, resend=tuple(i.properties) or (ARCHIVE,))
            for i in batch.inputs
        )
    elif isinstance(error, _AMBIGUOUS) or not isinstance(error, HubSpotError):
        inputs = tuple(_unknown(i, f"no usable answer ({text})") for i in batch.inputs)
    else:
        existing = None
        if isinstance(error, ConflictError) and error.existing_id and len(batch.inputs) == 1:
            existing = int_or_none(error.existing_id)
        reason = text
        if isinstance(error, ValidationError) and error.errors:
            reason = "; ".join(
                f"{e.get('name') or ''}: {e.get('message')}".strip(": ") for e in error.errors
            )
        inputs = tuple(_all_failed(i, reason, existing) for i in batch.inputs)
    status = error.status if isinstance(error, HubSpotError) else None
    return BatchOutcome(batch.index, batch.attempt, batch.op, status, inputs, error=text)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none)."""
    text = error.message if isinstance(error, HubSpotError) else str(error)
    return (text or type(error).__name__).splitlines()[0]


def _reason(error: Mapping[str, Any], message: str) -> str:
    category = error.get("category")
    return f"{category}: {message}" if category and category not in message else message


def _existing(error: Mapping[str, Any]) -> int | None:
    texts = [str(error.get("message") or "")]
    texts += [str(d.get("message") or "") for d in error.get("errors") or () if isinstance(d, dict)]
    for text in texts:
        match = _EXISTING_ID.search(text)
        if match:
            return int(match.group(1))
    return None


def int_or_none(value: Any) -> int | None:
    """``value`` as an int, or None when it is missing or not a number."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _props(item: Input) -> tuple[str, ...]:
    return tuple(item.properties) or (ARCHIVE,)


def _all_failed(item: Input, reason: str, existing: int | None) -> InputOutcome:
    return InputOutcome(
        item.row, item.id, failed=dict.fromkeys(_props(item), reason), existing_id=existing
    )


def _unknown(item: Input, why: str) -> InputOutcome:
    reason = f"outcome unknown: {why}"
    return InputOutcome(item.row, item.id, failed=dict.fromkeys(_props(item), reason), unknown=True)


def _verify(
    item: Input, returned: Mapping[str, Any], canon: Canon
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """Compare what was sent with what HubSpot says it holds after the write."""
    applied: list[str] = []
    interim: list[str] = []
    failed: dict[str, str] = {}
    for name, sent in item.properties.items():
        ok = name not in returned  # not echoed: nothing to check against
        got = None
        if not ok:
            got = canon(name, returned[name])
            ok = canon.same(name, got, canon(name, sent))
        if ok:
            (interim if name in item.interim else applied).append(name)
            continue
        reason = f"not applied: HubSpot kept {got!r}"
        if name == LIFECYCLE:
            reason += " (HubSpot moves the lifecycle stage forward only; clear it first)"
        failed[name] = reason
    return tuple(applied), tuple(interim), failed


# --- the run (side effects) -------------------------------------------------------------------


class ProgressBar:
    """A listener that shows a tqdm bar over the inputs sent (a widget in Jupyter, text in a
    terminal); ``enabled=False`` shows nothing."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self.bar = tqdm(total=total, unit=" contacts", desc=description, disable=not enabled)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Sent) and event.outcome.attempt == 1 and not event.outcome.settled:
            self.bar.update(len(event.outcome.inputs))
        elif isinstance(event, Finished):
            self.bar.close()

    def close(self) -> None:
        self.bar.close()


@dataclass
class Doubt:
    """A batch sent whose outcome is not (fully) known yet: settle it by reading back.

    Attributes:
        batch: The batch as sent.
        at: When it was sent (its intent's time).
        outcome: What its answer did say, if any.
    """

    batch: Batch
    at: str
    outcome: BatchOutcome | None = None


class Sender:
    """Sends one run's batches: conflict-check reads, writes, settling reads, and the events.

    Events are emitted on the calling thread, in order; requests go out on a pool of
    ``client.settings.max_concurrency`` threads. :func:`hsframe.write.run_plan` drives it
    for a new run, :func:`hsframe.recovery.resume` for one taken up from its journal
    (``prior`` holds the events the journal recorded). After an error that stops the run
    (401, 403, a daily 429), :attr:`stopped` holds it and nothing more is sent.
    """

    def __init__(
        self,
        client: Client,
        schema: Schema,
        header: Header,
        plan: Plan,
        listeners: Sequence[Listener],
        prior: Sequence[Event] = (),
    ) -> None:
        self.client = client
        self.prior = list(prior)  # a resumed run's events, from its journal
        self.schema = schema
        self.canon = Canon(schema)
        self.header = header
        self.plan = plan
        self.listeners = list(listeners)
        self.events: list[Event] = []
        self.workers = max(1, client.settings.max_concurrency)
        self.requests = 0
        self._lock = threading.Lock()
        self.cells = {(c.row, c.property): c for c in plan.cells}
        self.stopped: HubSpotError | None = None

    # -- plumbing ------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.requests += n

    def read(
        self,
        keys: Sequence[str],
        properties: Sequence[str],
        *,
        by_email: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Contacts by id (or email), 100 per batch read, concurrently; key → record."""
        found: dict[str, dict[str, Any]] = {}
        pieces = chunks(list(dict.fromkeys(keys)))
        if not pieces:
            return found
        names = sorted(set(properties) | {"email"}) if by_email else sorted(set(properties))

        def one(chunk: Sequence[str]) -> BatchResult:
            self._count()
            return self.client.batch_read(chunk, names, id_property="email" if by_email else None)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="hsframe-read") as pool:
            for answer in pool.map(one, pieces):
                for record in answer.results:
                    if by_email:
                        email = _email_key(record)
                        if email:
                            found[email] = record
                    else:
                        found[str(record.get("id"))] = record
        return found

    def search_emails(
        self, keys: Sequence[str], properties: Sequence[str]
    ) -> dict[str, list[dict[str, Any]] | None]:
        """Contacts whose email, stripped and lower-cased, is one of ``keys``, found by
        search rather than by HubSpot's exact email lookup; key → those contacts (None: too
        many candidates to check).

        One ``CONTAINS_TOKEN`` filter on ``email`` per key, each in its own filter group
        (ORed), 5 keys per request (HubSpot's cap on groups). HubSpot matches whole tokens
        (runs of letters and digits), so ``ann@x.com`` finds ``" ann@x.com "``, and also
        ``ann@x.com.au``: the candidates are then compared exactly, stripped and
        lower-cased. A search that returns a full page is followed to its next pages. One
        that matches more than the 10,000 results a search can reach is asked again key by
        key; a key that still does is None. Searches go one after another: search has its
        own budget of 5 requests a second, which the transport paces, so threads would only
        wait.

        Args:
            keys: Emails, stripped and lower-cased.
            properties: The properties to return (``email`` is added).

        Returns:
            Every key, with the contacts that hold it (often none).
        """
        names = sorted(set(properties) | {"email"})
        found: dict[str, list[dict[str, Any]] | None] = {}
        pending = deque(list(c) for c in chunks(list(dict.fromkeys(keys)), MAX_SEARCH_GROUPS))
        while pending:
            group = pending.popleft()
            records = self._search_tokens(group, names)
            if records is None and len(group) > 1:  # too many together: one key at a time
                pending.extendleft([key] for key in reversed(group))
                continue
            for key in group:
                found[key] = (
                    None if records is None else [r for r in records if _email_key(r) == key]
                )
        return found

    def _search_tokens(
        self, keys: Sequence[str], names: Sequence[str]
    ) -> list[dict[str, Any]] | None:
        """Every contact whose email holds all the tokens of one of ``keys`` (None: more
        than one search can reach), in id order, each once."""
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": k}]}
                for k in keys
            ],
            "properties": list(names),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": MAX_SEARCH_LIMIT,
        }
        records: dict[str, dict[str, Any]] = {}
        for page in self.client.iter_search(body):
            self._count()
            if page.total is not None and page.total > MAX_SEARCH_RESULTS:
                return None  # its later pages would be refused: do not start on them
            records.update((str(r.get("id")), r) for r in page.results)
        return list(records.values())

    # -- checking ------------------------------------------------------------------------

    def _read_batch(self, batch: Batch) -> dict[str, dict[str, Any]] | HubSpotError:
        """The remote values of one batch's contacts, for the properties it will write."""
        wanted = [i for i in batch.inputs if i.before]
        names = sorted({p for i in wanted for p in i.before})
        self._count()
        try:
            answer = self.client.batch_read([str(i.id) for i in wanted], names)
        except HubSpotError as exc:
            return exc
        return {str(record.get("id")): record for record in answer.results}

    def _judge(
        self, batch: Batch, records: Mapping[str, Mapping[str, Any]], *, overwrite: bool
    ) -> Batch:
        """Compare the remote values with what the batch expects; emit :class:`Checked`;
        return the batch without conflicting (or already written) properties."""
        checks: list[Check] = []
        drop: set[tuple[int, str]] = set()
        blocked: set[int] = set()  # archive inputs whose guard failed, or already gone
        for item in batch.inputs:
            record = records.get(str(item.id))
            remote_props = (record or {}).get("properties") or {}
            for name, before in item.before.items():
                remote = self.canon(name, remote_props.get(name))
                cell = self.cells.get((item.row, name))
                final = cell.new if cell is not None else None
                archiving = cell is not None and cell.op == "archive"
                state: Literal["ok", "already", "conflict", "missing"]
                if record is None:
                    state = "already" if archiving else "missing"  # archived: nothing to do
                elif self.canon.same(name, remote, self.canon(name, before)):
                    state = "ok"
                elif not archiving and self.canon.same(name, remote, self.canon(name, final)):
                    state = "already"
                else:
                    state = "conflict"
                checks.append(Check(item.row, item.id, name, remote, state))
                if state in ("missing", "already") or (state == "conflict" and not overwrite):
                    drop.add((item.row, name))
                    if archiving:
                        blocked.add(item.row)
        self.emit(Checked(tuple(checks)))
        return _without(batch, drop, blocked)

    # -- sending -------------------------------------------------------------------------

    def _call(self, batch: Batch) -> BatchResult | BaseException:
        bodies = [i.body(batch.op) for i in batch.inputs]
        self._count()
        try:
            if batch.op == "update":
                return self.client.batch_update(bodies)
            if batch.op == "create":
                return self.client.batch_create(bodies)
            if batch.op == "upsert":
                return self.client.batch_upsert(bodies)
            return self.client.batch_archive([b["id"] for b in bodies])
        except HubSpotError as exc:
            return exc

    def send(
        self,
        batches: Sequence[Batch],
        *,
        check: bool = False,
        overwrite: bool = False,
        dry_run: bool = False,
    ) -> None:
        """Send batches (one phase), each right after its conflict check when ``check``;
        then settle lost outcomes and send again what did not land."""
        queue = deque((b, check and _checked_op(b)) for b in batches if b.inputs)
        while queue and self.stopped is None:
            doubts = self._send_round(queue, overwrite=overwrite, dry_run=dry_run)
            queue = deque()
            for doubt in doubts:
                again = self.settle(doubt)
                if again is not None and again.attempt <= _MAX_ATTEMPTS:
                    queue.append((again, False))
                elif again is not None:
                    self._give_up(again)

    def _send_round(
        self, queue: deque[tuple[Batch, bool]], *, overwrite: bool, dry_run: bool
    ) -> list[Doubt]:
        """Keep the pool busy with reads and writes; a batch's write follows its read at
        once, so a cell is checked one round trip before it is written."""
        doubts: list[Doubt] = []
        inflight: dict[Future[Any], tuple[Batch, str | None]] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix="hsframe-send") as pool:
            while queue or inflight:
                while queue and len(inflight) < self.workers and self.stopped is None:
                    batch, unchecked = queue.popleft()
                    if unchecked:
                        inflight[pool.submit(self._read_batch, batch)] = (batch, None)
                    elif not dry_run:
                        sent_at = now()
                        self.emit(Sending(batch, sent_at))  # the journal records the intent first
                        inflight[pool.submit(self._call, batch)] = (batch, sent_at)
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch, at = inflight.pop(future)
                    answer = future.result()
                    if at is None:  # a conflict-check read
                        if isinstance(answer, HubSpotError):
                            self.stopped = self.stopped or answer
                            continue
                        checked = self._judge(batch, answer, overwrite=overwrite)
                        if checked.inputs:
                            queue.appendleft((checked, False))
                        continue
                    outcome = outcome_of(batch, answer, self.canon)
                    if isinstance(answer, _FATAL) and self.stopped is None:
                        self.stopped = answer
                    if any(i.unknown for i in outcome.inputs):
                        doubts.append(Doubt(batch, at, outcome))
                    else:
                        self.emit(Sent(outcome, now()))
        return doubts

    def _give_up(self, batch: Batch) -> None:
        inputs = tuple(
            _unknown(i, "sent several times without a usable answer") for i in batch.inputs
        )
        self.emit(Sent(BatchOutcome(batch.index, batch.attempt, batch.op, None, inputs), now()))

    # -- settling ------------------------------------------------------------------------

    def settle(self, doubt: Doubt) -> Batch | None:
        """Read back a batch whose answer was lost; emit its outcome; return what must be
        sent again (as the next attempt), or None."""
        batch = doubt.batch
        known = {}
        if doubt.outcome is not None:
            known = {o.row: o for o in doubt.outcome.inputs if not o.unknown}
        open_inputs = [i for i in batch.inputs if i.row not in known]
        try:
            settled, again = self._settle_inputs(batch.op, open_inputs, doubt.at)
        except HubSpotError as exc:
            if isinstance(exc, _FATAL) and self.stopped is None:
                self.stopped = exc
            why = f"could not read back ({first_line(exc)}); resume later"
            settled = {i.row: _unknown(i, why) for i in open_inputs}
            again = []
        outcomes = tuple(known.get(i.row) or settled[i.row] for i in batch.inputs)
        status = doubt.outcome.status if doubt.outcome is not None else None
        self.emit(
            Sent(
                BatchOutcome(batch.index, batch.attempt, batch.op, status, outcomes, settled=True),
                now(),
            )
        )
        if not again:
            return None
        return replace(batch, inputs=tuple(again), attempt=batch.attempt + 1)

    def _settle_inputs(
        self, op: Op, inputs: Sequence[Input], at: str
    ) -> tuple[dict[int, InputOutcome], list[Input]]:
        """Per input: its outcome, and the inputs (or parts) to send again."""
        outcomes: dict[int, InputOutcome] = {}
        again: list[Input] = []
        if op == "archive":
            for item in inputs:  # archiving is idempotent: send again
                outcomes[item.row] = InputOutcome(item.row, item.id, resend=(ARCHIVE,))
                again.append(item)
            return outcomes, again
        if op == "update":
            records = self.read(
                [str(i.id) for i in inputs], sorted({p for i in inputs for p in i.properties})
            )
            for item in inputs:
                outcome, rest = self._settle_update(item, records.get(str(item.id)))
                outcomes[item.row] = outcome
                if rest is not None:
                    again.append(rest)
            return outcomes, again
        # create, upsert: by email, the one reliable unique key
        with_email = [i for i in inputs if _email_of(i)]
        records = self.read(
            [_email_of(i) or "" for i in with_email],
            sorted({p for i in inputs for p in i.properties}),
            by_email=True,
        )
        sent_at = _epoch(at)
        for item in inputs:
            email = _email_of(item)
            if not email:
                outcomes[item.row] = _unknown(
                    item,
                    "the new contact has no email to look it up by; check HubSpot before "
                    "pushing it again",
                )
                continue
            record = records.get(email)
            if record is None:
                outcomes[item.row] = InputOutcome(item.row, None, resend=_props(item))
                again.append(item)
                continue
            contact = int_or_none(record.get("id"))
            created_at = _epoch(record.get("createdAt"))
            ours = created_at is None or sent_at is None or created_at >= sent_at - _CLOCK_SLACK
            applied, interim, failed = _verify(item, record.get("properties") or {}, self.canon)
            if op == "create" and not ours:
                reason = f"a contact with this email already exists (id {contact})"
                outcomes[item.row] = InputOutcome(
                    item.row, None, failed=dict.fromkeys(_props(item), reason), existing_id=contact
                )
            elif op == "upsert" and failed:
                outcomes[item.row] = InputOutcome(item.row, contact, resend=_props(item))
                again.append(item)
            else:
                outcomes[item.row] = InputOutcome(
                    item.row, contact, applied, interim, failed, created=ours
                )
        return outcomes, again

    def _settle_update(
        self, item: Input, record: Mapping[str, Any] | None
    ) -> tuple[InputOutcome, Input | None]:
        if record is None:
            reason = "the contact no longer exists in HubSpot"
            return InputOutcome(item.row, item.id, failed=dict.fromkeys(item.properties, reason)), (
                None
            )
        remote = record.get("properties") or {}
        applied: list[str] = []
        interim: list[str] = []
        failed: dict[str, str] = {}
        resend: dict[str, str] = {}
        for name, sent in item.properties.items():
            got = self.canon(name, remote.get(name))
            if self.canon.same(name, got, self.canon(name, sent)):
                (interim if name in item.interim else applied).append(name)
            elif self.canon.same(name, got, self.canon(name, item.before.get(name))):
                resend[name] = sent
            else:
                failed[name] = (
                    f"changed by someone else while the write was in doubt: HubSpot holds {got!r}"
                )
        outcome = InputOutcome(
            item.row, item.id, tuple(applied), tuple(interim), failed, resend=tuple(resend)
        )
        if not resend:
            return outcome, None
        rest = replace(
            item,
            properties=resend,
            before={k: item.before.get(k) for k in resend},
            interim=tuple(k for k in item.interim if k in resend),
        )
        return outcome, rest

    # -- phases --------------------------------------------------------------------------

    def second_phase(self, batches: Sequence[Batch]) -> list[Batch]:
        """Phase-2 batches, without the inputs whose first step did not land (those get a
        failed outcome now)."""
        landed: set[tuple[int, str]] = set()
        for event in self.events_and_prior():
            if isinstance(event, Sent):
                for item in event.outcome.inputs:
                    landed.update((item.row, name) for name in item.interim)
        kept: list[Batch] = []
        for batch in batches:
            ok = tuple(i for i in batch.inputs if all((i.row, p) in landed for p in i.properties))
            dropped = [i for i in batch.inputs if i not in ok]
            if dropped:
                reason = "not set: clearing the lifecycle stage first did not land"
                self.emit(
                    Sent(
                        BatchOutcome(
                            batch.index,
                            batch.attempt,
                            batch.op,
                            None,
                            tuple(_all_failed(i, reason, None) for i in dropped),
                        ),
                        now(),
                    )
                )
            if ok:
                kept.append(replace(batch, inputs=ok))
        return kept

    def events_and_prior(self) -> list[Event]:
        """The journal's events (on resume), then this run's."""
        return [*self.prior, *self.events]


def _checked_op(batch: Batch) -> bool:
    """Whether a batch's inputs expect values in HubSpot (updates; guarded archives)."""
    return batch.op in ("update", "archive") and any(i.before for i in batch.inputs)


def _email_key(record: Mapping[str, Any]) -> str | None:
    """A record's email as hsframe compares emails: stripped and lower-cased."""
    email = (record.get("properties") or {}).get("email")
    key = str(email).strip().lower() if email else ""
    return key or None


def _email_of(item: Input) -> str | None:
    email = item.key or item.properties.get("email")
    return email.strip().lower() if email else None


def _without(batch: Batch, drop: set[tuple[int, str]], blocked: set[int]) -> Batch:
    """The batch without the dropped properties (and inputs left with nothing to send)."""
    inputs: list[Input] = []
    for item in batch.inputs:
        if batch.op == "archive":
            if item.row not in blocked:
                inputs.append(item)
            continue
        keep = {k: v for k, v in item.properties.items() if (item.row, k) not in drop}
        if not keep:
            continue
        if len(keep) == len(item.properties):
            inputs.append(item)
        else:
            inputs.append(
                replace(
                    item,
                    properties=keep,
                    before={k: v for k, v in item.before.items() if k in keep},
                    interim=tuple(k for k in item.interim if k in keep),
                )
            )
    return replace(batch, inputs=tuple(inputs))
