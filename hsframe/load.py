"""Loading contacts into a typed DataFrame, as fast as HubSpot's rate limits allow.

A full load is bound by HubSpot, not by this machine: list pages hold 100 contacts and follow
one opaque cursor, so a plain walk (what the official SDK's ``get_all`` does) waits a round
trip per 100 contacts; search pages hold 200 and spend their own budget (5 per second), but
one query stops at 10,000 results. :func:`read_contacts` uses both budgets at once, and
asks for no more than the client's rate budget allows, so a load causes no 429.

**Why this plan.** Ids are what can be fetched in parallel, and only search hands them out
in parallel (by ``hs_object_id`` ranges); the list hands out 100 per round trip, one page
after another, whatever the burst budget left. So "walk the list for ids and batch-read
them" is still one cursor's speed. The loader therefore reads with search walkers on the
search budget (up to 5 x 200 contacts a second) *and* one list walk on the burst budget
beside them (100 per round trip). Measured against the sandbox at 300 ms per request:
1,100 to 1,200 contacts a second on 20,000 contacts, 3.6 to 4.1 times the SDK's cursor walk
(``bench/README.md``).

**The plan** (a full load, no filter):

1. In parallel: the property definitions, the token's portal id, and two probes that ask
   for ids only: a search for the highest ids (sorted by ``hs_object_id`` descending, a full
   page, which also gives the count) and the first list page (the lowest ids, and the
   list's cursor). The contacts the probes found are read by batch read (burst budget).
2. The list walk carries on from the probe's cursor, upwards; the cursor is passed back as
   received and never parsed. **Search walkers** (all properties in the POST body) read
   stretches of ids by *keyset*, downwards: each request asks for "ids below the last one I
   read, inside my stretch, descending". The id space is kept as a set of unread *gaps*,
   each walked up from its bottom (the list) and/or down from its top (a search walker);
   where two walkers meet, the gap is closed. An idle search walker takes the gap with the
   most estimated time left: it walks it down from the top if nobody does, else it splits
   it where both parts should finish together given the walkers' speeds (a list page per
   round trip; a search walker's share of the search budget), rounding the upper part to
   whole pages. Walking down means the list never trails a walker going its way. The open
   top above the highest id seen is read last, upwards, by a walker with nothing else to
   do, and not before the load is :data:`INDEX_LAG` seconds old (below); it picks up
   contacts created meanwhile. Until then the list walk does not stop where it meets
   ground the search walkers read: if it reaches the end of the list, it has read the top
   itself, and the top is not searched.
3. Every page's records go into one dict keyed by id, so an overlap is a duplicate dropped,
   never a duplicate row; then the records are decoded once, column by column
   (:meth:`~hsframe.schema.Schema.decode`), into a frame sorted by id.

Why keyset and not search's ``after``: ``after`` is an offset into a result set that moves
when contacts are created or archived during the read, so a page can skip or repeat a
contact; ``id > last`` cannot. And every keyset request starts at result 0, so the 10,000
cap never applies, whatever the stretch holds.

All properties, any URL: the list walk puts the property names in its URL only when they
fit (:meth:`~hsframe.client.Client.list_url_fits`); otherwise it walks ids only and reads
each page's contacts with a batch read (a POST body) on the burst budget, in parallel.

**What a load sees.** HubSpot's search index lags writes by a few seconds (assumed: at
most :data:`INDEX_LAG`, 5 s). Keyset walks cannot miss a contact the index holds, or return
it twice, however others write meanwhile; the list walk reads the database itself, and
where both read a contact, the list's copy wins. Contacts created in the seconds before a
load are not in the index yet, and as HubSpot hands out ids in increasing order, they hold
the highest ids: the top of the id space. So a full load does not finish with a view of
that top older than the lag: while the load is younger than :data:`INDEX_LAG`, the list
walk reads on past the ground the search walkers covered, and the open top is not
searched; then either the list reaches its end (a small portal: the whole list is read,
and no search waits for the index) or the top is searched once the load is
:data:`INDEX_LAG` old (a load that takes longer waits for nothing; a shorter one waits at
most that). What is guaranteed, if the index trails by no more than
:data:`INDEX_LAG`: every contact created before the load began (and still live) is in the
frame. A contact created *during* the load may or may not be, as in any read of a live CRM
that takes time. A contact updated in the seconds before the load may come back as the
index had it before that update, unless the list walk read it; and one archived in those
seconds may still be in the frame. The conflict check before a push compares against the
remote's current values, so a stale cell is reported, never overwritten.

With ``where``, everything comes from search, and no wait helps: a filter is matched
against the index's values over the whole id space. A contact created or changed in the
:data:`INDEX_LAG` seconds before the load may be missing, or match (and come back) by its
values before the change. To be sure of such contacts, load without ``where`` and filter
the frame. The list walk alone (``archived=True``, or ``limit`` without ``where``) reads
the database: every contact as its page found it.

Other plans: with ``where``, only search walkers (filtered; the filter groups are kept and
the id range is added to each). With ``archived=True``, the list walk alone (search never
returns archived contacts). With ``limit``, one walk from the lowest id (the list, or a
keyset search with ``where``) that stops at ``limit``: the contacts with the lowest ids.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from hsframe import baseline
from hsframe.client import (
    MAX_BATCH,
    MAX_LIST_LIMIT,
    MAX_SEARCH_LIMIT,
    Client,
    Page,
    default_client,
)
from hsframe.errors import (
    AuthenticationError,
    HubSpotError,
    MissingScopesError,
    RateLimitError,
)
from hsframe.schema import Schema

__all__ = ["DEFAULT_PROPERTIES", "INDEX_LAG", "read_contacts"]

DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
"""What ``properties="default"`` loads: the properties HubSpot returns when none are named."""

SEARCH_WALKERS = 3
"""Search walkers at most: enough to keep 5 searches a second in flight at ~0.5 s each."""

MIN_SPLIT = 2 * MAX_SEARCH_LIMIT
"""A gap estimated to hold fewer contacts than this is not shared with another walker."""

INDEX_LAG = 5.0
"""Seconds HubSpot's search index is assumed to trail writes by, at most.

