"""Decoding raw MQTT payloads: captured feeds, dead-letter reasons, fuzzing and round trips."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import DEFAULT_AGENCIES, IngestSettings
from incidents.cap import CapAlertMessage
from incidents.model import DeadLetter, FieldMessage, Inbound, Kind, Level, Position, Report
from ingest.codecs import (
    CrsPolicy,
    DecodeError,
    Reason,
    decode,
    decode_payload,
    json_kinds,
    json_schema,
    supported_kinds,
)
from ingest.topics import TopicScheme

FEEDS = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
SCHEME = TopicScheme(root="sitroom/v1", agencies=frozenset(DEFAULT_AGENCIES))
MAX_BYTES = IngestSettings().max_payload_bytes
RECEIVED_AT = datetime(2025, 3, 14, 2, 15, 8, 500000, tzinfo=UTC)
POSITION_TOPIC = SCHEME.feed("police", Kind.POSITION, "gw01")
REPORT_TOPIC = SCHEME.feed("fire", Kind.REPORT, "119-desk")


@dataclass(frozen=True, slots=True)
class Expected:
    """What one captured payload must decode to, from expected.toml."""

    file: str
    """Payload file name in tests/fixtures/feeds."""
    topic: str
    """Topic the payload arrived on."""
    outcome: str
    """`position`, `report` or `dead`."""
    reason: str | None
    """Dead-letter reason, for `dead` only."""
    message_id: str | None
    """Id the dead letter carries, or the id of the decoded message."""


def load_expectations() -> list[Expected]:
    table = tomllib.loads((FEEDS / "expected.toml").read_text(encoding="utf-8"))
    return [
        Expected(file=name, topic=entry["topic"], outcome=entry["outcome"],
                 reason=entry.get("reason"), message_id=entry.get("message_id", entry.get("id")))
        for name, entry in table.items()
    ]


EXPECTED = load_expectations()


def payload_of(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def decode_fixture(name: str, max_bytes: int = MAX_BYTES) -> Inbound | DeadLetter:
    entry = next(e for e in EXPECTED if e.file == name)
    return decode(SCHEME, entry.topic, payload_of(name), RECEIVED_AT, max_bytes)


def decoded_message(name: str) -> FieldMessage:
    result = decode_fixture(name)
    assert isinstance(result, Inbound), result
    assert not isinstance(result.message, CapAlertMessage)
    return result.message


def dead_letter(topic: str, payload: bytes, max_bytes: int = MAX_BYTES) -> DeadLetter:
    result = decode(SCHEME, topic, payload, RECEIVED_AT, max_bytes)
    assert isinstance(result, DeadLetter), result
    return result


def position_dict(**changes: Any) -> dict[str, Any]:
    """A valid position message as a JSON-ready dict, with `changes` applied."""
    base: dict[str, Any] = {"id": "police-gw01-000417", "ts": "2025-03-14T02:15:07Z",
                            "unit": "patrol-0417", "lat": 37.06851, "lon": 114.50432}
    base.update(changes)
    return base


def report_dict(**changes: Any) -> dict[str, Any]:
    """A valid report message as a JSON-ready dict, with `changes` applied."""
    base: dict[str, Any] = {"id": "119-20250314-0031", "ts": "2025-03-14T10:16:40+08:00",
                            "type": "fire", "lat": 37.0633, "lon": 114.4979, "text": "起火"}
    base.update(changes)
    return base


def as_bytes(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def assert_well_formed(result: object, topic: str, payload: bytes) -> None:
    """The contract of decode(): an Inbound, or a DeadLetter that explains itself."""
    if isinstance(result, Inbound):
        assert result.envelope.topic == topic
        assert result.envelope.received_at == RECEIVED_AT
        expected_type = Position if result.envelope.kind is Kind.POSITION else Report
        assert isinstance(result.message, expected_type)
        return
    assert isinstance(result, DeadLetter), f"decode returned {type(result).__name__}"
    assert result.reason in set(Reason)
    assert isinstance(result.detail, str) and result.detail.strip()
    assert result.payload == payload
    assert result.topic == topic
    assert result.received_at == RECEIVED_AT


# --- captured feeds -----------------------------------------------------------------------


def test_every_feed_file_has_an_expectation_and_every_expectation_a_file() -> None:
    on_disk = {p.name for p in FEEDS.iterdir() if p.name != "expected.toml"}
    assert on_disk == {e.file for e in EXPECTED}


def test_feeds_cover_both_outcomes_for_both_kinds() -> None:
    outcomes = {(e.file.split("_")[0], e.outcome == "dead") for e in EXPECTED}
    assert outcomes == {("position", False), ("position", True),
                        ("report", False), ("report", True)}


@pytest.mark.parametrize("entry", EXPECTED, ids=[e.file for e in EXPECTED])
def test_feed_decodes_or_dead_letters_as_expected(entry: Expected) -> None:
    payload = payload_of(entry.file)
    result = decode(SCHEME, entry.topic, payload, RECEIVED_AT, MAX_BYTES)
    if entry.outcome == "dead":
        assert isinstance(result, DeadLetter), result
        assert result.reason == entry.reason
        assert result.message_id == entry.message_id
        assert result.payload == payload
        assert result.topic == entry.topic
        assert result.received_at == RECEIVED_AT
        assert result.detail
    else:
        assert isinstance(result, Inbound), result
        assert result.envelope.kind == entry.outcome
        assert result.message.id == entry.message_id


def test_minimal_position_has_only_the_required_fields() -> None:
    message = decoded_message("position_ok_minimal.json")
    assert message == Position(
        id="police-gw01-000417",
        ts=datetime(2025, 3, 14, 2, 15, 7, 250000, tzinfo=UTC),
        unit="patrol-0417", lat=37.06851, lon=114.50432,
    )


def test_full_position_keeps_speed_heading_accuracy_and_unit_type() -> None:
    message = decoded_message("position_ok_full.json")
    assert isinstance(message, Position)
    assert (message.speed, message.heading, message.accuracy, message.unit_type) == (
        13.6, 271.5, 4.8, "fire_engine")


def test_position_with_offset_keeps_instant_and_offset() -> None:
    message = decoded_message("position_ok_offset_0800.json")
    assert message.ts == datetime(2025, 3, 14, 2, 15, 7, tzinfo=UTC)
    assert message.ts.utcoffset() == timedelta(hours=8)


def test_unknown_fields_are_ignored() -> None:
    message = decoded_message("position_ok_extra_fields.json")
    assert message == Position(
        id="police-gw01-000418",
        ts=datetime(2025, 3, 14, 2, 15, 8, 250000, tzinfo=UTC),
        unit="patrol-0417", lat=37.06855, lon=114.50441,
    )


def test_chinese_report_keeps_text_level_and_reporter() -> None:
    message = decoded_message("report_ok_chinese_with_level.json")
    assert isinstance(message, Report)
    assert message.text == "桥东区中兴东大街某小区3号楼12层冒浓烟，有人员被困，请求增援。"
    assert message.level is Level.II
    assert message.reporter == "119接警台-2号席"
    assert message.type == "fire"


def test_report_without_level_has_none() -> None:
    message = decoded_message("report_ok_chinese_no_level.json")
    assert isinstance(message, Report)
    assert message.level is None
    assert message.reporter is None
    assert message.text == "京港澳高速邢台东出口附近两车追尾，暂无人员伤亡。"


def test_inbound_envelope_comes_from_the_topic_not_the_payload() -> None:
    result = decode_fixture("report_ok_chinese_with_level.json")
    assert isinstance(result, Inbound)
    assert result.envelope.topic == "sitroom/v1/fire/report/119-desk"
    assert result.envelope.agency == "fire"
    assert result.envelope.kind is Kind.REPORT
    assert result.envelope.source == "119-desk"
    assert result.envelope.received_at == RECEIVED_AT


def test_too_large_payload_is_otherwise_valid() -> None:
    """The 100 KB fixture is refused for its size alone."""
    payload = payload_of("position_bad_too_large.json")
    assert len(payload) >= 100 * 1024
    result = decode_fixture("position_bad_too_large.json", max_bytes=len(payload))
    assert isinstance(result, Inbound)


# --- dead-letter reasons ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message_id"),
    [
        (as_bytes(position_dict(lat=91.0)), "police-gw01-000417"),
        (as_bytes(position_dict(ts="2025-03-14T02:15:07")), "police-gw01-000417"),
        (as_bytes(position_dict(heading=360.0)), "police-gw01-000417"),
        (as_bytes(position_dict(speed=-1)), "police-gw01-000417"),
        (as_bytes(position_dict(id=17)), None),
        (as_bytes(position_dict(id="x" * 129)), None),
        (as_bytes(position_dict(id=None)), None),
        (as_bytes({"id": "only-an-id"}), "only-an-id"),
    ],
    ids=["lat", "naive-ts", "heading-360", "negative-speed", "int-id", "long-id", "null-id",
         "only-id"],
)
def test_invalid_payload_carries_a_readable_id(payload: bytes, message_id: str | None) -> None:
    letter = dead_letter(POSITION_TOPIC, payload)
    assert letter.reason == Reason.INVALID
    assert letter.message_id == message_id


def test_malformed_payload_carries_no_id() -> None:
    letter = dead_letter(POSITION_TOPIC, b'{"id": "police-gw01-000417", "lat": ')
    assert letter.reason == Reason.MALFORMED_JSON
    assert letter.message_id is None


def test_unknown_agency() -> None:
    letter = dead_letter("sitroom/v1/railway/position/gw01", as_bytes(position_dict()))
    assert letter.reason == Reason.UNKNOWN_AGENCY
    assert "railway" in letter.detail
    assert letter.message_id is None


@pytest.mark.parametrize("kind", ["positions", "Position", "photo", ""])
def test_unknown_kind(kind: str) -> None:
    letter = dead_letter(f"sitroom/v1/police/{kind}/gw01", as_bytes(position_dict()))
    assert letter.reason == Reason.UNKNOWN_KIND


@pytest.mark.parametrize(
    "topic",
    [
        "sitroom/v2/police/position/gw01",
        "sitroom/v10/police/position/gw01",
        "sitroom/v1",
        "sitroom/v1/",
        "sitroom/v1/police/position",
        "sitroom/v1/police/position/gw01/extra",
        "sitroom/v1/police/position/",
        "sitroom/v1/police/position/gw 01",
        "/sitroom/v1/police/position/gw01",
        "",
    ],
)
def test_bad_topic_shapes(topic: str) -> None:
    letter = dead_letter(topic, as_bytes(position_dict()))
    assert letter.reason == Reason.BAD_TOPIC
    assert letter.topic == topic


JSON_KINDS = {Kind.POSITION, Kind.REPORT, Kind.OBSERVATION, Kind.ALARM, Kind.STATUS, Kind.ACK}


def test_every_kind_has_a_decoder() -> None:
    assert set(supported_kinds()) == set(Kind)
    assert set(json_kinds()) == JSON_KINDS


@pytest.mark.parametrize(("kind", "reason"), [(Kind.COT, Reason.MALFORMED_XML),
                                              (Kind.CAP, Reason.MALFORMED_XML)])
def test_json_on_an_xml_kind_is_malformed_xml(kind: Kind, reason: Reason) -> None:
    letter = dead_letter(SCHEME.feed("police", kind, "gw01"), as_bytes(position_dict()))
    assert letter.reason == reason


def test_position_payload_on_report_topic_is_invalid() -> None:
    letter = dead_letter(REPORT_TOPIC, as_bytes(position_dict()))
    assert letter.reason == Reason.INVALID
    assert letter.message_id == "police-gw01-000417"


def test_size_is_checked_before_parsing() -> None:
    garbage = b"\xff" * 300
    with pytest.raises(DecodeError) as caught:
        decode_payload(Kind.POSITION, garbage, max_bytes=299)
    assert caught.value.reason is Reason.TOO_LARGE
    assert "300" in caught.value.detail and "299" in caught.value.detail


def test_payload_of_exactly_the_limit_is_accepted() -> None:
    payload = as_bytes(position_dict())
    assert isinstance(decode_payload(Kind.POSITION, payload, max_bytes=len(payload)), Position)
    letter = dead_letter(POSITION_TOPIC, payload, max_bytes=len(payload) - 1)
    assert letter.reason == Reason.TOO_LARGE


def test_decode_error_is_a_value_error_with_reason_detail_and_id() -> None:
    with pytest.raises(ValueError, match="^invalid: ") as caught:
        decode_payload(Kind.REPORT, as_bytes(report_dict(type="Fire Alarm")), MAX_BYTES)
    error = caught.value
    assert isinstance(error, DecodeError)
    assert error.reason is Reason.INVALID
    assert "$.type" in error.detail
    assert error.message_id == "119-20250314-0031"


def test_reason_codes() -> None:
    assert {r.value for r in Reason} == {
        "bad_topic", "unknown_agency", "unknown_kind", "unsupported_kind",
        "too_large", "malformed_json", "invalid", "agency_mismatch", "xml_forbidden",
        "malformed_xml", "invalid_cap", "invalid_cot", "unsupported_cot",
    }


# --- found while writing these tests: inputs that must be dead letters --------------------


NOT_JSON = {Reason.MALFORMED_JSON}
NOT_JSON_OR_INVALID = {Reason.MALFORMED_JSON, Reason.INVALID}
"""Bytes that are never read (an unknown key) may be judged either way; raising is wrong."""


@pytest.mark.parametrize(
    ("topic", "payload", "reasons"),
    [
        (POSITION_TOPIC, as_bytes(position_dict(id="X"))
         .replace(b'"X"', b'"\xff"'), NOT_JSON),
        (POSITION_TOPIC, as_bytes(position_dict(unit_type="X"))
         .replace(b'"X"', b'"\xed\xa0\x80"'), NOT_JSON),
        (REPORT_TOPIC, as_bytes(report_dict(reporter="X"))
         .replace(b'"X"', b'"' + "接警台".encode("gbk") + b'"'), NOT_JSON),
        (POSITION_TOPIC, b'{"\xff": 1}', NOT_JSON_OR_INVALID),
    ],
    ids=["id", "surrogate-unit-type", "gbk-reporter", "key-only"],
)
def test_non_utf8_inside_json_is_dead_lettered_not_raised(
    topic: str, payload: bytes, reasons: set[Reason]
) -> None:
    result = decode(SCHEME, topic, payload, RECEIVED_AT, MAX_BYTES)
    assert isinstance(result, DeadLetter)
    assert result.reason in reasons


def test_deeply_nested_unknown_field_is_dead_lettered_not_raised() -> None:
    depth = 2000
    payload = as_bytes(position_dict())[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(payload) < MAX_BYTES
    result = decode(SCHEME, POSITION_TOPIC, payload, RECEIVED_AT, MAX_BYTES)
    assert isinstance(result, DeadLetter)
    # Either code is defensible for nesting msgspec will not follow; raising is not.
    assert result.reason in {Reason.MALFORMED_JSON, Reason.INVALID}


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (POSITION_TOPIC, as_bytes(position_dict(id="police-gw01-000417\n"))),
        (POSITION_TOPIC, as_bytes(position_dict(unit="patrol-0417\n"))),
        (REPORT_TOPIC, as_bytes(report_dict(type="fire\n"))),
    ],
    ids=["id", "unit", "report-type"],
)
def test_trailing_newline_does_not_pass_the_id_patterns(topic: str, payload: bytes) -> None:
    letter = dead_letter(topic, payload)
    assert letter.reason == Reason.INVALID


# --- JSON schema --------------------------------------------------------------------------


def schema_of(kind: Kind) -> dict[str, Any]:
    schema = json_schema(kind)
    name = schema["$ref"].removeprefix("#/$defs/")
    definition: dict[str, Any] = schema["$defs"][name]
    return definition


def test_position_schema_required_fields() -> None:
    schema = schema_of(Kind.POSITION)
    assert sorted(schema["required"]) == sorted(["id", "ts", "unit", "lat", "lon"])
    assert set(schema["properties"]) == {"id", "ts", "unit", "lat", "lon", "speed", "heading",
                                         "accuracy", "unit_type", "callsign", "group", "crs"}


def test_report_schema_required_fields() -> None:
    schema = schema_of(Kind.REPORT)
    assert sorted(schema["required"]) == sorted(["id", "ts", "type", "lat", "lon", "text"])
    assert {"level", "reporter"} <= set(schema["properties"])


def test_schema_carries_the_coordinate_bounds() -> None:
    properties = schema_of(Kind.POSITION)["properties"]
    assert (properties["lat"]["minimum"], properties["lat"]["maximum"]) == (-90.0, 90.0)
    assert (properties["lon"]["minimum"], properties["lon"]["maximum"]) == (-180.0, 180.0)
    assert properties["ts"]["format"] == "date-time"


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
    unit_type=st.none() | st.text(max_size=32),
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
