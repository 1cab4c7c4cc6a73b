"""Request bodies are bounded on every route, Dash's callbacks included: the dashboard as it
is served (`sitroom dashboard`, waitress) answers a 100 MB body 413 from its headers, before
reading it, whoever sends it; a body under the limit reaches the app."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from tests.support.auth import with_auth
from tests.support.processes import start_sitroom
from tests.support.servers import free_port, stop, wait_port

pytestmark = pytest.mark.integration

HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * (64 * 1024)


def servers(postgres: str, redis: str, var_dir: Path, **more: Any) -> Settings:
    """Settings on the test servers (no table is read: nothing here signs in)."""
    return with_auth(Settings(database_url=postgres, redis_url=redis, var_dir=var_dir, **more))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, postgres_server: str,
           redis_server: str) -> Iterator[int]:
    """`sitroom dashboard` on a free port with the default limits; its port."""
    tmp = tmp_path_factory.mktemp("limits")
    port = free_port()
    settings = servers(postgres_server, redis_server, tmp, dashboard_port=port)
    log = tmp / "dashboard.log"
    process = start_sitroom(["dashboard"], settings, log)
    try:
        wait_port(port, process, timeout_s=60, log=log)
        yield port
    finally:
        stop(process)


def post(port: int, path: str, headers: str, body: Iterator[bytes]) -> tuple[str, int]:
    """Send a request, feeding `body` until the server answers; (status line, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        for piece in body:
            if select.select([conn], [], [], 0)[0]:
                break  # the answer is here before the body was read
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed the connection after answering
            sent += len(piece)
        answer = conn.recv(4096).decode("latin-1")
    return answer.split("\r\n", 1)[0], sent


def repeated(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield CHUNK


def chunked(total: int) -> Iterator[bytes]:
    for _ in range(total // len(CHUNK)):
        yield b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.mark.parametrize("path", ["/api/incidents", "/_dash-update-component", "/login",
                                  "/api/no-such-route"])
def test_a_100_mb_body_is_refused_from_its_headers(served: int, path: str) -> None:
    headers = f"Content-Type: application/json\r\nContent-Length: {HUNDRED_MB}\r\n"
    status, sent = post(served, path, headers, repeated(HUNDRED_MB))
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < HUNDRED_MB // 10, f"{sent} bytes went in before the answer"


def test_a_chunked_body_is_cut_at_the_limit(served: int) -> None:
    headers = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    status, sent = post(served, "/_dash-update-component", headers, chunked(HUNDRED_MB))
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < HUNDRED_MB // 10, f"{sent} bytes went in before the answer"


def test_a_body_under_the_limit_reaches_the_app(served: int) -> None:
    size = len(CHUNK) * 16  # 1 MiB, under the 4 MiB default
    headers = f"Content-Type: application/json\r\nContent-Length: {size}\r\n"
    status, sent = post(served, "/api/incidents", headers, repeated(size))
    assert status.startswith("HTTP/1.1 401"), status  # the app's own answer: sign in first
    assert sent == size


def test_the_default_limit_is_a_setting() -> None:
    assert Settings().dashboard_max_body_bytes == 4 * 1024 * 1024
    with pytest.raises(ValueError):
        Settings(dashboard_max_body_bytes=1024 ** 3)


def test_flask_has_the_same_limit(tmp_path: Path, postgres_server: str,
                                  redis_server: str) -> None:
    from dashboard.app import create_app
    from dashboard.server import close_app

    app = create_app(servers(postgres_server, redis_server, tmp_path,
                             dashboard_max_body_bytes=128 * 1024))
    try:
        assert app.server.config["MAX_CONTENT_LENGTH"] == 128 * 1024
    finally:
        close_app(app)
