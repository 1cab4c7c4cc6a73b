"""The CoT streaming TCP input on real sockets: framing, errors, pings, limits, shutdown."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import Settings
from incidents.model import Alarm, AlarmState, Kind, Position
from ingest.cot_codec import CotReason, parse_cot
from ingest.cot_input import tls_context
from ingest.cot_tcp import CotFramer, CotTcpServer, FieldClientSink, Frame, FrameKind
from ingest.field_client import FieldClient
from tests.support.certs import make_pki
from tests.support.waiting import eventually

COT = Path(__file__).resolve().parents[1] / "fixtures" / "cot"
ATAK = (COT / "atak_position.xml").read_bytes()
WINTAK = (COT / "wintak_position.xml").read_bytes()
ITAK = (COT / "itak_position.xml").read_bytes()
ALERT = (COT / "atak_911_alert.xml").read_bytes()
CANCEL = (COT / "atak_911_cancel.xml").read_bytes()
PING = (COT / "atak_ping.xml").read_bytes()
GARBAGE_EVENT = b"<event version='2.0' uid='x'>not a cot event</event>"
LIMIT = 64 * 1024
integration = pytest.mark.integration


def without_prolog(document: bytes) -> bytes:
    return document[document.index(b"<event"):]


# --- the framer, pure -----------------------------------------------------------------

def documents(frames: list[Frame]) -> list[bytes]:
    assert all(f.kind is FrameKind.DOCUMENT for f in frames)
    return [f.data for f in frames]


def test_framer_splits_back_to_back_events_keeping_prologs() -> None:
    framer = CotFramer()
    assert documents(framer.feed(ATAK + WINTAK + b"\n\r\n " + ITAK)) == [ATAK, WINTAK,
                                                                          ITAK.strip()]
    assert framer.finish() == []


@given(st.lists(st.integers(1, len(ATAK + ALERT) - 1), unique=True, max_size=40))
@settings(max_examples=300, deadline=None)
def test_framer_reassembles_any_split(cuts: list[int]) -> None:
    stream = ATAK + ALERT
    bounds = [0, *sorted(cuts), len(stream)]
    framer = CotFramer()
    found: list[bytes] = []
    for start, stop in zip(bounds, bounds[1:], strict=False):
        found += documents(framer.feed(stream[start:stop]))
    assert found == [ATAK, ALERT]


def test_framer_sets_stray_bytes_apart_from_the_next_event() -> None:
    framer = CotFramer()
    found = documents(framer.feed(b"hello  " + ATAK + b"<auth><cot/></auth>\n" + WINTAK))
    assert found == [b"hello", ATAK, b"<auth><cot/></auth>", WINTAK]


def test_framer_keeps_a_doctype_with_its_event() -> None:
    hostile = (COT / "hostile_external_entity.xml").read_bytes().rstrip()
    assert documents(CotFramer().feed(hostile)) == [hostile]


def test_framer_reports_an_unterminated_run_over_the_limit() -> None:
    framer = CotFramer(max_event_bytes=1000)
    assert documents(framer.feed(b"<event>" + b"x" * 900)) == []
    frames = framer.feed(ATAK[:200])
    assert [f.kind for f in frames] == [FrameKind.OVERSIZE]
    assert frames[0].data.startswith(b"<event>x")
    with pytest.raises(RuntimeError):
        framer.feed(ATAK)
    assert framer.finish() == []


def test_framer_reports_a_complete_event_over_the_limit_after_the_ones_before() -> None:
    framer = CotFramer(max_event_bytes=len(ATAK))
    frames = framer.feed(ATAK + b"<event>" + b"x" * len(ATAK) + b"</event>" + ATAK)
    assert [f.kind for f in frames] == [FrameKind.DOCUMENT, FrameKind.OVERSIZE]


def test_framer_hands_over_a_truncated_event_at_the_end() -> None:
    framer = CotFramer()
    assert framer.feed(ATAK[:-10]) == []
    assert documents(framer.finish()) == [ATAK[:-10]]


# --- the server, on real sockets ------------------------------------------------------

@dataclass
class Received:
    """What the callbacks were given."""

    messages: list[tuple[Kind, Position | Alarm]] = field(default_factory=list)
    errors: list[tuple[bytes, str, str]] = field(default_factory=list)

    async def on_message(self, kind: Kind, message: Position | Alarm) -> None:
        self.messages.append((kind, message))

    async def on_error(self, raw: bytes, reason: str, detail: str) -> None:
        self.errors.append((raw, reason, detail))

    async def wait(self, messages: int = 0, errors: int = 0) -> None:
        async def counts() -> tuple[int, int]:
            return len(self.messages), len(self.errors)

        await eventually(counts, lambda c: c[0] >= messages and c[1] >= errors, timeout_s=5)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
async def server(received: Received) -> AsyncIterator[CotTcpServer]:
    cot = CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                       clock=lambda: datetime(2026, 11, 26, 9, 33, tzinfo=UTC))
    async with cot:
        yield cot


@dataclass
class Client:
    """A TAK client's connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_closed_by_server(self) -> None:
        """Return once the server has closed the connection; fail after 5 s."""
        try:
            await asyncio.wait_for(self.reader.read(), timeout=5)
        except ConnectionResetError:
            pass  # closed with our bytes unread: a reset is a close too

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass  # the server closed first


