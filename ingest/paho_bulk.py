"""A paho client tuned for a consumer that receives thousands of messages per second.

Stock paho reads a packet with three or more `recv` calls, goes back to `select` after every
packet, builds a `Properties` object and an `MQTTMessage` for every PUBLISH, and each `ack()`
queues its own 4-byte write plus a wake-up of the network thread. Profiles of ingest showed
those as its largest cost (at 10,000 msgs/s under MQTT 5 the network thread needed most of a
core). This subclass reads the socket with one large `recv` per wake-up, frames every
complete packet in it itself, hands plain QoS 0/1 PUBLISH packets (no MQTT 5 properties) to
`on_delivery` as (packet id, QoS, topic, payload), settles plain PUBACKs for what it
published itself, and acknowledges a whole batch with one queued write. Every other packet,
and every PUBLISH the fast path does not cover, goes through paho's own handlers exactly as
paho would have read it.

It uses paho internals (`_create_socket`, `_in_packet`, `_packet_handle`, `_packet_queue`,
`_loop_rc_handle`, `_handle_on_message`, `_out_messages`, `_do_on_publish`), so paho-mqtt is
pinned to 2.2.x in pyproject.toml; tests/unit/test_paho_bulk.py checks framing and decoding
against paho's own, and tests/integration covers receiving, publishing and acknowledging
through both supported brokers.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from paho.mqtt.client import Client, MQTTMessage, time_func
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

_PUBLISH = 0x30
_PUBACK = 0x40
_READ_SIZE = 128 * 1024
_TOPIC_CACHE_MAX = 4096
_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class Delivery(NamedTuple):
    """One PUBLISH packet as a consumer needs it."""

    mid: int
    qos: int
    topic: str
    payload: bytes


def parse_publish(command: int, buf: bytes | bytearray, start: int, end: int, mqtt5: bool,
                  topics: dict[bytes, str] | None = None) -> Delivery | None:
    """Decode the PUBLISH body `buf[start:end]` (QoS 0/1, no properties); None for paho's own.

    `command` is the fixed header's first byte. `topics` caches decoded topic names (feeds
    repeat theirs). Raises ValueError for a body too short for what its header announces.
    """
    qos = (command & 0x06) >> 1
    if qos == 2:
        return None
    if end - start < 2:
        raise ValueError("PUBLISH too short for its topic length")
    topic_end = start + 2 + ((buf[start] << 8) | buf[start + 1])
    pos = topic_end + 2 if qos else topic_end
    if pos > end:
        raise ValueError("PUBLISH shorter than its topic and packet id")
    mid = (buf[topic_end] << 8) | buf[topic_end + 1] if qos else 0
    if mqtt5:
        if pos >= end:
            raise ValueError("MQTT 5 PUBLISH without its properties length")
        if buf[pos] != 0:
            return None  # properties (topic alias, user properties …): paho decodes them
        pos += 1
    raw_topic = bytes(buf[start + 2:topic_end])
    topic = topics.get(raw_topic) if topics is not None else None
    if topic is None:
        try:
            topic = raw_topic.decode("utf-8")
        except UnicodeDecodeError:
            return None  # paho's handler reports the bad topic its own way
        if not topic and not mqtt5:
            raise ValueError("topic can't be empty in MQTT 3")
        if topics is not None and len(topics) < _TOPIC_CACHE_MAX:
            topics[raw_topic] = topic
    return Delivery(mid, qos, topic, bytes(buf[pos:end]))


def remaining_length(length: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length (what `frames` reads)."""
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


class Frame(NamedTuple):
    """One complete MQTT packet inside a receive buffer."""

    command: int
    start: int
    """Offset of the body (after the remaining length)."""
    end: int


def frames(buf: bytes | bytearray) -> tuple[list[Frame], int]:
    """The complete packets at the front of `buf`, and how many bytes they take.

    Raises ValueError for a remaining length longer than MQTT's four bytes.
    """
    found: list[Frame] = []
    pos, size = 0, len(buf)
    while pos + 2 <= size:
        length, mult, i = 0, 1, pos + 1
        while True:
            if i >= size:
                return found, pos  # the length itself is not all here yet
            byte = buf[i]
            i += 1
            length += (byte & 0x7F) * mult
            if not byte & 0x80:
                break
            mult <<= 7
            if mult > 0x200000:
                raise ValueError("remaining length longer than four bytes")
        if i + length > size:
            break
        found.append(Frame(buf[pos], i, i + length))
        pos = i + length
    return found, pos


