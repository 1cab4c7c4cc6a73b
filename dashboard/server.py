"""Runs the dashboard under waitress until SIGINT or SIGTERM, then closes its connections."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import dash
from waitress import create_server

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import AuthGate, InsecureSecret, check_secret
from dashboard.portal import AsyncBridge

log = logging.getLogger(__name__)


def _stop(signum: int, frame: FrameType | None) -> None:
    # waitress's loop catches SystemExit, shuts its worker threads down and returns.
    raise SystemExit(0)


def close_app(app: dash.Dash) -> None:
    """Close what create_app opened: the auth gate's connections, then the bridge."""
    gate = app.server.extensions.get("sitroom.auth")
    bridge = app.server.extensions["sitroom.bridge"]
    try:
        if isinstance(gate, AuthGate):
            gate.close()
    finally:
        bridge.close()


def serve(settings: Settings) -> None:
    """Serve the dashboard on dashboard_host:dashboard_port with dashboard_threads threads.

    Exits with a message saying what to set when the secret key is missing or weak.
    """
    try:
        check_secret(settings.auth.secret_key)
    except InsecureSecret as exc:
        raise SystemExit(f"sitroom: {exc}") from exc
    bridge = AsyncBridge(settings)
    app: dash.Dash | None = None
    try:
        app = create_app(settings, bridge)
        server = create_server(app.server, host=settings.dashboard_host,
                               port=settings.dashboard_port, threads=settings.dashboard_threads,
                               ident="sitroom-dashboard")
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
        host = getattr(server, "effective_host", settings.dashboard_host)
        port = getattr(server, "effective_port", settings.dashboard_port)
        log.info("dashboard on http://%s:%s/ (%d threads)", host, port,
                 settings.dashboard_threads)
        try:
            server.run()
        finally:
            server.close()
    finally:
        if app is not None:
            close_app(app)
        else:
            bridge.close()
        log.info("dashboard stopped")
