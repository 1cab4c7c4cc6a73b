"""Captured feed payloads and what they must decode to, for the codec tests."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config.settings import DEFAULT_AGENCIES, IngestSettings
from incidents.cap import CapAlertMessage
from incidents.model import DeadLetter, FieldMessage, Inbound, Kind, Position, Report
from ingest.codecs import Reason, decode
from ingest.topics import TopicScheme

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
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
    """The expectations of tests/fixtures/feeds/expected.toml, one per payload file."""
    table = tomllib.loads((FEEDS / "expected.toml").read_text(encoding="utf-8"))
    return [
        Expected(file=name, topic=entry["topic"], outcome=entry["outcome"],
                 reason=entry.get("reason"), message_id=entry.get("message_id", entry.get("id")))
        for name, entry in table.items()
    ]


EXPECTED = load_expectations()


def payload_of(name: str) -> bytes:
    """The bytes of one captured payload."""
    return (FEEDS / name).read_bytes()


def decode_fixture(name: str, max_bytes: int = MAX_BYTES) -> Inbound | DeadLetter:
    """Decode one captured payload on the topic it arrived on."""
    entry = next(e for e in EXPECTED if e.file == name)
    return decode(SCHEME, entry.topic, payload_of(name), RECEIVED_AT, max_bytes)


def decoded_message(name: str) -> FieldMessage:
    """The field message a captured payload decodes to (it must decode)."""
    result = decode_fixture(name)
    assert isinstance(result, Inbound), result
    assert not isinstance(result.message, CapAlertMessage)
    return result.message


def dead_letter(topic: str, payload: bytes, max_bytes: int = MAX_BYTES) -> DeadLetter:
    """The dead letter `payload` on `topic` becomes (it must not decode)."""
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
    """`obj` as UTF-8 JSON, Chinese kept as is."""
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
