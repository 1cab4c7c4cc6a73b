"""Observation, alarm, status and ack payloads; the claimed-agency check."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.model import (
    Ack,
    AckState,
    Alarm,
    AlarmState,
    Availability,
    DeadLetter,
    Inbound,
    Kind,
    Observation,
    Status,
)
from ingest.codecs import Reason, decode
from ingest.feeds_doc import _EXAMPLES
from ingest.topics import TopicScheme

SCHEME = TopicScheme("sitroom/v1", frozenset({"police", "fire", "weather", "water", "safety"}))
NOW = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


def run(agency: str, kind: Kind, doc: dict[str, Any]) -> Inbound | DeadLetter:
    return decode(SCHEME, SCHEME.feed(agency, kind, "src-1"), json.dumps(doc).encode(), NOW,
                  64 * 1024)


def test_a_water_level_observation_decodes() -> None:
    result = run("water", Kind.OBSERVATION, _EXAMPLES[Kind.OBSERVATION])
    assert isinstance(result, Inbound) and isinstance(result.message, Observation)
    assert (result.message.quantity, result.message.value, result.message.unit) == (
        "water_level", 63.42, "m")
    assert result.message.station == "七里河水文站"


def test_a_gas_alarm_decodes_active_by_default() -> None:
    doc = {k: v for k, v in _EXAMPLES[Kind.ALARM].items() if k != "state"}
    result = run("safety", Kind.ALARM, doc)
    assert isinstance(result, Inbound) and isinstance(result.message, Alarm)
    assert result.message.state is AlarmState.ACTIVE and result.message.type == "gas"


def test_status_and_ack_decode_to_their_enums() -> None:
    status = run("fire", Kind.STATUS, _EXAMPLES[Kind.STATUS])
    ack = run("fire", Kind.ACK, _EXAMPLES[Kind.ACK])
    assert isinstance(status, Inbound) and isinstance(status.message, Status)
    assert status.message.availability is Availability.EN_ROUTE
    assert isinstance(ack, Inbound) and isinstance(ack.message, Ack)
    assert (ack.message.order, ack.message.state) == ("order-7f3a", AckState.ACKNOWLEDGED)


@pytest.mark.parametrize(("kind", "change", "field"), [
    (Kind.OBSERVATION, {"value": "high"}, "value"),
    (Kind.OBSERVATION, {"quantity": "Water Level"}, "quantity"),
    (Kind.ALARM, {"state": "ringing"}, "state"),
    (Kind.STATUS, {"availability": "busy"}, "availability"),
    (Kind.ACK, {"order": ""}, "order"),
])
def test_invalid_values_are_dead_lettered_naming_the_field(
    kind: Kind, change: dict[str, Any], field: str
) -> None:
    result = run("fire", kind, {**_EXAMPLES[kind], **change})
    assert isinstance(result, DeadLetter) and result.reason == Reason.INVALID
    assert f"$.{field}" in result.detail
    assert result.message_id == _EXAMPLES[kind]["id"]


def test_a_payload_claiming_another_agency_is_refused() -> None:
    doc = {**_EXAMPLES[Kind.OBSERVATION], "agency": "police"}
    result = run("water", Kind.OBSERVATION, doc)
    assert isinstance(result, DeadLetter) and result.reason == Reason.AGENCY_MISMATCH
    assert "police" in result.detail and "water" in result.detail
    assert result.message_id == doc["id"]


def test_a_payload_naming_its_own_agency_is_accepted() -> None:
    result = run("water", Kind.OBSERVATION, {**_EXAMPLES[Kind.OBSERVATION], "agency": "water"})
    assert isinstance(result, Inbound)
