"""The dashboard served in-process for API tests, and tiny HTTP helpers."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dash import Dash
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from config.settings import Settings
from dashboard.app import create_app
from dashboard.server import close_app


class QuietHandler(WSGIRequestHandler):
    """No access log line per request (pages call the server several times a second)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def served_dashboard(settings: Settings, prepare: Callable[[Dash], object] | None = None
                     ) -> Iterator[str]:
    """The real dashboard app on a free loopback port; yields its base URL (no trailing
    slash) and closes everything afterwards.

    `prepare(app)`, when given, runs before the first request (e.g. to add a test-only route).
    """
    app = create_app(settings)
    try:
        if prepare is not None:
            prepare(app)
        server: BaseWSGIServer = make_server("127.0.0.1", 0, app.server, threaded=True,
                                             request_handler=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="test-dashboard",
                                  daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
    finally:
        close_app(app)


def get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    """GET `url` (with a bearer token if given): (status, content type, body), also for 4xx/5xx
    answers."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


def get_json(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    """GET a JSON document: (status, document)."""
    status, _, body = get(url, token)
    doc: dict[str, Any] = json.loads(body)
    return status, doc


def send(method: str, url: str, token: str | None = None, body: Any = None,
         raw: bytes | None = None) -> tuple[int, str, bytes]:
    """Send a request with a JSON body (or `raw` bytes): (status, content type, body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


def send_json(method: str, url: str, token: str | None = None, body: Any = None,
              raw: bytes | None = None) -> tuple[int, Any]:
    """Send a request and decode the JSON answer: (status, document)."""
    status, _, answer = send(method, url, token, body, raw)
    return status, json.loads(answer)
