"""BulkClient over each real broker: plain messages take the fast path, the rest paho's own."""

from __future__ import annotations

import threading
import uuid
from typing import Any, cast

import pytest
from paho.mqtt.client import MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.paho_bulk import BulkClient, Delivery
from tests.conftest import Broker
from tests.support.ingest import publisher
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_deliveries_and_paho_messages_arrive_in_full(broker: Broker) -> None:
    address = BrokerAddress.parse(broker.url)
    protocol = protocol_version(broker.protocol)
    topic = f"bulk-{uuid.uuid4().hex[:8]}/x"
    deliveries: list[Delivery] = []
    messages: list[MQTTMessage] = []
    subscribed = threading.Event()
    client = cast(BulkClient, make_client(address, f"bulk-{uuid.uuid4().hex[:6]}", protocol,
                                          persistent=False, cls=BulkClient))
    client.on_delivery = deliveries.append
    client.on_message = lambda c, u, m: messages.append(m)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)  # as ingest does
    client.on_subscribe = lambda *a: subscribed.set()
    connect_async(client, address, protocol, persistent=False)
    client.loop_start()
    try:
        assert subscribed.wait(10), "subscription not confirmed"
        with publisher(broker.url, broker.protocol) as pub:
            plain = [f"plain-{i}".encode() for i in range(500)]
            for payload in plain:
                pub.client.publish(topic, payload, qos=1)
            pub.client.publish(topic, b"at-most-once", qos=0)
            pub.client.publish(topic, b"exactly-once", qos=2).wait_for_publish(10)  # -> QoS 1
            if broker.protocol == "5":
                props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                props.UserProperty = ("agency", "fire")
                pub.client.publish(topic, b"with-properties", qos=1,
                                   properties=props).wait_for_publish(10)
            await eventually(lambda: len(deliveries) + len(messages),
                             lambda n: n >= len(plain) + 2 + (broker.protocol == "5"))
    finally:
        client.disconnect()
        client.loop_stop()
    fast = [d.payload for d in deliveries]
    # Every QoS 1 message, in order, none twice (QoS 0 may overtake paho's in-flight window).
    assert [p for p in fast if p.startswith(b"plain-")] == plain
    assert b"at-most-once" in fast and b"exactly-once" in fast
    assert all(d.topic == topic for d in deliveries)
    slow: dict[bytes, Any] = {bytes(m.payload): m for m in messages}
    if broker.protocol == "5":  # properties are paho's to decode: they reach on_message
        assert slow[b"with-properties"].properties.UserProperty == [("agency", "fire")]
    assert len(fast) + len(slow) == len(plain) + 2 + (broker.protocol == "5")



async def test_what_it_publishes_is_confirmed_by_the_broker(broker: Broker) -> None:
    address = BrokerAddress.parse(broker.url)
    protocol = protocol_version(broker.protocol)
    connected = threading.Event()
    client = cast(BulkClient, make_client(address, f"bulk-{uuid.uuid4().hex[:6]}", protocol,
                                          persistent=False, cls=BulkClient))
    client.on_connect = lambda *a: connected.set()
    connect_async(client, address, protocol, persistent=False)
    client.loop_start()
    try:
        assert connected.wait(10), "not connected"
        # More than paho's in-flight window (20): the rest is sent as PUBACKs come back.
        infos = [client.publish(f"bulk-{uuid.uuid4().hex[:8]}/receipt", b"{}", qos=1)
                 for _ in range(300)]
        for info in infos:
            info.wait_for_publish(10)
        assert all(info.is_published() for info in infos)
    finally:
        client.disconnect()
        client.loop_stop()
