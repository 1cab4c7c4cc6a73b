"""BulkClient's own framing and PUBLISH decoding agree with paho's on every packet."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket

from ingest.paho_bulk import Delivery, frames, parse_publish, remaining_length


def _publish(topic: bytes, qos: int, mid: int, payload: bytes, properties: bytes | None) -> bytes:
    """A PUBLISH packet; `properties` None for MQTT 3, else the encoded MQTT 5 properties."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if properties is not None:
        body += remaining_length(len(properties)) + properties
    body += payload
    return bytes([0x30 | qos << 1]) + remaining_length(len(body)) + body


_PAYLOAD_FORMAT_UTF8 = b"\x01\x01"  # an MQTT 5 property: payload format indicator = UTF-8

topics = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1,
                 max_size=80).map(str.encode)
publishes = st.tuples(topics, st.sampled_from([0, 1, 2]), st.integers(1, 65535),
                      st.binary(max_size=300), st.booleans(), st.booleans())


@settings(max_examples=500, deadline=None)
@given(publishes)
def test_parse_publish_agrees_with_paho(packet_spec: tuple[bytes, int, int, bytes, bool, bool]
                                        ) -> None:
    topic, qos, mid, payload, mqtt5, with_properties = packet_spec
    properties = (_PAYLOAD_FORMAT_UTF8 if with_properties else b"") if mqtt5 else None
    packet = _publish(topic, qos, mid, payload, properties)
    found, used = frames(packet)
    assert used == len(packet) and len(found) == 1
    frame = found[0]
    body = packet[frame.start:frame.end]
    protocol = MQTTProtocolVersion.MQTTv5 if mqtt5 else MQTTProtocolVersion.MQTTv311
    theirs = _packet.decode_publish(frame.command, body, protocol)
    ours = parse_publish(frame.command, packet, frame.start, frame.end, mqtt5, {})
    if qos == 2 or (mqtt5 and with_properties):
        assert ours is None  # left to paho's own handler
        return
    assert ours == Delivery(theirs.mid, theirs.qos, theirs.topic.decode(), bytes(theirs.payload))


@settings(max_examples=300, deadline=None)
@given(st.lists(publishes, min_size=1, max_size=12), st.data())
def test_frames_split_a_stream_where_paho_would(specs: list[tuple[bytes, int, int, bytes, bool,
                                                                  bool]],
                                                data: st.DataObject) -> None:
    packets = [_publish(t, q, m, p, None) for t, q, m, p, _, _ in specs]
    stream = b"".join(packets)
    cut = data.draw(st.integers(0, len(stream)))
    found, used = frames(stream[:cut])
    # Exactly the packets wholly inside the first `cut` bytes, and nothing of the next one.
    whole = 0
    offset = 0
    for packet in packets:
        if offset + len(packet) > cut:
            break
        whole += 1
        offset += len(packet)
    assert len(found) == whole and used == offset
    for frame, packet, spec in zip(found, packets, specs, strict=False):
        assert frame.command == packet[0]
        delivery = parse_publish(frame.command, stream, frame.start, frame.end, False)
        if spec[1] != 2:
            assert delivery is not None and delivery.payload == spec[3]


def test_a_topic_cache_returns_the_same_name() -> None:
    cache: dict[bytes, str] = {}
    packet = _publish(b"sitroom/v1/police/position/car-7", 1, 9, b"{}", None)
    (frame,), _ = frames(packet)
    first = parse_publish(frame.command, packet, frame.start, frame.end, False, cache)
    second = parse_publish(frame.command, packet, frame.start, frame.end, False, cache)
    assert first == second and cache == {b"sitroom/v1/police/position/car-7":
                                         "sitroom/v1/police/position/car-7"}


def test_a_topic_that_is_not_utf8_is_left_to_paho() -> None:
    packet = _publish(b"sitroom/\xff/x", 1, 3, b"{}", None)
    (frame,), _ = frames(packet)
    assert parse_publish(frame.command, packet, frame.start, frame.end, False, {}) is None


@pytest.mark.parametrize("body", [b"", b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"])
def test_a_truncated_publish_is_refused_like_paho_refuses_it(body: bytes) -> None:
    command = 0x32  # QoS 1: needs topic length, topic and packet id
    with pytest.raises(MalformedPacket):
        _packet.decode_publish(command, body, MQTTProtocolVersion.MQTTv311)
    with pytest.raises(ValueError, match="PUBLISH"):
        parse_publish(command, body, 0, len(body), False)


@given(st.integers(0, 268_435_455))  # MQTT's largest remaining length
def test_remaining_lengths_round_trip(length: int) -> None:
    header = b"\x30" + remaining_length(length)
    found, used = frames(header + bytes(min(length, 16)))
    assert len(header) <= 5
    if length <= 16:
        assert found == [(0x30, len(header), len(header) + length)] and used == found[0].end
    else:
        assert found == [] and used == 0  # announced more than there is: wait for it


def test_a_remaining_length_of_five_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="four bytes"):
        frames(b"\x30\xff\xff\xff\xff\x01")
