"""The message source's contract, run against each real broker (PahoSource) and MemorySource.

What ingest relies on: messages come out in batches, in arrival order, stamped by the
source's clock; batches are acknowledged; what ingest publishes reaches subscribers; and a
closed source hands out what is left, then ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

import pytest

from incidents.clock import ManualClock
from ingest.memory_source import MemorySource
from ingest.mqtt import BrokerAddress, protocol_version
from ingest.paho_source import PahoSource
from ingest.source import MessageSource, Received
from tests.conftest import Broker
from tests.support.ingest import Publisher, publisher
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@dataclass
class SourceTwin:
    """A source under test, how to publish to it, and what a subscriber to it received."""

    source: MessageSource
    clock: ManualClock
    root: str
    deliver: Callable[[str, bytes], Awaitable[None]]
    """Publish a feed message at QoS 1 as a field unit would."""
    heard: Callable[[], list[tuple[str, bytes]]]
    """What a subscriber to `{root}/receipts/#` received, in order."""


@pytest.fixture(params=["memory", "mosquitto", "amqtt"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which source: the in-memory one, or PahoSource on one of the brokers."""
    return str(request.param)


@asynccontextmanager
async def twin(kind: str, topic_root: str, request: pytest.FixtureRequest
               ) -> AsyncIterator[SourceTwin]:
    """A SourceTwin of `kind`, its source not yet entered."""
    clock = ManualClock()
    if kind == "memory":
        memory = MemorySource(clock)

        async def deliver_memory(topic: str, payload: bytes) -> None:
            memory.deliver(topic, payload)

        def heard_memory() -> list[tuple[str, bytes]]:
            return [(t, p) for t, p, _ in memory.published]

        yield SourceTwin(memory, clock, topic_root, deliver_memory, heard_memory)
        return
    broker: Broker = request.getfixturevalue("mosquitto" if kind == "mosquitto"
                                             else "amqtt_broker")
    paho = PahoSource(BrokerAddress.parse(broker.url), protocol_version(broker.protocol),
                      f"contract-{topic_root[1:9]}", f"{topic_root}/+/+/+", clock,
                      session_expiry_s=60, receive_maximum=100)
    with publisher(broker.url, broker.protocol) as pub:
        await asyncio.to_thread(pub.listen, f"{topic_root}/receipts/#")

        async def deliver_paho(topic: str, payload: bytes) -> None:
            await asyncio.to_thread(Publisher.publish, pub, topic, payload)

        def heard_paho() -> list[tuple[str, bytes]]:
            return [(m.topic, bytes(m.payload)) for m in pub.received]

        yield SourceTwin(paho, clock, topic_root, deliver_paho, heard_paho)


async def _take(source: MessageSource, count: int) -> list[list[Received]]:
    taken: list[list[Received]] = []
    async with aclosing(source.batches(max_size=7, gather_s=0.0)) as batches:
        while sum(len(b) for b in taken) < count:
            taken.append(await asyncio.wait_for(anext(batches), 10.0))
    return taken


async def test_messages_come_in_batches_in_arrival_order_stamped_by_the_clock(
        kind: str, topic_root: str, request: pytest.FixtureRequest) -> None:
    async with twin(kind, topic_root, request) as t, t.source as source:
        await eventually(lambda: source.subscribed, bool)
        topic = f"{t.root}/police/position/car-7"
        for n in range(20):
            await t.deliver(topic, f"m{n}".encode())
        batches = await _take(source, 20)
        for batch in batches:
            await source.ack(batch)
    assert all(len(b) <= 7 for b in batches)
    received = [r for b in batches for r in b]
    assert [r.payload for r in received] == [f"m{n}".encode() for n in range(20)]
    assert {(r.topic, r.qos, r.received_at) for r in received} == {(topic, 1, t.clock.time())}
    assert source.stats.received == 20


async def test_what_is_published_reaches_subscribers(
        kind: str, topic_root: str, request: pytest.FixtureRequest) -> None:
    async with twin(kind, topic_root, request) as t, t.source as source:
        await eventually(lambda: source.connected, bool)
        await source.publish(f"{t.root}/receipts/car-7", b"receipt-1", qos=1)
        await source.publish_confirmed([(f"{t.root}/receipts/car-8", b"order-1"),
                                        (f"{t.root}/receipts/car-8", b"order-2")], 10.0)
        heard = await eventually(t.heard, lambda h: len(h) >= 3)
    assert heard == [(f"{t.root}/receipts/car-7", b"receipt-1"),
                     (f"{t.root}/receipts/car-8", b"order-1"),
                     (f"{t.root}/receipts/car-8", b"order-2")]


async def test_a_closed_source_hands_out_what_is_left_then_ends(
        kind: str, topic_root: str, request: pytest.FixtureRequest) -> None:
    async with twin(kind, topic_root, request) as t:
        async with t.source as source:
            await eventually(lambda: source.subscribed, bool)
            for n in range(3):
                await t.deliver(f"{t.root}/fire/report/app-1", f"r{n}".encode())
            await eventually(lambda: source.backlog, lambda n: n == 3)
        assert not source.connected
        async with aclosing(source.batches(max_size=100, gather_s=0.0)) as batches:
            left = [[r.payload for r in b] async for b in batches]
    assert left == [[b"r0", b"r1", b"r2"]]
