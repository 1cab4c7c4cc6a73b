"""The domain vocabulary: levels and their colours, enum values, message constraints."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec
import pytest

from incidents.model import (
    DeadLetter,
    IncidentStatus,
    Kind,
    Level,
    Position,
    Report,
)


@pytest.mark.parametrize(
    ("level", "colour", "zh", "en"),
    [
        (Level.I, "#d7191c", "特别重大", "Particularly serious"),
        (Level.II, "#f07c00", "重大", "Serious"),
        (Level.III, "#f5c400", "较大", "Major"),
        (Level.IV, "#2b83ba", "一般", "General"),
    ],
    ids=["I-red", "II-orange", "III-yellow", "IV-blue"],
)
def test_level_colour_and_labels(level: Level, colour: str, zh: str, en: str) -> None:
    assert level.colour == colour
    assert level.label_zh == zh
    assert level.label_en == en


def test_levels_run_from_most_to_least_severe() -> None:
    assert [level.value for level in Level] == ["I", "II", "III", "IV"]
    assert len({level.colour for level in Level}) == 4


def test_every_level_has_colour_and_labels() -> None:
    for level in Level:
        assert level.colour.startswith("#") and len(level.colour) == 7
        assert level.label_zh and level.label_en


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (Level, ["I", "II", "III", "IV"]),
        (Kind, ["position", "observation", "alarm", "report", "status", "ack", "cap", "cot"]),
        (IncidentStatus, ["reported", "verified", "responding", "contained", "closed"]),
    ],
    ids=["Level", "Kind", "IncidentStatus"],
)
def test_str_enum_values(enum: type[StrEnum], values: list[str]) -> None:
    assert issubclass(enum, StrEnum)
    assert [member.value for member in enum] == values
    for value in values:
        member = enum(value)
        assert member == value
        assert str(member) == value
        assert f"{member}" == value


def test_enums_refuse_unknown_values() -> None:
    with pytest.raises(ValueError):
        Level("V")
    with pytest.raises(ValueError):
        Kind("Position")
    with pytest.raises(ValueError):
        IncidentStatus("open")


def test_enum_values_make_topic_segments() -> None:
    assert f"sitroom/v1/police/{Kind.POSITION}/gw01" == "sitroom/v1/police/position/gw01"


def position(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "police-gw01-000417", "ts": "2025-03-14T02:15:07Z",
                            "unit": "patrol-0417", "lat": 37.06851, "lon": 114.50432}
    base.update(changes)
    return base


def report(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "119-20250314-0031", "ts": "2025-03-14T10:16:40+08:00",
                            "type": "fire", "lat": 37.0633, "lon": 114.4979, "text": "起火"}
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "changes",
    [
        {"lat": 90.0}, {"lat": -90.0}, {"lon": 180.0}, {"lon": -180.0},
        {"speed": 0.0}, {"speed": 500.0}, {"heading": 0.0}, {"heading": 359.999},
        {"accuracy": 0.0}, {"unit_type": "x" * 32}, {"id": "a:b.c_d-e"}, {"id": "x" * 128},
        {"unit": "u" * 64},
    ],
)
def test_position_limits_accepted(changes: dict[str, Any]) -> None:
    message = msgspec.convert(position(**changes), Position, strict=False)
    for name, value in changes.items():
        assert getattr(message, name) == value


@pytest.mark.parametrize(
    "changes",
    [
        {"lat": 90.0001}, {"lat": -91.0}, {"lon": 180.5}, {"lon": -181.0},
        {"speed": -0.1}, {"speed": 500.1}, {"heading": 360.0}, {"heading": -1.0},
        {"accuracy": -1.0}, {"unit_type": "x" * 33}, {"id": ""}, {"id": "x" * 129},
        {"id": "a/b"}, {"unit": ""}, {"unit": "u" * 65}, {"unit": "u:1"},
        {"ts": "2025-03-14T02:15:07"},
    ],
)
def test_position_limits_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(position(**changes), Position, strict=False)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "Fire Alarm"}, {"type": "fire-alarm"}, {"type": ""}, {"type": "x" * 65},
        {"text": "火" * 4001}, {"level": "V"}, {"level": "i"}, {"reporter": "r" * 129},
    ],
)
def test_report_limits_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(report(**changes), Report, strict=False)


def test_report_level_decodes_to_the_enum() -> None:
    message = msgspec.convert(report(level="I", text="火" * 4000), Report, strict=False)
    assert message.level is Level.I
    assert message.level.colour == "#d7191c"


def test_messages_are_frozen() -> None:
    message = msgspec.convert(position(), Position, strict=False)
    with pytest.raises(AttributeError):
        message.lat = 0.0  # type: ignore[misc]


def test_messages_are_hashable_and_compare_by_value() -> None:
    a = msgspec.convert(position(), Position, strict=False)
    b = msgspec.convert(position(), Position, strict=False)
    assert a == b and hash(a) == hash(b)
    assert a != msgspec.convert(position(lat=0.0), Position, strict=False)


def test_dead_letter_message_id_defaults_to_none() -> None:
    letter = DeadLetter(topic="t", payload=b"\xff", received_at=datetime(2025, 3, 14, tzinfo=UTC),
                        reason="malformed_json", detail="not JSON")
    assert letter.message_id is None
    assert letter.payload == b"\xff"