Connect = Callable[[], Awaitable[Client]]


@pytest.fixture
async def connect(server: CotTcpServer) -> AsyncIterator[Connect]:
    """Opens clients to the server; closes them after the test."""
    opened: list[Client] = []

    async def open_client() -> Client:
        client = await Client.open(server.port)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.close()


@integration
async def test_several_events_in_one_write(connect: Connect, received: Received) -> None:
    client = await connect()
    await client.send(ATAK + WINTAK + ITAK + ALERT)
    await received.wait(messages=4)
    assert [kind for kind, _ in received.messages] == [Kind.POSITION] * 3 + [Kind.ALARM]
    assert [m for _, m in received.messages] == [parse_cot(d) for d in (ATAK, WINTAK, ITAK,
                                                                          ALERT)]
    assert received.errors == []


@integration
async def test_one_event_split_over_writes_with_pauses(connect: Connect,
                                                       received: Received) -> None:
    client = await connect()
    cuts = [0, 1, 40, 41, 300, len(ATAK) - 7, len(ATAK) - 3, len(ATAK)]  # inside </event>
    for start, stop in zip(cuts, cuts[1:], strict=False):
        await client.send(ATAK[start:stop])
        await asyncio.sleep(0.05)
        if stop < len(ATAK):
            assert received.messages == []
    await received.wait(messages=1)
    assert received.messages == [(Kind.POSITION, parse_cot(ATAK))]


@integration
async def test_prologs_and_whitespace_between_events(connect: Connect,
                                                     received: Received) -> None:
    client = await connect()
    prolog = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    await client.send(without_prolog(ALERT) + b"\n" + prolog + without_prolog(CANCEL)
                      + b"\r\n\r\n" + prolog + b"\n  " + without_prolog(ITAK))
    await received.wait(messages=3)
    states = [m.state for _, m in received.messages if isinstance(m, Alarm)]
    assert states == [AlarmState.ACTIVE, AlarmState.CLEARED]
    assert received.errors == []


@integration
async def test_garbage_goes_to_on_error_and_the_connection_keeps_working(
        connect: Connect, received: Received, server: CotTcpServer) -> None:
    client = await connect()
    await client.send(GARBAGE_EVENT + b"\x00\xffjunk" + ATAK)
    await client.send((COT / "hostile_billion_laughs.xml").read_bytes() + WINTAK)
    await received.wait(messages=2, errors=3)
    assert [(raw, reason) for raw, reason, _ in received.errors] == [
        (GARBAGE_EVENT, CotReason.INVALID_COT),
        (b"\x00\xffjunk", CotReason.MALFORMED_XML),
        ((COT / "hostile_billion_laughs.xml").read_bytes().rstrip(), CotReason.XML_FORBIDDEN),
    ]
    assert all(detail for _, _, detail in received.errors)
    assert [m for _, m in received.messages] == [parse_cot(ATAK), parse_cot(WINTAK)]
    assert (server.stats.messages, server.stats.errors) == (2, 3)


@integration
async def test_unsupported_events_go_to_on_error(connect: Connect,
                                                 received: Received) -> None:
    client = await connect()
    chat = (COT / "atak_chat_b-t-f.xml").read_bytes()
    await client.send(chat + ATAK)
    await received.wait(messages=1, errors=1)
    assert received.errors[0][:2] == (chat, CotReason.UNSUPPORTED_COT)


@integration
async def test_an_oversize_event_drops_the_connection(connect: Connect,
                                                      received: Received,
                                                      server: CotTcpServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    client = await connect()
    await client.send(ATAK)
    huge = without_prolog(ATAK).replace(b"<detail>", b"<detail><remarks>" + b"x" * LIMIT
                                        + b"</remarks>")
    await client.send(huge[:LIMIT + 100])  # never reaches </event>
    await client.wait_closed_by_server()
    await received.wait(messages=1, errors=1)
    raw, reason, detail = received.errors[0]
    assert reason == CotReason.TOO_LARGE and "connection dropped" in detail
    assert raw.startswith(huge[:100]) and LIMIT < len(raw) <= LIMIT + 100
    assert any(r.levelname == "ERROR" and "dropping the connection" in r.getMessage()
               for r in caplog.records)
    await eventually(_clients_of(server), lambda n: n == 0)
    later = await connect()
    await later.send(WINTAK)
    await received.wait(messages=2)


@integration
async def test_a_ping_is_answered_with_a_pong(connect: Connect, received: Received,
                                              server: CotTcpServer) -> None:
    client = await connect()
    await client.send(PING)
    pong = await asyncio.wait_for(client.reader.readuntil(b"</event>"), timeout=5)
    assert b'type="t-x-c-t-r"' in pong and b'time="2026-11-26T09:33:00.000Z"' in pong
    await client.send(ATAK)
    await received.wait(messages=1)
    assert received.errors == [] and server.stats.pings == 1


@integration
async def test_close_ends_client_connections(received: Received) -> None:
    server = CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error)
    await server.start()
    port = server.port
    first = await Client.open(port)
    second = await Client.open(port)
    await first.send(ATAK + ALERT[:50])
    await second.send(WINTAK)
    await received.wait(messages=2)
    assert server.clients == 2
    await server.close()
    assert server.clients == 0
    await first.wait_closed_by_server()
    await second.wait_closed_by_server()
    # The half-sent event is not dropped quietly: it goes to on_error.
    assert [(raw, reason) for raw, reason, _ in received.errors] == [
        (ALERT[:50], CotReason.MALFORMED_XML)]
    assert received.errors[0][2].startswith("at the end of the stream: ")
    with pytest.raises(OSError):
        await Client.open(port)
    await first.close()
    await second.close()
    await server.close()  # twice is harmless


