"""The HubSpot client: one method per endpoint family, and the session's default client.

:class:`Client` knows HubSpot's contacts API (paths, bodies, paging, batch rules) and nothing
about DataFrames beyond listing property definitions; everything it sends goes through the
:class:`~hsframe.transport.Transport`. Loading, diffing and writing are built on it.

Paging lives in one generator, ``_pages``: :meth:`Client.iter_list` and
:meth:`Client.iter_search` only say how to fetch one page. Cursors (``paging.next.after``)
are opaque: passed back as received, never parsed or computed.

Batches hold 1 to 100 inputs (hubspot-api.md §1.4); more is refused here, before anything
is sent. A 207 (some inputs failed) is not an exception: :class:`BatchResult` carries both
the results and the per-input errors. A 400 or 409 for the whole batch is raised.

Long property lists and URL length. A contact portal has hundreds of properties, and their
names do not fit in one URL. The rule is: a GET is sent only if its URL stays within
:data:`MAX_URL_BYTES` (8,000 bytes, under the common 8 KB server limit). :meth:`Client.get`
switches to a batch read (a POST body) when it would not fit. :meth:`Client.list_page`
cannot: one page's properties cannot be split over several requests without reading
different records, so it raises ``ValueError`` instead, and the loader walks the list with
few properties and reads all of them with :meth:`Client.batch_read`, or uses search (both
POST). :meth:`Client.list_url_fits` tells in advance.

Module state (an exception to "settings are resolved once, nothing mutable"): the session's
default client, set by :func:`connect` (or the token form) and read by
:func:`default_client`, so that notebook calls such as ``hs.read_contacts()`` need no
client argument. It is guarded by a lock and replaced, never mutated.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
import requests

from hsframe.config import Secret, Settings
from hsframe.errors import (
    ConfigurationError,
    HubSpotError,
    MissingScopesError,
    NotFoundError,
    TransportError,
)
from hsframe.transport import Response, Transport

__all__ = [
    "CONTACTS_PATH",
    "MAX_BATCH",
    "MAX_URL_BYTES",
    "READ_SCOPE",
    "SCOPE_SHORTHANDS",
    "WRITE_SCOPE",
    "BatchResult",
    "Client",
    "Page",
    "TokenInfo",
    "connect",
    "default_client",
    "set_default_client",
]

READ_SCOPE = "crm.objects.contacts.read"
"""The scope for reading contacts (list, get, batch read, search)."""

WRITE_SCOPE = "crm.objects.contacts.write"
"""The scope for writing contacts (create, update, upsert, archive)."""

SCOPE_SHORTHANDS: Mapping[str, str] = {"read": READ_SCOPE, "write": WRITE_SCOPE}
"""Short names :meth:`Client.require_scopes` accepts."""

CONTACTS_PATH = "/crm/v3/objects/contacts"
"""The contacts collection (hubspot-api.md §1.1)."""

MAX_BATCH = 100
"""Most inputs HubSpot accepts in one batch request."""

MAX_LIST_LIMIT = 100
"""Most records HubSpot returns in one list page."""

MAX_SEARCH_LIMIT = 200
"""Most records HubSpot returns in one search page."""

MAX_SEARCH_GROUPS = 5
"""Most filter groups HubSpot accepts in one search (they are ORed)."""

MAX_SEARCH_RESULTS = 10_000
"""Most results one search query can page through; past it HubSpot answers 400."""

MAX_URL_BYTES = 8000
"""Longest URL hsframe sends; longer property lists go in POST bodies."""

_TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"


@dataclass(frozen=True)
class TokenInfo:
    """What HubSpot says about the token in use.

    Attributes:
        portal_id: The HubSpot account (hub) the token belongs to.
        app_id: The private app's id.
        user_id: The user who created the app.
        scopes: The scopes granted to the app.
    """

    portal_id: int
    app_id: int | None
    user_id: int | None
    scopes: tuple[str, ...]

    def has(self, scope: str) -> bool:
        """Whether the token has ``scope`` (``read`` and ``write`` are short for the
        contacts scopes).

        Example:
            >>> TokenInfo(1, 2, 3, (READ_SCOPE,)).has("read")
            True
        """
        return SCOPE_SHORTHANDS.get(scope, scope) in self.scopes


@dataclass(frozen=True)
class Page:
    """One page of a list or a search.

    Attributes:
        results: The records, as HubSpot sent them (``id``, ``properties``...).
        after: The cursor for the next page, or None on the last page. Opaque: pass it
            back as is.
        total: Search only: how many records match in all.
    """

    results: list[dict[str, Any]]
    after: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class BatchResult:
    """The answer to a batch request.

    Attributes:
        status: The HTTP status: 200 or 201 when every input succeeded, 207 when some
            failed, 204 for an archive.
        results: The records written or read, in no particular order (match them by id
            or ``objectWriteTraceId``, never by position).
        errors: HubSpot's per-input errors (``category``, ``message``, ``context``...).
    """

    status: int
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no input failed."""
        return not self.errors


