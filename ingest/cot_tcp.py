"""The CoT streaming TCP input that TAK clients (ATAK, WinTAK, iTAK) speak: plain TCP.

A TAK client writes `<event>…</event>` documents back to back with no delimiter, often
each behind its own `<?xml …?>` prolog. The input splits the stream after each
`</event>` (as TAK itself does), decodes every event with `parse_cot`, and hands each
result to `on_message` and each failure, with its raw bytes, to `on_error`: nothing is
dropped without a callback. The client's keepalive pings are answered with pongs, as a
TAK server does, so that the client does not drop the connection on a quiet stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from ipaddress import IPv4Network, IPv6Network, ip_address

from incidents.model import Alarm, Kind, Position
from ingest.cot_codec import (
    MAX_EVENT_BYTES,
    PING_TYPE,
    PONG_TYPE,
    CotError,
    CotReason,
    parse_cot,
    serialize_pong,
)
from ingest.field_client import FieldClient

log = logging.getLogger(__name__)

OnMessage = Callable[[Kind, Position | Alarm], Awaitable[None]]
"""Receives each decoded event; the next event of that client waits until it returns."""
OnError = Callable[[bytes, str, str], Awaitable[None]]
"""Receives the raw bytes, reason code and detail of each event that failed to decode."""

_END = b"</event>"
_EVENT_START = re.compile(rb"<event[\s>/]")
_READ_SIZE = 64 * 1024


class FrameKind(Enum):
    """What the framer found in the stream."""

    DOCUMENT = "document"
    """One event (with its prolog, if any), or bytes between events to be judged."""
    OVERSIZE = "oversize"
    """More than the limit without an end: the connection must be dropped."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One piece of a CoT stream."""

    kind: FrameKind
    """A document to decode, or an oversized run of bytes."""
    data: bytes
    """The raw bytes."""


class CotFramer:
    """Splits a byte stream of concatenated CoT events into documents; no I/O."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._scanned = 0
        self._failed = False

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the documents they complete, in order.

        After an OVERSIZE frame the framer accepts nothing more: drop the connection.
        """
        if self._failed:
            raise RuntimeError("the stream already overflowed; close the connection")
        self._buffer += data
        frames: list[Frame] = []
        while (end := self._buffer.find(_END, self._scanned)) >= 0:
            stop = end + len(_END)
            chunk = bytes(self._buffer[:stop])
            del self._buffer[:stop]
            self._scanned = 0
            for piece in _split(chunk):
                if len(piece) > self._max:
                    return self._overflow(frames, piece)
                frames.append(Frame(FrameKind.DOCUMENT, piece))
        if len(self._buffer) > self._max:
            return self._overflow(frames, bytes(self._buffer))
        self._scanned = max(0, len(self._buffer) - len(_END) + 1)
        return frames

    def finish(self) -> list[Frame]:
        """At the end of the stream: what is left, if anything but whitespace."""
        rest = bytes(self._buffer).strip()
        self._buffer.clear()
        self._scanned = 0
        if self._failed or not rest:
            return []
        return [Frame(FrameKind.DOCUMENT, rest)]

    def _overflow(self, frames: list[Frame], data: bytes) -> list[Frame]:
        self._failed = True
        self._buffer.clear()
        frames.append(Frame(FrameKind.OVERSIZE, data))
        return frames


def _split(chunk: bytes) -> list[bytes]:
    """The event ending `chunk` and, before it, any bytes that belong to no event.

    A prolog or DOCTYPE stays with its event (so a DTD is refused with the event); other
    bytes before the event's start tag are returned apart, so that they cannot spoil it.
    """
    starts = [m.start() for m in _EVENT_START.finditer(chunk)]
    if not starts:
        stray = chunk.strip()
        return [stray] if stray else []
    before, event = chunk[:starts[-1]], chunk[starts[-1]:]
    head = before.strip()
    if not head:
        return [event]
    if head.startswith((b"<?xml", b"<!DOCTYPE")):
        return [chunk.lstrip()]
    prolog = head.rfind(b"<?xml") if head.endswith(b"?>") else -1
    if prolog >= 0 and b">" not in head[prolog:-2]:
        head, event = head[:prolog].rstrip(), head[prolog:] + before[len(before.rstrip()):] + event
    return [head, event]


@dataclass(slots=True)
class CotTcpStats:
    """Counters of one CoT TCP input since it started."""

    connections: int = 0
    """Clients accepted."""
    messages: int = 0
    """Events handed to on_message."""
    errors: int = 0
    """Documents handed to on_error (oversized runs included)."""
    pings: int = 0
    """Keepalive pings answered (and client pongs ignored)."""
    refused: int = 0
    """Connections refused: not allowed, or too many (in all, or from one address)."""
    idle: int = 0
    """Connections closed because they sent nothing for the idle time."""


