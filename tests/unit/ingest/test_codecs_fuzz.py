"""Decoding raw MQTT payloads: fuzzing (decode never raises), round trips, declared CRS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.model import DeadLetter, Inbound, Kind, Position
from ingest.codecs import CrsPolicy, decode
from ingest.topics import TopicScheme
from tests.support.codecs import (
    EXPECTED,
    MAX_BYTES,
    POSITION_TOPIC,
    RECEIVED_AT,
    REPORT_TOPIC,
    SCHEME,
    as_bytes,
    assert_well_formed,
    payload_of,
    position_dict,
    report_dict,
)

# --- fuzzing: decode() never raises -------------------------------------------------------

FEED_TOPICS = st.sampled_from([POSITION_TOPIC, REPORT_TOPIC,
                               SCHEME.feed("weather", Kind.OBSERVATION, "station-7"),
                               "sitroom/v1/unknown/position/x", "elsewhere/position"])
VALID_PAYLOADS = [payload_of(e.file) for e in EXPECTED if e.outcome != "dead"]


@st.composite
def spliced(draw: st.DrawFn) -> bytes:
    """A captured valid payload with random bytes written over part of it."""
    base = draw(st.sampled_from(VALID_PAYLOADS))
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 8)))
    return base[:start] + draw(st.binary(max_size=8)) + base[end:]


@settings(max_examples=2000, deadline=None)
@given(topic=FEED_TOPICS, payload=st.one_of(st.binary(max_size=300), spliced()))
def test_decode_never_raises_on_arbitrary_bytes(topic: str, payload: bytes) -> None:
    result = decode(SCHEME, topic, payload, RECEIVED_AT, MAX_BYTES)
    assert_well_formed(result, topic, payload)


# Two levels of nesting, spelled out: st.recursive's argument check misfired at random here
# (a HypothesisDeprecationWarning, which filterwarnings=error turns into a failure).
_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_NESTED = st.lists(_LEAVES, max_size=3) | st.dictionaries(st.text(max_size=6), _LEAVES,
                                                          max_size=3)
JSON_VALUES = (_LEAVES | _NESTED | st.lists(_NESTED, max_size=2)
               | st.dictionaries(st.text(max_size=6), _NESTED, max_size=2))
FIELD_NAMES = ["id", "ts", "unit", "lat", "lon", "speed", "heading", "accuracy", "unit_type",
               "type", "text", "level", "reporter"]


@st.composite
def json_ish(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid message with fields replaced, added or dropped, as (topic, payload)."""
    topic, doc = draw(st.sampled_from([(POSITION_TOPIC, position_dict()),
                                       (REPORT_TOPIC, report_dict())]))
    changes = draw(st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6),
                                   JSON_VALUES, max_size=4))
    dropped = draw(st.sets(st.sampled_from(sorted(doc)), max_size=2))
    doc = {k: v for k, v in (doc | changes).items() if k not in dropped}
    ascii_only = draw(st.booleans())
    return topic, json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8")


@settings(max_examples=2000, deadline=None)
@given(case=json_ish())
def test_decode_never_raises_on_json_ish_dicts(case: tuple[str, bytes]) -> None:
    topic, payload = case
    result = decode(SCHEME, topic, payload, RECEIVED_AT, MAX_BYTES)
    assert_well_formed(result, topic, payload)


RAW_STRING = st.binary(max_size=12).map(lambda b: b.replace(b'"', b"").replace(b"\\", b""))
RAW_KEY = "<raw key>"


@st.composite
def raw_string_fields(draw: st.DrawFn) -> tuple[str, bytes]:
    """A message whose chosen fields hold raw bytes, not necessarily UTF-8, as strings."""
    topic, doc = draw(st.sampled_from([(POSITION_TOPIC, position_dict()),
                                       (REPORT_TOPIC, report_dict())]))
    names = draw(st.lists(st.sampled_from([*FIELD_NAMES, RAW_KEY]), min_size=1, max_size=3))
    parts = [as_bytes({k: v})[1:-1] for k, v in doc.items() if k not in names]
    for name in names:
        key = draw(RAW_STRING) if name == RAW_KEY else name.encode("utf-8")
        parts.append(b'"' + key + b'": "' + draw(RAW_STRING) + b'"')
    return topic, b"{" + b", ".join(parts) + b"}"


@settings(max_examples=1500, deadline=None)
@given(case=raw_string_fields())
def test_decode_never_raises_on_raw_bytes_in_strings(case: tuple[str, bytes]) -> None:
    topic, payload = case
    result = decode(SCHEME, topic, payload, RECEIVED_AT, MAX_BYTES)
    assert_well_formed(result, topic, payload)


# --- round trip ---------------------------------------------------------------------------

OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
"""RFC 3339 offsets have minute precision."""


def optional(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float | None]:
    return st.none() | strategy


POSITIONS = st.builds(
    Position,
    id=st.from_regex(r"[A-Za-z0-9._:\-]{1,128}", fullmatch=True),
    ts=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=OFFSETS),
    unit=st.from_regex(r"[A-Za-z0-9._\-]{1,64}", fullmatch=True),
    lat=st.floats(-90.0, 90.0),
    lon=st.floats(-180.0, 180.0),
    speed=optional(st.floats(0, 500)),
    heading=optional(st.floats(0, 360, exclude_max=True)),
    accuracy=optional(st.floats(min_value=0, allow_infinity=False)),
    # Control characters are removed at the edge (test_codecs_control): they do not round-trip.
    unit_type=st.none() | st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=32),
)


@settings(max_examples=300, deadline=None)
@given(position=POSITIONS)
def test_position_round_trips_through_decode(position: Position) -> None:
    payload = msgspec.json.encode(position)
    result = decode(SCHEME, POSITION_TOPIC, payload, RECEIVED_AT, MAX_BYTES)
    assert isinstance(result, Inbound), result
    assert result.message == position
    assert result.message.ts.utcoffset() == position.ts.utcoffset()


WHEN = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_declared_coordinates_are_converted_at_the_edge_or_refused() -> None:
    scheme = TopicScheme("sitroom/v1", frozenset({"police"}))
    body = (b'{"id":"c1","ts":"2026-11-26T08:00:00Z","unit":"car-1","lat":37.07,"lon":114.51,'
            b'"crs":"gcj02"}')
    refused = decode(scheme, "sitroom/v1/police/position/avl", body, WHEN, 65536)
    assert isinstance(refused, DeadLetter) and "gcj02" in refused.detail

    def shift(system: str, lon: float, lat: float) -> tuple[float, float]:
        assert system == "gcj02"
        return lon - 0.006, lat - 0.001

    converted = decode(scheme, "sitroom/v1/police/position/avl", body, WHEN, 65536,
                       CrsPolicy(convert=shift))
    assert isinstance(converted, Inbound) and isinstance(converted.message, Position)
    assert (converted.message.lat, converted.message.lon, converted.message.crs) == (
        37.069, 114.504, None)
