"""A command service on the in-memory store and live state, driven by a manual clock: what
the service's unit tests run on (the twins pass the PostgreSQL/Redis contract suites)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from incidents.clock import ManualClock
from incidents.command import Actor, CommandService, NewIncident
from incidents.lifecycle import Action
from incidents.memory.command import MemoryCommandStore
from incidents.memory.live import MemoryLiveState
from incidents.model import Incident, Level
from incidents.plans import load_plans
from incidents.taxonomy import load_taxonomy
from maps.analysis.geodesy import haversine_m
from maps.analysis.units import GridUnitIndex

LEADER = Actor(name="leader-li", client="10.0.0.9")
FIRE = (37.06, 114.49)
M_PER_DEG = 111_195.0  # one degree of latitude on the mean sphere, metres
ONLINE_S = 300
"""How long a unit counts as online after its last fix."""


@dataclass
class Desk:
    """The service and the twins under it, with the clock they share."""

    service: CommandService
    store: MemoryCommandStore
    live: MemoryLiveState
    clock: ManualClock

    def fix(self, unit: str, kind: str, north_m: float, agency: str = "fire") -> None:
        """A fix of `unit` `north_m` metres north of the fire, now."""
        self.store.record_fix(unit, agency, FIRE[0] + north_m / M_PER_DEG, FIRE[1],
                              self.clock.now(), kind)

    async def fire(self, level: Level = Level.IV, verify: bool = True) -> Incident:
        """A building fire at FIRE, verified unless told otherwise."""
        created = await self.service.create(NewIncident(
            type="fire", level=level, title="居民楼起火", lat=FIRE[0], lon=FIRE[1]), LEADER)
        if not verify:
            return created
        return await self.service.act(created.id, Action.VERIFY, LEADER)


def desk(units_max_age_s: float = 0.0) -> Desk:
    """A fresh desk on the shipped taxonomy and plans, at a fixed start time; proposals
    re-read unit positions older than `units_max_age_s` (0: every time)."""
    clock = ManualClock(datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
    store, live = MemoryCommandStore(haversine_m, clock), MemoryLiveState(clock)
    taxonomy = load_taxonomy()
    service = CommandService(store, live, taxonomy, load_plans(taxonomy), None,
                             GridUnitIndex(), unit_online_s=ONLINE_S,
                             units_max_age_s=units_max_age_s, clock=clock)
    return Desk(service=service, store=store, live=live, clock=clock)
