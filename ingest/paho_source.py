"""The broker as a MessageSource: paho's BulkClient, driven from the event loop.

Everything measured to matter stays in here (docs/decisions.md 37-39): BulkClient frames
packets and hands plain PUBLISH packets over without paho's objects (ingest/paho_bulk.py),
LoopDriver runs paho's I/O on the event loop instead of a thread (ingest/mqtt_loop.py), a
message costs an append to the inbox and nothing awaited, and a batch is acknowledged with
one queued write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from types import TracebackType
from typing import Any, Self, cast

from paho.mqtt.client import (
    MQTT_ERR_SUCCESS,
    Client,
    ConnectFlags,
    DisconnectFlags,
    MQTTMessage,
    MQTTMessageInfo,
)
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from config.settings import Settings
from incidents.clock import Clock, SystemClock
from ingest.inbox import Inbox
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.mqtt_loop import LoopDriver
from ingest.paho_bulk import BulkClient, Delivery
from ingest.source import PublishFailed, Received, SourceStats
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
"""Mosquitto's count of messages it dropped (queue limits); ingest watches it for the health
page. Brokers without it (amqtt) simply never publish it."""


class PahoSource:
    """A persistent MQTT session subscribed to the feeds, acknowledging by hand."""

    def __init__(self, address: BrokerAddress, protocol: MQTTProtocolVersion, client_id: str,
                 subscription: str, clock: Clock, *, session_expiry_s: int,
                 receive_maximum: int) -> None:
        self._client_id = client_id
        self._address = address
        self._protocol = protocol
        self._subscription = subscription
        self._clock = clock
        # Every message is stamped: with the real clock, call time.time itself rather than
        # through SystemClock (one Python frame less per message on the hot path).
        self._stamp: Callable[[], float] = time.time if type(clock) is SystemClock else clock.time
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._inbox = Inbox(clock)
        self._generation = 0
        self._connected = False
        self._subscribed = False
        self._feed_subscription_mid = -1
        self._closing = False
        self._driver: LoopDriver | None = None
        self._driving: asyncio.Task[None] | None = None
        self.stats = SourceStats()
        self._client = cast(BulkClient, make_client(
            address, client_id, protocol, persistent=True, manual_ack=True, cls=BulkClient))
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_delivery = self._on_delivery
        self._client.on_subscribe = self._on_subscribe

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> PahoSource:
        """The source ingest's settings describe: broker, protocol, client id, shared group."""
        if settings.mqtt_url is None:
            raise ValueError("ingest needs SITROOM_MQTT_URL (sitroom up sets it for you)")
        cfg = settings.ingest
        topic = TopicScheme(settings.topic_root, frozenset(settings.agencies)).subscription
        return cls(BrokerAddress.parse(settings.mqtt_url),
                   protocol_version(settings.mqtt_protocol), cfg.client_id,
                   f"$share/{cfg.shared_group}/{topic}" if cfg.shared_group else topic, clock,
                   session_expiry_s=cfg.session_expiry_s, receive_maximum=cfg.receive_maximum)

    @property
    def broker(self) -> str:
        """The broker's URL, without password."""
        return self._address.url()

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self._connected

    @property
    def subscribed(self) -> bool:
        """True once the broker confirmed the feed subscription on this connection."""
        return self._subscribed

    @property
    def backlog(self) -> int:
        """Messages received and not yet taken by `batches`."""
        return len(self._inbox)

    async def __aenter__(self) -> Self:
        self._client.connect_timeout = 2.0  # connecting blocks the loop: keep it short
        connect_async(self._client, self._address, self._protocol, persistent=True,
                      session_expiry_s=self._session_expiry_s,
                      receive_maximum=self._receive_maximum)
        self._driver = LoopDriver(self._client, asyncio.get_running_loop())
        log.info("ingest %s consuming %s from %s", self._client_id, self._subscription,
                 self._address.url())
        self._driving = asyncio.create_task(self._driver.run(), name="ingest-mqtt")
        self._driving.add_done_callback(self._driver_ended)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing = True
        try:
            if self._driving is not None:
                self._driving.cancel()
                await asyncio.wait([self._driving])  # a cancel of our own caller propagates
        finally:
            if self._driver is not None:
                self._driver.stop()  # DISCONNECT now: unacked messages go back to the broker
            self._inbox.close()

    def _driver_ended(self, task: asyncio.Task[None]) -> None:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:  # `batches` raises it: ingest stops, as on any bug
            self._inbox.fail(failure)

    def batches(self, max_size: int, gather_s: float) -> AsyncGenerator[list[Received], None]:
        """Batches of what arrived (see MessageSource.batches)."""
        return self._inbox.batches(max_size, gather_s)

    async def ack(self, batch: Sequence[Received]) -> None:
        """Acknowledge the batch's QoS 1 messages of the current connection, in one write."""
        # After a reconnect the broker redelivers the rest, and a mid of the old connection
        # may name another message now.
        generation = self._generation
        self._client.ack_many(r.mid for r in batch if r.qos == 1 and r.generation == generation)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Queue a message (written on the loop's next turn); not confirmed."""
        self._client.publish(topic, payload, qos=qos)

    async def publish_confirmed(self, messages: Sequence[tuple[str, bytes]],
                                timeout_s: float) -> None:
        """Publish at QoS 1 and wait for every PUBACK, `timeout_s` in all."""
        infos = [self._client.publish(topic, payload, qos=1) for topic, payload in messages]
        failed = [info for info in infos if info.rc != MQTT_ERR_SUCCESS]
        if failed:
            raise PublishFailed(f"the broker refused {len(failed)} of {len(infos)} messages"
                                f" (paho rc {failed[0].rc})")
        await asyncio.to_thread(wait_published, infos, timeout_s)

    # --- paho's callbacks (on the event loop: ingest/mqtt_loop.py) --------------------

    def _on_connect(self, client: Client, userdata: Any, flags: ConnectFlags,
                    reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused ingest: %s", self._address.url(), reason)
            return
        self._generation += 1
        _, mid = client.subscribe(self._subscription, qos=1)
        self._feed_subscription_mid = mid if mid is not None else -1
        client.subscribe(BROKER_DROPPED_TOPIC, qos=0)
        self._connected = True
        log.info("connected to %s (session present: %s)", self._address.url(),
                 flags.session_present)

    def _on_disconnect(self, client: Client, userdata: Any, flags: DisconnectFlags,
                       reason: ReasonCode, properties: Any) -> None:
        self._connected = False
        self._subscribed = False
        # Messages of the lost connection are not acknowledged: the broker redelivers them.
        self._generation += 1
        if self._closing:
            log.info("disconnected from %s", self._address.url())
        else:
            log.warning("lost the broker %s: %s; reconnecting", self._address.url(), reason)

    def _on_subscribe(self, client: Client, userdata: Any, mid: int,
                      reasons: list[ReasonCode], properties: Any) -> None:
        if mid != self._feed_subscription_mid:
            return  # the $SYS watch: a broker that refuses it just has no drop counter
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("broker refused the subscription %s: %s", self._subscription, failed)
            return
        self._subscribed = True

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        # Only what BulkClient's fast path leaves to paho: MQTT 5 properties, QoS 2.
        self._on_delivery(Delivery(message.mid, message.qos, message.topic,
                                   bytes(message.payload)))

    def _on_delivery(self, delivery: Delivery) -> None:
        if delivery.topic == BROKER_DROPPED_TOPIC:
            self._note_broker_drops(delivery.payload)
            return
        self.stats.received += 1  # here, not when decoded: a batch put back is decoded again
        inbox = self._inbox  # Inbox.put, inlined: this runs for every message
        inbox.items.append(Received(self._generation, delivery.mid, delivery.qos,
                                    delivery.topic, delivery.payload, self._stamp()))
        if not inbox.woken:
            inbox.wake()

    def _note_broker_drops(self, payload: bytes) -> None:
        try:
            dropped = int(payload)
        except ValueError:
            log.error("unreadable %s payload %r", BROKER_DROPPED_TOPIC, payload[:40])
            return
        previous = self.stats.broker_dropped
        if (previous is None and dropped > 0) or (previous is not None and dropped > previous):
            self.stats.broker_dropped_rising_at = self._clock.time()
            log.error("the broker reports %d dropped messages (was %s): check its queue limits"
                      " (docs/deploy.md)", dropped, previous)
        self.stats.broker_dropped = dropped


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
