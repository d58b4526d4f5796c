"""The sandbox's contacts and properties endpoints: HubSpot's CRM behaviour over a Store.

The core (:mod:`hsframe.sandbox.core`) authenticates, rate-limits and injects faults; it
reaches the endpoints only through :meth:`Crm.route`, which names, for a method and path,
the scopes the call needs, the rate budget it is charged to and the handler that answers
it. Handlers take a :class:`~hsframe.sandbox.wire.Request` and return a
:class:`~hsframe.sandbox.wire.Response`; HubSpot's error bodies are built by
:class:`~hsframe.sandbox.wire.ApiError`.

Served paths, under ``/crm/v3/objects/contacts``, its generic twin ``/crm/v3/objects/0-1``
and the date-versioned ``/crm/objects/<yyyy-mm>/contacts``:

=========================  =================================================
``GET ""``                 list (``limit`` ≤ 100, ≤ 50 with history; cursor)
``POST ""``                create (201)
``GET|PATCH|DELETE /{id}`` get, update, archive (204); ``idProperty=email``
``POST /batch/<op>``       ``read``, ``create`` (201), ``update``, ``upsert``,
                           ``archive`` (204)
``POST /search``           search (the ``search`` budget)
``POST /merge``            merge into ``primaryObjectId``
``POST /gdpr-delete``      permanent delete (204)
=========================  =================================================

plus ``GET /crm/v3/properties/contacts[/{name}]`` (and ``/crm/properties/<yyyy-mm>/...``).

The rules are hubspot-api.md's, its "Decisions for hsframe's sandbox" table first. Where
that reference leaves a point open, the sandbox decides as follows:

* Objects always carry ``createdate``, ``hs_object_id`` and ``lastmodifieddate`` in
  ``properties``, whatever was requested (as real portals answer), besides the requested
  (or default) properties; requested-but-unset ones are ``null``.
* Write responses (create, update, upsert, their batch forms) carry the properties the
  input named, as stored after the write (a backward lifecycle move shows the value
  that stayed; an email shows lower-cased; a cleared value shows ``null``).
* Batch results echo ``objectWriteTraceId`` when the input had one.
* Multi-status applies only when every input carries ``objectWriteTraceId``. Without it,
  the first failing input decides the whole answer and nothing is written: 400 for
  invalid values, 409 for a conflict, 404 ``OBJECT_NOT_FOUND`` (with the "Could not get
  some CONTACT objects" message) for a missing record in update or upsert.
* Within one batch, two inputs that give a unique property the same value (or name the
  same id) make the whole batch a 400, with or without trace ids.
* ``hasUniqueValue`` properties collide like emails, with the same 409 body.
* Unique values are unique among live contacts; archiving releases them.
* Merge: the merged-away contact is purged (404 everywhere, archived lists included); the
  primary keeps its values, takes the other's where it has none, and records the other's
  email in ``hs_additional_emails`` and id in ``hs_merged_object_ids`` when defined.
* GDPR delete by id (or email) of a live or archived contact purges it (its email stays
  usable); of an unknown id → 404; of an unknown email → 204 and the email is
  blocklisted: later writes of it → 400 ``INVALID_EMAIL``.
* ``DELETE`` of an unknown or archived contact → 204, like batch archive.
* Lifecycle stage: with ``CrmSettings.lifecycle_forward_only`` a backward move is answered
  like any write but not applied (``lastmodifieddate`` still changes).
* The partial-failure fault (:meth:`Crm.fail_next_inputs`) fails the first inputs of the
  next batch create/update/upsert requests: with trace ids on every input they come back
  as 207 ``INTERNAL_ERROR`` entries; without, the whole request is a 500
  ``INTERNAL_ERROR`` and nothing is written.
* List and search cursors are opaque (base64); search also accepts decimal offsets such
  as ``"0"``. Malformed payloads (wrong JSON types) are 400s without a category, like
  HubSpot's JSON deserialization errors; everything else is ``VALIDATION_ERROR``.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hsframe.sandbox import search
from hsframe.sandbox.rules import (
    check_values,
    format_datetime,
    is_backward_lifecycle,
    unique_key,
    validation_error,
    wire_value,
)
from hsframe.sandbox.store import Conflict, Record, Store
from hsframe.sandbox.wire import ApiError, Request, Response

__all__ = [
    "DEFAULT_PROPERTIES",
    "PROPERTY_READ_SCOPES",
    "READ_SCOPES",
    "WRITE_SCOPES",
    "Crm",
    "CrmSettings",
    "Route",
]

READ_SCOPES = ("crm.objects.contacts.read",)
WRITE_SCOPES = ("crm.objects.contacts.write",)
PROPERTY_READ_SCOPES = (
    "crm.objects.contacts.read",
    "crm.schemas.contacts.read",
    "crm.objects.contacts.write",
)
DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
ALWAYS_PROPERTIES = ("createdate", "hs_object_id", "lastmodifieddate")
MAX_BATCH = 100
MAX_HISTORY_BATCH = 50
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10

NOT_FOUND_MESSAGE = "Object not found.  objectId are usually numeric."
MISSING_MESSAGE = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
)
HISTORY_BATCH_MESSAGE = (
    "The maximum number of inputs supported in a batch request for property histories is "
    "50. Please reduce the number of items and try again"
)
BATCH_SIZE_MESSAGE = (
    "The maximum number of inputs supported in a batch request is 100. "
    "Please reduce the number of items and try again"
)
NON_UNIQUE_MESSAGE = "Unable to perform update/upsert by non-unique 0-1 property"

_OBJECTS = re.compile(
    r"/crm/(?:v3/objects|objects/\d{4}-\d{2}(?:-beta)?)/(?:contacts|0-1)(?P<rest>(?:/[^/]+)*)"
)
_PROPERTIES = re.compile(
    r"/crm/(?:v3/properties|properties/\d{4}-\d{2}(?:-beta)?)/(?:contacts|0-1)(?:/(?P<name>[^/]+))?"
)
_LIST_CURSOR = "after-id:"

Budget = Literal["burst", "search"]
WriteKind = Literal["create", "update", "upsert"]


@dataclass(frozen=True)
class Route:
    """What the core needs to serve one endpoint.

    Attributes:
        scopes: The request needs any one of these scopes; ``()`` means none.
        budget: The rate-limit bucket: ``"search"`` for search, ``"burst"`` for the rest.
        handler: Answers the request (HubSpot's errors are answered, not raised).
    """

    scopes: tuple[str, ...]
    budget: Budget
    handler: Callable[[Request], Response]


@dataclass
class CrmSettings:
    """The CRM's realism knobs.

    Attributes:
        lifecycle_forward_only: A write moving ``lifecyclestage`` backwards is answered
            but not applied (hubspot-api.md Decisions: lifecycle stage).
        shuffle_results: Batch results come back in an order not tied to the input's.
        search_index_lag: Seconds before a write is visible to search.
        max_filter_groups: Search cap on filter groups.
        max_filters: Search cap on filters in all.
        max_filters_per_group: Search cap on filters in one group.
    """

    lifecycle_forward_only: bool = True
    shuffle_results: bool = True
    search_index_lag: float = 0.0
    max_filter_groups: int = 5
    max_filters: int = 25
    max_filters_per_group: int = 10


class _InputFailure(Exception):
    """One batch input failed; in multi-status mode it becomes an ``errors[]`` entry."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class _Input:
    """One write input, as parsed from a request."""

    properties: Mapping[str, Any]
    id: str | None = None
    id_property: str | None = None
    trace: str | None = None


@dataclass
class _Plan:
    """A checked write, ready to commit."""

    input: _Input
    values: dict[str, str]
    object_id: int | None = None  # None: create
    new: bool | None = None  # upsert only


def _bad(message: str, **context: list[str]) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, context=context or None)


