"""Everything fails at once: broker, PostgreSQL, Redis and ingest crash while 20 units publish.

The issue's bar: 10,000 messages from 20 simulated units while the broker is SIGKILLed 3
times, PostgreSQL stopped with `-m immediate` twice, Redis restarted twice and an ingest
worker SIGKILLed twice: every message the field clients published is in PostgreSQL exactly
once, and the live state catches up within 10 s after Redis returns.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.model import Kind, Position, UnitState
from incidents.store import Store
from ingest.field_client import FieldClient, new_id
from tests.support.ingest import live_units_or_none
from tests.support.processes import start_sitroom
from tests.support.servers import ServerProcess, start_mosquitto, start_postgres, start_redis
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]

UNITS = 20
ROUNDS = 10
PER_ROUND = 50  # per unit: 20 × 10 × 50 = 10,000 messages


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, ServerProcess]]:
    """Our own broker, PostgreSQL and Redis: this test kills all three."""
    started = {"broker": start_mosquitto(tmp_path / "mosquitto"),
               "postgres": start_postgres(tmp_path / "pg"),
               "redis": start_redis(tmp_path / "redis")}
    yield started
    for server in started.values():
        server.stop()


def _immediate_stop(server: ServerProcess) -> None:
    """`pg_ctl stop -m immediate`: SIGQUIT to the postmaster, no checkpoint."""
    server.process.send_signal(signal.SIGQUIT)
    server.process.wait(timeout=30)



async def test_nothing_is_lost_or_doubled_when_everything_crashes(
    servers: dict[str, ServerProcess], tmp_path: Path,
) -> None:
    pg, redis, broker = servers["postgres"], servers["redis"], servers["broker"]
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres")
    await conn.execute('CREATE DATABASE "sitroom"')
    await conn.close()
    dsn = f"postgresql://postgres@127.0.0.1:{pg.port}/sitroom"
    store = await Store.connect(dsn)
    await store.migrate()
    settings = Settings(
        database_url=dsn, redis_url=f"redis://127.0.0.1:{redis.port}/0",
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}", mqtt_protocol="5",
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
        ingest=IngestSettings(client_id="ingest-chaos", session_expiry_s=600, heartbeat_s=0.5),
    )
    log = tmp_path / "ingest.log"
    ingest = start_sitroom(["ingest"], settings, log)
    clients = [FieldClient(settings.mqtt_url or "", "police", f"unit-{i:02d}",
                           tmp_path / f"outbox-{i}.sqlite", topic_root=settings.topic_root,
                           resend_after_s=3).start() for i in range(UNITS)]

    def kill_ingest() -> None:
        nonlocal ingest
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        ingest = start_sitroom(["ingest"], settings, log)

    redis_back: list[float] = []

    def restart_redis() -> None:
        redis.kill()
        time.sleep(0.3)
        redis.restart()
        redis_back.append(time.monotonic())

    def restart_broker() -> None:
        broker.kill()
        time.sleep(0.3)
        broker.restart()

    def crash_postgres() -> None:
        _immediate_stop(pg)
        time.sleep(0.5)
        pg.restart()

    chaos: dict[int, Callable[[], None]] = {
        1: restart_broker, 2: kill_ingest, 3: crash_postgres, 4: restart_redis,
        5: restart_broker, 6: kill_ingest, 7: crash_postgres, 8: restart_redis,
        9: restart_broker,
    }
    sent: set[str] = set()
    live = LiveState.from_url(settings.redis_url or "", settings.redis_prefix)
    try:
        await eventually(lambda: all(c.connected for c in clients), bool, timeout_s=15)
        for round_ in range(ROUNDS):
            for i, client in enumerate(clients):
                batch = [Position(id=new_id(), ts=datetime.now(UTC), unit=f"unit-{i:02d}",
                                  lat=37.0 + round_ * 1e-3, lon=114.5 + i * 1e-3)
                         for _ in range(PER_ROUND)]
                sent.update(client.send_many(Kind.POSITION, list(batch)))
            if round_ in chaos:
                await asyncio.to_thread(chaos[round_])
            await asyncio.sleep(0.3)
        assert len(sent) == UNITS * ROUNDS * PER_ROUND
        await eventually(lambda: sum(c.pending() for c in clients), lambda n: n == 0,
                         timeout_s=180, interval_s=0.5)
        stored = await _position_ids(dsn)
        # `units` and the live state show every unit at its last fix, though ingest was
        # killed between committing positions and writing units (caught up on restart).
        expected = {f"unit-{i:02d}": pytest.approx(37.0 + (ROUNDS - 1) * 1e-3)
                    for i in range(UNITS)}
        await eventually(lambda: _store_units(dsn),
                         lambda u: {x.unit: x.lat for x in u} == expected, timeout_s=10)
        units = await eventually(
            lambda: live_units_or_none(live),
            lambda u: u is not None and {x.unit: x.lat for x in u} == expected, timeout_s=10)
        caught_up_after_s = time.monotonic() - redis_back[-1]
    finally:
        for client in clients:
            client.close()
        await live.close()
        await store.close()
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ingest.kill()
            ingest.wait()
    assert len(stored) == len(set(stored)) == len(sent)
    assert set(stored) == sent
    assert units is not None and len(units) == UNITS
    print(f"10,000 stored exactly once; live state matched {caught_up_after_s:.1f} s after the"
          " last Redis restart")


async def _position_ids(dsn: str) -> list[str]:
    store = await Store.connect(dsn)
    try:
        return await store.position_ids()
    finally:
        await store.close()


async def _store_units(dsn: str) -> list[UnitState]:
    store = await Store.connect(dsn)
    try:
        return await store.units()
    finally:
        await store.close()

