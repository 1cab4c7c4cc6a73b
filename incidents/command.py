"""The command service: what leaders do with incidents — the one copy the API and UI share.

It checks commands against the taxonomy, the plans and the life cycle, lets the store apply
them in one transaction each (journaled with who and from where), and tells the live state.
Spatial questions go to a `Spatial` and a `UnitIndex` chosen at start-up (maps/ implements
them), so this module needs no GIS library.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from incidents import lifecycle
from incidents.bulk import (
    DEFAULT_BULK_MAX,
    BulkResult,
    BulkVerb,
    checked_ids,
    close_resolution,
    each,
)
from incidents.clock import Clock, SystemClock
from incidents.coverage import Cover, cover
from incidents.dispatch import Proposal, propose
from incidents.errors import Conflict, Invalid, LiveUnavailable, NotFound, StoreUnavailable
from incidents.geo import snap_degrees
from incidents.lifecycle import Action, Resolution, severity
from incidents.model import LOCAL_TZ, Availability, Incident, IncidentStatus, Level
from incidents.orders import Order
from incidents.outage import Outage
from incidents.plans import Plan, PlanBook, PlanError, Requirement
from incidents.ports.command import CommandStore
from incidents.ports.live import LiveState
from incidents.spatial import (
    DistrictRef,
    DownwindZone,
    Facility,
    Spatial,
    UnitIndex,
    UnitPoint,
)
from incidents.taxonomy import Taxonomy, TaxonomyError
from incidents.unitstate import LEADER_STATUSES, REPAIRABLE, Finding

log = logging.getLogger(__name__)

_CHUNK = 1000
"""Units re-indexed between two yields to the event loop."""
GAS_RELEASES = frozenset({"chemical_leak", "gas_leak"})
"""Incident types whose decision support includes a downwind hazard zone."""
WIND_RADIUS_M = 30_000
WIND_MAX_AGE = timedelta(hours=3)

# Transactions commit after their now(): re-read this much before the last change seen, so a
# unit written by a transaction that committed late is not missed (re-reading is harmless).
_CHANGE_MARGIN = timedelta(seconds=10)


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who issues a command, and from where (journaled with every change)."""

    name: str
    """User name, token label or process name."""
    client: str | None = None
    """Client address or process."""


class NewIncident(msgspec.Struct, frozen=True, kw_only=True):
    """An incident a person enters (接报)."""

    type: str
    """Incident type code from the taxonomy."""
    level: Level = Level.IV
    """Initial level."""
    title: str
    """Short description."""
    lat: float
    """WGS-84 latitude."""
    lon: float
    """WGS-84 longitude."""
    agency: str = "command"
    """Receiving agency."""
    text: str | None = None
    """What the caller or reporter said."""


class DispatchPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A plan proposal for an incident: the plan, each task's proposed units and the gap."""

    incident: Incident
    """The incident."""
    plan: Plan | None
    """The plan selected for its type and level (None when no plan applies)."""
    proposals: list[Proposal]
    """Per task: the nearest available units of the right kind and how many are missing."""


class DecisionSupport(msgspec.Struct, frozen=True, kw_only=True):
    """What a leader needs to know around an incident."""

    incident: Incident
    """The incident."""
    radius_m: float
    """Radius the figures are for."""
    district: DistrictRef | None
    """Its district (行政区)."""
    facilities: list[Facility]
    """Hospitals, schools, shelters, hazardous sites … within the radius, nearest first."""
    population: int
    """Estimated people within the radius."""
    cameras: list[Facility]
    """Cameras within the radius, nearest first."""
    similar: list[Incident]
    """Earlier incidents of the same type nearby."""
    downwind: DownwindZone | None = None
    """For gas releases: the hazard zone in the latest wind of the nearest weather station."""
    wind: str | None = None
    """Which station's wind the zone uses, and when it was measured (or why there is none)."""
    plan: DispatchPlan
    """The plan and the resource gap (what it needs against what is available)."""


SYSTEM_ACTOR = "sitroom"
"""Who the journal names for what the system does by itself (stale orders)."""


class StateCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The result of checking the invariants."""

    at: datetime
    """When it was checked."""
    findings: list[Finding]
    """What failed; empty when every invariant holds."""


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise Invalid("请说明原因（将记入日志）", "give a reason: it is journaled")
    return text[:500]


class CommandService:
    """Leaders' commands over the store, the live state, the plans and spatial analysis."""

    def __init__(self, store: CommandStore, live: LiveState | None, taxonomy: Taxonomy,
                 plans: PlanBook, spatial: Spatial | None, units: UnitIndex,
                 *, unit_online_s: int = 300, units_max_age_s: float = 0.0,
                 stale_order_s: float = 1800.0, clock: Clock | None = None,
                 bulk_max: int = DEFAULT_BULK_MAX) -> None:
        self._store = store
        self._live = live
        self._taxonomy = taxonomy
        self._plans = plans
        self._spatial = spatial
        self._units = units
        self._own: dict[str, UnitPoint] = {}  # units as they last reported, busy or not
        self._last_seen: dict[str, datetime] = {}
        self._busy: set[str] = set()
        self._watermark: datetime | None = None
        self._refreshed: datetime | None = None
        self._units_max_age_s = units_max_age_s
        self._online = timedelta(seconds=unit_online_s)
        self._clock = clock or SystemClock()
        self._stale_after = timedelta(seconds=stale_order_s)
        self._checked: StateCheck | None = None
        self.bulk_max = bulk_max
        """Incidents per bulk close or merge."""

    # --- incidents ---------------------------------------------------------------------

    async def create(self, new: NewIncident, actor: Actor) -> Incident:
        """Record a reported incident (接报)."""
        self._incident_type(new.type)
        if not new.title.strip():
            raise Invalid("事件标题不能为空", "the title must not be empty")
        now = self._clock.now()
        lat, lon = snap_degrees(new.lat), snap_degrees(new.lon)  # as the store keeps them
        incident = Incident(id=str(uuid.uuid4()), type=new.type, level=new.level,
                            status=IncidentStatus.REPORTED, title=new.title.strip()[:120],
                            lat=lat, lon=lon, reported_at=now, updated_at=now,
                            agency=new.agency)
        district = self._spatial.district_of(lat, lon) if self._spatial else None
        created = await self._store.create(incident, actor.name, actor.client, {
            "text": new.text, "district": district.code if district else None})
        await self._tell_live(created)
        return created

    async def act(self, incident_id: str, action: Action, actor: Actor, *,
                  level: Level | None = None, resolution: Resolution | None = None,
                  reason: str | None = None) -> Incident:
        """Verify, respond, contain, reopen, escalate, de-escalate or close an incident."""
        decide: Callable[[lifecycle.State], lifecycle.Outcome]
        if action in (Action.ESCALATE, Action.DEESCALATE):
            if level is None:
                raise Invalid("调整级别须给出目标级别", f"{action.value} needs the new level")
            wanted = level

            def decide(state: lifecycle.State) -> lifecycle.Outcome:
                outcome = lifecycle.change_level(state, wanted)
                if outcome.action is not action:
                    verb = "升级" if action is Action.ESCALATE else "降级"
                    raise Conflict(f"从 {state.level.value} 级到 {wanted.value} 级不是{verb}",
                                   f"cannot {action.value} from level {state.level.value} to"
                                   f" {wanted.value}: use {outcome.action.value}")
                return outcome
        elif action is Action.CLOSE:
            if resolution is Resolution.MERGED:
                raise Invalid("「已合并」只能通过合并产生：请使用"
                              " POST /api/incidents/{目标事件}/merge",
                              "resolution merged is set by merging, not by closing: use POST"
                              " /api/incidents/{target_id}/merge with the absorbed incident")
            how = resolution or Resolution.RESOLVED

            def decide(state: lifecycle.State) -> lifecycle.Outcome:
                return lifecycle.close(state, how)
        elif action is Action.MERGE:
            raise Invalid("合并请使用 merge", "use merge to merge incidents")
        else:
            def decide(state: lifecycle.State) -> lifecycle.Outcome:
                return lifecycle.advance(state, action)
        extra = {"reason": reason} if reason else {}
        updated = await self._store.transition(incident_id, decide, actor.name, actor.client,
                                               extra)
        await self._tell_live(updated)
        return updated

    async def merge(self, target_id: str, absorbed_id: str, actor: Actor,
                    reason: str | None = None) -> tuple[Incident, Incident]:
        """Merge `absorbed_id` into `target_id` (two reports of one incident)."""
        same = target_id == absorbed_id
        extra = {"reason": reason} if reason else {}

        def decide(target: lifecycle.State, absorbed: lifecycle.State
                   ) -> tuple[lifecycle.Outcome, lifecycle.Outcome]:
            kept, gone = lifecycle.merge(target, absorbed, same=same)
            # The reason rides in both journal events (the store journals outcome data).
            return (msgspec.structs.replace(kept, data={**kept.data, **extra}),
                    msgspec.structs.replace(gone, data={**gone.data, **extra}))

        if same:  # refuse before locking anything
            decide(lifecycle.State(status=IncidentStatus.REPORTED, level=Level.IV),
                   lifecycle.State(status=IncidentStatus.REPORTED, level=Level.IV))
        kept, gone = await self._store.merge(target_id, absorbed_id, decide, actor.name,
                                             actor.client)
        await self._tell_live(kept, gone)
        return kept, gone

    async def close_many(self, incident_ids: Sequence[str], actor: Actor, *, reason: str,
                         resolution: Resolution | None = None) -> BulkResult:
        """Close several incidents (批量结案) with one reason, each as a single close would."""
        ids, why = checked_ids(incident_ids, reason, self.bulk_max)
        how = close_resolution(resolution)

        async def close_one(incident_id: str) -> Incident:
            return await self.act(incident_id, Action.CLOSE, actor, resolution=how, reason=why)
        return await each(BulkVerb.CLOSE, None, ids, close_one)

    async def merge_many(self, target_id: str, incident_ids: Sequence[str], actor: Actor, *,
                         reason: str) -> BulkResult:
        """Merge several incidents into `target_id` (批量合并), each as a single merge would."""
        ids, why = checked_ids(incident_ids, reason, self.bulk_max)
        await self._store.incident(target_id)  # a missing target refuses the whole command

        async def merge_one(incident_id: str) -> tuple[Incident, Incident]:
            return await self.merge(target_id, incident_id, actor, why)
        return await each(BulkVerb.MERGE, target_id, ids, merge_one)

    async def note(self, incident_id: str, text: str, actor: Actor) -> None:
        """Add a note to the incident's journal."""
        if not text.strip():
            raise Invalid("备注不能为空", "the note must not be empty")
        await self._store.note(incident_id, text.strip(), actor.name, actor.client)

    async def record(self, incident_id: str, action: str, data: dict[str, Any],
                     actor: Actor) -> None:
        """Journal something done around the incident that changes none of its state
        (a conference opened, a report issued)."""
        await self._store.note_event(incident_id, actor.name, action, data, actor.client)

    async def incident(self, incident_id: str) -> Incident:
        """One incident, or NotFound."""
        return await self._store.incident(incident_id)

    async def incidents(self, *, status: Sequence[IncidentStatus] | None = None,
                        levels: Sequence[Level] | None = None,
                        types: Sequence[str] | None = None, since: datetime | None = None,
                        limit: int = 200) -> list[Incident]:
        """Incidents matching the filters, most recent first."""
        return await self._store.list_incidents(status=status, levels=levels, types=types,
                                                since=since, limit=limit)

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        """The incident's journal, oldest first."""
        return await self._store.timeline(incident_id)

    # --- dispatch ----------------------------------------------------------------------

    async def propose(self, incident_id: str, plan_id: str | None = None) -> DispatchPlan:
        """The plan for the incident's type and level, with units proposed for each task."""
        incident = await self._store.incident(incident_id)
        plan = self._plan(incident, plan_id)
        if plan is None:
            return DispatchPlan(incident=incident, plan=None, proposals=[])
        await self.refresh_units(self._units_max_age_s)
        proposals = propose(plan.requirements(incident.level), self._units, incident.lat,
                            incident.lon)
        return DispatchPlan(incident=incident, plan=plan, proposals=proposals)

    async def dispatch(self, incident_id: str, actor: Actor, *, plan_id: str | None = None,
                       assignments: Sequence[tuple[str, str]] | None = None,
                       busy_ok: Collection[str] = (), reason: str | None = None
                       ) -> list[Order]:
        """Dispatch the plan: `assignments` (task id, unit) as the leader confirmed or edited
        them, or the proposal as it stands when None. The incident moves to responding.

        Units in `busy_ok` may be sent although they hold an open order (picked on purpose);
        that needs a `reason`, journaled with the dispatch."""
        why = _override_reason(busy_ok, reason)
        incident = await self._store.incident(incident_id)
        plan = self._plan(incident, plan_id)
        if plan is None:
            raise NotFound(f"没有适用于「{incident.type}」{incident.level.value} 级的预案",
                           f"no plan applies to {incident.type} at level"
                           f" {incident.level.value}")
        respond = None
        if incident.status is IncidentStatus.VERIFIED:
            def respond(state: lifecycle.State) -> lifecycle.Outcome:
                return lifecycle.advance(state, Action.RESPOND)
        elif incident.status not in (IncidentStatus.RESPONDING, IncidentStatus.CONTAINED):
            raise lifecycle.IllegalTransition(
                "事件须先核实才能调派预案",
                f"an incident that is {incident.status.value} must be verified before a plan"
                " is dispatched")
        requirements = {r.task_id: r for r in plan.requirements(incident.level)}
        pairs: list[tuple[Requirement, str]]
        if assignments is None:
            proposal = await self.propose(incident_id, plan.id)
            pairs = [(p.requirement, near.unit.unit) for p in proposal.proposals
                     for near in p.units]
        else:
            unknown = sorted({task for task, _ in assignments if task not in requirements})
            if unknown:
                raise Invalid(f"预案 {plan.id} 中没有任务 {', '.join(unknown)}",
                              f"plan {plan.id} has no task {', '.join(unknown)}")
            pairs = [(requirements[task], unit) for task, unit in assignments]
        if not pairs:
            raise Conflict("附近没有可调派的单位", "no available unit to dispatch")
        orders = await self._store.dispatch(incident_id, (plan.id, plan.version),
                                            incident.level, pairs, actor.name, actor.client,
                                            self._clock.now(), respond,
                                            busy_ok=frozenset(busy_ok), reason=why)
        if respond is not None:
            await self._tell_live(await self._store.incident(incident_id))
        return orders

    async def orders(self, incident_id: str) -> list[Order]:
        """Every order of the incident, oldest first."""
        await self._store.incident(incident_id)
        return await self._store.orders(incident_id)

    def requirements(self, incident: Incident) -> tuple[str | None, list[Requirement]]:
        """The plan for the incident's type and level (None when none applies) and its tasks
        at that level."""
        plan = self._plans.select(incident.type, incident.level)
        return (plan.id, plan.requirements(incident.level)) if plan else (None, [])

    async def coverage(self, incident_id: str) -> Cover:
        """Needed / sent / confirmed / short per task of the incident's plan, and overall."""
        incident = await self._store.incident(incident_id)
        plan_id, requirements = self.requirements(incident)
        return cover(requirements, await self._store.orders(incident_id), plan_id)

    async def reassign(self, order_id: str, actor: Actor, unit: str | None = None, *,
                       busy_ok: Collection[str] = (), reason: str | None = None) -> Order:
        """Give an order's task to another unit: `unit`, or the nearest available of its kind.
        A `unit` in `busy_ok` may already hold an open order; that needs a `reason`."""
        why = _override_reason(busy_ok, reason)
        if unit is None:
            unit = await self._next_unit(order_id)
        return await self._store.reassign(order_id, unit, actor.name, actor.client,
                                          self._clock.now(), busy_ok=frozenset(busy_ok),
                                          reason=why)

    async def _next_unit(self, order_id: str) -> str:
        order = await self._store.order(order_id)
        incident = await self._store.incident(order.incident_id)
        kind = await self._store.unit_kind(order.unit)
        await self.refresh_units(self._units_max_age_s)
        found = self._units.nearest(incident.lat, incident.lon, agency=order.agency,
                                    unit_kind=kind, k=1)
        if not found:
            raise Conflict(f"附近没有可改派的 {order.agency} 单位",
                           f"no available {order.agency} unit to reassign the order to")
        return found[0].unit.unit

    async def refresh_units(self, max_age_s: float = 0.0) -> None:
        """Bring the unit index up to date.

        Positions are re-read when older than `max_age_s` (a background task keeps them fresh
        on a busy dashboard), and then only units whose row changed; who is busy on an order
        is re-read every time, since a proposal must not offer a unit just dispatched.
        """
        now = self._clock.now()
        if self._refreshed is None or (now - self._refreshed).total_seconds() >= max_age_s:
            await self._refresh_positions(now)
        busy = await self._store.busy_units()
        flipped, self._busy = busy ^ self._busy, busy
        self._reindex(flipped)

    async def keep_units_fresh(self, every_s: float = 1.0) -> None:
        """Refresh unit positions forever (run as a task next to the request handlers); an
        outage of PostgreSQL pauses it, logged once, and it resumes when the server is back."""
        outage = Outage("unit index", log, "proposals use the positions last read",
                        cap_s=5.0)
        while True:
            try:
                await self._refresh_positions(self._clock.now())
            except StoreUnavailable as exc:
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            await asyncio.sleep(every_s)

    async def _refresh_positions(self, now: datetime) -> None:
        online_since = now - self._online
        since = self._watermark - _CHANGE_MARGIN if self._watermark else None
        changes = await self._store.unit_changes(online_since, since)
        self._watermark = changes.watermark or self._watermark
        self._refreshed = now
        for start in range(0, len(changes.points), _CHUNK):
            chunk = changes.points[start:start + _CHUNK]
            for point in chunk:
                self._own[point.unit] = point
            self._reindex({p.unit for p in chunk})
            await asyncio.sleep(0)  # a proposal waiting on the loop goes between chunks
        self._last_seen.update(changes.last_seen)
        gone = {u for u, seen in self._last_seen.items() if seen < online_since}
        for unit in gone:
            del self._last_seen[unit], self._own[unit]
        self._units.remove(gone)

    def _reindex(self, units: set[str]) -> None:
        self._units.update(
            msgspec.structs.replace(own, available=own.available and unit not in self._busy)
            for unit in units if (own := self._own.get(unit)) is not None)

    # --- unit states ------------------------------------------------------------------

    async def release_unit(self, unit: str, actor: Actor, reason: str) -> list[str]:
        """Release a unit from its order (an order stage or unknown becomes available; out of
        service / off duty stay), with a reason; returns the cancelled order ids."""
        cancelled = await self._store.release_unit(unit, None, actor.name, actor.client,
                                                   _reason(reason), self._clock.now())
        await self.refresh_units()  # the leader picks the unit next: offer it now
        return cancelled

    async def set_unit_status(self, unit: str, status: Availability, actor: Actor,
                              reason: str) -> list[str]:
        """Set a unit available, out of service or off duty, with a reason; its open order is
        cancelled. Returns the cancelled order ids."""
        if status not in LEADER_STATUSES:
            allowed = ", ".join(sorted(a.value for a in LEADER_STATUSES))
            raise Invalid(f"只能将单位设为：{allowed}（其余状态来自单位的反馈）",
                          f"a unit can only be set to {allowed}; the other states come from"
                          " the unit's own acks")
        cancelled = await self._store.release_unit(unit, status, actor.name, actor.client,
                                                   _reason(reason), self._clock.now())
        await self.refresh_units()
        return cancelled

    async def unit_events(self, unit: str) -> list[dict[str, Any]]:
        """What leaders did to a unit, oldest first."""
        return await self._store.unit_events(unit)

    async def flag_stale(self) -> list[str]:
        """Flag orders without progress for `dispatch.stale_order_s`; returns the ids."""
        return await self._store.flag_stale(self._clock.now(), self._stale_after,
                                            SYSTEM_ACTOR)

    async def check(self) -> StateCheck:
        """Check the invariants now (and remember the result for `last_check`)."""
        findings = await self._store.check()
        self._checked = StateCheck(at=self._clock.now(), findings=findings)
        return self._checked

    def last_check(self) -> StateCheck | None:
        """The result of the latest check; None before the first."""
        return self._checked

    async def repair(self, actor: Actor) -> list[Finding]:
        """Release the unit of every repairable finding (journaled); returns what was fixed."""
        fixed = []
        for finding in (await self.check()).findings:
            if finding.check in REPAIRABLE:
                await self.release_unit(finding.subject, actor,
                                        f"sitroom check --repair: {finding.check.value}"
                                        f" ({finding.detail})")
                fixed.append(finding)
        await self.check()
        return fixed

    async def watch_states(self, every_s: float) -> None:
        """Flag stale orders and check the invariants forever (a task beside the request
        handlers); an outage of PostgreSQL pauses it, logged once."""
        outage = Outage("state check", log, "the desk shows the last check", cap_s=30.0)
        while True:
            try:
                await self.flag_stale()
                await self.check()
            except StoreUnavailable as exc:
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            await asyncio.sleep(every_s)

    # --- decision support --------------------------------------------------------------

    async def decision_support(self, incident_id: str, radius_m: float = 3000
                               ) -> DecisionSupport:
        """District, facilities, population, cameras, similar incidents and the resource gap."""
        if not 0 < radius_m <= 50_000:
            raise Invalid("半径须在 0 到 50 公里之间", "radius_m must be in (0, 50000]")
        plan = await self.propose(incident_id)
        incident = plan.incident
        spatial = self._spatial
        facilities = (spatial.facilities_near(incident.lat, incident.lon, radius_m)
                      if spatial else [])
        similar = await self._store.similar(incident, radius_m=5000, days=365, limit=10)
        downwind, wind = await self._downwind(incident)
        return DecisionSupport(
            incident=incident, radius_m=radius_m,
            district=spatial.district_of(incident.lat, incident.lon) if spatial else None,
            facilities=[f for f in facilities if f.kind != "camera"],
            population=(spatial.population_within(incident.lat, incident.lon, radius_m)
                        if spatial else 0),
            cameras=[f for f in facilities if f.kind == "camera"],
            similar=similar, plan=plan, downwind=downwind, wind=wind)

    async def _downwind(self, incident: Incident) -> tuple[DownwindZone | None, str | None]:
        if incident.type not in GAS_RELEASES or self._spatial is None:
            return None, None
        now = self._clock.now()
        found = await self._store.latest_wind(incident.lat, incident.lon, WIND_RADIUS_M,
                                              now - WIND_MAX_AGE)
        if found is None:
            return None, (f"no wind observation within {WIND_RADIUS_M / 1000:g} km in the last"
                          f" {WIND_MAX_AGE.total_seconds() / 3600:g} h")
        from_deg, speed, sensor, ts = found
        local_hour = now.astimezone(LOCAL_TZ).hour
        zone = self._spatial.downwind_zone(
            incident.lat, incident.lon, wind_from_deg=from_deg, wind_speed_ms=speed,
            large=severity(incident.level) >= severity(Level.II),
            night=local_hour >= 19 or local_hour < 7)
        return zone, f"{sensor} {ts.astimezone(LOCAL_TZ):%H:%M}"

    # --- helpers -----------------------------------------------------------------------

    def _incident_type(self, code: str) -> None:
        try:
            self._taxonomy.incident_type(code)
        except TaxonomyError as exc:
            raise Invalid(f"未知的事件类型「{code}」", str(exc)) from exc

    def _plan(self, incident: Incident, plan_id: str | None) -> Plan | None:
        if plan_id is None:
            return self._plans.select(incident.type, incident.level)
        try:
            plan = self._plans.get(plan_id)
        except PlanError as exc:
            raise NotFound(f"预案 {plan_id} 不存在", str(exc)) from exc
        if incident.level not in plan.levels:
            raise Invalid(f"预案 {plan.id} 不适用于 {incident.level.value} 级事件",
                          f"plan {plan.id} does not apply at level {incident.level.value}")
        return plan

    async def _tell_live(self, *incidents: Incident) -> None:
        if self._live is None:
            return
        try:
            await self._live.apply([], incidents)
        except LiveUnavailable as exc:
            # The change is committed; the live state is rebuilt from PostgreSQL when Redis
            # is back (ingest watches its epoch), so the map catches up by itself.
            log.warning("incident change committed but not yet live: %s", exc)


def _override_reason(busy_ok: Collection[str], reason: str | None) -> str | None:
    """The reason for sending busy units, refused when some are named without one."""
    why = (reason or "").strip() or None
    if busy_ok and why is None:
        raise Invalid("选用正在执行任务的单位须填写原因",
                      "sending a unit that holds an open order (busy_ok) needs a reason:"
                      " say why it is picked on purpose")
    return why
