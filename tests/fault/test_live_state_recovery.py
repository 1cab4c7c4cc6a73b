"""Losing Redis loses nothing: the live state is rebuilt from PostgreSQL when it returns."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.ingest import live_units_or_none, publisher, running_ingest
from tests.support.processes import start_sitroom
from tests.support.servers import ServerProcess, start_redis
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[ServerProcess]:
    """A redis-server this test may kill."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


def position(unit: str, lat: float) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(),
                       "unit": unit, "lat": lat, "lon": 114.5})



async def test_live_state_catches_up_after_redis_restarts(
    own_redis: ServerProcess, database_url: str, store: Store, mosquitto: Broker,
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=database_url, redis_url=f"redis://127.0.0.1:{own_redis.port}/0",
        mqtt_url=mosquitto.url, mqtt_protocol=mosquitto.protocol,
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}", session_expiry_s=120),
    )
    assert settings.redis_url is not None
    live = LiveState.from_url(settings.redis_url, settings.redis_prefix)
    root = settings.topic_root
    try:
        async with running_ingest(settings, store, live):
            with publisher(mosquitto.url, mosquitto.protocol) as pub:
                pub.publish(f"{root}/police/position/a", position("car-1", 37.01))
                await eventually(live.units, lambda u: len(u) == 1)
                own_redis.kill()  # Redis crashes; it keeps nothing on disk
                pub.publish(f"{root}/police/position/a", position("car-2", 37.02))
                await eventually(store.counts, lambda c: c["units"] == 2)  # still stored
                own_redis.restart()  # comes back empty
                returned = time.monotonic()
                units = await eventually(lambda: live_units_or_none(live),
                                         lambda u: u is not None and len(u) == 2,
                                         timeout_s=10)
                caught_up_s = time.monotonic() - returned
    finally:
        await live.close()
    assert units is not None and {u.unit for u in units} == {"car-1", "car-2"}
    print(f"live state caught up {caught_up_s:.2f} s after Redis returned")


async def test_ingest_stops_promptly_when_postgres_is_gone(
    database_url: str, redis_server: str, mosquitto: Broker, postgres_server: str,
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=database_url, redis_url=redis_server, mqtt_url=mosquitto.url,
        mqtt_protocol=mosquitto.protocol, topic_root=f"t{uuid.uuid4().hex[:8]}/v1",
        var_dir=tmp_path, redis_prefix=f"t{uuid.uuid4().hex[:6]}:",
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}", session_expiry_s=60),
    )
    ingest = start_sitroom(["ingest"], settings, tmp_path / "ingest.log")
    try:
        live = LiveState.from_url(redis_server, settings.redis_prefix)
        await eventually(lambda: live.status(f"ingest:{settings.ingest.client_id}"),
                         lambda s: s is not None and s["subscribed"], timeout_s=20)
        await live.close()
        conn = await asyncpg.connect(postgres_server)
        await conn.execute(f'DROP DATABASE "{database_url.rpartition("/")[2]}" WITH (FORCE)')
        await conn.close()
        payload = position("car-1", 37.0)
        with publisher(mosquitto.url, mosquitto.protocol) as pub:
            pub.publish(f"{settings.topic_root}/police/position/a", payload)
        await asyncio.sleep(1.0)  # the batch is now retrying against the missing database
        ingest.send_signal(signal.SIGTERM)
        code = ingest.wait(timeout=15)
        log = (tmp_path / "ingest.log").read_text()
        assert code == 0, log
        assert "1 uncommitted messages, which the broker will redeliver" in log
        # The database comes back: the unacknowledged message is redelivered and stored.
        conn = await asyncpg.connect(postgres_server)
        await conn.execute(f'CREATE DATABASE "{database_url.rpartition("/")[2]}"')
        await conn.close()
        store = await Store.connect(database_url)
        await store.migrate()
        ingest = start_sitroom(["ingest"], settings, tmp_path / "ingest.log")
        stored = await eventually(store.position_ids, lambda ids: len(ids) == 1, timeout_s=20)
        await store.close()
        assert stored == [json.loads(payload)["id"]]
    finally:
        if ingest.poll() is None:
            ingest.send_signal(signal.SIGTERM)
            ingest.wait(timeout=15)
