"""The field client: what a field unit or agency system uses to publish with no loss."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.reasoncodes import ReasonCode

from incidents.dispatch import DispatchOrderMessage
from incidents.model import Kind
from ingest.codecs import DecodeError, Reason
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.outbox import Outbox, Pending
from ingest.receipts import Receipt
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

_receipt_decoder = msgspec.json.Decoder(Receipt)
_order_decoder = msgspec.json.Decoder(DispatchOrderMessage)
_encoder = msgspec.json.Encoder()

MAX_ORDER_BYTES = 64 * 1024
"""An order is a few hundred bytes; anything far larger is not one."""

OrderHandler = Callable[[DispatchOrderMessage], None]
"""Receives each order for one of the client's units, on paho's network thread: keep it short."""


def new_id() -> str:
    """A fresh message id."""
    return str(uuid.uuid4())


def decode_order(payload: bytes | bytearray, unit: str) -> DispatchOrderMessage:
    """The order in `payload`, which came on unit `unit`'s topic, or raise DecodeError."""
    if len(payload) > MAX_ORDER_BYTES:
        raise DecodeError(Reason.TOO_LARGE,
                          f"order is {len(payload)} bytes, limit {MAX_ORDER_BYTES}")
    try:
        order = _order_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise DecodeError(Reason.INVALID, str(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(Reason.MALFORMED_JSON, f"{type(exc).__name__}: {exc}") from exc
    where = order.incident
    if not (-90.0 <= where.lat <= 90.0 and -180.0 <= where.lon <= 180.0):
        raise DecodeError(Reason.INVALID, f"order {order.id}: incident at ({where.lat},"
                          f" {where.lon}) is not a WGS-84 position", order.id)
    if order.unit != unit:
        # A unit must not act on an order meant for another, whatever topic carried it.
        raise DecodeError(Reason.BAD_TOPIC,
                          f"order {order.id} is for unit {order.unit!r}, sent on {unit!r}'s topic",
                          order.id)
    return order


@dataclass(frozen=True, slots=True)
class _Following:
    """Which dispatch orders a client receives, and who gets them."""

    topics: tuple[str, ...]
    """The topic filters to subscribe to."""
    accepts: Callable[[str], bool]
    """True for a unit id whose orders go to the handler."""
    handler: OrderHandler
    """Where decoded orders go."""


class FieldClient:
    """Publishes messages at QoS 1 and keeps each in an on-disk outbox until receipted."""

    def __init__(
        self,
        broker_url: str,
        agency: str,
        source: str,
        outbox_path: Path,
        *,
        topic_root: str = "sitroom/v1",
        protocol: str = "5",
        client_id: str | None = None,
        resend_after_s: float = 10.0,
    ) -> None:
        self.agency = agency
        self.source = source
        self._scheme = TopicScheme(topic_root, frozenset({agency}))
        self._address = BrokerAddress.parse(broker_url)
        self._protocol = protocol_version(protocol)
        self._outbox = Outbox(outbox_path)
        self._resend_after_s = resend_after_s
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._rejected: dict[str, str] = {}
        # Guards the order subscription against paho's thread: (re)connects and SUBACKs.
        self._orders_lock = threading.Lock()
        self._following: _Following | None = None
        self._orders_mid: int | None = None
        self._orders_ready = threading.Event()
        self._refused_orders: deque[tuple[str, str]] = deque(maxlen=100)
        self._client: Client = make_client(
            self._address, client_id or f"field-{agency}-{source}", self._protocol,
            persistent=True,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._resender = threading.Thread(target=self._resend_forever,
                                          name=f"outbox-{source}", daemon=True)

    def start(self) -> FieldClient:
        """Connect in the background (reconnecting as needed) and start re-sending."""
        connect_async(self._client, self._address, self._protocol, persistent=True)
        self._client.loop_start()
        self._resender.start()
        return self

    def close(self) -> None:
        """Stop; unreceipted messages stay in the outbox for the next start."""
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
        if self._resender.is_alive():
            self._resender.join(timeout=5)
        self._outbox.close()

    def __enter__(self) -> FieldClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    @property
    def rejected(self) -> dict[str, str]:
        """Ids that ingest dead-lettered, with the reason code."""
        return dict(self._rejected)

    @property
    def refused_orders(self) -> list[tuple[str, str]]:
        """The latest orders that could not be read, as (topic, reason code), oldest first."""
        return list(self._refused_orders)

    def follow_orders(self, units: Callable[[str], bool] | Collection[str],
                      handler: OrderHandler) -> None:
        """Receive dispatch orders (QoS 1), subscribing again on every reconnect.

        Given unit ids, the client subscribes to each unit's own topic, as a real unit does;
        given a predicate, it subscribes to every unit's orders and keeps those it accepts
        (a gateway for many units). An order that cannot be read is logged with its reason
        and listed in `refused_orders`.
        """
        if callable(units):
            following = _Following((self._scheme.dispatch("+"),), units, handler)
        else:
            names = frozenset(units)
            bad = sorted(n for n in names if not n or any(c in n for c in "/+#"))
            if not names or bad:
                raise ValueError(f"unit ids must be non-empty and free of '/', '+', '#': {bad}")
            following = _Following(tuple(self._scheme.dispatch(n) for n in sorted(names)),
                                   names.__contains__, handler)
        self._client.message_callback_add(self._scheme.dispatch("+"), self._on_order)
        with self._orders_lock:
            previous, self._following = self._following, following
            self._orders_ready.clear()
            if self.connected:
                stale = sorted(set(previous.topics) - set(following.topics)) if previous else []
                if stale:
                    self._client.unsubscribe(stale)
                self._subscribe_orders(self._client, following)

    def wait_following(self, timeout_s: float) -> bool:
        """Wait until the broker has confirmed the order subscriptions; False on timeout."""
        return self._orders_ready.wait(timeout_s)

    def pending(self) -> int:
        """Messages not yet receipted."""
        return len(self._outbox)

    def send(self, kind: Kind, message: msgspec.Struct | dict[str, Any]) -> str:
        """Publish one message (it must carry an `id`); return the id."""
        return self.send_many(kind, [message])[0]

    def send_many(self, kind: Kind,
                  messages: Sequence[msgspec.Struct | dict[str, Any]]) -> list[str]:
        """Publish messages of one kind; each is on disk before it goes to the broker."""
        topic = self._scheme.feed(self.agency, kind, self.source)
        items = []
        for message in messages:
            message_id = (message.get("id") if isinstance(message, dict)
                          else getattr(message, "id", None))
            if not isinstance(message_id, str) or not message_id:
                raise ValueError("every message needs a string `id` (use field_client.new_id())")
            items.append(Pending(message_id, topic, _encoder.encode(message)))
        self._outbox.put_many(items)
        if self.connected:
            self._publish(items)
        return [p.id for p in items]

    def wait_drained(self, timeout_s: float) -> bool:
        """Wait until every message is receipted; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while len(self._outbox):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _publish(self, items: list[Pending]) -> None:
        for item in items:
            self._client.publish(item.topic, item.payload, qos=1)
        self._outbox.mark_sent(p.id for p in items)

    def _on_connect(self, client: Client, userdata: Any, flags: ConnectFlags,
                    reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused %s: %s", self._address.url(), self.source, reason)
            return
        client.subscribe(self._scheme.receipts(self.source), qos=1)
        with self._orders_lock:
            self._connected.set()
            if self._following is not None:
                self._subscribe_orders(client, self._following)
        # The broker may have lost what it had acknowledged: send all that lacks a receipt.
        backlog = self._outbox.due(older_than_s=-1, limit=1_000_000)
        if backlog:
            log.info("%s reconnected; re-sending %d unreceipted messages", self.source,
                     len(backlog))
            self._publish(backlog)

    def _on_disconnect(self, client: Client, userdata: Any, flags: DisconnectFlags,
                       reason: ReasonCode, properties: Any) -> None:
        self._connected.clear()
        self._orders_ready.clear()
        if not self._stop.is_set():
            log.warning("%s disconnected from %s: %s", self.source, self._address.url(), reason)

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            receipt = _receipt_decoder.decode(message.payload)
        except msgspec.DecodeError as exc:
            log.error("unreadable receipt on %s: %s", message.topic, exc)
            return
        self._outbox.remove(receipt.ids)
        if receipt.rejected:
            self._outbox.remove(receipt.rejected)
            self._rejected.update(receipt.rejected)
            for message_id, reason in receipt.rejected.items():
                log.error("ingest rejected message %s (%s); it is in the dead letters",
                          message_id, reason)

    def _subscribe_orders(self, client: Client, following: _Following) -> None:
        """Subscribe to the order topics; the caller holds _orders_lock."""
        _, self._orders_mid = client.subscribe([(topic, 1) for topic in following.topics])

    def _on_subscribe(self, client: Client, userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], properties: Any) -> None:
        with self._orders_lock:
            if mid != self._orders_mid:
                return  # the receipts subscription
            refused = [str(code) for code in reason_codes if code.is_failure]
            if refused:
                log.error("broker %s refused %s's order subscription: %s",
                          self._address.url(), self.source, ", ".join(refused))
                return
            self._orders_ready.set()

    def _on_order(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        following = self._following
        if following is None:
            return  # not reachable: the callback is added with the first follow_orders
        unit = message.topic.rpartition("/")[2]
        try:
            order = decode_order(message.payload, unit)
        except DecodeError as exc:
            self._refused_orders.append((message.topic, exc.reason.value))
            log.error("%s cannot read the dispatch order on %s (%s): %s", self.source,
                      message.topic, exc.reason, exc.detail)
            return
        if not following.accepts(order.unit):
            log.debug("%s: order %s is for %s, not one of ours", self.source, order.id,
                      order.unit)
            return
        try:
            following.handler(order)
        except Exception:
            # Raising here would end paho's network thread and with it every receipt and
            # publish of this client; the failure is logged with its traceback instead.
            log.exception("%s: the order handler failed on order %s for %s", self.source,
                          order.id, order.unit)

    def _resend_forever(self) -> None:
        while not self._stop.wait(1.0):
            if not self.connected:
                continue
            due = self._outbox.due(older_than_s=self._resend_after_s)
            if due:
                log.info("%s: re-sending %d messages without a receipt", self.source, len(due))
                self._publish(due)
