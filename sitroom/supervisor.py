"""Starts child processes in order, restarts any that dies (with backoff), stops them all."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from sitroom.embedded import ProcessSpec

log = logging.getLogger("sitroom.supervisor")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, so nothing is left running."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class StartupError(RuntimeError):
    """A child process did not become ready."""


@dataclass(slots=True)
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    logfile: IO[bytes]
    started_at: float
    restarts: int = 0
    next_start: float | None = None
    history: list[float] = field(default_factory=list)


class Supervisor:
    """Owns every child process of `sitroom up`."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[_Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def _spawn(self, spec: ProcessSpec) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        logfile = open(self._log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - kept open
        env = {**os.environ, **spec.env}
        process = subprocess.Popen(
            spec.argv, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=spec.cwd, user=spec.user, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        return process, logfile

    def start(self, spec: ProcessSpec, ready_timeout_s: float = 60.0) -> None:
        """Start `spec` and wait until its port answers; raise StartupError otherwise."""
        if spec.port is not None and port_open(spec.port):
            raise StartupError(
                f"port {spec.port} for {spec.name} is already in use: stop what holds it, or set"
                f" another port (SITROOM_EMBEDDED__{spec.name.upper()}=…)"
            )
        process, logfile = self._spawn(spec)
        child = _Child(spec, process, logfile, time.monotonic())
        self._children.append(child)
        deadline = time.monotonic() + ready_timeout_s
        while spec.port is not None and not port_open(spec.port):
            if process.poll() is not None:
                raise StartupError(
                    f"{spec.name} exited with {process.returncode} while starting;"
                    f" see {self._log_dir / (spec.name + '.log')}"
                )
            if time.monotonic() > deadline:
                raise StartupError(f"{spec.name} not ready on port {spec.port} after"
                                   f" {ready_timeout_s:.0f}s; see its log in {self._log_dir}")
            time.sleep(0.1)
        log.info("%s started (pid %d)", spec.name, process.pid)

    def poll(self) -> None:
        """Restart children that died, with exponential backoff; call this periodically."""
        now = time.monotonic()
        for child in self._children:
            code = child.process.poll()
            if code is None:
                continue
            if child.next_start is None:
                uptime = now - child.started_at
                child.restarts = 0 if uptime > 60 else child.restarts + 1
                delay = min(30.0, 0.5 * 2 ** child.restarts)
                child.next_start = now + delay
                log.error("%s (pid %d) exited with %s after %.1fs; restarting in %.1fs",
                          child.spec.name, child.process.pid, code, uptime, delay)
            elif now >= child.next_start:
                child.logfile.close()
                child.process, child.logfile = self._spawn(child.spec)
                child.started_at = now
                child.next_start = None
                child.history.append(now)
                log.warning("%s restarted (pid %d)", child.spec.name, child.process.pid)

    def pids(self) -> dict[str, int]:
        """Name → pid of every child, for tests and status output."""
        return {c.spec.name: c.process.pid for c in self._children}

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """Stop children in reverse start order: polite signal, then SIGKILL."""
        for child in reversed(self._children):
            process = child.process
            if process.poll() is None:
                try:
                    process.send_signal(child.spec.stop_signal)
                except ProcessLookupError:
                    pass  # it exited between poll() and the signal
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop in %.0fs; killing it", child.spec.name, timeout_s)
                    process.kill()
                    process.wait()
            child.logfile.close()
            log.info("%s stopped", child.spec.name)
        self._children.clear()


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """Call `stop` on SIGINT and SIGTERM."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
