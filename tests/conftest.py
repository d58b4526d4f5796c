"""Shared fixtures for the client side: a clean environment, a fake clock, scripted HTTP.

Every test runs in its own temporary directory with no ``HUBSPOT_*`` variables, so no real
token or ``.env`` can leak in, and with no default client left over from another test.
Collaborators are passed in, never patched: the fake clock's ``sleep`` advances its ``now``,
and :class:`ScriptedAdapter` is a ``requests`` adapter that answers from a script, mounted
on a session that the transport is given.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from hsframe.client import set_default_client
from hsframe.config import Settings
from hsframe.ratelimit import RateBudget
from hsframe.transport import Transport

TOKEN = "pat-na1-0f8c3d6e-1111-2222-3333-4444deadbeef"
"""A token for scripted tests; asserted never to appear in any output."""

BASE_URL = "https://api.hubapi.test"
"""Where scripted requests go (never resolved: the adapter answers)."""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No HUBSPOT_* variables, a fresh working directory, no default client."""
    for name in list(os.environ):
        if name.startswith("HUBSPOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    set_default_client(None)
    yield
    set_default_client(None)


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    """Where a test's push journals go: its own temporary folder, never the user's."""
    return tmp_path / "journal"


class FakeClock:
    """A monotonic clock that only moves when something sleeps. Thread safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


Step = Reply | BaseException | Callable[[requests.PreparedRequest], "Reply"]


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next step of a script (a reply, an exception to
    raise, or a function of the request); once the script runs out, ``default``."""

    def __init__(self, steps: list[Step] | None = None, default: Step | None = None) -> None:
        super().__init__()
        self.steps: list[Step] = list(steps or [])
        self.default = default or Reply(200, {})
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []
        self._lock = threading.Lock()

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        with self._lock:
            self.sent.append(request)
            self.timeouts.append(timeout)
            step = self.steps.pop(0) if self.steps else self.default
        if isinstance(step, BaseException):
            raise step
        reply = step if isinstance(step, Reply) else step(request)
        response = requests.Response()
        response.status_code = reply.status
        headers = dict(reply.headers)
        if reply.body is not None and not isinstance(reply.body, bytes):
            headers.setdefault("Content-Type", "application/json;charset=utf-8")
        response.headers = CaseInsensitiveDict(headers)
        response.raw = io.BytesIO(reply.content())
        response.url = request.url or ""
        response.request = request
        response.reason = "scripted"
        return response

    def close(self) -> None:
        pass

    def json_sent(self, index: int = -1) -> Any:
        body = self.sent[index].body
        return json.loads(body) if body else None


@dataclass
class Scripted:
    """A transport wired to a scripted adapter and a fake clock."""

    adapter: ScriptedAdapter
    session: requests.Session
    clock: FakeClock
    transport: Transport
    settings: Settings


@pytest.fixture
def token() -> str:
    """The scripted tests' token (:data:`TOKEN`)."""
    return TOKEN


@pytest.fixture
def reply() -> type[Reply]:
    """The :class:`Reply` class, to script answers: ``reply(429, body, headers)``."""
    return Reply


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scripted(clock: FakeClock) -> Callable[..., Scripted]:
    """Build a transport whose requests are answered by a script.

    Call it with the steps, and optionally ``jitter`` and any Settings field.
    """

    def build(
        steps: list[Step] | None = None,
        *,
        default: Step | None = None,
        jitter: Callable[[], float] = lambda: 0.0,
        **options: Any,
    ) -> Scripted:
        adapter = ScriptedAdapter(steps, default)
        session = requests.Session()
        session.mount(BASE_URL, adapter)
        settings = Settings(token=TOKEN, base_url=BASE_URL, **options)
        budget = RateBudget(settings.tier, clock=clock, sleep=clock.sleep)
        transport = Transport(
            settings, session=session, clock=clock, sleep=clock.sleep, jitter=jitter, budget=budget
        )
        return Scripted(adapter, session, clock, transport, settings)

    return build
