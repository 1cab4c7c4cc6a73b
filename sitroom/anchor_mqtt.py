"""The journal's anchors as a retained MQTT message: a second copy outside the database, on the
broker (and whatever bridges it to the backup site), besides the anchor file.

The topic lies under `{root}/command/`, which only sitroom's service account may write and no
agency account may read (sitroom.acl); the anchor's signature is what makes it trustworthy, so
a message someone else managed to put there proves nothing and is ignored by verify.
"""

from __future__ import annotations

import threading
import uuid

from paho.mqtt.client import Client, MQTTMessage

from incidents.anchors import Anchor, encode
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version

TOPIC = "command/journal/anchor"
"""The anchor's topic under the topic root."""


def anchor_topic(root: str) -> str:
    """The retained anchor's full topic."""
    return f"{root}/{TOPIC}"


def _connected(url: str, protocol: str, purpose: str, timeout_s: float) -> Client:
    address = BrokerAddress.parse(url)
    version = protocol_version(protocol)
    client = make_client(address, f"sitroom-anchor-{purpose}-{uuid.uuid4().hex[:6]}", version,
                         persistent=False)
    ready = threading.Event()
    client.on_connect = lambda *_: ready.set()
    connect_async(client, address, version, persistent=False)
    client.loop_start()
    if not ready.wait(timeout_s):
        client.loop_stop()
        raise TimeoutError(f"cannot connect to the broker at {address.url()}")
    return client


def publish(url: str, protocol: str, root: str, anchor: Anchor, timeout_s: float = 10.0
            ) -> None:
    """Publish the anchor retained at QoS 1 and wait for the broker's acknowledgement."""
    client = _connected(url, protocol, "pub", timeout_s)
    try:
        info = client.publish(anchor_topic(root), encode(anchor), qos=1, retain=True)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge {anchor_topic(root)}")
    finally:
        client.disconnect()
        client.loop_stop()


def read(url: str, protocol: str, root: str, timeout_s: float = 3.0) -> bytes | None:
    """The retained anchor's payload, or None when the broker holds none."""
    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(_client: Client, _data: object, message: MQTTMessage) -> None:
        got.append(bytes(message.payload))
        arrived.set()

    client = _connected(url, protocol, "read", timeout_s)
    try:
        client.on_message = on_message
        client.subscribe(anchor_topic(root), qos=1)
        arrived.wait(timeout_s)  # a retained message comes at once, or there is none
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None
