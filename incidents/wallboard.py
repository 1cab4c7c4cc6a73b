"""What the wall screen shows besides the map: the latest readings and the journal's ticker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from incidents.model import Level


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """The latest value of one quantity at one station."""

    sensor: str
    """Station or sensor id."""
    station: str | None
    """Its human name, if known."""
    quantity: str
    """What was measured, e.g. temperature."""
    value: float
    """The value, in `unit`."""
    unit: str
    """Unit of the value, e.g. degC."""
    ts: datetime
    """When it was measured."""


class JournalEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A journal entry for the wall's ticker, with its incident's title and level."""

    seq: int
    """Journal sequence number (orders and de-duplicates events)."""
    at: datetime
    """When it was journaled."""
    action: str
    """What happened, e.g. dispatch or order_ack."""
    actor: str
    """Who did it."""
    data: dict[str, Any]
    """The entry's details."""
    incident_id: str
    """The incident."""
    title: str
    """The incident's title."""
    level: Level
    """The incident's level."""
