"""Decoding raw MQTT payloads: captured feeds, dead-letter reasons and the JSON schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.model import DeadLetter, Inbound, Kind, Level, Position, Report
from ingest.codecs import (
    DecodeError,
    Reason,
    decode,
    decode_payload,
    json_kinds,
    json_schema,
    supported_kinds,
)
from tests.support.codecs import (
    EXPECTED,
    FEEDS,
    MAX_BYTES,
    POSITION_TOPIC,
    RECEIVED_AT,
    REPORT_TOPIC,
    SCHEME,
    Expected,
    as_bytes,
    dead_letter,
    decode_fixture,
    decoded_message,
    payload_of,
    position_dict,
    report_dict,
)

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
        "malformed_xml", "invalid_cap", "invalid_cot", "unsupported_cot", "empty_text",
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
