"""A city's bad day for the desk: a thousand open incidents and ten thousand units that keep
moving, written quickly through the store's and live state's own batch APIs. Shared by
tests/e2e/test_desk_scale.py and bench/desk_bench.py."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from incidents.command import Actor, CommandService, NewIncident
from incidents.feeds import UnitFix
from incidents.live import LiveState
from incidents.model import Incident, Level, UnitState
from incidents.store import Store
from maps import basemap

KINDS = ("fire", "flood", "traffic_accident", "chemical_leak", "gas_leak")
"""Incident types the crowd's incidents cycle through."""
AGENCIES = (("police", "patrol_car"), ("fire", "fire_engine"), ("health", "ambulance"),
            ("water", None), ("safety", None))
"""(agency, unit type) the crowd's units cycle through."""
CREATE_AT_ONCE = 16
"""Incidents created concurrently while seeding (the store's pool queues the rest)."""


def title(n: int) -> str:
    """The title of the crowd's incident number `n` (unique, so a panel can be matched)."""
    return f"压力测试事件 {n:05d}"


async def open_incidents(service: CommandService, count: int, rng: random.Random,
                         first: int = 0) -> list[Incident]:
    """Open `count` incidents across the city through the command service (journaled and
    told to the live state, as a real report would be)."""
    min_lon, min_lat, max_lon, max_lat = basemap.bounds()
    actor = Actor(name="crowd")
    made: list[Incident] = []
    for start in range(first, first + count, CREATE_AT_ONCE):
        news = [NewIncident(type=KINDS[n % len(KINDS)], title=title(n),
                            level=list(Level)[n % len(Level)],
                            lat=rng.uniform(min_lat + 0.2, max_lat - 0.2),
                            lon=rng.uniform(min_lon + 0.2, max_lon - 0.2))
                for n in range(start, min(first + count, start + CREATE_AT_ONCE))]
        made += await asyncio.gather(*(service.create(new, actor) for new in news))
    return made


def units(count: int, rng: random.Random) -> list[UnitState]:
    """`count` units spread over the city, fixed now."""
    min_lon, min_lat, max_lon, max_lat = basemap.bounds()
    now = datetime.now(UTC)
    return [UnitState(unit=f"u{i:05d}", agency=AGENCIES[i % len(AGENCIES)][0],
                      unit_type=AGENCIES[i % len(AGENCIES)][1],
                      lat=rng.uniform(min_lat, max_lat), lon=rng.uniform(min_lon, max_lon),
                      ts=now, speed=rng.uniform(0, 20), heading=rng.uniform(0, 359))
            for i in range(count)]


def fixes(moved: Sequence[UnitState]) -> list[UnitFix]:
    """The units' latest fixes as ingest writes them to PostgreSQL's `units`."""
    now = datetime.now(UTC)
    return [UnitFix(id=str(uuid.uuid4()), unit=u.unit, agency=u.agency, source="crowd", ts=u.ts,
                    lat=u.lat, lon=u.lon, speed=u.speed, heading=u.heading, accuracy=None,
                    received_at=now, unit_type=u.unit_type) for u in moved]


async def place_units(store: Store, live: LiveState, crowd: Sequence[UnitState]) -> None:
    """Put the units in PostgreSQL (the desk's unit list) and the live state (the map)."""
    for start in range(0, len(crowd), 2000):
        await store.update_units(fixes(crowd[start:start + 2000]))
    await live.apply(crowd, [])


@dataclass
class Moving:
    """What the mover did so far."""

    moves: int = 0
    """Unit fixes written."""
    incidents: int = 0
    """Incidents opened while moving."""


async def keep_moving(store: Store, live: LiveState, crowd: list[UnitState],
                      rng: random.Random, per_second: int, seen: Moving,
                      service: CommandService | None = None, new_incident_s: float = 0.0,
                      first_new: int = 0) -> None:
    """Move `per_second` of the units every second (to PostgreSQL and the live state), in
    turn, until cancelled; with a service, also open an incident every `new_incident_s`."""
    at, tick, next_incident = 0, asyncio.get_running_loop().time(), 0.0
    while True:
        now = datetime.now(UTC)
        batch = [crowd[(at + k) % len(crowd)] for k in range(min(per_second, len(crowd)))]
        moved = [UnitState(unit=u.unit, agency=u.agency, unit_type=u.unit_type,
                           lat=u.lat + rng.uniform(-0.002, 0.002),
                           lon=u.lon + rng.uniform(-0.002, 0.002), ts=now, speed=u.speed,
                           heading=u.heading) for u in batch]
        for k, unit in enumerate(moved):
            crowd[(at + k) % len(crowd)] = unit
        at = (at + len(moved)) % len(crowd)
        await store.update_units(fixes(moved))
        await live.apply(moved, [])
        seen.moves += len(moved)
        if service is not None and new_incident_s > 0 and tick >= next_incident:
            await open_incidents(service, 1, rng, first=first_new + seen.incidents)
            seen.incidents += 1
            next_incident = tick + new_incident_s
        tick += 1.0
        await asyncio.sleep(max(0.0, tick - asyncio.get_running_loop().time()))
