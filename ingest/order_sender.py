"""Sends dispatch orders from the store's outbox to units over MQTT, and escalates late ones.

Orders are written by the command service (dashboard or API) and published here, by the one
process that holds the broker connection: the order row is the outbox, so an order issued
while the broker is down goes out when it is back, and none is lost between the two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec
from paho.mqtt.client import MQTT_ERR_SUCCESS, Client, MQTTMessageInfo

from incidents.dispatch import DispatchOrderMessage
from incidents.outage import Outage
from incidents.store import Store, StoreUnavailable
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0
"""How long one round waits for the broker to confirm all its orders, in all."""


class PublishFailed(RuntimeError):
    """The broker did not take an order; the outbox keeps it for the next round."""


class OrderSender:
    """Polls the outbox and publishes what waits in it at QoS 1."""

    def __init__(self, store: Store, client: Client, scheme: TopicScheme, worker: str,
                 connected: Callable[[], bool], poll_s: float = 0.5,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._outbox = store.outbox(f"ingest/{worker}")
        self._client = client
        self._scheme = scheme
        self._connected = connected
        self._poll_s = poll_s
        self._clock = clock
        self._encoder = msgspec.json.Encoder()
        self.sent = 0
        """Orders published so far (re-sends included)."""

    async def run(self) -> None:
        """Send until cancelled; a broker or database outage only delays orders."""
        # At most 5 s between tries: an order waiting is a unit not on its way.
        outage = Outage("dispatch-order sender", log, "orders wait in the outbox", cap_s=5.0)
        while True:
            pause = self._poll_s
            if self._connected():
                try:
                    self.sent += await self._outbox.send_pending(self._publish, self._clock())
                    outage.recovered()
                except (StoreUnavailable, PublishFailed) as exc:
                    pause = max(pause, outage.failed(exc))
            await asyncio.sleep(pause)

    async def _publish(self, batch: Sequence[tuple[str, DispatchOrderMessage]]) -> None:
        infos = [self._client.publish(self._scheme.dispatch(unit), self._encoder.encode(msg),
                                      qos=1) for unit, msg in batch]
        failed = [info for info in infos if info.rc != MQTT_ERR_SUCCESS]
        if failed:
            raise PublishFailed(f"the broker refused {len(failed)} of {len(infos)} orders"
                                f" (paho rc {failed[0].rc})")
        await asyncio.to_thread(wait_published, infos, PUBLISH_TIMEOUT_S)
        log.info("sent %d dispatch order(s): %s", len(batch),
                 ", ".join(f"{msg.id[:8]}→{unit}" for unit, msg in batch))


def wait_published(infos: Sequence[MQTTMessageInfo], timeout_s: float,
                   clock: Callable[[], float] = time.monotonic) -> None:
    """Wait until the broker confirmed every order, `timeout_s` in all, or raise PublishFailed.

    One deadline for the whole round, not one per order: the outbox rows stay locked while
    this waits, and units' acknowledgements of those orders wait for the lock (in ingest's
    rules lane). Waiting per order let a broker that went away hold them for ten seconds
    times the number of orders.
    """
    deadline = clock() + timeout_s
    for info in infos:
        try:
            info.wait_for_publish(max(0.0, deadline - clock()))
        except (RuntimeError, ValueError) as exc:  # paho: connection lost, or not queued
            raise PublishFailed(f"an order was not published: {exc}") from exc
        if not info.is_published():
            raise PublishFailed(f"the broker did not confirm {len(infos)} orders in"
                                f" {timeout_s:g} s; they stay in the outbox")
