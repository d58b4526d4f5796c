"""The sandbox's in-process front door: a ``requests`` transport adapter.

Unit tests want the sandbox's HubSpot rules without sockets or threads. ``requests`` has
the seam for that (``Session.mount(prefix, adapter)``): mount :class:`SandboxAdapter` on
:data:`BASE_URL` and every request to that prefix is answered by the same
:class:`~hsframe.sandbox.core.SandboxCore` the HTTP server uses, in the calling thread.

    session = requests.Session()
    session.mount(BASE_URL, SandboxAdapter(core))
    session.get(f"{BASE_URL}/crm/v3/objects/contacts", headers=...)

The answers are real :class:`requests.Response` objects (status, headers, body, url,
reason, encoding), so ``.json()``, ``.raise_for_status()`` and ``.headers`` behave as over
HTTP. Faults surface as requests' own exceptions: a dropped connection as
:class:`requests.ConnectionError`, an answer later than the request's ``timeout`` as
:class:`requests.ReadTimeout`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from hsframe.sandbox.core import ClientTimeout, ConnectionDropped, SandboxCore
from hsframe.sandbox.wire import Request

BASE_URL = "https://sandbox.hubapi.test"
"""The base URL to mount the adapter on and to send requests to (``.test`` never resolves)."""


class SandboxAdapter(BaseAdapter):
    """A ``requests`` adapter that answers from a :class:`SandboxCore` in-process.

    Args:
        core: The sandbox core that answers every request.

    Example:
        >>> from hsframe.sandbox.core import SandboxCore
        >>> class NoCrm:
        ...     def route(self, method, path): return None
        ...     def fail_next_inputs(self, count): pass
        >>> core = SandboxCore(NoCrm())
        >>> with requests.Session() as session:
        ...     session.mount(BASE_URL, SandboxAdapter(core))
        ...     answer = session.get(f"{BASE_URL}/account-info/v3/details",
        ...                          headers={"Authorization": f"Bearer {core.auth.token}"})
        ...     answer.json()["portalId"]
        12345678
    """

    def __init__(self, core: SandboxCore) -> None:
        super().__init__()
        self.core = core

    def __repr__(self) -> str:
        return f"SandboxAdapter({self.core!r})"

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer a prepared request from the core.

        Args:
            request: The request requests prepared.
            stream: Ignored (the body is in memory either way).
            timeout: Seconds to wait for the answer, or a ``(connect, read)`` pair; when
                the sandbox's latency and delays exceed it, :class:`requests.ReadTimeout`
                is raised after waiting that long.
            verify: Ignored (no TLS in-process).
            cert: Ignored.
            proxies: Ignored.

        Returns:
            The answer as a :class:`requests.Response`.

        Raises:
            requests.ConnectionError: The sandbox dropped the connection.
            requests.ReadTimeout: The answer came later than ``timeout``.
        """
        url = request.url or ""
        split = urlsplit(url)
        incoming = Request(
            method=(request.method or "GET").upper(),
            path=unquote(split.path) or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=_body_bytes(request.body),
        )
        try:
            answer = self.core.handle(incoming, timeout=_read_timeout(timeout))
        except ConnectionDropped:
            raise requests.ConnectionError(
                "Connection aborted: the sandbox closed the connection without answering",
                request=request,
            ) from None
        except ClientTimeout as exc:
            raise requests.ReadTimeout(
                f"Read timed out: no answer from the sandbox within {exc.timeout:g} s",
                request=request,
            ) from None

        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.body)
        response.url = url
        response.request = request
        response.reason = _reason(answer.status)
        response.encoding = get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        """Nothing to release: the adapter holds no connections."""


def _read_timeout(timeout: float | tuple[float | None, float | None] | None) -> float | None:
    """The read part of a requests timeout (a number or a ``(connect, read)`` pair)."""
    if isinstance(timeout, tuple):
        return timeout[1]
    return timeout


def _body_bytes(body: Any) -> bytes:
    """A prepared body as bytes: bytes, text, a file or an iterable of chunks."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if isinstance(body, Iterable):
        return b"".join(
            part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body
        )
    raise TypeError(f"cannot send a body of type {type(body).__name__}")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
