"""What the desk, analytics and replay pages read and do, through the bridge's event loop.

Commands go to the dashboard's one CommandService (shared with the command API, see
command_wiring.SharedCommands) with the signed-in user as the journal's actor; the picture at a
time comes from incidents.store.replay; live units from the Redis live state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from config.settings import Settings
from dashboard.command_wiring import Commands
from dashboard.portal import AsyncBridge
from incidents.bulk import BulkResult
from incidents.command import (
    Actor,
    CommandService,
    DecisionSupport,
    DispatchPlan,
    StateCheck,
)
from incidents.history import AlarmSeen, AttachedReport, IncidentAt
from incidents.lifecycle import Action, Resolution
from incidents.model import Availability, Incident, IncidentStatus, Level, UnitState
from incidents.orders import Order
from incidents.spatial import DistrictRef, UnitPoint
from incidents.store.replay import ReplayStore
from maps.analysis.districts import district_ref
from maps.basemap import DistrictIndex

ALARM_WINDOW = timedelta(hours=24)
"""How far back the alarm list looks."""
UNITS_WINDOW = timedelta(hours=24)
"""Units not seen for this long leave the unit list."""


@dataclass(frozen=True, slots=True)
class PanelData:
    """Everything the incident panel shows but decision support."""

    incident: Incident
    """The incident now."""
    timeline: list[dict[str, Any]]
    """Its journal, oldest first."""
    orders: list[Order]
    """Its dispatch orders, oldest first."""
    reports: list[AttachedReport]
    """Reports linked to it."""


class Districts:
    """The city's districts by point (the basemap's polygons, indexed once)."""

    def __init__(self, index: DistrictIndex | None = None) -> None:
        self._index = index or DistrictIndex.from_package()

    def names(self, zh: bool) -> dict[str, str]:
        """District code → name, in file order."""
        return {d.code: d.name if zh else d.name_en for d in self._index.districts}

    def of(self, lat: float, lon: float) -> DistrictRef | None:
        """The district of a point, or None outside the city."""
        found = self._index.district_of(lon, lat)
        return district_ref(found) if found else None

    def codes(self, incidents: Sequence[Incident]) -> dict[str, str | None]:
        """Incident id → district code (None outside the city), for many at once."""
        return self.codes_of([(i.id, i.lat, i.lon) for i in incidents])

    def codes_of(self, points: Sequence[tuple[str, float, float]]) -> dict[str, str | None]:
        """Key → district code (None outside the city) of (key, lat, lon) points."""
        if not points:
            return {}
        codes = self._index.districts_of([p[2] for p in points], [p[1] for p in points])
        return {p[0]: code for p, code in zip(points, codes, strict=True)}


class DeskData:
    """Reads and commands of the desk's pages, each one call on the bridge's loop."""

    def __init__(self, bridge: AsyncBridge, commands: Callable[[AsyncBridge], Commands],
                 settings: Settings, districts: Districts) -> None:
        self._bridge = bridge
        self._commands = commands
        self.online_s = settings.unit_online_s
        """Seconds a unit's fix counts as current."""
        self.dispatch_rules = settings.dispatch
        """When the dispatch dialog marks a unit far."""
        self.districts = districts
        """District lookups."""
        self.max_incidents = settings.desk.max_incidents
        """Most incidents the incident list reads."""
        self._max_alarms = settings.desk.max_alarms

    @property
    def service(self) -> CommandService:
        """The shared command service (built on first use)."""
        return self._commands(self._bridge).service

    async def _replay(self) -> ReplayStore:
        return ReplayStore((await self._bridge.store()).pool)

    # --- reads ------------------------------------------------------------------------------

    def incidents(self, statuses: Sequence[IncidentStatus] | None, since: datetime | None,
                  limit: int = 300) -> list[Incident]:
        """Incidents of these statuses reported since then, most recent first."""
        service = self.service

        async def read() -> list[Incident]:
            return await service.incidents(status=statuses or None, since=since, limit=limit)
        return self._bridge.call(read)

    def panel(self, incident_id: str) -> PanelData:
        """The incident with its journal, orders and reports, read concurrently."""
        service = self.service

        async def read() -> PanelData:
            replay = await self._replay()
            incident, timeline, orders, reports = await asyncio.gather(
                service.incident(incident_id), service.timeline(incident_id),
                service.orders(incident_id), replay.reports_of(incident_id))
            return PanelData(incident=incident, timeline=timeline, orders=orders,
                             reports=reports)
        return self._bridge.call(read)

    def incident(self, incident_id: str) -> Incident:
        """One incident, or NotFound."""
        return self._bridge.call(self.service.incident, incident_id)

    def support(self, incident_id: str, radius_m: float = 3000
                ) -> tuple[DecisionSupport, list[Order]]:
        """Decision support (district, facilities, population, cameras, similar incidents, the
        plan's proposal) and the orders already issued, read concurrently."""
        service = self.service

        async def read() -> tuple[DecisionSupport, list[Order]]:
            support, orders = await asyncio.gather(
                service.decision_support(incident_id, radius_m), service.orders(incident_id))
            return support, orders
        return self._bridge.call(read)

    def proposal(self, incident_id: str) -> tuple[DispatchPlan, list[UnitPoint], set[str]]:
        """The plan's proposal, every online unit that could replace a proposed one, and the
        units holding an open order (offered too, marked busy)."""
        service = self.service
        online = self.online_s

        async def read() -> tuple[DispatchPlan, list[UnitPoint], set[str]]:
            plan = await service.propose(incident_id)
            store = await self._bridge.store()
            since = datetime.now().astimezone() - timedelta(seconds=online)
            points, busy = await asyncio.gather(store.commands.unit_points(since),
                                                store.commands.busy_units())
            return plan, points, busy
        return self._bridge.call(read)

    def units(self, now: datetime) -> tuple[list[UnitState], set[str]]:
        """Units seen in the last day (from PostgreSQL, the truth, so offline ones show too),
        and the units holding an open order."""
        async def read() -> tuple[list[UnitState], set[str]]:
            store = await self._bridge.store()
            units, busy = await asyncio.gather(store.units(now - UNITS_WINDOW),
                                               store.commands.busy_units())
            return units, busy
        return self._bridge.call(read)

    def alarms(self, now: datetime, agency: str | None) -> list[AlarmSeen]:
        """Alarms of the last day, newest first, of one agency if given."""
        async def read() -> list[AlarmSeen]:
            return await (await self._replay()).alarms(now, now - ALARM_WINDOW, agency,
                                                       limit=self._max_alarms)
        return self._bridge.call(read)

    def picture(self, at: datetime, window: timedelta) -> tuple[list[UnitState],
                                                                list[IncidentAt]]:
        """Units and incidents as they stood at `at` (closed ones reported in the window)."""
        online = self.online_s

        async def read() -> tuple[list[UnitState], list[IncidentAt]]:
            replay = await self._replay()
            units, incidents = await asyncio.gather(replay.units_at(at, online),
                                                    replay.incidents_at(at, window))
            return units, incidents
        return self._bridge.call(read)

    def response_rows(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Incidents reported in [start, end) with when they were verified and first reached."""
        async def read() -> list[dict[str, Any]]:
            return await (await self._bridge.store()).commands.daily_rows(start, end)
        return self._bridge.call(read)

    # --- commands -----------------------------------------------------------------------------

    def act(self, incident_id: str, action: Action, actor: Actor, *, level: Level | None = None,
            resolution: Resolution | None = None, reason: str | None = None) -> Incident:
        """A life-cycle command (verify, escalate, contain, close …), journaled as `actor`."""
        service = self.service

        async def run() -> Incident:
            return await service.act(incident_id, action, actor, level=level,
                                     resolution=resolution, reason=reason)
        return self._bridge.call(run)

    def close_many(self, incident_ids: Sequence[str], actor: Actor, reason: str,
                   resolution: Resolution) -> BulkResult:
        """Close several incidents with one reason (each journaled as `actor`)."""
        service = self.service

        async def run() -> BulkResult:
            return await service.close_many(incident_ids, actor, reason=reason,
                                            resolution=resolution)
        return self._bridge.call(run)

    def merge_many(self, target_id: str, incident_ids: Sequence[str], actor: Actor,
                   reason: str) -> BulkResult:
        """Merge several incidents into `target_id` with one reason."""
        service = self.service

        async def run() -> BulkResult:
            return await service.merge_many(target_id, incident_ids, actor, reason=reason)
        return self._bridge.call(run)

    def note(self, incident_id: str, text: str, actor: Actor) -> None:
        """A note in the incident's journal."""
        self._bridge.call(self.service.note, incident_id, text, actor)

    def dispatch(self, incident_id: str, plan_id: str, assignments: Sequence[tuple[str, str]],
                 actor: Actor, busy_ok: Sequence[str] = (), reason: str | None = None
                 ) -> list[Order]:
        """Dispatch the plan with the units the leader confirmed (`busy_ok`: units holding an
        open order, sent on purpose for `reason`)."""
        service = self.service

        async def run() -> list[Order]:
            return await service.dispatch(incident_id, actor, plan_id=plan_id,
                                          assignments=list(assignments), busy_ok=busy_ok,
                                          reason=reason)
        return self._bridge.call(run)

    def reassign(self, order_id: str, actor: Actor) -> Order:
        """Give an order's task to the nearest available unit of its kind."""
        service = self.service

        async def run() -> Order:
            return await service.reassign(order_id, actor)
        return self._bridge.call(run)

    # --- units (desk_units.py) --------------------------------------------------------------

    def set_unit(self, unit: str, status: Availability | None, reason: str,
                 actor: Actor) -> list[str]:
        """Release a unit (status None) or set its status, with a reason; cancelled orders."""
        service = self.service

        async def run() -> list[str]:
            if status is None:
                return await service.release_unit(unit, actor, reason)
            return await service.set_unit_status(unit, status, actor, reason)
        return self._bridge.call(run)

    def last_check(self) -> StateCheck | None:
        """The dashboard's latest check of the invariants (run by its state watch)."""
        return self.service.last_check()
