"""The command store's backends for the contract suite: PostgreSQL and the in-memory twin,
each with a way to feed what ingest would have written (fixes, statuses, acks, observations).

The PostgreSQL side is fed through `Store.write_batch`, ingest's own write path, so the
contract holds for data as it really arrives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

from incidents.memory.command import MemoryCommandStore
from incidents.model import (
    Ack,
    AckState,
    Availability,
    Envelope,
    FieldMessage,
    Inbound,
    Kind,
    Observation,
    Position,
    Status,
)
from incidents.ports.command import CommandStore
from incidents.store import Store


class Backend(Protocol):
    """A command store under test and the feed that fills in what ingest writes."""

    @property
    def store(self) -> CommandStore:
        """The store the contract is checked on."""
        ...

    async def fix(self, unit: str, kind: str | None, lat: float, lon: float, ts: datetime,
                  agency: str = "fire") -> None:
        """A unit's position fix."""
        ...

    async def status(self, unit: str, availability: Availability, ts: datetime,
                     agency: str = "fire") -> None:
        """A unit's own status report."""
        ...

    async def ack(self, order: str, unit: str, state: AckState, ts: datetime,
                  agency: str = "fire") -> None:
        """A unit's ack of an order."""
        ...

    async def observe(self, sensor: str, quantity: str, value: float, lat: float, lon: float,
                      ts: datetime) -> None:
        """A weather station's observation."""
        ...


_KINDS = {Position: Kind.POSITION, Status: Kind.STATUS, Ack: Kind.ACK,
          Observation: Kind.OBSERVATION}


class PostgresBackend:
    """The PostgreSQL command store, fed through ingest's batch writes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def store(self) -> CommandStore:
        """The store's command side."""
        return self._store.commands

    async def _write(self, agency: str, source: str, message: FieldMessage) -> None:
        kind = _KINDS[type(message)]
        envelope = Envelope(topic=f"sitroom/v1/{agency}/{kind}/{source}", agency=agency,
                            kind=kind, source=source, received_at=datetime.now(UTC))
        await self._store.write_batch([Inbound(envelope=envelope, message=message)], [])

    async def fix(self, unit: str, kind: str | None, lat: float, lon: float, ts: datetime,
                  agency: str = "fire") -> None:
        """A position message."""
        await self._write(agency, unit, Position(id=_id(), ts=ts, unit=unit, unit_type=kind,
                                                 lat=lat, lon=lon))

    async def status(self, unit: str, availability: Availability, ts: datetime,
                     agency: str = "fire") -> None:
        """A status message."""
        await self._write(agency, unit, Status(id=_id(), ts=ts, unit=unit,
                                               availability=availability))

    async def ack(self, order: str, unit: str, state: AckState, ts: datetime,
                  agency: str = "fire") -> None:
        """An ack message."""
        await self._write(agency, unit, Ack(id=_id(), ts=ts, order=order, unit=unit,
                                            state=state))

    async def observe(self, sensor: str, quantity: str, value: float, lat: float, lon: float,
                      ts: datetime) -> None:
        """An observation message."""
        await self._write("weather", sensor, Observation(
            id=_id(), ts=ts, sensor=sensor, quantity=quantity, value=value,
            unit="deg" if quantity == "wind_direction" else "m/s", lat=lat, lon=lon))


class MemoryBackend:
    """The in-memory command store, fed directly."""

    def __init__(self, store: MemoryCommandStore) -> None:
        self._memory = store

    @property
    def store(self) -> CommandStore:
        """The in-memory store."""
        return self._memory

    async def fix(self, unit: str, kind: str | None, lat: float, lon: float, ts: datetime,
                  agency: str = "fire") -> None:
        """Record a fix."""
        self._memory.record_fix(unit, agency, lat, lon, ts, kind)

    async def status(self, unit: str, availability: Availability, ts: datetime,
                     agency: str = "fire") -> None:
        """Record a status."""
        self._memory.record_status(unit, availability, ts)

    async def ack(self, order: str, unit: str, state: AckState, ts: datetime,
                  agency: str = "fire") -> None:
        """Record an ack."""
        self._memory.record_ack(order, unit, state, ts, agency)

    async def observe(self, sensor: str, quantity: str, value: float, lat: float, lon: float,
                      ts: datetime) -> None:
        """Record an observation."""
        self._memory.record_observation(sensor, quantity, value, lat, lon, ts)


def _id() -> str:
    return str(uuid.uuid4())
