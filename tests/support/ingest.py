"""Run the ingest service inside a test's event loop, and publish like a field unit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import MQTTProtocolVersion

from config.settings import Settings
from incidents.live import LiveState, LiveUnavailable
from incidents.model import UnitState
from incidents.store import Store
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.service import IngestService
from sitroom.wiring import crs_policy
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def running_ingest(settings: Settings, store: Store,
                         live: LiveState) -> AsyncIterator[IngestService]:
    """An IngestService consuming in the background, subscribed before this yields."""
    service = IngestService(settings, store, live, crs=crs_policy(settings))
    task = asyncio.create_task(service.run(), name="test-ingest")
    try:
        await eventually(lambda: _ready(service, task), bool, timeout_s=15)
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _ready(service: IngestService, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # surface the error that ended it
    return service.subscribed


async def live_units_or_none(live: LiveState) -> list[UnitState] | None:
    """The live units, or None while Redis is away (for polling across a Redis restart)."""
    try:
        return await live.units()
    except LiveUnavailable:
        return None


class Publisher:
    """A plain paho client that publishes at QoS 1 and records receipts."""

    def __init__(self, url: str, protocol: str) -> None:
        self._address = BrokerAddress.parse(url)
        self._protocol: MQTTProtocolVersion = protocol_version(protocol)
        self.client: Client = make_client(self._address, f"pub-{uuid.uuid4().hex[:8]}",
                                          self._protocol, persistent=False)
        self.received: list[MQTTMessage] = []
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = lambda c, u, m: self.received.append(m)

    def __enter__(self) -> Publisher:
        connect_async(self.client, self._address, self._protocol, persistent=False)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError(f"could not connect to {self._address.url()}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def listen(self, topic: str) -> None:
        """Subscribe (QoS 1) and wait for the broker to confirm."""
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        if not self._subscribed.wait(10):
            raise TimeoutError(f"subscription to {topic} not confirmed")

    def publish(self, topic: str, payload: bytes | str) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK for {topic}")


@contextlib.contextmanager
def publisher(url: str, protocol: str) -> Iterator[Publisher]:
    """A connected Publisher."""
    with Publisher(url, protocol) as pub:
        yield pub