class Client:
    """A connection to one HubSpot portal's contacts.

    Args:
        settings: Resolved :class:`~hsframe.config.Settings`, or a ready
            :class:`~hsframe.transport.Transport`; None resolves settings from the
            environment (``HUBSPOT_ACCESS_TOKEN``, ``.env``).
        session: A ``requests.Session`` for the transport to send through (e.g. with the
            sandbox's adapter mounted); only with settings, not with a transport.

    Example:
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=3) as sb:
        ...     client = connect(token=sb.token, base_url=sb.url)
        ...     pages = list(client.iter_list(["email"], limit=2))
        ...     client.close()
        >>> [len(page.results) for page in pages]
        [2, 1]
    """

    def __init__(
        self,
        settings: Settings | Transport | None = None,
        *,
        session: requests.Session | None = None,
    ) -> None:
        if isinstance(settings, Transport):
            if session is not None:
                raise ValueError("pass a session to the Transport, not to Client")
            self.transport = settings
        else:
            self.transport = Transport(settings or Settings.resolve(), session=session)
        self.settings = self.transport.settings
        self._lock = threading.Lock()
        self._definitions: list[dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"Client(base_url={self.settings.base_url!r}, token={self.settings.token.masked!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    # --- token and account -------------------------------------------------------------

    def token_info(self) -> TokenInfo:
        """The portal, app, user and scopes of the token (asks HubSpot each time, so a
        change of scopes shows at once).

        Returns:
            The token's :class:`TokenInfo`.

        Raises:
            AuthenticationError: The token is invalid or was rotated.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1) as sb, connect(token=sb.token, base_url=sb.url) as c:
            ...     c.token_info().has("read")
            True
        """
        data = self._object(
            self.transport.request(
                "POST",
                _TOKEN_INFO_PATH,
                json_body={"tokenKey": self.settings.token},  # revealed only when encoded
                retry_unsafe=True,  # a read: repeating it changes nothing
            ),
            _TOKEN_INFO_PATH,
        )
        try:
            portal_id = int(data["hubId"])
        except (KeyError, TypeError, ValueError):
            raise TransportError(
                f"HubSpot's token information has no hubId (keys: {sorted(data)})."
            ) from None
        return TokenInfo(
            portal_id=portal_id,
            app_id=_int_or_none(data.get("appId")),
            user_id=_int_or_none(data.get("userId")),
            scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
        )

    def require_scopes(self, *names: str) -> TokenInfo:
        """Check that the token has every scope named, before anything depends on it.

        Args:
            *names: ``"read"``, ``"write"`` (the contacts scopes) or full scope names.

        Returns:
            The token's :class:`TokenInfo`.

        Raises:
            MissingScopesError: Naming each missing scope, and where to add it.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1, scopes=(READ_SCOPE,)) as sb:
            ...     with connect(token=sb.token, base_url=sb.url) as c:
            ...         c.require_scopes("write")
            Traceback (most recent call last):
            ...
            hsframe.errors.MissingScopesError: ...
        """
        info = self.token_info()
        wanted = [SCOPE_SHORTHANDS.get(name, name) for name in names]
        missing = tuple(dict.fromkeys(scope for scope in wanted if scope not in info.scopes))
        if missing:
            raise MissingScopesError(
                f"The token for portal {info.portal_id} lacks the scope(s) {', '.join(missing)}.",
                missing=missing,
            )
        return info

    def account(self) -> dict[str, Any]:
        """The account's details: ``portalId``, ``timeZone``, ``companyCurrency``,
        ``uiDomain``... (``GET /account-info/v3/details``).

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1) as sb, connect(token=sb.token, base_url=sb.url) as c:
            ...     "portalId" in c.account()
            True
        """
        path = "/account-info/v3/details"
        return self._object(self.transport.request("GET", path), path)

    # --- property definitions ----------------------------------------------------------

    def property_definitions(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The portal's contact property definitions, as HubSpot sends them.

        Fetched once per client and cached (a copy is returned, so edits to it do not
        change the cache).

        Args:
            refresh: Fetch again, e.g. after properties were added in HubSpot.

        Returns:
            One dict per property (``name``, ``label``, ``type``, ``fieldType``,
            ``options``, ``modificationMetadata``...).

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=1)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> email = next(p for p in c.property_definitions() if p["name"] == "email")
            >>> email["type"], email["hasUniqueValue"]
            ('string', True)
        """
        with self._lock:
            if self._definitions is None or refresh:
                path = "/crm/v3/properties/contacts"
                data = self._object(self.transport.request("GET", path), path)
                self._definitions = [dict(p) for p in data.get("results") or ()]
            return copy.deepcopy(self._definitions)

    def properties(self) -> pd.DataFrame:
        """The contact property definitions as a table, one row per property.

        Returns:
            A DataFrame indexed by property ``name`` with columns ``label``, ``type``,
            ``field_type``, ``group``, ``description``, ``options`` (the option values,
            a list), ``read_only``, ``unique``, ``hidden``, ``calculated`` and
            ``hubspot_defined``.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1) as sb, connect(token=sb.token, base_url=sb.url) as c:
            ...     table = c.properties()
            >>> table.loc["email", "type"]
            'string'
        """
        rows = [
            {
                "name": p.get("name"),
                "label": p.get("label"),
                "type": p.get("type"),
                "field_type": p.get("fieldType"),
                "group": p.get("groupName"),
                "description": p.get("description"),
                "options": [o.get("value") for o in p.get("options") or ()],
                "read_only": bool((p.get("modificationMetadata") or {}).get("readOnlyValue")),
                "unique": bool(p.get("hasUniqueValue")),
                "hidden": bool(p.get("hidden")),
                "calculated": bool(p.get("calculated")),
                "hubspot_defined": bool(p.get("hubspotDefined")),
            }
            for p in self.property_definitions()
        ]
        return pd.DataFrame(rows, columns=list(_PROPERTY_COLUMNS)).set_index("name")

    # --- reading ------------------------------------------------------------------------

    def list_page(
        self,
        properties: Sequence[str] | None,
        *,
        after: str | None = None,
        limit: int = MAX_LIST_LIMIT,
        archived: bool = False,
    ) -> Page:
        """One page of the contact list (``GET /crm/v3/objects/contacts``).

        Args:
            properties: Property names to return (None or empty: HubSpot's defaults).
            after: The cursor from the previous page (None for the first page).
            limit: Records per page, 1 to 100.
            archived: List archived contacts (only them) instead of live ones.

        Returns:
            The :class:`Page`.

        Raises:
            ValueError: For a limit outside 1 to 100, or a property list whose URL would
                exceed :data:`MAX_URL_BYTES` (read those with :meth:`batch_read`).

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=3)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> first = c.list_page(["email"], limit=2)
            >>> len(first.results), first.after is not None
            (2, True)
            >>> len(c.list_page(["email"], after=first.after).results)
            1
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit!r}")
        params = self._list_params(properties, after, limit, archived)
        self._check_url(CONTACTS_PATH, params, "list_page", properties)
        data = self._object(self.transport.request("GET", CONTACTS_PATH, params=params), "list")
        return _page(data)

    def list_url_fits(self, properties: Sequence[str] | None, *, after: str | None = None) -> bool:
        """Whether :meth:`list_page` can carry these properties in its URL.

        Args:
            properties: The property names.
            after: A cursor to allow for (its length counts; default: a 200-byte one).

        Example:
            >>> client = Client(Settings(token="pat-na1-x"))
            >>> client.list_url_fits(["email"]), client.list_url_fits(["p" * 60] * 200)
            (True, False)
        """
        params = self._list_params(properties, after or "x" * 200, MAX_LIST_LIMIT, True)
        return self._url_length(CONTACTS_PATH, params) <= MAX_URL_BYTES

    def iter_list(
        self,
        properties: Sequence[str] | None,
        *,
        limit: int = MAX_LIST_LIMIT,
        archived: bool = False,
        after: str | None = None,
    ) -> Iterator[Page]:
        """Every page of the contact list, lazily, following the cursors.

        Args:
            properties: As for :meth:`list_page`.
            limit: Records per page, 1 to 100.
            archived: List archived contacts instead of live ones.
            after: Start from this cursor (to resume a walk).

        Yields:
            Each :class:`Page` in turn.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=250)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> [len(page.results) for page in c.iter_list(["email"])]
            [100, 100, 50]
        """
        return _pages(
            lambda cursor: self.list_page(properties, after=cursor, limit=limit, archived=archived),
            after,
        )

    def search_page(self, body: Mapping[str, Any]) -> Page:
        """One page of a CRM search (``POST /crm/v3/objects/contacts/search``).

        Spends the search budget (5 per second), not the burst budget. Search never
        returns archived contacts, and pages past the 10,000th result are refused by HubSpot
        with a 400 (split the search, e.g. by ``hs_object_id`` ranges).

        Args:
            body: HubSpot's search request: ``filterGroups``, ``sorts``, ``query``,
                ``properties``, ``limit`` (up to 200), ``after``.

        Returns:
            The :class:`Page`, with ``total`` set.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=20)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> page = c.search_page({"limit": 5, "properties": ["email"]})
            >>> len(page.results), page.total
            (5, 20)
        """
        path = f"{CONTACTS_PATH}/search"
        response = self.transport.request(
            "POST", path, json_body=dict(body), bucket="search", retry_unsafe=True
        )
        return _page(self._object(response, path))

    def iter_search(self, body: Mapping[str, Any]) -> Iterator[Page]:
        """Every page of a CRM search, lazily, following the cursors.

        Args:
            body: As for :meth:`search_page`; an ``after`` in it is where to start.

        Yields:
            Each :class:`Page` in turn.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=450)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> [len(page.results) for page in c.iter_search({"limit": 200})]
            [200, 200, 50]
        """
        start = body.get("after")

        def fetch(cursor: str | None) -> Page:
            request = {key: value for key, value in body.items() if key != "after"}
            if cursor is not None:
                request["after"] = cursor
            return self.search_page(request)

        return _pages(fetch, None if start is None else str(start))

    def get(
        self,
        contact_id: str | int,
        properties: Sequence[str] | None = None,
        id_property: str | None = None,
    ) -> dict[str, Any]:
        """One contact, by id or by a unique property such as ``email``.

        Args:
            contact_id: The contact's id, or its value of ``id_property``.
            properties: Property names to return (None: HubSpot's defaults).
            id_property: A unique property to look the contact up by (e.g. ``"email"``).

        Returns:
            The contact (``id``, ``properties``, ``createdAt``...).

        Raises:
            NotFoundError: No such contact.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> with Sandbox(contacts=1) as sb, connect(token=sb.token, base_url=sb.url) as c:
            ...     first = next(c.iter_list(["email"])).results[0]
            ...     same = c.get(first["properties"]["email"], ["email"], id_property="email")
            >>> same["id"] == first["id"]
            True
        """
        path = f"{CONTACTS_PATH}/{quote(str(contact_id), safe='')}"
        params: list[tuple[str, str]] = [("properties", p) for p in _names(properties)]
        if id_property is not None:
            params.append(("idProperty", id_property))
        if self._url_length(path, params) > MAX_URL_BYTES:
            # Too many names for a URL: the same read as a POST body.
            result = self.batch_read([contact_id], _names(properties), id_property=id_property)
            if not result.results:
                first = result.errors[0] if result.errors else {}
                raise NotFoundError(
                    str(first.get("message") or f"No contact {contact_id!r}."),
                    status=404,
                    category=first.get("category"),
                )
            return result.results[0]
        return self._object(self.transport.request("GET", path, params=params), path)

    def batch_read(
        self,
        ids: Iterable[str | int],
        properties: Sequence[str] | None,
        *,
        id_property: str | None = None,
        archived: bool = False,
    ) -> BatchResult:
        """Up to 100 contacts by id (or by a unique property), any number of properties.

        Ids that do not exist come back in ``errors`` (a 207), not as an exception.

        Args:
            ids: 1 to 100 contact ids (or values of ``id_property``).
            properties: Property names to return (sent in the body: no length limit).
            id_property: A unique property the ids are values of (e.g. ``"email"``).
            archived: Read archived contacts instead of live ones.

        Returns:
            The :class:`BatchResult`.

        Raises:
            ValueError: For no ids or more than 100.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=3)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> result = c.batch_read(["1001", "1002", "999"], ["email"])
            >>> result.status, sorted(r["id"] for r in result.results), result.ok
            (207, ['1001', '1002'], False)
        """
        body: dict[str, Any] = {
            "inputs": [{"id": str(i)} for i in ids],
            "properties": _names(properties),
            "propertiesWithHistory": [],
        }
        if id_property is not None:
            body["idProperty"] = id_property
        return self._batch("read", body, params={"archived": _bool(archived)}, retry_unsafe=True)

    # --- writing ------------------------------------------------------------------------

    def batch_create(
        self, inputs: Iterable[Mapping[str, Any]], *, retry_unsafe: bool = False
    ) -> BatchResult:
        """Create up to 100 contacts.

        Give every input an ``objectWriteTraceId``: HubSpot then reports failed inputs
        one by one (a 207) instead of failing the whole batch.

        Args:
            inputs: 1 to 100 ``{"properties": {...}, "objectWriteTraceId": ...}`` dicts.
            retry_unsafe: Repeat the request after a 5xx or a lost connection. Off by
                default: a repeat could create contacts twice; the writer settles such
                failures by looking the contacts up instead.

        Returns:
            The :class:`BatchResult` (201, or 207 with per-input errors).

        Raises:
            ValueError: For no inputs or more than 100.
            ConflictError: A contact with one of the emails exists (without trace ids).
            ValidationError: A value was refused (without trace ids).

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=0)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> result = c.batch_create([
            ...     {"properties": {"email": "ann@example.com"}, "objectWriteTraceId": "t1"},
            ...     {"properties": {"email": "not an email"}, "objectWriteTraceId": "t2"}])
            >>> result.status, len(result.results), result.errors[0]["category"]
            (207, 1, 'VALIDATION_ERROR')
        """
        return self._batch("create", {"inputs": list(inputs)}, retry_unsafe=retry_unsafe)

    def batch_update(self, inputs: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Update up to 100 contacts by id (``""`` clears a value).

        Repeated after a 5xx or a lost connection: writing the same values twice leaves
        the same record.

        Args:
            inputs: 1 to 100 ``{"id": ..., "properties": {...}}`` dicts (optionally with
                ``objectWriteTraceId``).

        Returns:
            The :class:`BatchResult`, whose results carry the properties as written.

        Raises:
            ValueError: For no inputs or more than 100.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=1)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> result = c.batch_update([{"id": "1001", "properties": {"firstname": "Zoë"}}])
            >>> result.results[0]["properties"]["firstname"]
            'Zoë'
        """
        return self._batch("update", {"inputs": list(inputs)}, retry_unsafe=True)

    def batch_upsert(self, inputs: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Create or update up to 100 contacts by a unique property (e.g. email).

        Repeated after a 5xx or a lost connection: the second attempt updates what the
        first created.

        Args:
            inputs: 1 to 100 ``{"id": "a@b.com", "idProperty": "email",
                "properties": {...}}`` dicts.

        Returns:
            The :class:`BatchResult`; each result has ``new`` (created or updated).

        Raises:
            ValueError: For no inputs or more than 100.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=0)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> upsert = [{"id": "bo@example.com", "idProperty": "email",
            ...            "properties": {"firstname": "Bo"}}]
            >>> [c.batch_upsert(upsert).results[0]["new"] for _ in range(2)]
            [True, False]
        """
        return self._batch("upsert", {"inputs": list(inputs)}, retry_unsafe=True)

    def batch_archive(self, ids: Iterable[str | int]) -> BatchResult:
        """Archive up to 100 contacts (restorable in HubSpot for 90 days).

        HubSpot answers 204 whatever the contacts' state, so a repeat is harmless.

        Args:
            ids: 1 to 100 contact ids.

        Returns:
            A :class:`BatchResult` with status 204 and no results.

        Raises:
            ValueError: For no ids or more than 100.

        Example:
            >>> from hsframe.sandbox import Sandbox
            >>> sb = Sandbox(contacts=2)
            >>> c = Client(Settings(token=sb.token, base_url=sb.adapter_url), session=sb.session())
            >>> c.batch_archive(["1001"]).status
            204
            >>> len(sb.contacts()), len(sb.contacts(archived=True))
            (1, 1)
        """
        body = {"inputs": [{"id": str(i)} for i in ids]}
        return self._batch("archive", body, retry_unsafe=True)

    # --- plumbing -----------------------------------------------------------------------

    def _batch(
        self,
        action: str,
        body: dict[str, Any],
        *,
        retry_unsafe: bool,
        params: Mapping[str, str] | None = None,
    ) -> BatchResult:
        count = len(body["inputs"])
        if not 1 <= count <= MAX_BATCH:
            raise ValueError(
                f"batch {action} takes 1 to {MAX_BATCH} inputs, not {count}: "
                f"split the inputs into chunks of {MAX_BATCH}"
            )
        path = f"{CONTACTS_PATH}/batch/{action}"
        response = self.transport.request(
            "POST", path, params=params, json_body=body, retry_unsafe=retry_unsafe
        )
        data = response.data if isinstance(response.data, dict) else {}
        return BatchResult(
            status=response.status,
            results=list(data.get("results") or ()),
            errors=list(data.get("errors") or ()),
        )

    @staticmethod
    def _list_params(
        properties: Sequence[str] | None, after: str | None, limit: int, archived: bool
    ) -> list[tuple[str, str]]:
        params = [("limit", str(limit)), ("archived", _bool(archived))]
        if after is not None:
            params.append(("after", after))
        params.extend(("properties", name) for name in _names(properties))
        return params

    def _url_length(self, path: str, params: Sequence[tuple[str, str]]) -> int:
        return len(f"{self.settings.base_url}{path}?{urlencode(params)}".encode())

    def _check_url(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        method: str,
        properties: Sequence[str] | None,
    ) -> None:
        length = self._url_length(path, params)
        if length > MAX_URL_BYTES:
            raise ValueError(
                f"{method}: {len(_names(properties))} property names make a "
                f"{length}-byte URL, over the {MAX_URL_BYTES}-byte limit. List with fewer "
                "properties (e.g. ['hs_object_id']) and read the rest with batch_read, or "
                "use search_page; read_contacts does this for you."
            )

    @staticmethod
    def _object(response: Response, what: str) -> dict[str, Any]:
        if not isinstance(response.data, dict):
            raise TransportError(
                f"HubSpot's answer to {what} is not a JSON object ({type(response.data).__name__})."
            )
        return response.data


