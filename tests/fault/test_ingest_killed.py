"""SIGKILL the ingest process with 10,000 messages in flight: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import IngestSettings, Settings
from incidents.model import Kind, Position
from incidents.store import Store
from ingest.field_client import FieldClient, new_id
from tests.support.processes import start_sitroom
from tests.support.servers import ServerProcess, start_mosquitto
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]

SOURCES = 20
PER_SOURCE = 500


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[ServerProcess]:
    """A private Mosquitto with the recommended durable configuration."""
    server = start_mosquitto(tmp_path / "mosquitto")
    yield server
    server.stop()


async def test_sigkill_of_ingest_loses_and_duplicates_nothing(
    own_mosquitto: ServerProcess, database_url: str, redis_server: str, redis_prefix: str,
    store: Store, tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=database_url, redis_url=redis_server, redis_prefix=redis_prefix,
        mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}", mqtt_protocol="5",
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
        ingest=IngestSettings(client_id="ingest-fault", session_expiry_s=600),
    )
    ingest = start_sitroom(["ingest"], settings, tmp_path / "ingest.log")
    clients = [
        FieldClient(settings.mqtt_url or "", "police", f"unit-{i:02d}",
                    tmp_path / f"outbox-{i}.sqlite", topic_root=settings.topic_root,
                    resend_after_s=5).start()
        for i in range(SOURCES)
    ]
    sent: set[str] = set()
    try:
        await eventually(lambda: all(c.connected for c in clients), bool)
        kills = 0
        for round_ in range(PER_SOURCE // 50):
            for i, client in enumerate(clients):
                batch = [Position(id=new_id(), ts=datetime.now(UTC), unit=f"unit-{i:02d}",
                                  lat=37.0 + round_ * 1e-4, lon=114.5) for _ in range(50)]
                sent.update(client.send_many(Kind.POSITION, list(batch)))
            # Kill ingest twice while messages are still pouring in.
            if round_ in (3, 6):
                await eventually(store.counts, lambda c: c["positions"] > 0, timeout_s=30)
                ingest.send_signal(signal.SIGKILL)
                ingest.wait()
                kills += 1
                ingest = start_sitroom(["ingest"], settings, tmp_path / "ingest.log")
            await asyncio.sleep(0.05)
        assert kills == 2 and len(sent) == SOURCES * PER_SOURCE
        try:
            await eventually(lambda: sum(c.pending() for c in clients),
                             lambda n: n == 0, timeout_s=60, interval_s=0.5)
        except AssertionError:
            # Tell stored-but-unreceipted apart from lost.
            print("stored:", await store.counts(), "connected:", [c.connected for c in clients])
            raise
    finally:
        for client in clients:
            client.close()
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(timeout=30)
        finally:
            if ingest.poll() is None:
                ingest.kill()  # never leave a worker behind, even when the test failed
                ingest.wait()
    stored = await store.position_ids()
    assert len(stored) == len(set(stored)) == SOURCES * PER_SOURCE
    assert set(stored) == sent

