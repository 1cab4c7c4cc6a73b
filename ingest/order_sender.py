"""Sends dispatch orders from the store's outbox to units over MQTT, and escalates late ones.

Orders are written by the command service (dashboard or API) and published here, by the one
process that holds the broker connection: the order row is the outbox, so an order issued
while the broker is down goes out when it is back, and none is lost between the two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from incidents.clock import Clock
from incidents.dispatch import DispatchOrderMessage
from incidents.errors import StoreUnavailable
from incidents.outage import Outage
from incidents.ports.feeds import OrderOutbox
from ingest.source import PublishFailed
from ingest.topics import TopicScheme

if TYPE_CHECKING:
    from ingest.source import MessageSource

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0
"""How long one round waits for the broker to confirm all its orders, in all."""


class OrderSender:
    """Polls the outbox and publishes what waits in it at QoS 1."""

    def __init__(self, outbox: OrderOutbox, source: MessageSource, scheme: TopicScheme,
                 clock: Clock, poll_s: float = 0.5) -> None:
        self._outbox = outbox
        self._source = source
        self._scheme = scheme
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
            if self._source.connected:
                try:
                    self.sent += await self._outbox.send_pending(self._publish,
                                                                 self._clock.now())
                    outage.recovered()
                except (StoreUnavailable, PublishFailed) as exc:
                    pause = max(pause, outage.failed(exc))
            await asyncio.sleep(pause)

    async def _publish(self, batch: Sequence[tuple[str, DispatchOrderMessage]]) -> None:
        await self._source.publish_confirmed(
            [(self._scheme.dispatch(unit), self._encoder.encode(msg)) for unit, msg in batch],
            PUBLISH_TIMEOUT_S)
        log.info("sent %d dispatch order(s): %s", len(batch),
                 ", ".join(f"{msg.id[:8]}→{unit}" for unit, msg in batch))