def _malformed(message: str) -> ApiError:
    """HubSpot's 400 for a payload of the wrong JSON shape (no category)."""
    return ApiError(400, None, f"Invalid input JSON: {message}")


def _not_found(raw_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", NOT_FOUND_MESSAGE, context={"id": [raw_id]})


def _missing(ids: Sequence[str]) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", MISSING_MESSAGE, context={"ids": list(ids)})


def _conflict(existing_id: int) -> ApiError:
    return ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing_id}")


def _injected() -> ApiError:
    return ApiError(500, "INTERNAL_ERROR", "internal error (injected partial batch failure)")


def _numeric_id(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() else None


def _param(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[-1] if values else None


def _list_param(request: Request, name: str) -> list[str] | None:
    """A list parameter, given repeated (``?p=a&p=b``) or comma-separated (``?p=a,b``)."""
    values = request.query.get(name)
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _flag(request: Request, name: str) -> bool:
    value = _param(request, name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise _bad(f"{name} must be true or false, not {value!r}")
    return value.lower() == "true"


def _encode_list_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_LIST_CURSOR}{last_id}".encode()).decode().rstrip("=")


def _decode_list_cursor(after: str | None) -> int | None:
    if not after:
        return None
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if text.startswith(_LIST_CURSOR) and text[len(_LIST_CURSOR) :].isdigit():
        return int(text[len(_LIST_CURSOR) :])
    raise _bad(f"Invalid paging cursor: {after!r}. Use paging.next.after from a previous page.")


def _body(request: Request) -> Mapping[str, Any]:
    body = request.json()
    if not isinstance(body, Mapping):
        raise _malformed("the body must be a JSON object")
    return body


def _string_list(body: Mapping[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _malformed(f"{name} must be a list of strings")
    return value


def _raw_inputs(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, Mapping) for i in inputs):
        raise _malformed("inputs must be a list of objects")
    if len(inputs) > MAX_BATCH:
        raise _bad(BATCH_SIZE_MESSAGE)
    return inputs


def _id_text(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise _malformed("every input needs an id (a string)")
    return str(value)


def _duplicates(keys: Iterable[str]) -> list[str]:
    counts = Counter(keys)
    return [key for key, count in counts.items() if count > 1]


def _iso(moment: float) -> str:
    return format_datetime(int(moment * 1000))


class Crm:
    """HubSpot's contact and property endpoints over a :class:`Store`. Thread safe.

    Args:
        store: The contacts.
        settings: Realism knobs; defaults as HubSpot behaves.
        clock: Seconds since the epoch: write timestamps, batch times, index lag.
        rng: Randomness for shuffling batch results (seed it for repeatable tests).

    Example:
        >>> import json
        >>> store = Store([{"name": "email", "type": "string", "fieldType": "text"}])
        >>> crm = Crm(store)
        >>> route = crm.route("POST", "/crm/v3/objects/contacts")
        >>> body = json.dumps({"properties": {"email": "ann@example.com"}}).encode()
        >>> route.handler(Request("POST", "/crm/v3/objects/contacts", body=body)).status
        201
    """

    def __init__(
        self,
        store: Store,
        *,
        settings: CrmSettings | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.settings = settings if settings is not None else CrmSettings()
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._failing = 0
        self._failing_lock = threading.Lock()
        self._single: dict[
            tuple[str, str], tuple[tuple[str, ...], Callable[[Request], Response]]
        ] = {
            ("GET", ""): (READ_SCOPES, self._list),
            ("POST", ""): (WRITE_SCOPES, self._create),
            ("POST", "/batch/read"): (READ_SCOPES, self._batch_read),
            ("POST", "/batch/create"): (WRITE_SCOPES, self._batch_create),
            ("POST", "/batch/update"): (WRITE_SCOPES, self._batch_update),
            ("POST", "/batch/upsert"): (WRITE_SCOPES, self._batch_upsert),
            ("POST", "/batch/archive"): (WRITE_SCOPES, self._batch_archive),
            ("POST", "/search"): (READ_SCOPES, self._search),
            ("POST", "/merge"): (WRITE_SCOPES, self._merge),
            ("POST", "/gdpr-delete"): (WRITE_SCOPES, self._gdpr_delete),
        }
        self._by_id: dict[str, tuple[tuple[str, ...], Callable[[str, Request], Response]]] = {
            "GET": (READ_SCOPES, self._get),
            "PATCH": (WRITE_SCOPES, self._update),
            "DELETE": (WRITE_SCOPES, self._archive),
        }

    def __repr__(self) -> str:
        return f"Crm({self.store!r}, settings={self.settings!r})"

    # ------------------------------------------------------------------ routing

    def route(self, method: str, path: str) -> Route | None:
        """The route serving ``method path``, or None (the core answers 404/405).

        Args:
            method: The HTTP method.
            path: The percent-decoded path, without the query string.
        """
        verb = method.upper()
        clean = path.rstrip("/") or "/"
        match = _OBJECTS.fullmatch(clean)
        if match:
            rest = match.group("rest")
            single = self._single.get((verb, rest))
            if single is not None:
                scopes, handler = single
                budget: Budget = "search" if rest == "/search" else "burst"
                return Route(scopes, budget, _answering(handler))
            segments = rest.split("/")[1:]
            if len(segments) == 1 and verb in self._by_id:
                scopes, by_id = self._by_id[verb]
                raw_id = segments[0]
                return Route(scopes, "burst", _answering(lambda r: by_id(raw_id, r)))
            return None
        match = _PROPERTIES.fullmatch(clean)
        if match and verb == "GET":
            name = match.group("name")
            if name is None:
                return Route(PROPERTY_READ_SCOPES, "burst", _answering(self._properties))
            return Route(
                PROPERTY_READ_SCOPES, "burst", _answering(lambda r: self._property(name, r))
            )
        return None

    def fail_next_inputs(self, count: int) -> None:
        """Fault injection: the next ``count`` inputs of batch create/update/upsert fail.

        Failed inputs are not written. When every input of the request carries an
        ``objectWriteTraceId`` they come back as 207 ``errors[]`` entries (category
        ``INTERNAL_ERROR``); otherwise the whole request fails with a 500 and nothing of
        it is written. Counts add up; a request consumes at most its own inputs.
        """
        if count < 0:
            raise ValueError(f"count cannot be negative, not {count}")
        with self._failing_lock:
            self._failing += count

    def _take_failures(self, inputs: int) -> int:
        with self._failing_lock:
            taken = min(self._failing, inputs)
            self._failing -= taken
            return taken

    # ------------------------------------------------------------------ rendering

    def _names(self, requested: Sequence[str] | None) -> list[str]:
        """The properties an object shows: requested (or default) ones that exist."""
        base = requested if requested else DEFAULT_PROPERTIES
        names = dict.fromkeys([*base, *ALWAYS_PROPERTIES])
        return sorted(n for n in names if n in self.store.definitions)

    def _history_names(self, requested: Sequence[str] | None) -> list[str]:
        return sorted(n for n in dict.fromkeys(requested or ()) if n in self.store.definitions)

    @staticmethod
    def _object(
        record: Record,
        *,
        trace: str | None = None,
        new: bool | None = None,
        searched: bool = False,
    ) -> dict[str, Any]:
        """A ``SimplePublicObject`` (with ``new`` for upserts)."""
        archived = record.archived and not searched
        payload: dict[str, Any] = {
            "id": str(record.id),
            "properties": record.properties,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "archived": archived,
        }
        if archived and record.archived_at:
            payload["archivedAt"] = record.archived_at
        if record.history is not None:
            payload["propertiesWithHistory"] = record.history
        if trace is not None:
            payload["objectWriteTraceId"] = trace
        if new is not None:
            payload["new"] = new
        return payload

    def _shuffled(self, items: list[Any]) -> list[Any]:
        if self.settings.shuffle_results and len(items) > 1:
            self._rng.shuffle(items)
        return items

    def _batch_payload(
        self, started: float, results: list[Any], errors: list[dict[str, Any]]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": self._shuffled(results),
            "startedAt": _iso(started),
            "completedAt": _iso(self._clock()),
        }
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
        return payload

    @staticmethod
    def _entry(error: ApiError, item: _Input | None = None) -> dict[str, Any]:
        """A ``StandardError`` for one failed batch input."""
        context = dict(error.context or {})
        if item is not None:
            if item.id is not None:
                context.setdefault("ids", [item.id])
            if item.trace is not None:
                context["objectWriteTraceId"] = [item.trace]
        return {
            "status": "error",
            "category": error.category or "ERROR",
            "message": error.message,
            "context": context,
            "errors": error.errors or [],
            "links": {},
        }

    # ------------------------------------------------------------------ lookups

    def _resolve(self, raw_id: str, id_property: str | None, archived: bool | None) -> int | None:
        """The contact id meant by ``raw_id`` (None when there is none)."""
        if id_property in (None, "", "hs_object_id"):
            return _numeric_id(raw_id)
        assert id_property is not None
        self._check_id_property(id_property, lookup=True)
        return self.store.find(id_property, raw_id, archived=archived)

    def _check_id_property(self, name: str, *, lookup: bool = False) -> None:
        if name not in self.store.definitions:
            raise _bad(f'Property "{name}" does not exist', propertyName=[name])
        if name not in self.store.unique_names:
            if lookup:
                raise _bad(f"Unable to perform lookup by non-unique 0-1 property: {name}")
            raise _bad(NON_UNIQUE_MESSAGE)

    # ------------------------------------------------------------------ planning writes

    def _checked(self, properties: Mapping[str, Any]) -> dict[str, str]:
        try:
            values, problems = check_values(
                properties, self.store.definitions, blocked=self.store.is_blocked
            )
        except TypeError as exc:
            raise _malformed(str(exc)) from None
        if problems:
            raise _InputFailure(validation_error(problems))
        return values

    def _unique_ok(self, values: Mapping[str, str], exclude: int | None) -> None:
        try:
            self.store.check_unique(values, exclude=exclude)
        except Conflict as exc:
            raise _InputFailure(_conflict(exc.existing_id)) from None

    def _plan_create(self, item: _Input) -> _Plan:
        values = self._checked(item.properties)
        self._unique_ok(values, None)
        return _Plan(item, values)

    def _plan_update(self, item: _Input, object_id: int) -> _Plan:
        values = self._checked(item.properties)
        stage = values.get("lifecyclestage")
        if (
            stage
            and self.settings.lifecycle_forward_only
            and is_backward_lifecycle(self.store.value(object_id, "lifecyclestage"), stage)
        ):
            del values["lifecyclestage"]  # HubSpot answers 200 and keeps the later stage
        self._unique_ok(values, object_id)
        return _Plan(item, values, object_id)

    def _plan_by_id(self, item: _Input) -> _Plan:
        """An update of an existing contact named by id (or a unique custom property)."""
        assert item.id is not None
        object_id = self._resolve(item.id, item.id_property, archived=False)
        if object_id is None or not self.store.exists(object_id):
            raise _InputFailure(_missing([item.id]))
        return self._plan_update(item, object_id)

    def _plan_upsert(self, item: _Input) -> _Plan:
        assert item.id is not None
        if item.id_property in (None, "", "hs_object_id"):
            plan = self._plan_by_id(item)
            plan.new = False
            return plan
        assert item.id_property is not None
        object_id = self.store.find(item.id_property, item.id)
        if object_id is not None:
            plan = self._plan_update(item, object_id)
            plan.new = False
            return plan
        properties = {item.id_property: item.id, **item.properties}
        plan = self._plan_create(_Input(properties, item.id, item.id_property, item.trace))
        plan.input = item
        plan.new = True
        return plan

    def _commit(self, plan: _Plan, at: float) -> int:
        if plan.object_id is None:
            return self.store.create(plan.values, at=at)
        self.store.update(plan.object_id, plan.values, at=at)
        return plan.object_id

    def _written(self, plan: _Plan, object_id: int) -> dict[str, Any]:
        names = self._names([*plan.input.properties, *plan.values] or list(ALWAYS_PROPERTIES))
        record = self.store.read([object_id], names)[0]
        assert record is not None
        return self._object(record, trace=plan.input.trace, new=plan.new)

    # ------------------------------------------------------------------ single objects

    def _list(self, request: Request) -> Response:
        history_param = _list_param(request, "propertiesWithHistory")
        limit_text = _param(request, "limit")
        try:
            limit = int(limit_text) if limit_text not in (None, "") else DEFAULT_LIST_LIMIT
        except ValueError:
            raise _bad(f"limit must be an integer, not {limit_text!r}") from None
        maximum = MAX_HISTORY_BATCH if history_param else MAX_LIST_LIMIT
        if not 1 <= limit <= maximum:
            with_history = " with propertiesWithHistory" if history_param else ""
            raise _bad(f"limit must be between 1 and {maximum}{with_history}, not {limit}")
        records, more = self.store.page(
            _decode_list_cursor(_param(request, "after")),
            limit,
            self._names(_list_param(request, "properties")),
            history=self._history_names(history_param),
            archived=_flag(request, "archived"),
        )
        payload: dict[str, Any] = {"results": [self._object(r) for r in records]}
        if more is not None:
            cursor = _encode_list_cursor(more)
            payload["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
        return Response.of_json(200, payload)

    def _get(self, raw_id: str, request: Request) -> Response:
        archived = _flag(request, "archived")
        object_id = self._resolve(raw_id, _param(request, "idProperty"), archived)
        record = None
        if object_id is not None:
            record = self.store.read(
                [object_id],
                self._names(_list_param(request, "properties")),
                history=self._history_names(_list_param(request, "propertiesWithHistory")),
                archived=archived,
            )[0]
        if record is None:
            raise _not_found(raw_id)
        return Response.of_json(200, self._object(record))

    def _single_properties(self, request: Request) -> Mapping[str, Any]:
        body = _body(request)
        properties = body.get("properties")
        if not isinstance(properties, Mapping):
            raise _malformed("properties must be an object")
        return properties

    def _create(self, request: Request) -> Response:
        item = _Input(self._single_properties(request))
        with self.store.lock:
            try:
                plan = self._plan_create(item)
            except _InputFailure as exc:
                raise exc.error from None
            object_id = self._commit(plan, self._clock())
            return Response.of_json(201, self._written(plan, object_id))

    def _update(self, raw_id: str, request: Request) -> Response:
        properties = self._single_properties(request)
        with self.store.lock:
            object_id = self._resolve(raw_id, _param(request, "idProperty"), archived=False)
            if object_id is None or not self.store.exists(object_id):
                raise _not_found(raw_id)
            try:
                plan = self._plan_update(_Input(properties, raw_id), object_id)
            except _InputFailure as exc:
                raise exc.error from None
            self._commit(plan, self._clock())
            return Response.of_json(200, self._written(plan, object_id))

    def _archive(self, raw_id: str, request: Request) -> Response:
        object_id = _numeric_id(raw_id)
        if object_id is not None:
            self.store.archive(object_id, at=self._clock())
        return Response.empty(204)

    # ------------------------------------------------------------------ batches

    def _batch_read(self, request: Request) -> Response:
        started = self._clock()
        body = _body(request)
        inputs = _raw_inputs(body)
        history = _string_list(body, "propertiesWithHistory")
        if history and len(inputs) > MAX_HISTORY_BATCH:
            raise _bad(HISTORY_BATCH_MESSAGE)
        raw_ids = [_id_text(i) for i in inputs]
        id_property = body.get("idProperty")
        if id_property is not None and not isinstance(id_property, str):
            raise _malformed("idProperty must be a string")
        self._reject_duplicates([unique_key(id_property or "hs_object_id", r) for r in raw_ids])
        archived = _flag(request, "archived")
        resolved = [self._resolve(raw, id_property, archived) for raw in raw_ids]
        found = self.store.read(
            [i for i in resolved if i is not None],
            self._names(_string_list(body, "properties")),
            history=self._history_names(history),
            archived=archived,
        )
        records = iter(found)
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        for raw, object_id in zip(raw_ids, resolved, strict=True):
            record = next(records) if object_id is not None else None
            if record is None:
                missing.append(raw)
            else:
                results.append(self._object(record))
        errors = [self._entry(_missing(missing))] if missing else []
        return Response.of_json(
            207 if errors else 200, self._batch_payload(started, results, errors)
        )

    @staticmethod
    def _reject_duplicates(keys: Sequence[str]) -> None:
        repeated = _duplicates(keys)
        if repeated:
            raise _bad(
                f"Duplicate IDs found in batch input: [{', '.join(repeated)}]. IDs must be unique",
                ids=repeated,
            )

    def _parse_write_inputs(self, body: Mapping[str, Any], kind: WriteKind) -> list[_Input]:
        default_property = body.get("idProperty")
        items: list[_Input] = []
        for raw in _raw_inputs(body):
            properties = raw.get("properties", {} if kind != "create" else None)
            if not isinstance(properties, Mapping):
                raise _malformed("every input needs properties (an object)")
            trace = raw.get("objectWriteTraceId")
            if trace is not None and not isinstance(trace, str | int):
                raise _malformed("objectWriteTraceId must be a string")
            item = _Input(properties, trace=None if trace is None else str(trace))
            if kind != "create":
                item.id = _id_text(raw)
                id_property = raw.get("idProperty", default_property)
                if id_property is not None and not isinstance(id_property, str):
                    raise _malformed("idProperty must be a string")
                item.id_property = id_property or None
            items.append(item)
        return items

    def _check_batch(self, items: Sequence[_Input], kind: WriteKind) -> None:
        """Whole-request checks: id properties, duplicate ids, duplicate unique values."""
        if kind != "create":
            for item in items:
                if item.id_property not in (None, "hs_object_id"):
                    assert item.id_property is not None
                    if kind == "update" and item.id_property == "email":
                        raise _bad(NON_UNIQUE_MESSAGE)
                    self._check_id_property(item.id_property)
            self._reject_duplicates(
                [unique_key(i.id_property or "hs_object_id", i.id or "") for i in items]
            )
        for name in self.store.unique_names:
            values: list[str] = []
            for item in items:
                value = item.properties.get(name)
                if value is None and item.id_property == name and kind == "upsert":
                    value = item.id
                if value not in (None, ""):
                    try:
                        values.append(unique_key(name, wire_value(value)))
                    except TypeError:
                        raise _malformed(f"{name} must be a string") from None
            repeated = _duplicates(values)
            if repeated:
                raise _bad(
                    f"Duplicate values found in batch input for unique property {name}: "
                    f"[{', '.join(repeated)}]. Values must be unique",
                    propertyName=[name],
                )

    def _batch_write(self, request: Request, kind: WriteKind) -> Response:
        started = self._clock()
        items = self._parse_write_inputs(_body(request), kind)
        multi = bool(items) and all(item.trace is not None for item in items)
        self._check_batch(items, kind)
        failing = self._take_failures(len(items))
        if failing and not multi:
            raise _injected()
        errors = [self._entry(_injected(), item) for item in items[:failing]]
        planner: Callable[[_Input], _Plan] = {
            "create": self._plan_create,
            "update": self._plan_by_id,
            "upsert": self._plan_upsert,
        }[kind]
        with self.store.lock:
            plans: list[_Plan] = []
            for item in items[failing:]:
                try:
                    plans.append(planner(item))
                except _InputFailure as exc:
                    if not multi:
                        raise exc.error from None
                    errors.append(self._entry(exc.error, item))
            at = self._clock()
            committed = [(plan, self._commit(plan, at)) for plan in plans]
            results = [self._written(plan, object_id) for plan, object_id in committed]
        status = 207 if errors else (201 if kind == "create" else 200)
        return Response.of_json(status, self._batch_payload(started, results, errors))

    def _batch_create(self, request: Request) -> Response:
        return self._batch_write(request, "create")

    def _batch_update(self, request: Request) -> Response:
        return self._batch_write(request, "update")

    def _batch_upsert(self, request: Request) -> Response:
        return self._batch_write(request, "upsert")

    def _batch_archive(self, request: Request) -> Response:
        raw_ids = [_id_text(i) for i in _raw_inputs(_body(request))]
        at = self._clock()
        for raw in raw_ids:
            object_id = _numeric_id(raw)
            if object_id is not None:
                self.store.archive(object_id, at=at)
        return Response.empty(204)

    # ------------------------------------------------------------------ search, merge, GDPR

    def _search(self, request: Request) -> Response:
        settings = self.settings
        parsed = search.parse(
            _body(request),
            search.Limits(
                settings.max_filter_groups, settings.max_filters, settings.max_filters_per_group
            ),
        )
        as_of = self._clock() - settings.search_index_lag if settings.search_index_lag > 0 else None
        view = self.store.search_view(parsed.referenced(), as_of)
        rows, total = search.run(view, parsed, self.store.definitions)
        names = self._names(parsed.properties)
        records = self.store.read(view.ids[rows].tolist(), names, archived=None, as_of=as_of)
        payload: dict[str, Any] = {
            "total": total,
            "results": [self._object(r, searched=True) for r in records if r is not None],
        }
        following = parsed.offset + len(rows)
        if len(rows) and following < total:
            payload["paging"] = {"next": {"after": search.encode_after(following)}}
        return Response.of_json(200, payload)

    def _merge(self, request: Request) -> Response:
        body = _body(request)
        primary_raw, merged_raw = body.get("primaryObjectId"), body.get("objectIdToMerge")
        if primary_raw is None or merged_raw is None:
            raise _malformed("primaryObjectId and objectIdToMerge are required")
        primary, merged = _numeric_id(primary_raw), _numeric_id(merged_raw)
        if primary is not None and primary == merged:
            raise _bad("Cannot merge a contact with itself")
        for raw, object_id in ((primary_raw, primary), (merged_raw, merged)):
            if object_id is None or not self.store.exists(object_id):
                raise _not_found(str(raw))
        assert primary is not None and merged is not None
        with self.store.lock:
            try:
                self.store.merge(primary, merged, at=self._clock())
            except KeyError as exc:
                raise _not_found(str(exc.args[0])) from None
            record = self.store.read([primary], self._names(None))[0]
        assert record is not None
        return Response.of_json(200, self._object(record))

    def _gdpr_delete(self, request: Request) -> Response:
        body = _body(request)
        raw = body.get("objectId")
        if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) == "":
            raise _malformed("objectId is required")
        id_property = body.get("idProperty")
        with self.store.lock:
            if id_property in (None, "", "hs_object_id"):
                object_id = _numeric_id(raw)
                if object_id is None or not self.store.purge(object_id, at=self._clock()):
                    raise _not_found(str(raw))
                return Response.empty(204)
            if not isinstance(id_property, str):
                raise _malformed("idProperty must be a string")
            self._check_id_property(id_property, lookup=True)
            object_id = self.store.find(id_property, str(raw), archived=None)
            if object_id is not None:
                self.store.purge(object_id, at=self._clock())
            elif id_property == "email":
                self.store.block_email(str(raw))
        return Response.empty(204)

    # ------------------------------------------------------------------ properties

    def _properties(self, request: Request) -> Response:
        results = [] if _flag(request, "archived") else self.store.properties
        return Response.of_json(200, {"results": results})

    def _property(self, name: str, request: Request) -> Response:
        definition = self.store.definitions.get(name)
        if definition is None or _flag(request, "archived"):
            raise ApiError(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type 0-1",
                context={"propertyName": [name]},
            )
        return Response.of_json(200, definition)


def _answering(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """The handler, with HubSpot's errors answered rather than raised."""

    def answer(request: Request) -> Response:
        try:
            return handler(request)
        except ApiError as exc:
            return exc.to_response()

    return answer
