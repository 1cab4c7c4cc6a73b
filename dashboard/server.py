"""Runs the dashboard under waitress until SIGINT or SIGTERM, then closes its connections.

With `dashboard_workers` > 1 this process becomes a small supervisor: it reserves the port
(a socket bound with SO_REUSEPORT but not listening, so nothing else can take the port and
`dashboard_port = 0` resolves once), starts that many worker processes (`dashboard.worker`),
each binding the same port with SO_REUSEPORT and serving with its own waitress, and restarts
any that dies. The kernel spreads new connections over the workers. Each worker has its own
bridge and live hub, so every browser's stream is fed through Redis whichever worker holds
it; sessions live in Redis too, so any worker serves any request.

Why waitress processes and not gunicorn: waitress writes responses from its own event loop
with per-connection output buffers, so a stalled browser never blocks a thread inside a
socket write (gunicorn's gthread workers write synchronously from the request thread); it is
already the dashboard's server, so one and many workers run the same code; and it needs no
new dependency. Linux's SO_REUSEPORT is the only platform requirement.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import dash
import redis
from waitress import create_server

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import AuthGate, InsecureSecret, check_secret
from dashboard.live_push import EXTENSION as LIVE_PUSH
from dashboard.live_push import STREAMS_PER_WORKER, LiveHub
from dashboard.portal import AsyncBridge
from dashboard.streams_api import EXTENSION as STREAMS_REDIS

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
"""Pause before a dead worker is started again (doubling while it keeps dying, up to 30 s)."""
STABLE_S = 60.0
"""A worker that ran this long before dying is restarted after the shortest pause again."""
STOP_TIMEOUT_S = 15.0
"""How long stopping workers may take before they are killed."""


def _stopper(app: dash.Dash) -> Callable[[int, FrameType | None], None]:
    """The SIGTERM/SIGINT handler: end the live streams, then stop waitress."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # Live streams hold their threads until they end, and waitress gives its threads
        # only 5 s once its loop stops: end the streams first, so each writes its last chunk
        # while the sockets are still open.
        hub = app.server.extensions.get(LIVE_PUSH)
        if isinstance(hub, LiveHub):
            hub.close()
        # waitress's loop catches SystemExit, shuts its worker threads down and returns.
        raise SystemExit(0)

    return stop


def close_app(app: dash.Dash) -> None:
    """Close what create_app opened: the live streams, the auth gate's connections, the
    stream routes' Redis client, then the bridge."""
    hub = app.server.extensions.get(LIVE_PUSH)
    gate = app.server.extensions.get("sitroom.auth")
    streams = app.server.extensions.get(STREAMS_REDIS)
    bridge = app.server.extensions["sitroom.bridge"]
    try:
        if isinstance(hub, LiveHub):
            hub.close()
        if isinstance(gate, AuthGate):
            gate.close()
        if isinstance(streams, redis.Redis):
            streams.close()
    finally:
        bridge.close()


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(settings: Settings) -> None:
    """Serve the dashboard on dashboard_host:dashboard_port: in this process, or in
    `dashboard_workers` worker processes.

    Exits with a message saying what to set when the secret key is missing or weak.
    """
    try:
        check_secret(settings.auth.secret_key)
    except InsecureSecret as exc:
        raise SystemExit(f"sitroom: {exc}") from exc
    if settings.dashboard_workers > 1:
        serve_workers(settings)
    else:
        serve_one(settings)


def serve_one(settings: Settings, sock: socket.socket | None = None,
              prepare: Callable[[dash.Dash, AsyncBridge], None] | None = None) -> None:
    """Serve in this process until SIGINT/SIGTERM: on `sock` when given (a worker), else on
    dashboard_host:dashboard_port. `prepare(app, bridge)` may add pages first (benchmarks).

    Each browser's live stream holds one thread while it is open, so waitress gets
    STREAMS_PER_WORKER threads on top of `dashboard_threads`.
    """
    bridge = AsyncBridge(settings)
    app: dash.Dash | None = None
    threads = settings.dashboard_threads + STREAMS_PER_WORKER
    try:
        app = create_app(settings, bridge)
        if prepare is not None:
            prepare(app, bridge)
        where = ({"sockets": [sock]} if sock is not None else
                 {"host": settings.dashboard_host, "port": settings.dashboard_port})
        # waitress's own default is 1 GiB; it answers 413 from the Content-Length header.
        server = create_server(app.server, threads=threads, ident="sitroom-dashboard",
                               max_request_body_size=settings.dashboard_max_body_bytes,
                               **where)
        if threading.current_thread() is threading.main_thread():
            stop = _stopper(app)
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        host = getattr(server, "effective_host", settings.dashboard_host)
        port = getattr(server, "effective_port", settings.dashboard_port)
        log.info("dashboard on http://%s:%s/ (pid %d, %d threads)", host, port, os.getpid(),
                 threads)
        try:
            server.run()
        finally:
            server.close()
    finally:
        if app is not None:
            close_app(app)
        else:
            bridge.close()
        log.info("dashboard stopped (pid %d)", os.getpid())


def portable_settings(settings: Settings) -> Settings:
    """`settings` as the base Settings class (a settings file makes a subclass that cannot
    be pickled), for handing to worker processes."""
    return Settings(**{name: getattr(settings, name) for name in Settings.model_fields})


class _Worker:
    """One worker process and its restart bookkeeping."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.failures = 0
        self.start_at = 0.0
        self.started = 0.0

    def start(self, payload: bytes, port: int) -> None:
        argv = [sys.executable, "-m", "dashboard.worker", str(port), str(os.getpid())]
        # The settings go through a pipe, not argv or the environment: they hold secrets.
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE)
        assert self.process.stdin is not None
        self.process.stdin.write(payload)
        self.process.stdin.close()
        self.started = time.monotonic()
        log.info("dashboard worker %d started (pid %d)", self.index, self.process.pid)


def serve_workers(settings: Settings) -> None:
    """Run `dashboard_workers` worker processes on one port until SIGINT/SIGTERM."""
    reserved = reuseport_socket(settings.dashboard_host, settings.dashboard_port)
    port = reserved.getsockname()[1]
    payload = pickle.dumps(portable_settings(settings))
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workers = [_Worker(i) for i in range(settings.dashboard_workers)]
    log.info("dashboard on http://%s:%d/ with %d worker processes", settings.dashboard_host,
             port, len(workers))
    try:
        for worker in workers:
            worker.start(payload, port)
        while not stopping.wait(0.5):
            _restart_dead(workers, payload, port)
    finally:
        _stop_all(workers)
        reserved.close()
        log.info("dashboard stopped")


def _restart_dead(workers: list[_Worker], payload: bytes, port: int) -> None:
    now = time.monotonic()
    for worker in workers:
        process = worker.process
        if process is None or process.poll() is None:
            if process is None and now >= worker.start_at:
                worker.start(payload, port)
            continue
        if now - worker.started > STABLE_S:
            worker.failures = 0  # it had been running well: this is not a crash loop
        worker.failures += 1
        delay = min(30.0, RESTART_DELAY_S * 2 ** (worker.failures - 1))
        log.warning("dashboard worker %d (pid %d) exited with %s; restarting in %.0f s",
                    worker.index, process.pid, process.returncode, delay)
        worker.process = None
        worker.start_at = now + delay


def _stop_all(workers: list[_Worker]) -> None:
    running = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("dashboard worker pid %d did not stop; killing it", process.pid)
            process.kill()
            process.wait()