HubSpot's search documentation says that new or updated records may take "a few moments"
to appear in search (hubspot-api.md §1.5), so a search can miss a contact created just
before it. A full load keeps its list walk going, or holds back its search of the top of
the id space, until it is this old (the module docstring's "What a load sees"). A constant
rather than a ``read_contacts`` argument: it describes HubSpot, not a load.

How long the lag really is, HubSpot does not say. 5 s covers "a few moments"; some
integrations advise more (Okta's HubSpot connector: 10 s after a create, 60 s after an
update). A portal whose index trails further can raise it for the session
(``hsframe.load.INDEX_LAG = 10``): a load of up to that many seconds then takes that long.
"""

ID = "hs_object_id"

_OPERATORS = {
    "=": "EQ",
    "==": "EQ",
    "!=": "NEQ",
    "<": "LT",
    "<=": "LTE",
    ">": "GT",
    ">=": "GTE",
    "in": "IN",
    "not in": "NOT_IN",
    "between": "BETWEEN",
    "contains": "CONTAINS_TOKEN",
    "not contains": "NOT_CONTAINS_TOKEN",
    "has": "HAS_PROPERTY",
    "has not": "NOT_HAS_PROPERTY",
}
_HUBSPOT_OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
# HubSpot's caps on a search (hubspot-api.md §1.5): the loader adds up to two id filters
# to every group, so user filters must leave room for them.
_MAX_GROUPS = 5
_MAX_FILTERS = 25
_MAX_PER_GROUP = 10
_ADDED_FILTERS = 2

Where = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def read_contacts(
    client: Client | None = None,
    *,
    properties: Literal["all", "default"] | Sequence[str] = "all",
    where: Where | None = None,
    archived: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Load contacts into a DataFrame: one typed column per property, indexed by id.

    The plan, and what a load can and cannot see of writes made just before or during it,
    are in this module's docstring: in short, pages are fetched concurrently on both of
    HubSpot's budgets (list and search), inside the client's rate budget, and each contact
    lands in the frame once. Every contact created before the load began is in the frame,
    as long as HubSpot's search index trails writes by at most :data:`INDEX_LAG` (5 s): a
    load quicker than that either reads the whole list or waits for the index before it
    searches the top of the id space. With ``where`` there is no such guarantee: search
    alone reads, so a contact created or changed in the seconds before the load may be
    missing, or matched by its old values; load without ``where`` and filter the frame to
    be sure.

    Args:
        client: The connection; None uses the session's default (``hs.connect()``).
        properties: ``"all"`` (every contact property of the portal), ``"default"`` (the
            six HubSpot returns when none are named: :data:`DEFAULT_PROPERTIES`), or a list
            of names, in the column order wanted. Names the portal does not have are left
            out with a ``UserWarning`` naming them (HubSpot would silently ignore them).
        where: Which contacts: a dict of simple filters, ANDed, such as
            ``{"lifecyclestage": "lead", "createdate": (">=", "2024-01-01"),
            "hs_lead_status": ["NEW", "OPEN"], "phone": None}``: a value means equal, a
            list means one of, None means unset, and a tuple ``(op, value)`` takes ``=``,
            ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``, ``contains`` (whole
            words), ``has``, ``has not``, ``("between", low, high)``, or any HubSpot
            operator name (``"GTE"``). Values are encoded by the codec, as they would be
            written (a naive date or datetime in a filter is taken as UTC). Or HubSpot's own
            filter groups (ORed): a list of ``{"filters": [...]}``, or
            ``{"filterGroups": [...]}``.
        archived: Load archived contacts instead of live ones (not with ``where``: HubSpot
            search never returns archived contacts).
        limit: At most this many contacts: those with the lowest ids.
        progress: Show a progress bar (a widget in Jupyter, text in a terminal).

    Returns:
        The typed frame (dtypes as in :mod:`hsframe.schema`), indexed by contact id
        (``Int64``, named ``id``) and sorted by it. ``df.attrs["hsframe"]`` holds
        ``object_type``, ``portal_id``, ``load_id``, ``loaded_at`` (when the load began,
        ISO 8601 UTC), ``properties`` and ``archived``; the frame is registered as the
        load's baseline for later diffs.

    Raises:
        ValueError: For ``where`` with ``archived=True``, a bad ``limit``, or a ``where``
            that names an unknown property or an unknown operator.
        HubSpotError: What HubSpot answered, after the transport's retries.

    Example:
        >>> from hsframe.client import connect
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=300) as sb:
        ...     client = connect(token=sb.token, base_url=sb.url)
        ...     df = read_contacts(client, properties=["email", "lifecyclestage"],
        ...                        where={"lifecyclestage": "lead"}, progress=False)
        ...     client.close()
        >>> df.index.name, str(df.index.dtype), set(df["lifecyclestage"].str.lower())
        ('id', 'Int64', {'lead'})
    """
    if archived and where is not None:
        raise ValueError(
            "where= cannot be used with archived=True: HubSpot search never returns archived "
            "contacts. Load them with read_contacts(archived=True) and filter the frame."
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive whole number, not {limit!r}")
    client = client if client is not None else default_client()
    started = dt.datetime.now(dt.UTC)
    full_scan = where is None and not archived and limit is None

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hsframe-plan") as pool:
        definitions_future = pool.submit(client.property_definitions)
        portal_future = pool.submit(_portal_id, client)
        # The probes need no property names, so a full load sends them at once.
        probe_future = pool.submit(_probe, client, []) if full_scan else None
        schema = Schema.from_definitions(definitions_future.result())
        names = _property_names(schema, properties)
        groups = _filter_groups(where, schema) if where is not None else []
        if probe_future is None and not archived and limit is None:
            probe_future = pool.submit(_probe, client, groups)
        estimate = probe_future.result() if probe_future is not None else None
        portal_id = portal_future.result()

    total = limit if estimate is None else estimate.total
    if limit is not None and total is not None:
        total = min(total, limit)
    # Imported here: in Jupyter, tqdm.auto imports ipywidgets, which `import hsframe` must not.
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit=" contacts", desc="Loading contacts", disable=not progress)
    collector = _Collector(bar)
    try:
        if archived or (limit is not None and where is None):
            _walk_list(client, names, collector, archived=archived, limit=limit)
        elif limit is not None:
            _walk_search(client, names, groups, collector, limit=limit)
        else:
            assert estimate is not None
            _Scan(client, names, groups, collector, estimate, use_list=where is None).run()
    finally:
        bar.close()

    records = collector.sorted_records(limit)
    frame = schema.decode(records, names)
    load_id = uuid.uuid4().hex
    frame.attrs["hsframe"] = {
        "object_type": "contacts",
        "portal_id": portal_id,
        "load_id": load_id,
        "loaded_at": started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{started.microsecond // 1000:03d}Z",
        "properties": list(names),
        "archived": archived,
    }
    baseline.register(load_id, frame, schema)
    return frame


# -- planning ----------------------------------------------------------------------------------


def _portal_id(client: Client) -> int | None:
    """The portal's id for ``attrs``: from the token (private apps), else the account."""
    try:
        return client.token_info().portal_id
    except (AuthenticationError, RateLimitError):
        raise
    except HubSpotError:
        pass
    try:
        value = client.account().get("portalId")
        return None if value is None else int(value)
    except (AuthenticationError, MissingScopesError, RateLimitError):
        raise
    except (HubSpotError, TypeError, ValueError):
        return None


def _property_names(schema: Schema, properties: str | Sequence[str]) -> list[str]:
    if isinstance(properties, str):
        if properties == "all":
            return list(schema.names)
        if properties == "default":
            return [n for n in DEFAULT_PROPERTIES if n in schema]
        raise ValueError(
            f'properties must be "all", "default" or a list of names, not {properties!r}'
        )
    wanted = list(dict.fromkeys(str(n) for n in properties))
    unknown = schema.unknown(wanted)
    if unknown:
        warnings.warn(
            f"Not contact properties of this portal, left out (HubSpot would ignore them "
            f"silently): {', '.join(unknown)}",
            UserWarning,
            stacklevel=3,
        )
    return [n for n in wanted if n in schema]


@dataclass(frozen=True)
class _Estimate:
    """What the probes learnt (search's view, except ``bottom_ids`` from the list).

    Attributes:
        low: The lowest id (None if unknown).
        high: The highest id (None if nothing matches).
        total: How many contacts match.
        latency: Seconds the probes took (one round trip).
        began: When the probes were sent (``time.monotonic()``): the moment the load's
            view of the search index dates from.
        top_ids: The highest ids (up to a page): all the matching ids from their lowest to
            ``high``.
        bottom_ids: The lowest ids (up to a page): all the ids from the bottom to their
            highest.
        list_after: The list walk's cursor after ``bottom_ids``, when they came from the
            list (None: start the list from the beginning, or it has no more pages).
        list_done: The list has no more pages after ``bottom_ids``.
    """

    low: int | None
    high: int | None
    total: int
    latency: float
    began: float
    top_ids: tuple[int, ...] = ()
    bottom_ids: tuple[int, ...] = ()
    list_after: str | None = None
    list_done: bool = False

    def density(self) -> float:
        """Contacts per id in the spread seen (0 when unknown)."""
        if self.low is None or self.high is None or self.total == 0:
            return 0.0
        return self.total / (self.high - self.low + 1)

    def count(self, lo: int, hi: int | None) -> float:
        """Estimated contacts with ``lo < id < hi``, assuming ids spread evenly."""
        if self.low is None or self.high is None or self.total == 0:
            return 0.0
        bottom = max(lo + 1, self.low)
        top = min(self.high + 1 if hi is None else hi, self.high + 1)
        span = self.high - self.low + 1
        return max(0, top - bottom) * self.total / span


def _probe(client: Client, groups: list[dict[str, Any]]) -> _Estimate:
    """Learn the id range and the count of the contacts matching ``groups``.

    A search sorted by id descending gives the highest ids and the count; the lowest come
    from the first list page when there is no filter (on the burst budget: the search
    budget is the load's bottleneck), else from a search sorted ascending. Both ask for ids
    only (the property names may not be known yet), and ask for a full page: those contacts
    are then read by batch read, so the probes cost no search request that returns nothing.
    """
    began = time.monotonic()

    def highest() -> Page:
        return client.search_page(_probe_body(groups, "DESCENDING"))

    def lowest() -> Page:
        if groups:
            return client.search_page(_probe_body(groups, "ASCENDING"))
        return client.list_page([ID], limit=MAX_LIST_LIMIT)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hsframe-probe") as pool:
        top_future, bottom_future = pool.submit(highest), pool.submit(lowest)
        top, bottom = top_future.result(), bottom_future.result()
    latency = time.monotonic() - began
    top_ids = tuple(sorted(int(r["id"]) for r in top.results))
    bottom_ids = [int(r["id"]) for r in bottom.results]
    from_list = not groups
    if from_list and bottom_ids != sorted(bottom_ids):
        # The list is not in id order after all: its first page says nothing of the bottom.
        return _Estimate(
            None, top_ids[-1] if top_ids else None, top.total or 0, latency, began, top_ids
        )
    return _Estimate(
        low=bottom_ids[0] if bottom_ids else (top_ids[0] if top_ids else None),
        high=top_ids[-1] if top_ids else None,
        total=top.total or 0,
        latency=latency,
        began=began,
        top_ids=top_ids,
        bottom_ids=tuple(bottom_ids),
        list_after=bottom.after if from_list else None,
        list_done=from_list and bottom.after is None,
    )


def _probe_body(groups: list[dict[str, Any]], direction: str) -> dict[str, Any]:
    return {
        "filterGroups": groups,
        "sorts": [{"propertyName": ID, "direction": direction}],
        "properties": [ID],
        "limit": MAX_SEARCH_LIMIT,
    }


def _filter_groups(where: Where, schema: Schema) -> list[dict[str, Any]]:
    """``where`` as HubSpot filter groups, values encoded by the codec."""
    if isinstance(where, Mapping) and "filterGroups" in where:
        groups = [dict(g) for g in where["filterGroups"]]
    elif isinstance(where, Mapping):
        groups = [{"filters": [_filter(schema, str(k), v) for k, v in where.items()]}]
    elif isinstance(where, Sequence) and not isinstance(where, str):
        groups = [dict(g) for g in where]
    else:
        raise ValueError(f"where must be a dict of filters or HubSpot filter groups, not {where!r}")
    named = [
        f.get("propertyName")
        for g in groups
        for f in g.get("filters", ())
        if isinstance(f, Mapping)
    ]
    unknown = schema.unknown(str(n) for n in named)
    if unknown:
        # HubSpot treats an unknown property as never set: a typo would match nothing.
        raise ValueError(f"where= names properties this portal does not have: {unknown}")
    counts = [len(g.get("filters", ())) for g in groups]
    if (
        len(groups) > _MAX_GROUPS
        or any(c + _ADDED_FILTERS > _MAX_PER_GROUP for c in counts)
        or sum(counts) + _ADDED_FILTERS * len(groups) > _MAX_FILTERS
    ):
        raise ValueError(
            f"where= is too big for one HubSpot search once hsframe adds its id range: at most "
            f"{_MAX_GROUPS} groups, {_MAX_PER_GROUP - _ADDED_FILTERS} filters in a group and "
            f"{_MAX_FILTERS} in all, counting {_ADDED_FILTERS} per group. Split the load, or "
            "filter the frame after loading."
        )
    return groups


def _filter(schema: Schema, name: str, spec: Any) -> dict[str, Any]:
    """One ``where`` entry → one HubSpot filter."""
    if name not in schema:
        raise ValueError(f"where= names a property this portal does not have: {name!r}")
    if spec is None:
        return {"propertyName": name, "operator": "NOT_HAS_PROPERTY"}
    if isinstance(spec, list | set | frozenset):
        return {
            "propertyName": name,
            "operator": "IN",
            "values": [_filter_value(schema, name, v) for v in spec],
        }
    if not isinstance(spec, tuple):
        return {"propertyName": name, "operator": "EQ", "value": _filter_value(schema, name, spec)}
    if not spec or not isinstance(spec[0], str):
        raise ValueError(f"where={{{name!r}: {spec!r}}}: a tuple must start with an operator")
    raw, *args = spec
    operator = _OPERATORS.get(raw.strip().lower(), raw.strip().upper())
    if operator not in _HUBSPOT_OPERATORS:
        known = ", ".join([*_OPERATORS, *sorted(_HUBSPOT_OPERATORS)])
        raise ValueError(f"where={{{name!r}: {spec!r}}}: unknown operator {raw!r}; use {known}")
    result: dict[str, Any] = {"propertyName": name, "operator": operator}
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        if args:
            raise ValueError(f"where={{{name!r}: {spec!r}}}: {raw!r} takes no value")
        return result
    if operator == "BETWEEN":
        if len(args) != 2:
            raise ValueError(f"where={{{name!r}: {spec!r}}}: between takes a low and a high")
        result["value"] = _filter_value(schema, name, args[0])
        result["highValue"] = _filter_value(schema, name, args[1])
        return result
    if len(args) != 1:
        raise ValueError(f"where={{{name!r}: {spec!r}}}: {raw!r} takes one value")
    (value,) = args
    if operator in ("IN", "NOT_IN"):
        values = [value] if isinstance(value, str) else list(value)
        result["values"] = [_filter_value(schema, name, v) for v in values]
    elif operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        result["value"] = str(value)  # a search pattern (may hold *), not a property value
    else:
        result["value"] = _filter_value(schema, name, value)
    return result


def _filter_value(schema: Schema, name: str, value: Any) -> str:
    """A filter value: the codec's wire form; dates and datetimes as epoch milliseconds,
    the form HubSpot's search documents (a naive value is taken as UTC)."""
    kind = schema.kind(name)
    if kind in ("date", "datetime"):
        stamp = _as_utc(value) if kind == "datetime" else value
        wire = schema.encode_value(name, stamp)
        if wire is None:
            raise ValueError(f"where= for {name!r}: a filter needs a value, not {value!r}")
        parsed = pd.Timestamp(wire)
        if parsed.tzinfo is None:
            parsed = parsed.tz_localize("UTC")
        return str(int(parsed.value // 1_000_000))
    wire = schema.encode_value(name, value)
    if wire is None:
        raise ValueError(f"where= for {name!r}: use None (unset) rather than {value!r}")
    return wire


def _as_utc(value: Any) -> Any:
    """A naive datetime (or ISO string without an offset) read as UTC; others unchanged."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        try:
            value = pd.Timestamp(value)
        except ValueError:
            return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp | dt.datetime) and value.tzinfo is None:
        return pd.Timestamp(value).tz_localize("UTC")
    return value


# -- collecting ------------------------------------------------------------------------------


class _Collector:
    """Every record fetched, one per id; the list's copy (the database) beats search's
    (the index). Thread safe; counts new ids on the progress bar."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._lock = threading.Lock()
        self._records: dict[int, dict[str, Any]] = {}
        self._authoritative: set[int] = set()

    def add(self, results: Iterable[dict[str, Any]], *, from_list: bool) -> None:
        new = 0
        with self._lock:
            for record in results:
                key = int(record["id"])
                if key not in self._records:
                    new += 1
                elif not from_list or key in self._authoritative:
                    continue
                self._records[key] = record
                if from_list:
                    self._authoritative.add(key)
            if new:
                self._bar.update(new)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def sorted_records(self, limit: int | None) -> list[dict[str, Any]]:
        with self._lock:
            keys = sorted(self._records)[:limit]
            return [self._records[k] for k in keys]


def _walk_list(
    client: Client,
    names: list[str],
    collector: _Collector,
    *,
    archived: bool,
    limit: int | None,
) -> None:
    """The list walk alone (archived contacts, or ``limit`` without ``where``)."""
    with _ListReader(client, names, collector, archived=archived) as reader:
        for page in client.iter_list(reader.list_properties, archived=archived):
            reader.take(page)
            if limit is not None and reader.seen >= limit:
                break


def _walk_search(
    client: Client,
    names: list[str],
    groups: list[dict[str, Any]],
    collector: _Collector,
    *,
    limit: int,
) -> None:
    """One ascending keyset walk (``limit`` with ``where``)."""
    lo = -1
    while len(collector) < limit:
        page = client.search_page(_search_body(groups, names, lo, None, "up"))
        collector.add(page.results, from_list=False)
        if len(page.results) < MAX_SEARCH_LIMIT:
            return
        lo = max(int(r["id"]) for r in page.results)


class _ListReader:
    """Takes list pages: keeps their records, or (when the property names do not fit in
    a URL) reads each page's contacts by batch read, in parallel on the burst budget."""

    def __init__(
        self,
        client: Client,
        names: list[str],
        collector: _Collector,
        *,
        archived: bool,
        workers: int = 4,
    ) -> None:
        self.client = client
        self.names = names
        self.collector = collector
        self.archived = archived
        self.inline = client.list_url_fits(names)
        self.list_properties = names if self.inline else [ID]
        self.seen = 0
        self._pool = (
            None
            if self.inline
            else ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hsframe-read")
        )
        self._futures: list[Future[None]] = []

    def __enter__(self) -> _ListReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(wait=exc_info[0] is None)

    def take(self, page: Page) -> list[int]:
        """Keep (or schedule the reading of) one list page; returns its ids."""
        ids = [int(r["id"]) for r in page.results]
        self.seen += len(ids)
        if self._pool is None:
            self.collector.add(page.results, from_list=True)
        elif ids:
            self._futures.append(self._pool.submit(self._read, ids))
        return ids

    def _read(self, ids: list[int]) -> None:
        result = self.client.batch_read(ids, self.names, archived=self.archived)
        # Ids missing from the answer (a 207) were archived since the list page: skip them.
        self.collector.add(result.results, from_list=True)

    def close(self, *, wait: bool = True) -> None:
        if self._pool is None:
            return
        try:
            if wait:
                for future in self._futures:
                    future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=not wait)


# -- the parallel scan -------------------------------------------------------------------------

Direction = Literal["up", "down"]


@dataclass(eq=False)
class _Gap:
    """Ids ``lo < id < hi`` not read yet (``hi`` None: no upper bound), and who walks it:
    ``up`` from ``lo`` (the list walk, or a search walker on the open top) and ``down``
    from ``hi`` (a search walker)."""

    lo: int
    hi: int | None
    up: str | None = None
    down: str | None = None
    closed: bool = False

    def empty(self) -> bool:
        return self.hi is not None and self.lo >= self.hi - 1


@dataclass
class _Scan:
    """The gap scheduler of the module docstring's plan, step 2.

    The id space starts as two gaps: everything up to the highest id the probe saw, and the
    open top above it. The list walk goes up the bottom gap; search walkers walk bounded
    gaps downwards, so that the list is never behind a walker going its way. An idle search
    walker takes the gap that would take longest to finish: one that nobody walks down
    (from its top), else one it splits, walking down the lower part, sized so that both
    parts finish together given the walkers' speeds. The open top is read last, upwards,
    by a walker with nothing else to do.

    Against the index lag (:data:`INDEX_LAG`), while the load is younger than it, the list
    walk reads on past ground the search walkers covered (its copies win), and a search
    walker does not read the open top: either the list reaches its end, which closes the
    top, or the top is read once the index holds every contact created before the load.
    With no list walk (a ``where``), the top is read without waiting.
    """

    client: Client
    names: list[str]
    groups: list[dict[str, Any]]
    collector: _Collector
    estimate: _Estimate
    use_list: bool
    gaps: list[_Gap] = field(default_factory=list)
    roles: dict[str, tuple[_Gap, Direction]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    searchers: int = 0
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        # Wakes the walker waiting to read the open top, when the list closes it or on a stop.
        self.changed = threading.Condition(self.lock)

    def run(self) -> None:
        """Walk until every gap is closed; raise the first error any walker met."""
        estimate = self.estimate
        high = estimate.high
        bottom = _Gap(lo=-1, hi=None if high is None else high + 1)
        self.gaps = [bottom] if high is None else [bottom, _Gap(lo=high, hi=None)]
        if self.use_list:
            bottom.up = "list"
            self.roles["list"] = (bottom, "up")
        # What the probes found is read by batch read (burst budget), beside the walkers.
        known = sorted({*estimate.top_ids, *estimate.bottom_ids})
        if estimate.top_ids:
            self._cover(estimate.top_ids[0] - 1, estimate.top_ids[-1] + 1)
        if estimate.bottom_ids:
            self._cover(-1, estimate.bottom_ids[-1] + 1)
        if estimate.list_done:
            self._cover(-1, None)
        self.searchers = self._searchers()
        workers = self.searchers + (1 if self.use_list and self.gaps else 0)
        with (
            ThreadPoolExecutor(
                max_workers=max(1, workers), thread_name_prefix="hsframe-load"
            ) as pool,
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="hsframe-read") as reads,
        ):
            futures = [
                reads.submit(self._guard, self._read, known[i : i + MAX_BATCH])
                for i in range(0, len(known), MAX_BATCH)
            ]
            futures += [
                pool.submit(self._guard, self._search, f"search-{i}") for i in range(self.searchers)
            ]
            if self.use_list and self.gaps:
                futures.append(pool.submit(self._guard, self._list))
            try:
                for future in futures:
                    future.result()
            except BaseException:
                self._halt()  # e.g. KeyboardInterrupt: walkers finish their request, stop
                raise
        if self.errors:
            raise self.errors[0]

    def _read(self, ids: list[int]) -> None:
        if not self.stop.is_set():
            result = self.client.batch_read(ids, self.names)
            self.collector.add(result.results, from_list=True)

    def _searchers(self) -> int:
        """Enough walkers to keep the search budget busy at the measured latency."""
        if not self.gaps:
            return 0
        if self.estimate.total == 0:
            return 0 if self.use_list else 1
        # 5 searches a second, each taking the probes' round trip, with some slack.
        wanted = max(2, math.ceil(5 * self.estimate.latency * 1.5) + 1)
        budget = self.client.settings.max_concurrency - (2 if self.use_list else 0)
        return max(1, min(SEARCH_WALKERS, wanted, budget))

    def _speed(self, walker: str | None) -> float:
        """Estimated contacts a second one walker reads (0 for nobody)."""
        if walker is None:
            return 0.0
        latency = max(self.estimate.latency, 0.01)
        if walker == "list":
            return MAX_LIST_LIMIT / latency
        # Search walkers share 5 requests a second.
        return min(MAX_SEARCH_LIMIT / latency, 5 * MAX_SEARCH_LIMIT / max(1, self.searchers))

    def _guard(self, walker: Callable[..., None], *args: Any) -> None:
        try:
            walker(*args)
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)
            self._halt()

    def _halt(self) -> None:
        """Tell every walker to stop after its request (and wake one waiting for the top)."""
        with self.lock:
            self.stop.set()
            self.changed.notify_all()

    def _lag_left(self) -> float:
        """Seconds until the load is :data:`INDEX_LAG` old; until then, the search index may
        lack contacts created just before it began."""
        return self.estimate.began + INDEX_LAG - time.monotonic()

    # -- the list walker

    def _list(self) -> None:
        workers = max(1, self.client.settings.max_concurrency - SEARCH_WALKERS - 1)
        with _ListReader(
            self.client, self.names, self.collector, archived=False, workers=workers
        ) as reader:
            high, trusted = max(self.estimate.bottom_ids, default=-1), True
            after = self.estimate.list_after
            for page in self.client.iter_list(reader.list_properties, after=after):
                if self.stop.is_set():
                    return
                ids = reader.take(page)
                with self.lock:
                    if not self.gaps:
                        return  # the search walkers have read everything else
                    if trusted:
                        role = self.roles.get("list")
                        if (role is None or role[0].closed) and self._lag_left() <= 0:
                            return  # met the search walkers (while young: read on, see _Scan)
                        if ids and (ids != sorted(ids) or ids[0] <= high):
                            # Not in id order after all: what the list has covered is
                            # unknown, so its gap goes to the search walkers, and the list
                            # reads on until they or it finish (its records are kept).
                            trusted = False
                            self._release("list")
                        elif ids:
                            high = ids[-1]
                            self._cover(-1, high + 1)
                    if page.after is None:
                        self._cover(-1, None)  # the whole list is read, the open top too
                        self.changed.notify_all()
                        return

    # -- search walkers

    def _search(self, me: str) -> None:
        while not self.stop.is_set():
            with self.lock:
                role = self.roles.get(me)
                if role is None or role[0].closed:
                    self.roles.pop(me, None)
                    role = self._assign(me)
                    if role is None:
                        return
                gap, direction = role
                if gap.hi is None and self.use_list:
                    wait = self._lag_left()
                    if wait > 0:
                        # The open top: not before the index holds every contact created
                        # before the load began, unless the list reaches its end first.
                        self.changed.wait(wait)
                        continue
                if (
                    direction == "down"
                    and gap.up is not None
                    and self.estimate.count(gap.lo, gap.hi) <= MAX_LIST_LIMIT
                ):
                    # The list walk finishes this in one page; meeting it costs a page.
                    self._release(me)
                    continue
                lo, hi = gap.lo, gap.hi
            page = self.client.search_page(_search_body(self.groups, self.names, lo, hi, direction))
            self.collector.add(page.results, from_list=False)
            ids = [int(r["id"]) for r in page.results]
            with self.lock:
                if len(ids) < MAX_SEARCH_LIMIT:
                    self._cover(lo, hi)
                elif direction == "up":
                    self._cover(lo, max(ids) + 1)
                else:
                    self._cover(min(ids) - 1, hi)

    def _assign(self, me: str) -> tuple[_Gap, Direction] | None:
        """Give an idle search walker the gap that needs it most (under the lock)."""
        ranked: list[tuple[float, int, _Gap]] = []
        busy = 0.0  # the longest any walked gap too small to share will still take
        for position, gap in enumerate(self.gaps):
            if gap.closed or gap.hi is None:
                continue
            speed = self._speed(gap.up) + self._speed(gap.down)
            remaining = self.estimate.count(gap.lo, gap.hi)
            if speed == 0:
                ranked.append((math.inf, position, gap))
            elif remaining >= MIN_SPLIT:
                ranked.append((remaining / speed, position, gap))
            else:
                busy = max(busy, remaining / speed)
        if not ranked and busy >= 2 * self.estimate.latency:
            return None
        ranked.sort(key=lambda item: (-item[0], item[1]))
        if not ranked or ranked[0][0] < 2 * self.estimate.latency:
            top = self._take_top(me)
            if top is not None:
                return top
        for _, _, gap in ranked:
            role: tuple[_Gap, Direction] | None
            if gap.down is None:
                gap.down = me
                role = (gap, "down")
            else:
                role = self._split(gap, me)
            if role is not None:
                self.roles[me] = role
                return role
        return self._take_top(me)

    def _take_top(self, me: str) -> tuple[_Gap, Direction] | None:
        """The open top, read upwards near the end of the load (with a list walk, not
        before the load is :data:`INDEX_LAG` old), so that contacts created just before it
        began have reached the search index."""
        for gap in self.gaps:
            if gap.hi is None and not gap.closed and gap.up is None:
                gap.up = me
                self.roles[me] = (gap, "up")
                return gap, "up"
        return None

    def _split(self, gap: _Gap, me: str) -> tuple[_Gap, Direction] | None:
        """Cut a gap at the point where both parts should finish together: its down walker
        keeps the upper part, ``me`` walks the lower part down (beside its up walker, if
        any). None when the gap is too small to cut or its spread is unknown."""
        if self.estimate.low is None or self.estimate.high is None or gap.hi is None:
            return None
        low = max(gap.lo, self.estimate.low - 1)
        top = min(gap.hi, self.estimate.high + 1)
        lower = self._speed(gap.up) + self._speed(me)
        upper = self._speed(gap.down)
        cut = low + int((top - low) * lower / (lower + upper))
        # Round the upper part to whole search pages, so that its walker ends on a full
        # page rather than a short one.
        density = self.estimate.density()
        if density > 0:
            pages = max(1, round(self.estimate.count(cut, gap.hi) / MAX_SEARCH_LIMIT))
            cut = gap.hi - 1 - round(pages * MAX_SEARCH_LIMIT / density)
        if not low < cut < top - 1:
            return None
        above = _Gap(lo=cut, hi=gap.hi, down=gap.down)
        gap.hi, gap.down = cut + 1, me
        self.gaps.append(above)
        if above.down is not None:
            self.roles[above.down] = (above, "down")
        return gap, "down"

    def _cover(self, lo: int, hi: int | None) -> None:
        """Every id with ``lo < id < hi`` has been read: shrink or close the gaps (under
        the lock). ``hi`` None: no upper bound."""
        first, last = lo + 1, (math.inf if hi is None else hi - 1)
        for gap in self.gaps:
            if gap.closed:
                continue
            gap_first, gap_last = gap.lo + 1, (math.inf if gap.hi is None else gap.hi - 1)
            if first <= gap_first <= last:
                if last == math.inf:
                    gap.closed = True
                else:
                    gap.lo = max(gap.lo, int(last))
            if not gap.closed and first <= gap_last <= last:
                gap.hi = first if gap.hi is None else min(gap.hi, first)
            if gap.closed or gap.empty():
                gap.closed = True
        self.gaps = [g for g in self.gaps if not g.closed]

    def _release(self, walker: str) -> None:
        role = self.roles.pop(walker, None)
        if role is None:
            return
        gap, direction = role
        if direction == "up":
            gap.up = None
        else:
            gap.down = None


def _search_body(
    groups: list[dict[str, Any]],
    names: list[str],
    lo: int,
    hi: int | None,
    direction: Direction,
) -> dict[str, Any]:
    """A keyset search: ids ``lo < id < hi`` matching ``groups``, one page from one end."""
    bounds: list[dict[str, Any]] = []
    if lo >= 0:
        bounds.append({"propertyName": ID, "operator": "GT", "value": str(lo)})
    if hi is not None:
        bounds.append({"propertyName": ID, "operator": "LT", "value": str(hi)})
    if groups:
        filter_groups = [{**g, "filters": [*g.get("filters", ()), *bounds]} for g in groups]
    else:
        filter_groups = [{"filters": bounds}] if bounds else []
    return {
        "filterGroups": filter_groups,
        "sorts": [
            {"propertyName": ID, "direction": "ASCENDING" if direction == "up" else "DESCENDING"}
        ],
        "properties": names,
        "limit": MAX_SEARCH_LIMIT,
    }
