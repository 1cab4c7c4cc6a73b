"""Runs the dashboard under waitress until SIGINT or SIGTERM, then closes its connections."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from waitress import create_server

from config.settings import Settings
from dashboard.app import create_app
from dashboard.portal import AsyncBridge

log = logging.getLogger(__name__)


def _stop(signum: int, frame: FrameType | None) -> None:
    # waitress's loop catches SystemExit, shuts its worker threads down and returns.
    raise SystemExit(0)


def serve(settings: Settings) -> None:
    """Serve the dashboard on dashboard_host:dashboard_port with dashboard_threads threads."""
    bridge = AsyncBridge(settings)
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
        bridge.close()
        log.info("dashboard stopped")