class BufferedSocket:
    """A plain TCP socket whose incoming bytes collect in a buffer, read in large chunks."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.rx = bytearray()
        """Received bytes not yet framed into packets (at most one incomplete packet)."""
        # One scratch buffer for every read: `recv(n)` would allocate n bytes per call, and
        # allocations this large are an mmap and munmap each (measured: a third of the
        # network thread's time).
        self._scratch = memoryview(bytearray(_READ_SIZE))

    def fill(self) -> bool:
        """Append one read to `rx`; False when the peer closed the connection."""
        count = self._sock.recv_into(self._scratch)  # BlockingIOError propagates
        if not count:
            return False
        self.rx += self._scratch[:count]
        return True

    def pending(self) -> int:
        """Nothing complete is ever left buffered, so paho's loop never needs to skip select."""
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BulkClient(Client):
    """paho Client with buffered reads, its own framing, and batched acknowledgements."""

    on_delivery: Callable[[Delivery], None] | None = None
    """When set, receives plain QoS 0/1 PUBLISH packets instead of `on_message`."""
    _topic_names: dict[bytes, str] | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if type(sock) is socket.socket:  # TLS and WebSocket sockets keep paho's own path
            return BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read what the socket has and handle every complete packet in it."""
        sock = self._sock
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        if not isinstance(sock, BufferedSocket):
            return super().loop_read(max_packets)
        rc = self._read_buffered(sock)
        if rc > 0:
            handled: MQTTErrorCode = self._loop_rc_handle(rc)
            return handled
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _read_buffered(self, sock: BufferedSocket) -> MQTTErrorCode:
        try:
            if not sock.fill():
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as exc:
            log.warning("failed to receive on the broker socket: %s", exc)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        with self._msgtime_mutex:
            self._last_bytes_received = time_func()
        buf = sock.rx
        try:
            found, used = frames(buf)
        except ValueError as exc:
            log.error("malformed packet from the broker: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        on_delivery = self.on_delivery
        mqtt5 = self._protocol == MQTTProtocolVersion.MQTTv5
        if self._topic_names is None:
            self._topic_names = {}
        try:
            for frame in found:
                if frame.command == _PUBACK and frame.end - frame.start == 2:
                    # A plain PUBACK (success, no properties): the receipts' acknowledgements,
                    # hundreds a second; paho's handler builds a reason and properties each.
                    rc = self._acknowledged((buf[frame.start] << 8) | buf[frame.start + 1])
                    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        return rc
                    continue
                delivery = None
                if on_delivery is not None and frame.command & 0xF0 == _PUBLISH:
                    delivery = parse_publish(frame.command, buf, frame.start, frame.end, mqtt5,
                                             self._topic_names)
                if delivery is not None:
                    self._deliver(on_delivery, delivery)  # type: ignore[arg-type]
                    continue
                rc = self._handle_with_paho(frame, buf)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self._sock is not sock:
                    return rc
        except (ValueError, MalformedPacket) as exc:
            log.error("malformed packet from the broker: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            del buf[:used]
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _acknowledged(self, mid: int) -> MQTTErrorCode:
        """What paho does on a PUBACK, with one shared success reason and empty properties
        (`on_publish` callbacks must not keep or change them)."""
        with self._out_message_mutex:
            if mid in self._out_messages:
                rc: MQTTErrorCode = self._do_on_publish(mid, _PUBACK_OK, _NO_PROPERTIES)
                return rc
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _deliver(self, on_delivery: Callable[[Delivery], None], delivery: Delivery) -> None:
        with self._in_callback_mutex:
            on_delivery(delivery)
        if delivery.qos == 1 and not self._manual_ack:
            self._send_puback(delivery.mid)

    def _handle_with_paho(self, frame: Frame, buf: bytearray) -> MQTTErrorCode:
        """Hand one framed packet to paho's handler, set up as its own reader would."""
        self._in_packet = {
            "command": frame.command, "have_remaining": 1, "remaining_count": [],
            "remaining_mult": 1, "remaining_length": frame.end - frame.start,
            "packet": bytearray(buf[frame.start:frame.end]), "to_process": 0, "pos": 0,
        }
        try:
            rc: MQTTErrorCode = self._packet_handle()
        finally:
            self._in_packet = {
                "command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0,
            }
        return rc

    def _handle_on_message(self, message: MQTTMessage) -> None:
        # Stock paho matches every topic against `message_callback_add` filters with a
        # recursive closure: one reference cycle per message, 10,000 a second, and the
        # garbage collections they caused were the whole p99 tail. Ingest registers no
        # filtered callbacks, so deliver straight to `on_message`.
        on_message = self.on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            on_message(self, self._userdata, message)

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages (in order) with one queued write."""
        packet = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(_PUBACK, packet, 0, 1)
