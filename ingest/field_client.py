"""The field client: what a field unit or agency system uses to publish with no loss."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.reasoncodes import ReasonCode

from incidents.model import Kind
from ingest.mqtt import BrokerAddress, connect_async, make_client, protocol_version
from ingest.outbox import Outbox, Pending
from ingest.receipts import Receipt
from ingest.topics import TopicScheme

log = logging.getLogger(__name__)

_receipt_decoder = msgspec.json.Decoder(Receipt)
_encoder = msgspec.json.Encoder()


def new_id() -> str:
    """A fresh message id."""
    return str(uuid.uuid4())


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
        self._client: Client = make_client(
            self._address, client_id or f"field-{agency}-{source}", self._protocol,
            persistent=True,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
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

    def pending(self) -> int:
        """Messages not yet receipted."""
        return len(self._outbox)

    def send(self, kind: Kind, message: msgspec.Struct | dict[str, Any]) -> str:
        """Publish one message (it must carry an `id`); return the id."""
        return self.send_many(kind, [message])[0]

    def send_many(self, kind: Kind, messages: list[msgspec.Struct | dict[str, Any]]) -> list[str]:
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
        self._connected.set()
        # The broker may have lost what it had acknowledged: send all that lacks a receipt.
        backlog = self._outbox.due(older_than_s=-1, limit=1_000_000)
        if backlog:
            log.info("%s reconnected; re-sending %d unreceipted messages", self.source,
                     len(backlog))
            self._publish(backlog)

    def _on_disconnect(self, client: Client, userdata: Any, flags: DisconnectFlags,
                       reason: ReasonCode, properties: Any) -> None:
        self._connected.clear()
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

    def _resend_forever(self) -> None:
        while not self._stop.wait(1.0):
            if not self.connected:
                continue
            due = self._outbox.due(older_than_s=self._resend_after_s)
            if due:
                log.info("%s: re-sending %d messages without a receipt", self.source, len(due))
                self._publish(due)