_PROPERTY_COLUMNS = (
    "name",
    "label",
    "type",
    "field_type",
    "group",
    "description",
    "options",
    "read_only",
    "unique",
    "hidden",
    "calculated",
    "hubspot_defined",
)


def _pages(fetch: Callable[[str | None], Page], after: str | None) -> Iterator[Page]:
    """The one paging loop: fetch, yield, follow ``after`` until there is none."""
    seen: set[str] = set()
    while True:
        page = fetch(after)
        yield page
        if page.after is None:
            return
        if page.after in seen:
            raise HubSpotError(
                "HubSpot sent a paging cursor it had sent before; stopping rather than "
                "looping forever.",
                hint="Try again; if it happens again, narrow the request.",
            )
        seen.add(page.after)
        after = page.after


def _page(data: Mapping[str, Any]) -> Page:
    paging = data.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return Page(
        results=list(data.get("results") or ()),
        after=None if after in (None, "") else str(after),
        total=_int_or_none(data.get("total")),
    )


def _names(properties: Sequence[str] | None) -> list[str]:
    """Property names as a list (a lone string is one name, not its characters)."""
    if properties is None:
        return []
    if isinstance(properties, str):
        return [properties]
    return [str(name) for name in properties]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


_default_lock = threading.Lock()
_default: Client | None = None


