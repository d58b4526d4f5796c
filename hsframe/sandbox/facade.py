"""``Sandbox``: the one object a test, a notebook or a rehearsal needs to emulate HubSpot.

It assembles the parts (seeded store, CRM endpoints, account and tokens, rate limits,
fault queue, core) and opens the two front doors: the HTTP server on 127.0.0.1 when used as
a context manager (or after :meth:`Sandbox.start`), and the in-process requests adapter at
any time (:meth:`Sandbox.session`). Its knobs are the ones DESIGN.md lists for realism, so
tests across the project read alike::

    with Sandbox(contacts=5_000, latency=0.05, window=1.0) as sb:
        client = hs.connect(token=sb.token, base_url=sb.url)
        sb.inject(429, path="/batch/update")
        ...
        assert sb.requests[-1].status == 200
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TypeAlias

import pandas as pd
import requests

from hsframe.sandbox.adapter import BASE_URL, SandboxAdapter
from hsframe.sandbox.auth import DEFAULT_PORTAL_ID, DEFAULT_SCOPES, Auth, mask
from hsframe.sandbox.core import RequestRecord, SandboxCore
from hsframe.sandbox.crm import Crm, CrmSettings
from hsframe.sandbox.faults import Fault, FaultQueue
from hsframe.sandbox.limits import RateLimiter, Tier
from hsframe.sandbox.seed import generate_contacts, load_properties, sample_contacts
from hsframe.sandbox.server import SandboxServer
from hsframe.sandbox.store import Store

ContactsSource: TypeAlias = int | str | Path | pd.DataFrame | None


class Sandbox:
    """A local HubSpot account with contacts, tokens, rate limits and faults on demand.

    Args:
        contacts: Where the contacts come from: None for the 1,200 sample contacts, a
            number for that many generated ones (deterministic for a given ``seed``), a
            path to a CSV in the samples' format, or a DataFrame of wire strings indexed
            by id.
        tier: Rate-limit preset: ``"free"``, ``"starter"`` (100 per window),
            ``"professional"`` (190; 650,000 a day) or ``"enterprise"`` (190; 1,000,000 a
            day), or a :class:`~hsframe.sandbox.limits.Tier`.
        latency: Seconds every request takes; requests are served concurrently, so
            parallel clients overlap their latencies as against HubSpot.
        window: Length of the burst window in seconds (HubSpot: 10); the search budget
            scales with it (5 requests per ``window / 10`` seconds). Short windows make
            rate-limit tests fast.
        scopes: Scopes of the default private app (whose token is :attr:`token`).
        token: The default app's token; a fresh ``pat-na1-<uuid4>`` when None.
        seed: Seeds generated contacts and the CRM's randomness (result shuffling).
        portal_id: The account's id (``hubId`` of token information, ``groupName`` of 429
            bodies); give two sandboxes different ones to rehearse a frame pushed to the
            wrong portal.
        settings: CRM behaviour switches (forward-only lifecycle, shuffling, search index
            lag, search filter caps); defaults when None. Kept live: changing a field
            later changes the sandbox's behaviour.
        port: Port for the HTTP server; 0 picks a free one.
        clock: Seconds since the epoch, for timestamps and rate windows; ``time.time``
            when None. Inject one to slide windows without sleeping.

    Example:
        >>> with Sandbox(contacts=20) as sb:
        ...     answer = requests.get(f"{sb.url}/crm/v3/objects/contacts?limit=5",
        ...                           headers={"Authorization": f"Bearer {sb.token}"})
        ...     len(answer.json()["results"]), sb.requests[-1].status
        (5, 200)
    """

    def __init__(
        self,
        contacts: ContactsSource = None,
        *,
        tier: str | Tier = "professional",
        latency: float = 0.0,
        window: float = 10.0,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        token: str | None = None,
        seed: int = 0,
        portal_id: int = DEFAULT_PORTAL_ID,
        settings: CrmSettings | None = None,
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        now = clock if clock is not None else time.time
        self.settings = settings if settings is not None else CrmSettings()
        self.store = Store.from_frame(load_properties(), _contacts_frame(contacts, seed), clock=now)
        self.crm = Crm(self.store, settings=self.settings, clock=now, rng=random.Random(seed))
        self.auth = Auth(portal_id=portal_id, scopes=scopes, token=token, clock=now)
        self.limiter = RateLimiter(tier, window=window, portal_id=portal_id, clock=now)
        self.faults = FaultQueue()
        self.core = SandboxCore(
            self.crm, auth=self.auth, limiter=self.limiter, faults=self.faults, latency=latency
        )
        self._port = port
        self._server: SandboxServer | None = None

    def __repr__(self) -> str:
        where = self._server.url if self._server is not None else "not serving"
        return (
            f"Sandbox({where}, portal_id={self.portal_id}, tier={self.limiter.tier.name!r}, "
            f"window={self.limiter.window:g}, latency={self.latency:g}, "
            f"token={mask(self.token)})"
        )

    # -- front doors -------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start the HTTP server on 127.0.0.1 (idempotent); returns the sandbox."""
        if self._server is None:
            self._server = SandboxServer(self.core, port=self._port).start()
        return self

    def stop(self) -> None:
        """Stop the HTTP server, closing its connections (idempotent)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The HTTP server's base URL, e.g. ``http://127.0.0.1:54321``.

        Raises:
            RuntimeError: The server is not running (use ``with Sandbox() as sb:``).
        """
        if self._server is None:
            raise RuntimeError(
                "the sandbox's HTTP server is not running: use `with Sandbox() as sb:` or "
                "sb.start(), or use sb.session() with sb.adapter_url for in-process calls"
            )
        return self._server.url

    adapter_url = BASE_URL
    """The base URL to use with :meth:`session` and :meth:`adapter` (never resolves)."""

    def adapter(self) -> SandboxAdapter:
        """A requests adapter answering in-process; mount it on :attr:`adapter_url`."""
        return SandboxAdapter(self.core)

    def session(self) -> requests.Session:
        """A ``requests.Session`` with the adapter mounted on :attr:`adapter_url`.

        Send requests to ``sb.adapter_url + path``; no server or socket is involved. The
        session carries no token: pass ``Authorization: Bearer <sb.token>`` as a client
        would.
        """
        session = requests.Session()
        session.mount(self.adapter_url, self.adapter())
        return session

    # -- account and tokens ------------------------------------------------------------

    @property
    def portal_id(self) -> int:
        """The account's id (``portalId``, ``hubId``)."""
        return self.auth.portal_id

    @property
    def token(self) -> str:
        """The default private app's current token (it changes on :meth:`rotate_token`)."""
        return self.auth.token

    def issue_token(self, scopes: Iterable[str]) -> str:
        """Create another private app with ``scopes`` and return its token.

        The new app has its own burst window and shares the account's daily budget.
        """
        return self.auth.issue_token(scopes)

    def rotate_token(self) -> str:
        """Rotate the default app's token: the old one gets 401 at once. Returns the new one."""
        return self.auth.rotate_token()

    # -- knobs -------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds every request takes (settable)."""
        return self.core.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency cannot be negative, not {seconds!r}")
        self.core.latency = seconds

    def inject(
        self,
        status: int | None = None,
        *,
        path: str | None = None,
        method: str | None = None,
        count: int = 1,
        policy: str = "TEN_SECONDLY_ROLLING",
        drop: bool = False,
        html: bool = False,
        partial: int = 0,
        delay: float = 0.0,
        after: bool = False,
    ) -> None:
        """Queue ``count`` faults for the next requests matching ``path`` and ``method``.

        Args:
            status: Answer with this status: 429 (body per ``policy``; ``Retry-After`` 1 s,
                or a day for ``DAILY``), 500/502/503/504 (HubSpot-style JSON, or HTML with
                ``html=True``), or any other 4xx/5xx. Injected answers carry no rate-limit
                headers and are not charged to the budgets (unless ``after=True``: the
                request itself was processed and charged).
            path: Match requests whose path contains this (``"/batch/update"``,
                ``"/search"``, a full prefix...); None matches every request.
            method: Match only this HTTP method; None matches all.
            count: How many matching requests the fault hits.
            policy: For a 429: ``TEN_SECONDLY_ROLLING``, ``SECONDLY`` or ``DAILY``.
            drop: Close the connection without answering (``requests.ConnectionError``).
            html: Answer with an HTML page instead of JSON.
            partial: Let the request through but fail this many of its batch inputs:
                the next matching batch create, update or upsert (a batch read or a
                search in between passes it by; a path that names none is refused).
            delay: Seconds to wait before the request is processed (with ``after=True``:
                after it is processed, before the answer). A client whose timeout is
                shorter gives up; the request is still processed, as on a real server.
            after: Process the request first (the write happens), then answer with the
                fault: the ambiguous failure that resume logic must settle.

        Raises:
            ValueError: For an inconsistent combination.

        Example:
            >>> sb = Sandbox(contacts=5)
            >>> sb.inject(503, path="/crm/v3/objects/contacts", count=2)
            >>> with sb.session() as session:
            ...     url = f"{sb.adapter_url}/crm/v3/objects/contacts"
            ...     auth = {"Authorization": f"Bearer {sb.token}"}
            ...     [session.get(url, headers=auth).status_code for _ in range(3)]
            [503, 503, 200]
        """
        self.faults.inject(
            status,
            path=path,
            method=method,
            count=count,
            policy=policy,
            drop=drop,
            html=html,
            partial=partial,
            delay=delay,
            after=after,
        )

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults still waiting for their requests, in order."""
        return self.faults.pending()

    # -- what happened -----------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log (method, path, status, seconds, dropped...), oldest first."""
        return self.core.requests

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.core.clear_requests()

    def contacts(self, archived: bool = False) -> pd.DataFrame:
        """The store's contacts as wire strings indexed by id (a cleared value is null).

        Args:
            archived: The archived contacts instead of the live ones.
        """
        return self.store.frame(archived=archived)


def _contacts_frame(contacts: ContactsSource, seed: int) -> pd.DataFrame:
    """The seed frame for each kind of ``contacts`` argument."""
    if contacts is None:
        return sample_contacts()
    if isinstance(contacts, pd.DataFrame):
        return contacts
    if isinstance(contacts, bool):
        raise TypeError("contacts must be a number, a path, a DataFrame or None, not a bool")
    if isinstance(contacts, int):
        if contacts < 0:
            raise ValueError(f"contacts cannot be negative, not {contacts}")
        return generate_contacts(contacts, seed=seed)
    if isinstance(contacts, str | Path):
        return sample_contacts(Path(contacts))
    raise TypeError(
        f"contacts must be a number, a path, a DataFrame or None, not {type(contacts).__name__}"
    )
