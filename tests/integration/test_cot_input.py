"""A TAK device streams CoT over TCP to `sitroom ingest`: positions arrive, junk is kept."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.store import Store
from tests.conftest import Broker
from tests.support.processes import start_sitroom
from tests.support.servers import free_port, wait_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cot"


async def test_tak_stream_reaches_the_store(database_url: str, store: Store, redis_server: str,
                                            mosquitto: Broker, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(
        database_url=database_url, redis_url=redis_server, mqtt_url=mosquitto.url,
        mqtt_protocol=mosquitto.protocol, topic_root=f"t{uuid.uuid4().hex[:8]}/v1",
        redis_prefix=f"t{uuid.uuid4().hex[:6]}:", var_dir=tmp_path, cot_tcp_port=port,
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}", session_expiry_s=60),
    )
    env_extra = {"SITROOM_COT_TCP_PORT": str(port)}
    ingest = start_sitroom(["ingest"], settings, tmp_path / "ingest.log", env_extra)
    live = LiveState.from_url(redis_server, settings.redis_prefix)
    try:
        await asyncio.to_thread(wait_port, port, ingest)
        await eventually(lambda: live.status(f"ingest:{settings.ingest.client_id}"),
                         lambda s: s is not None and s["subscribed"], timeout_s=20)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        event = (FIXTURES / "atak_position.xml").read_bytes()
        writer.write(event[: len(event) // 2])  # split across writes, as TCP may deliver it
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(event[len(event) // 2:] + b"<event version='2.0' uid='x'></event>")
        await writer.drain()
        units = await eventually(store.units, lambda u: len(u) == 1, timeout_s=15)
        letters = await eventually(store.dead_letters, lambda d: len(d) == 1)
        writer.close()
    finally:
        await live.close()
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(timeout=30)
    assert units[0].unit.startswith("ANDROID-8c1e0f2b7a4d9e36")
    assert letters[0].letter.topic == "cot-tcp"
    assert letters[0].letter.reason == "invalid_cot"
