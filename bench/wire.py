"""A minimal MQTT 3.1.1 connection for the benchmark's publisher: pipelined QoS 1, no thread.

The publisher shares the 2-core machine with the system it measures, so it must cost as
little as possible: paho in Python needs about two thirds of a core for 10,000 msgs/s and
four `mosquitto_pub -l` processes about half a core (one write and one read per message).
This writes many pre-encoded PUBLISH packets per `send` and reads PUBACKs and receipts in
bulk from one selector loop. Framing and PUBLISH decoding are ingest's own
(ingest/paho_bulk.py), which its unit tests check against paho's.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from ingest.paho_bulk import Delivery, frames, parse_publish, remaining_length

_CONNACK, _PUBLISH, _PUBACK, _SUBACK = 0x20, 0x30, 0x40, 0x90


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


class WireConnection:
    """One MQTT connection on a non-blocking socket, driven by the caller's selector."""

    def __init__(self, port: int, client_id: str, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rx = bytearray()
        self._scratch = memoryview(bytearray(256 * 1024))  # recv(n) would allocate n per call
        self._tx = bytearray()
        self._next_mid = 0
        self.unacked = 0
        """PUBLISH packets sent and not yet acknowledged by the broker."""
        connect = (_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60)
                   + _string(client_id))
        self.sock.sendall(bytes([0x10]) + remaining_length(len(connect)) + connect)
        self._expect(_CONNACK)
        self.sock.setblocking(False)

    def _expect(self, kind: int) -> None:
        """Block until a packet of `kind` arrives (the handshake, before pipelining starts)."""
        while True:
            found, used = frames(self._rx)
            if found:
                frame = found[0]
                if frame.command & 0xF0 != kind:
                    raise RuntimeError(f"broker answered packet type {frame.command:#x}")
                refused = kind == _CONNACK and self._rx[frame.start + 1]
                if refused:
                    raise RuntimeError(f"broker refused the connection: code {refused}")
                del self._rx[:found[0].end]
                return
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("broker closed the connection during the handshake")
            self._rx += data

    def subscribe(self, topics: list[str]) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK."""
        body = struct.pack("!H", 1) + b"".join(_string(t) + b"\x01" for t in topics)
        self.sock.setblocking(True)
        self.sock.sendall(bytes([0x82]) + remaining_length(len(body)) + body)
        self._expect(_SUBACK)
        self.sock.setblocking(False)

    def queue(self, topic_prefix: bytes, payload: bytes) -> None:
        """Queue one QoS 1 PUBLISH; `topic_prefix` is `topic_header(topic)`."""
        self._next_mid = self._next_mid % 65535 + 1
        body_len = len(topic_prefix) + 2 + len(payload)
        self._tx += bytes([_PUBLISH | 0x02]) + remaining_length(body_len)
        self._tx += topic_prefix
        self._tx += struct.pack("!H", self._next_mid)
        self._tx += payload
        self.unacked += 1

    def flush(self) -> bool:
        """Send what the socket takes now; True when everything queued is sent."""
        if self._tx:
            try:
                sent = self.sock.send(self._tx)
            except BlockingIOError:
                return False
            del self._tx[:sent]
        return not self._tx

    def read(self) -> Iterator[Delivery]:
        """Read what arrived: count PUBACKs, acknowledge and yield incoming PUBLISH packets."""
        try:
            count = self.sock.recv_into(self._scratch)
        except BlockingIOError:
            return
        if not count:
            raise RuntimeError("broker closed the connection")
        self._rx += self._scratch[:count]
        found, used = frames(self._rx)
        acks = bytearray()
        for frame in found:
            kind = frame.command & 0xF0
            if kind == _PUBACK:
                self.unacked -= 1
            elif kind == _PUBLISH:
                delivery = parse_publish(frame.command, self._rx, frame.start, frame.end, False)
                if delivery is None:
                    raise RuntimeError("unexpected QoS 2 or undecodable PUBLISH")
                if delivery.qos == 1:
                    acks += struct.pack("!BBH", _PUBACK, 2, delivery.mid)
                yield delivery
        del self._rx[:used]
        if acks:
            self._tx += acks

    def pending_output(self) -> bool:
        """True while queued bytes wait to be sent."""
        return bool(self._tx)

    def close(self) -> None:
        """Send DISCONNECT and close."""
        try:
            self.sock.setblocking(True)
            self.sock.sendall(bytes(self._tx) + b"\xe0\x00")
        except OSError:
            pass  # closing anyway; the broker drops the session on its own
        self.sock.close()


def topic_header(topic: str) -> bytes:
    """The length-prefixed topic name, encoded once per stream."""
    return _string(topic)