def connect(
    token: str | Secret | None = None,
    base_url: str | None = None,
    *,
    session: requests.Session | None = None,
    **options: Any,
) -> Client:
    """Connect to HubSpot and make the client the session's default.

    Nothing is sent yet: call :meth:`Client.token_info` to check the token.

    Args:
        token: The private-app access token; None looks it up in ``HUBSPOT_ACCESS_TOKEN``,
            then in ``.env``.
        base_url: The API's base URL; None looks up ``HUBSPOT_BASE_URL``, else HubSpot's.
        session: A ``requests.Session`` to send through (e.g. the sandbox's in-process one).
        **options: :class:`~hsframe.config.Settings` fields (``read_timeout``,
            ``max_retries``, ``tier``, ``max_concurrency``...) and ``Settings.resolve``'s
            ``environ`` and ``dotenv_path``.

    Returns:
        The new :class:`Client`, also returned by :func:`default_client` from now on.

    Raises:
        ConfigurationError: No token found (the message says where to get one), or an
            unsafe base URL.

    Example:
        >>> from hsframe.sandbox import Sandbox
        >>> with Sandbox(contacts=1) as sb:
        ...     client = connect(token=sb.token, base_url=sb.url)
        ...     default_client() is client
        True
    """
    token = Secret.wrap(token)  # no plain copy in a frame that can raise (see Settings.resolve)
    client = Client(Settings.resolve(token, base_url, **options), session=session)
    set_default_client(client)
    return client


def default_client() -> Client:
    """The session's default client (set by :func:`connect` or the token form).

    Raises:
        ConfigurationError: No client yet; says how to make one.

    Example:
        >>> set_default_client(None)
        >>> try:
        ...     default_client()
        ... except ConfigurationError as error:
        ...     print(error.message)
        No HubSpot connection yet.
    """
    with _default_lock:
        client = _default
    if client is None:
        raise ConfigurationError(
            "No HubSpot connection yet.",
            hint="Call hs.connect() (token from HUBSPOT_ACCESS_TOKEN or .env), "
            "hs.connect(token=...), or use hs.widgets.token_form(); or pass a client.",
        )
    return client


def set_default_client(client: Client | None) -> None:
    """Make ``client`` the session's default (None forgets it).

    Args:
        client: The client :func:`default_client` should return.
    """
    global _default
    with _default_lock:
        _default = client
