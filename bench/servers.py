"""Servers for benchmarks: a private Mosquitto, and PostgreSQL/Redis (system or embedded)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis

from incidents.store import Store
from tests.support.servers import ServerProcess, start_mosquitto, start_postgres, start_redis


@dataclass(frozen=True)
class BenchServers:
    """Where the benchmark's servers listen."""

    mqtt_port: int
    postgres: str
    """Server DSN (database `postgres`)."""
    redis: str
    workdir: Path


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server(name: str, port: int, url: str, start: Callable[[], ServerProcess],
            started: list[ServerProcess]) -> str:
    """SITROOM_BENCH_{name}_URL, else the system server on `port`, else one we start."""
    configured = os.environ.get(f"SITROOM_BENCH_{name}_URL")
    if configured is not None:
        return configured
    if _listening(port):
        return url.format(port)
    server = start()
    started.append(server)
    return url.format(server.port)


@contextlib.contextmanager
def bench_servers() -> Iterator[BenchServers]:
    """Mosquitto of our own; PostgreSQL and Redis from SITROOM_BENCH_* or standard ports."""
    with tempfile.TemporaryDirectory(prefix="sitroom-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        mosquitto = start_mosquitto(work / "mosquitto")
        started = [mosquitto]
        postgres = _server("POSTGRES", 5432, "postgresql://postgres@127.0.0.1:{}/postgres",
                           lambda: start_postgres(work / "pg"), started)
        redis = _server("REDIS", 6379, "redis://127.0.0.1:{}/0",
                        lambda: start_redis(work / "redis"), started)
        try:
            yield BenchServers(mosquitto.port, postgres, redis, work)
        finally:
            _forget_bench_keys(redis)
            for server in reversed(started):
                server.stop()


def _forget_bench_keys(url: str) -> None:
    """Delete the live-state keys the benchmark's ingest workers left (prefix `bench…:`)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="bench*:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
    finally:
        client.close()


@contextlib.contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """A migrated database for one benchmark run, dropped afterwards."""
    name = f"sitroom_bench_{uuid.uuid4().hex[:8]}"
    dsn = server_dsn.rpartition("/")[0] + "/" + name

    async def create() -> None:
        conn = await asyncpg.connect(server_dsn)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        store = await Store.connect(dsn)
        await store.migrate()
        await store.close()
        # Every run starts just after a checkpoint: otherwise whether the timed one (every
        # 5 min) or the write-back of an earlier run lands inside a 10 s run decides its tail.
        conn = await asyncpg.connect(server_dsn)
        await conn.execute("CHECKPOINT")
        await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(server_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(create())
    try:
        yield dsn
    finally:
        asyncio.run(drop())
