"""The health page turns red when the broker reports dropping messages."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from config.settings import FeedWatchSettings, IngestSettings, Settings
from dashboard.api import Check, health_report
from incidents.live import LiveState
from incidents.store import Store
from tests.support.ingest import publisher, running_ingest
from tests.support.servers import ServerProcess, start_mosquitto
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def small_queue_mosquitto(tmp_path: Path) -> Iterator[ServerProcess]:
    """A Mosquitto with the default-like small queue that drops, reporting $SYS every second."""
    server = start_mosquitto(tmp_path / "mq", extra="max_queued_messages 5\nsys_interval 1\n")
    yield server
    server.stop()


def _offline_subscriber(port: int, topic: str) -> None:
    """Leave a persistent session subscribed to `topic` whose queue will overflow."""
    done = threading.Event()
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"offline-{uuid.uuid4().hex[:6]}",
                    protocol=MQTTProtocolVersion.MQTTv311, clean_session=False)
    client.on_subscribe = lambda *a: done.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert done.wait(10)
    client.disconnect()
    client.loop_stop()


async def test_broker_drops_turn_the_health_page_red(
    small_queue_mosquitto: ServerProcess, database_url: str, store: Store, redis_server: str,
    tmp_path: Path,
) -> None:
    url = f"mqtt://127.0.0.1:{small_queue_mosquitto.port}"
    settings = Settings(
        database_url=database_url, redis_url=redis_server, mqtt_url=url, mqtt_protocol="5",
        redis_prefix=f"t{uuid.uuid4().hex[:6]}:", topic_root=f"t{uuid.uuid4().hex[:6]}/v1",
        var_dir=tmp_path, feeds=FeedWatchSettings(agencies=()),  # no feed here: only drops
        ingest=IngestSettings(client_id=f"ingest-{uuid.uuid4().hex[:6]}",
                              session_expiry_s=60, heartbeat_s=0.2),
    )
    live = LiveState.from_url(redis_server, settings.redis_prefix)
    name = f"ingest:{settings.ingest.client_id}"
    try:
        async with running_ingest(settings, store, live):
            await eventually(lambda: live.status(name), lambda s: s is not None)
            ok, _ = health_report(settings, Check(True, ""), Check(True, ""),
                                  await live.statuses("ingest:"))
            assert ok["status"] == "ok"
            _offline_subscriber(small_queue_mosquitto.port, "elsewhere/#")
            with publisher(url, "5") as pub:
                for i in range(20):
                    pub.publish("elsewhere/x", f"{i}")
            status = await eventually(lambda: live.status(name),
                                      lambda s: s is not None and (s["broker_dropped"] or 0) > 0,
                                      timeout_s=15)
            report, code = health_report(settings, Check(True, ""), Check(True, ""),
                                         await live.statuses("ingest:"))
    finally:
        await live.close()
    assert status is not None and status["broker_dropped"] >= 15
    assert (report["status"], code, report["broker"]["ok"]) == ("down", 503, False)
    assert "dropped messages" in report["broker"]["detail"]
