"""The dashboard served in-process for API tests, and tiny HTTP helpers."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from config.settings import Settings
from dashboard.app import create_app


@contextmanager
def served_dashboard(settings: Settings) -> Iterator[str]:
    """The real dashboard app on a free loopback port; yields its base URL."""
    app = create_app(settings)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.server.extensions["sitroom.bridge"].close()


def get(url: str) -> tuple[int, str, bytes]:
    """GET `url`: (status, content type, body), also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET a JSON document: (status, document)."""
    status, _, body = get(url)
    doc: dict[str, Any] = json.loads(body)
    return status, doc
