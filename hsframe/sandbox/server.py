"""The sandbox's HTTP front door: a threaded server on 127.0.0.1.

This is what notebooks, the CLI, the official SDK and the benchmarks talk to: real sockets,
HTTP/1.1 keep-alive, one thread per connection, so that requests with latency overlap the
way they do against HubSpot. It only translates: bytes in → :class:`~hsframe.sandbox.wire.
Request` → :class:`~hsframe.sandbox.core.SandboxCore` → bytes out. Every HubSpot rule lives
in the core, so the in-process adapter answers exactly the same.

Request paths are percent-decoded (as WSGI's ``PATH_INFO`` is), query strings become
``dict[str, list[str]]`` (blank values kept) and header names are lower-cased. Bodies may
come with ``Content-Length`` or chunked. A dropped-connection fault closes the socket without
a byte of answer.

The server is quiet (no access log on stderr) and stops cleanly: :meth:`SandboxServer.stop`
ends the accept loop, closes idle keep-alive connections, and joins every thread.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hsframe.sandbox.core import ConnectionDropped, SandboxCore
from hsframe.sandbox.wire import Request, Response

logger = logging.getLogger("hsframe.sandbox")

_NO_BODY_STATUSES = frozenset({204, 304})

STOP_GRACE = 10.0
"""Seconds :meth:`SandboxServer.stop` waits for requests still being answered."""


class SandboxServer(ThreadingHTTPServer):
    """A threaded HTTP server answering with a :class:`SandboxCore`, bound to loopback.

    Args:
        core: The sandbox core that answers every request.
        host: The address to bind; loopback only is the point, so keep the default.
        port: The port; 0 picks a free one (read it back from :attr:`url`).

    Example:
        >>> from hsframe.sandbox.core import SandboxCore
        >>> class NoCrm:
        ...     def route(self, method, path): return None
        ...     def fail_next_inputs(self, count): pass
        >>> import requests
        >>> with SandboxServer(SandboxCore(NoCrm())) as server:
        ...     with requests.Session() as session:
        ...         session.get(server.url + "/crm/v3/objects/contacts").status_code
        401
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, core: SandboxCore, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.core = core
        self._connections: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"SandboxServer({self.url}, {state})"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        """Serve in a background thread; returns the server itself."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="hsframe-sandbox-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, *, grace: float = STOP_GRACE) -> None:
        """Stop serving, close open connections, release the port and join all threads.

        Args:
            grace: Seconds to wait for requests still being answered (a long injected
                delay, say); threads still busy after that are daemons and die with the
                process.
        """
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            open_connections = list(self._connections)
            handlers = list(self._handlers)
        for connection in open_connections:
            # Wakes the handler thread waiting for the next keep-alive request.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        deadline = time.monotonic() + grace
        for handler in handlers:
            handler.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Handle a new connection in its own (tracked, daemon) thread."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="hsframe-sandbox-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections.add(request)
            self._handlers.add(thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection until it closes, then forget its thread."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._handlers.discard(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        """Close a finished connection and stop tracking it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection quietly (clients hang up; that is not news)."""
        logger.debug("sandbox connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP exchange into a core call and back."""

    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def version_string(self) -> str:
        return "hsframe-sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the core keeps the request log."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool = False) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.send_error(400, f"Bad request body: {exc}")
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path) or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self._headers(),
            body=body,
        )
        try:
            response = self.server.core.handle(request)
        except ConnectionDropped:
            self.close_connection = True
            return
        self._send(response, head=head)

    def _headers(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        size = int(length)
        if size < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self.rfile.readline(65_537)
            if not line:
                raise ValueError("connection closed inside a chunked body")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65_537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the sandbox needs
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)  # the CRLF after each chunk

    def _send(self, response: Response, *, head: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if response.status not in _NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and response.status not in _NO_BODY_STATUSES:
            self.wfile.write(response.body)