class CotTcpServer:
    """Accepts TAK clients on a TCP port and decodes the CoT events they stream."""

    def __init__(
        self,
        host: str,
        port: int,
        on_message: OnMessage,
        on_error: OnError,
        *,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_clients: int = 256,
        max_per_address: int = 8,
        idle_s: float = 300.0,
        close_timeout_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tls: ssl.SSLContext | None = None,
        allow: Sequence[IPv4Network | IPv6Network] = (),
    ) -> None:
        self._tls = tls
        self._allow = tuple(allow)
        self._host = host
        self._requested_port = port
        self._on_message = on_message
        self._on_error = on_error
        self._max_event_bytes = max_event_bytes
        self._max_clients = max_clients
        self._max_per_address = max_per_address
        self._idle_s = idle_s
        self._close_timeout_s = close_timeout_s
        self._clock = clock
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.stats = CotTcpStats()

    async def start(self) -> None:
        """Listen; with port 0 the system picks a free port (see `port`)."""
        if self._server is not None:
            raise RuntimeError("CoT TCP input already started")
        self._server = await asyncio.start_server(self._serve, self._host,
                                                  self._requested_port, ssl=self._tls)
        log.info("CoT %s input listening on %s:%d", "TLS" if self._tls else "TCP", self._host,
                 self.port)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("CoT TCP input is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    async def close(self) -> None:
        """Stop listening and end every client connection.

        Events already received are still delivered, and a half-received event goes to
        on_error; a client whose delivery is stuck is cancelled after `close_timeout_s`.
        """
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        clients = dict(self._clients)
        for writer in clients.values():
            writer.close()  # the reader sees the end of the stream once it has read the rest
        if clients:
            _, stuck = await asyncio.wait(clients, timeout=self._close_timeout_s)
            for task in stuck:
                log.warning("CoT TCP input: a client did not finish in %.1fs; aborting it",
                            self._close_timeout_s)
                clients[task].transport.abort()
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        await server.wait_closed()
        log.info("CoT TCP input closed")

    async def __aenter__(self) -> CotTcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer_name(writer)
        if self._server is None:
            await _close_writer(writer)  # accepted while closing
            return
        if not self._allowed(writer):
            self.stats.refused += 1
            log.warning("CoT TCP input: refusing %s, not in cot_tcp_allow", peer)
            await _close_writer(writer)
            return
        if len(self._clients) >= self._max_clients:
            self.stats.refused += 1
            log.warning("CoT TCP input: refusing %s, %d clients already connected", peer,
                        len(self._clients))
            await _close_writer(writer)
            return
        host = _peer_host(writer)
        same = sum(_peer_host(other) == host for other in self._clients.values())
        if same >= self._max_per_address:
            self.stats.refused += 1
            log.warning("CoT TCP input: refusing %s, %d connections from it already"
                        " (cot_tcp_max_per_address)", peer, same)
            await _close_writer(writer)
            return
        task = asyncio.current_task()
        assert task is not None  # a client callback always runs in a task
        self._clients[task] = writer
        self.stats.connections += 1
        log.info("CoT TCP client %s connected", peer)
        try:
            await self._read_stream(reader, writer, peer)
        except Exception:
            log.exception("CoT TCP client %s: delivery failed; dropping the connection", peer)
        finally:
            del self._clients[task]
            await _close_writer(writer)
            log.info("CoT TCP client %s disconnected", peer)

    def _allowed(self, writer: asyncio.StreamWriter) -> bool:
        if not self._allow:
            return True
        address = writer.get_extra_info("peername")
        try:
            ip = ip_address(address[0])
        except (TypeError, ValueError, IndexError):
            return False
        return any(ip in network for network in self._allow)

    async def _read_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           peer: str) -> None:
        framer = CotFramer(self._max_event_bytes)
        while True:
            try:
                data = await asyncio.wait_for(reader.read(_READ_SIZE), self._idle_s)
            except TimeoutError:
                self.stats.idle += 1
                log.warning("CoT TCP client %s: nothing for %.0f s (cot_tcp_idle_s); closing",
                            peer, self._idle_s)
                break
            except ConnectionError as exc:
                log.warning("CoT TCP client %s: connection lost: %s", peer, exc)
                break
            if not data:
                break
            for frame in framer.feed(data):
                if frame.kind is FrameKind.OVERSIZE:
                    log.error("CoT TCP client %s sent an event over %d bytes; dropping the "
                              "connection", peer, self._max_event_bytes)
                    await self._reject(frame.data, CotReason.TOO_LARGE,
                                       f"an event over {self._max_event_bytes} bytes (or no "
                                       "</event> within them); connection dropped", peer)
                    return
                await self._deliver(frame.data, writer, peer)
        for frame in framer.finish():
            await self._deliver(frame.data, writer, peer, note="at the end of the stream: ")

    async def _deliver(self, document: bytes, writer: asyncio.StreamWriter, peer: str,
                       note: str = "") -> None:
        try:
            message = parse_cot(document, self._max_event_bytes)
        except CotError as exc:
            if exc.cot_type == PING_TYPE:
                self.stats.pings += 1
                await _send_pong(writer, self._clock())
            elif exc.cot_type == PONG_TYPE:
                self.stats.pings += 1
            else:
                await self._reject(document, exc.reason, note + exc.detail, peer)
            return
        kind = Kind.POSITION if isinstance(message, Position) else Kind.ALARM
        await self._on_message(kind, message)
        self.stats.messages += 1

    async def _reject(self, raw: bytes, reason: str, detail: str, peer: str) -> None:
        log.warning("CoT TCP client %s: %s: %s", peer, reason, detail)
        await self._on_error(raw, reason, detail)
        self.stats.errors += 1


class FieldClientSink:
    """An `on_message` that publishes through a FieldClient: kept in its on-disk outbox
    until ingest's receipt arrives, so a CoT event takes the normal MQTT → ingest road."""

    def __init__(self, client: FieldClient) -> None:
        self._client = client

    async def __call__(self, kind: Kind, message: Position | Alarm) -> None:
        # The outbox write is a blocking SQLite commit: keep it off the event loop.
        await asyncio.to_thread(self._client.send, kind, message)


async def _send_pong(writer: asyncio.StreamWriter, now: datetime) -> None:
    """Answer a ping; a client that has gone away needs no answer, and the events it sent
    before going are still delivered."""
    if writer.is_closing():
        return
    writer.write(serialize_pong(now))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def _peer_host(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return str(address[0]) if isinstance(address, tuple) and address else "?"


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
