"""The HTTP front door: parsing, keep-alive, concurrency and a clean stop."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from hsframe.sandbox.core import SandboxCore
from hsframe.sandbox.server import SandboxServer
from hsframe.sandbox.wire import Request, Response

CONTACTS = "/crm/v3/objects/contacts"
SERVER_THREADS = ("hsframe-sandbox", "Thread-")  # ours are named; socketserver's are not


def test_binds_loopback_on_a_free_port(http_server: SandboxServer) -> None:
    host, port = http_server.server_address[:2]
    assert host == "127.0.0.1" and port > 0
    assert http_server.url == f"http://127.0.0.1:{port}"
    assert "running" in repr(http_server)


def test_requests_reach_the_core_as_wire_requests(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore
) -> None:
    answer = http_session.post(
        f"{http_server.url}/echo?properties=a&properties=b,c&archived=&x=%2F",
        headers={"X-Custom-Header": "Yes", "Authorization": f"Bearer {live_core.auth.token}"},
        data=b'{"k": 1}',
    )
    echo = answer.json()
    assert echo["method"] == "POST"
    assert echo["path"] == "/echo"
    assert echo["query"] == {"properties": ["a", "b,c"], "archived": [""], "x": ["/"]}
    assert echo["headers"]["x-custom-header"] == "Yes"
    assert echo["body"] == '{"k": 1}'


def test_paths_are_percent_decoded(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore
) -> None:
    http_session.get(f"{http_server.url}/crm/v3/objects/contacts/ann%40example.com")
    assert live_core.requests[-1].path == "/crm/v3/objects/contacts/ann@example.com"


def test_chunked_bodies_are_read(
    http_server: SandboxServer, http_session: requests.Session, live_core: SandboxCore
) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"inputs": '
        yield b"[1, 2, 3]}"

    auth = {"Authorization": f"Bearer {live_core.auth.token}"}
    answer = http_session.post(f"{http_server.url}/echo", data=parts(), headers=auth)
    assert answer.json()["headers"]["transfer-encoding"] == "chunked"
    assert answer.json()["body"] == '{"inputs": [1, 2, 3]}'


def test_keep_alive_serves_several_requests_on_one_connection(
    http_server: SandboxServer, live_core: SandboxCore
) -> None:
    host, port = http_server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=5)
    try:
        auth = {"Authorization": f"Bearer {live_core.auth.token}"}
        statuses = []
        for method, path in [("GET", CONTACTS), ("DELETE", f"{CONTACTS}/1"), ("GET", CONTACTS)]:
            connection.request(method, path, headers=auth)
            answer = connection.getresponse()
            answer.read()
            statuses.append(answer.status)
            assert answer.getheader("Connection") != "close"
        assert statuses == [200, 204, 200]
        connection.request("HEAD", CONTACTS, headers=auth)
        head = connection.getresponse()
        assert head.read() == b""
        assert head.status == 405
    finally:
        connection.close()


def test_a_bad_content_length_is_a_400(http_server: SandboxServer) -> None:
    host, port = http_server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as raw:
        raw.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")


def test_many_keep_alive_connections_are_served_at_once(fake_crm: Any) -> None:
    """40 clients on kept-alive connections are all inside a handler at the same moment.

    A barrier that only opens when every request is being handled proves the concurrency
    without timing anything: a server that serialised requests would leave it shut.
    """
    workers = 40
    barrier = threading.Barrier(workers, timeout=30)

    def meet(request: Request) -> Response:
        barrier.wait()
        return Response.of_json(200, {"results": []})

    fake_crm.extra_routes[("GET", "/meet")] = meet
    core = SandboxCore(fake_crm)
    auth = {"Authorization": f"Bearer {core.auth.token}"}
    sessions = [requests.Session() for _ in range(workers)]
    try:
        with SandboxServer(core) as server, ThreadPoolExecutor(workers) as pool:

            def one(session: requests.Session) -> int:
                return session.get(f"{server.url}/meet", headers=auth, timeout=60).status_code

            for _ in range(2):  # the second round reuses the kept-alive connections
                assert list(pool.map(one, sessions)) == [200] * workers
                barrier.reset()
    finally:
        for session in sessions:
            session.close()
    assert len(core.requests) == 2 * workers


def test_stop_closes_idle_keep_alive_connections_and_joins_threads(
    live_core: SandboxCore,
) -> None:
    with requests.Session() as session:
        server = SandboxServer(live_core).start()
        for _ in range(3):
            session.get(f"{server.url}{CONTACTS}")
        server.stop()
        server.stop()  # idempotent
        assert "stopped" in repr(server)
    assert not [t for t in threading.enumerate() if t.name.startswith(SERVER_THREADS)]


def test_the_server_is_quiet(
    http_server: SandboxServer,
    http_session: requests.Session,
    capsys: Any,
) -> None:
    http_session.get(f"{http_server.url}{CONTACTS}")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