@integration
async def test_clients_over_the_limit_are_refused(received: Received) -> None:
    async with CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                            max_clients=1) as server:
        first = await Client.open(server.port)
        await first.send(ATAK)
        await received.wait(messages=1)
        second = await Client.open(server.port)
        await second.wait_closed_by_server()
        assert server.stats.refused == 1
        await first.close()
        await second.close()


@integration
async def test_one_address_cannot_take_every_connection(received: Received) -> None:
    async with CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                            max_per_address=2) as server:
        kept = [await Client.open(server.port) for _ in range(2)]
        for client in kept:
            await client.send(ATAK)
        await received.wait(messages=2)
        third = await Client.open(server.port)
        await third.wait_closed_by_server()
        assert server.stats.refused == 1 and server.clients == 2
        for client in (*kept, third):
            await client.close()


@integration
async def test_a_silent_connection_is_closed_after_the_idle_time(
        received: Received, caplog: pytest.LogCaptureFixture) -> None:
    async with CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                            idle_s=0.5) as server:
        quiet = await Client.open(server.port)
        await quiet.wait_closed_by_server()
        assert server.stats.idle == 1 and server.clients == 0
        assert "(cot_tcp_idle_s); closing" in caplog.text
        await quiet.close()


@integration
async def test_a_failing_sink_drops_the_connection_loudly(
        received: Received, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(kind: Kind, message: Position | Alarm) -> None:
        raise OSError("disk full")

    async with CotTcpServer("127.0.0.1", 0, broken, received.on_error) as server:
        client = await Client.open(server.port)
        await client.send(ATAK)
        await client.wait_closed_by_server()
        await client.close()
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1 and "delivery failed" in failures[0].getMessage()
    caplog.clear()  # logged on purpose: the autouse fixture would fail the test


@integration
async def test_field_client_sink_keeps_each_event_once_in_the_outbox(
        tmp_path: Path) -> None:
    # No broker: the message must still be on disk, which is the outbox's guarantee.
    client = FieldClient("mqtt://127.0.0.1:9", "fire", "cot-tcp", tmp_path / "outbox.sqlite")
    received = Received()
    try:
        async with CotTcpServer("127.0.0.1", 0, FieldClientSink(client),
                                received.on_error) as server:
            tak = await Client.open(server.port)
            await tak.send(ATAK + ALERT + ATAK)  # the repeat is a redelivery: same id
            await eventually(_messages_of(server), lambda n: n == 3)
            await tak.close()
        assert client.pending() == 2
    finally:
        client.close()


def _clients_of(server: CotTcpServer) -> Callable[[], Awaitable[int]]:
    async def probe() -> int:
        return server.clients
    return probe


def _messages_of(server: CotTcpServer) -> Callable[[], Awaitable[int]]:
    async def probe() -> int:
        return server.stats.messages
    return probe


# --- TLS and allowed networks ---------------------------------------------------------

@integration
async def test_tls_input_takes_events_only_from_devices_with_a_signed_certificate(
    received: Received, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    config = Settings(cot_tls_cert=pki.server_cert, cot_tls_key=pki.server_key,
                      cot_tls_ca=pki.ca)
    tls = tls_context(config)
    assert tls is not None
    async with CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                            tls=tls) as cot:
        device = ssl.create_default_context(cafile=str(pki.ca))
        device.load_cert_chain(pki.client_cert, pki.client_key)
        reader, writer = await asyncio.open_connection("127.0.0.1", cot.port, ssl=device)
        writer.write(ATAK)
        await writer.drain()
        await received.wait(messages=1)
        writer.close()
        stranger = ssl.create_default_context(cafile=str(pki.ca))  # no client certificate
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection("127.0.0.1", cot.port,
                                                           ssl=stranger)
            writer.write(ATAK)
            await writer.drain()
            await asyncio.wait_for(reader.readexactly(1), timeout=5)
    assert len(received.messages) == 1


@integration
async def test_connections_from_outside_the_allowed_networks_are_refused(
    received: Received
) -> None:
    async with CotTcpServer("127.0.0.1", 0, received.on_message, received.on_error,
                            allow=[ip_network("10.0.0.0/8")]) as cot:
        client = await Client.open(cot.port)
        await client.send(ATAK)
        await client.wait_closed_by_server()
        assert cot.stats.refused == 1 and received.messages == []
