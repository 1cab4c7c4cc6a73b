"""Builders of valid feed messages for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from incidents.model import Envelope, Inbound, Kind, Level, Position, Report


def position(unit: str = "car-7", lat: float = 37.07, lon: float = 114.5,
             ts: datetime | None = None, message_id: str | None = None) -> Position:
    """A valid position fix."""
    return Position(id=message_id or str(uuid.uuid4()), ts=ts or datetime.now(UTC), unit=unit,
                    lat=lat, lon=lon)


def report(kind: str = "fire", level: Level | None = Level.III, text: str = "居民楼起火",
           message_id: str | None = None) -> Report:
    """A valid report."""
    return Report(id=message_id or str(uuid.uuid4()), ts=datetime.now(UTC), type=kind,
                  lat=37.06, lon=114.49, text=text, level=level)


def inbound(message: Position | Report, agency: str = "police", source: str = "avl-1") -> Inbound:
    """Wrap a message as if it had arrived on its topic just now."""
    kind = Kind.POSITION if isinstance(message, Position) else Kind.REPORT
    envelope = Envelope(topic=f"sitroom/v1/{agency}/{kind}/{source}", agency=agency, kind=kind,
                        source=source, received_at=datetime.now(UTC))
    return Inbound(envelope=envelope, message=message)


def minutes_ago(minutes: float) -> datetime:
    """A time `minutes` before now, in UTC."""
    return datetime.now(UTC) - timedelta(minutes=minutes)
