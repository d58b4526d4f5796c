"""Shared fixtures for the sandbox's front doors, auth, limits and faults.

The core is tested against a tiny fake CRM (a handful of routes over a dict), so these
tests pin the core's own rules (auth, scopes, budgets, faults, logging) independently of
the real CRM endpoints, which have their own tests. Time is a manual clock and sleeping is
recorded, so windows slide and latencies pass without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
import requests

from hsframe.sandbox.adapter import BASE_URL, SandboxAdapter
from hsframe.sandbox.auth import Auth
from hsframe.sandbox.core import SandboxCore
from hsframe.sandbox.faults import FaultQueue
from hsframe.sandbox.limits import RateLimiter
from hsframe.sandbox.server import SandboxServer
from hsframe.sandbox.wire import ApiError, Request, Response

READ = "crm.objects.contacts.read"
WRITE = "crm.objects.contacts.write"
CONTACTS = "/crm/v3/objects/contacts"


@dataclass(frozen=True)
class FakeRoute:
    """Same shape as ``hsframe.sandbox.crm.Route``."""

    scopes: tuple[str, ...]
    budget: Literal["burst", "search"]
    handler: Callable[[Request], Response]


@dataclass
class FakeCrm:
    """A few contact endpoints over a dict, enough to exercise the core."""

    contacts: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"1": {"email": "ann@example.com", "jobtitle": "CEO"}}
    )
    failing: int = 0
    seen: list[Request] = field(default_factory=list)
    extra_routes: dict[tuple[str, str], Callable[[Request], Response]] = field(default_factory=dict)

    def route(self, method: str, path: str) -> FakeRoute | None:
        parts = path.strip("/").split("/")
        if (method, path) in self.extra_routes:
            return FakeRoute((), "burst", self.extra_routes[(method, path)])
        if path == CONTACTS and method == "GET":
            return FakeRoute((READ,), "burst", self._list)
        if path == f"{CONTACTS}/search" and method == "POST":
            return FakeRoute((READ,), "search", self._list)
        if path == f"{CONTACTS}/batch/update" and method == "POST":
            return FakeRoute((WRITE,), "burst", self._batch_update)
        if path == "/boom" and method == "GET":
            return FakeRoute((), "burst", self._boom)
        if path == "/echo" and method in ("GET", "POST"):
            return FakeRoute((), "burst", self._echo)
        if len(parts) == 5 and path.startswith(CONTACTS + "/"):
            if method == "GET":
                return FakeRoute((READ, WRITE), "burst", self._get)
            if method == "PATCH":
                return FakeRoute((WRITE,), "burst", self._patch)
            if method == "DELETE":
                return FakeRoute((WRITE,), "burst", self._delete)
        return None

    def fail_next_inputs(self, count: int) -> None:
        self.failing += count

    def _list(self, request: Request) -> Response:
        results = [{"id": key, "properties": value} for key, value in self.contacts.items()]
        return Response.of_json(200, {"results": results})

    def _get(self, request: Request) -> Response:
        key = request.path.rsplit("/", 1)[1]
        if key not in self.contacts:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Object not found.", context={"id": [key]})
        return Response.of_json(200, {"id": key, "properties": self.contacts[key]})

    def _patch(self, request: Request) -> Response:
        key = request.path.rsplit("/", 1)[1]
        if key not in self.contacts:
            raise ApiError(404, "OBJECT_NOT_FOUND", "Object not found.", context={"id": [key]})
        self.contacts[key].update(request.json()["properties"])
        return Response.of_json(200, {"id": key, "properties": self.contacts[key]})

    def _delete(self, request: Request) -> Response:
        self.contacts.pop(request.path.rsplit("/", 1)[1], None)
        return Response.empty(204)

    def _batch_update(self, request: Request) -> Response:
        inputs = request.json()["inputs"]
        failed, self.failing = min(self.failing, len(inputs)), max(0, self.failing - len(inputs))
        return Response.of_json(200, {"ok": len(inputs) - failed, "failed": failed})

    def _boom(self, request: Request) -> Response:
        raise RuntimeError("a sandbox bug")

    def _echo(self, request: Request) -> Response:
        self.seen.append(request)
        return Response.of_json(
            200,
            {
                "method": request.method,
                "path": request.path,
                "query": {k: list(v) for k, v in request.query.items()},
                "headers": dict(request.headers),
                "body": request.body.decode("utf-8", "replace"),
            },
        )


class ManualClock:
    """A clock that moves only when told to; starts at noon UTC on 2026-03-02."""

    def __init__(self, now: float = 1_772_452_800.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """Records requested sleeps instead of sleeping (and moves a clock, if given)."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.calls: list[float] = []
        self._clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


@pytest.fixture
def fake_crm() -> FakeCrm:
    return FakeCrm()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def recorded_sleep(manual_clock: ManualClock) -> RecordingSleep:
    return RecordingSleep(manual_clock)


@pytest.fixture
def sandbox_core(
    fake_crm: FakeCrm, manual_clock: ManualClock, recorded_sleep: RecordingSleep
) -> SandboxCore:
    """A core over the fake CRM with a manual clock and recorded sleeps."""
    return SandboxCore(
        fake_crm,
        auth=Auth(clock=manual_clock),
        limiter=RateLimiter("professional", window=10.0, portal_id=12345678, clock=manual_clock),
        faults=FaultQueue(),
        sleep=recorded_sleep,
    )


@pytest.fixture
def adapter_session(sandbox_core: SandboxCore) -> Iterator[requests.Session]:
    """A requests session answered in-process by ``sandbox_core`` at ``BASE_URL``."""
    with requests.Session() as session:
        session.mount(BASE_URL, SandboxAdapter(sandbox_core))
        yield session


@pytest.fixture
def live_core(fake_crm: FakeCrm) -> SandboxCore:
    """A core over the fake CRM with the real clock and real sleeps (for HTTP tests)."""
    return SandboxCore(fake_crm)


@pytest.fixture
def http_server(live_core: SandboxCore) -> Iterator[SandboxServer]:
    """``live_core`` served over HTTP on 127.0.0.1, stopped after the test."""
    with SandboxServer(live_core) as server:
        yield server


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    """A plain requests session, closed after the test."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def bearer() -> Callable[[str], dict[str, str]]:
    """Builds the Authorization header for a token."""
    return lambda token: {"Authorization": f"Bearer {token}"}
