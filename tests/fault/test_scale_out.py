"""Two ingest workers share the feed through `$share/…`: nothing stored twice, nothing lost
when one of them is SIGKILLed mid-stream."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import IngestSettings, Settings
from incidents.live import LiveState
from incidents.model import Kind, Position
from incidents.store import Store
from ingest.field_client import FieldClient, new_id
from tests.support.processes import start_sitroom
from tests.support.servers import ServerProcess, start_mosquitto
from tests.support.waiting import eventually

pytestmark = [pytest.mark.fault, pytest.mark.integration]

UNITS = 10
ROUNDS = 10
PER_ROUND = 50


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_mosquitto(tmp_path / "mosquitto")
    yield server
    server.stop()


async def _stored_by_worker(live: LiveState, names: list[str]) -> dict[str, int]:
    found = {}
    for name in names:
        status = await live.status(f"ingest:{name}")
        found[name] = int(status["committed"]) if status else 0
    return found


async def test_two_workers_share_the_load_and_survive_a_kill(
    own_mosquitto: ServerProcess, database_url: str, store: Store, redis_server: str,
    tmp_path: Path,
) -> None:
    base = Settings(
        database_url=database_url, redis_url=redis_server, redis_prefix=f"t{uuid.uuid4().hex[:6]}:",
        mqtt_url=f"mqtt://127.0.0.1:{own_mosquitto.port}", mqtt_protocol="5",
        topic_root=f"t{uuid.uuid4().hex[:8]}/v1", var_dir=tmp_path,
    )
    names = ["worker-a", "worker-b"]

    def worker(name: str) -> subprocess.Popen[bytes]:
        settings = base.model_copy(update={"ingest": IngestSettings(
            client_id=name, shared_group="sitroom", session_expiry_s=600)})
        return start_sitroom(["ingest"], settings, tmp_path / f"{name}.log")

    workers = {name: worker(name) for name in names}
    live = LiveState.from_url(redis_server, base.redis_prefix)
    clients = [FieldClient(base.mqtt_url or "", "police", f"unit-{i:02d}",
                           tmp_path / f"outbox-{i}.sqlite", topic_root=base.topic_root,
                           resend_after_s=3).start() for i in range(UNITS)]
    sent: set[str] = set()
    try:
        await eventually(lambda: _subscribed(live, names), bool, timeout_s=20)
        for round_ in range(ROUNDS):
            for i, client in enumerate(clients):
                batch = [Position(id=new_id(), ts=datetime.now(UTC), unit=f"unit-{i:02d}",
                                  lat=37.0, lon=114.5) for _ in range(PER_ROUND)]
                sent.update(client.send_many(Kind.POSITION, list(batch)))
            if round_ == 4:
                # Both workers have taken a share by now (heartbeats reset on restart).
                shares = await eventually(lambda: _stored_by_worker(live, names),
                                          lambda s: all(v > 0 for v in s.values()))
                workers["worker-b"].send_signal(signal.SIGKILL)
                workers["worker-b"].wait()
                workers["worker-b"] = worker("worker-b")
            await asyncio.sleep(0.2)
        await eventually(lambda: _pending(clients), lambda n: n == 0, timeout_s=120,
                         interval_s=0.5)
    finally:
        for client in clients:
            client.close()
        await live.close()
        for process in workers.values():
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    stored = await store.position_ids()
    assert len(stored) == len(set(stored)) == len(sent) == UNITS * ROUNDS * PER_ROUND
    assert set(stored) == sent
    assert sum(shares.values()) <= len(sent)


async def _subscribed(live: LiveState, names: list[str]) -> bool:
    for name in names:
        status = await live.status(f"ingest:{name}")
        if status is None or not status["subscribed"]:
            return False
    return True


def _pending(clients: list[FieldClient]) -> int:
    return sum(c.pending() for c in clients)
