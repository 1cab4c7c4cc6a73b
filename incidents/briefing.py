"""Briefings for the chain of command: the situation report (续报/终报) of an incident, the
CAP alert issued from it, and the daily summary — gathered from the store, rendered by
incidents.reports. Generating a report is journaled as issued, with its number."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from incidents.cap import BoundingBox, CapAlert, CapCircle, CapMsgType, CapReference
from incidents.clock import Clock, SystemClock
from incidents.command import CommandService
from incidents.dispatch import OrderState
from incidents.lang import Bilingual, pick
from incidents.model import Incident, IncidentStatus, Level
from incidents.orders import Order
from incidents.ports.command import CommandStore
from incidents.reports.cap_issue import CapTexts, CapTypeInfo, cap_from_incident
from incidents.reports.daily import DailySummary, summarize
from incidents.reports.model import (
    AgencyResources,
    DailyIncidentRow,
    DecisionSupport,
    FacilityCount,
    Lang,
    LocalText,
    MapDistrict,
    MapInput,
    MapPoint,
    OrderRow,
    PointKind,
    ReportKind,
    SitrepInput,
    TaskRow,
    TimelineEntry,
)
from incidents.reports.model import OrderState as ShownState
from incidents.reports.texts import action_name
from incidents.spatial import Spatial
from incidents.taxonomy import Taxonomy

ISSUER = LocalText(zh="邢台市应急指挥中心", en="Xingtai Emergency Command Centre")
MAP_MARGIN_DEG = 0.05
SITREP_ACTION = "sitrep"


def _local(text: Any) -> LocalText:
    return LocalText(zh=text.zh, en=text.en)


_CANCEL_REASONS: dict[str, Bilingual] = {
    "incident_closed": ("事件已结案", "incident closed"),
    "unit_reported_available": ("单位自报待命", "the unit reported available"),
}
"""Words for the reason codes the system journals when it cancels orders (a leader's reason
is free text and shown as written)."""


def describe(event: dict[str, Any], lang: Lang) -> str:
    """A journal event in one line for people (the report's timeline)."""
    data: dict[str, Any] = event["data"]
    name = action_name(event["action"], lang)
    zh = lang is Lang.ZH
    match event["action"]:
        case "reported":
            detail = data.get("text") or data.get("title") or data.get("note_zh") or ""
        case "escalate" | "deescalate" | "merge":
            detail = f"{data.get('from_level')} → {data.get('to_level')}"
        case "dispatch":
            detail = (f"{len(data.get('orders', []))} 条指令" if zh
                      else f"{len(data.get('orders', []))} orders")
        case "order_ack":
            detail = f"{data.get('unit')}: {data.get('state')}"
        case "order_overdue":
            detail = (f"{data.get('unit')} 超时未确认，已重发" if zh
                      else f"{data.get('unit')} did not acknowledge in time; re-sent")
        case "reassign":
            detail = f"{data.get('from_unit')} → {data.get('unit')}"
        case "orders_cancelled":
            units = ", ".join(str(o.get("unit")) for o in data.get("orders", []))
            why = _CANCEL_REASONS.get(str(data.get("reason", "")).partition(":")[0])
            reason = pick(why, lang) if why else str(data.get("reason", ""))
            detail = f"{units}（{reason}）" if zh else f"{units} ({reason})"
        case "order_stale":
            detail = (f"{data.get('unit')}，已 {data.get('minutes')} 分钟" if zh
                      else f"{data.get('unit')}, {data.get('minutes')} min")
        case "note":
            detail = str(data.get("text", ""))
        case _:
            detail = str(data.get("reason") or data.get("resolution") or "")
    if data.get("busy_override"):  # busy units sent on purpose (decision 72)
        units = ", ".join(data["busy_override"])
        detail += (f"；选用执行任务中的 {units}（{data.get('reason')}）" if zh
                   else f"; sent while on an order: {units} ({data.get('reason')})")
    return f"{name}：{detail}" if detail and zh else f"{name}: {detail}" if detail else name


class Briefing:
    """Builds report inputs from the store and the command service."""

    def __init__(self, service: CommandService, store: CommandStore, taxonomy: Taxonomy,
                 districts: Sequence[MapDistrict], spatial: Spatial | None, *,
                 issuer: LocalText = ISSUER,
                 clock: Clock | None = None) -> None:
        self._service = service
        self._store = store
        self._taxonomy = taxonomy
        self._districts = tuple(districts)
        self._spatial = spatial
        self._issuer = issuer
        self._clock = clock or SystemClock()

    async def sitrep(self, incident_id: str, lang: Lang, *, issue_as: str | None = None
                     ) -> SitrepInput:
        """The situation report of the incident now; journaled as issued when `issue_as`."""
        incident = await self._service.incident(incident_id)
        timeline = await self._service.timeline(incident_id)
        orders = await self._service.orders(incident_id)
        support = await self._service.decision_support(incident_id)
        issued = sum(1 for e in timeline if e["action"] == SITREP_ACTION)
        kind = (ReportKind.FINAL if incident.status is IncidentStatus.CLOSED
                else ReportKind.PROGRESS)
        if issue_as is not None:
            await self._store.note_event(incident_id, issue_as, SITREP_ACTION,
                                         {"kind": kind.value, "sequence": issued + 1,
                                          "language": lang.value})
        district = support.district
        return SitrepInput(
            kind=kind, sequence=issued + 1, language=lang, generated_at=self._clock.now(),
            issuer=self._issuer, incident=incident,
            incident_type=_local(self._taxonomy.type_name(incident.type)),
            district=(LocalText(zh=district.name_zh, en=district.name_en) if district
                      else LocalText(zh="市外", en="Outside the city")),
            map=self._map(incident, support.radius_m),
            timeline=tuple(TimelineEntry(at=e["at"], actor=e["actor"], action=e["action"],
                                         summary=describe(e, lang)) for e in timeline
                           if e["action"] != SITREP_ACTION),
            orders=tuple(_order_row(o, lang) for o in orders),
            tasks=_tasks(support.plan.proposals, orders, lang),
            resources=_resources(orders),
            decision=DecisionSupport(
                radius_m=support.radius_m, population=support.population,
                facilities=tuple(FacilityCount(kind=k, count=n) for k, n in sorted(
                    Counter(f.kind for f in support.facilities).items()))),
            agency_names={code: _local(t) for code, t in self._taxonomy.agencies.items()},
        )

    async def cap(self, incident_id: str, *, sender: str, msg_type: CapMsgType,
                  references: tuple[CapReference, ...] = (), radius_km: float = 3.0
                  ) -> CapAlert:
        """A CAP 1.2 alert about the incident (zh-CN and en-US info blocks)."""
        incident = await self._service.incident(incident_id)
        kind = self._taxonomy.incident_type(incident.type)
        now = self._clock.now()
        name = _local(kind.name)
        return cap_from_incident(
            incident, type_info=CapTypeInfo(categories=(kind.cap_category,),
                                            event=_local(kind.cap_event)),
            sender=sender, sent_at=now,
            identifier=f"sitroom-{incident.id}-{int(now.timestamp())}",
            area=CapCircle(lat=incident.lat, lon=incident.lon, radius_km=radius_km),
            area_name=LocalText(zh=f"{incident.title}周边{radius_km:g}公里",
                                en=f"{radius_km:g} km around the incident"),
            texts=CapTexts(
                headline=LocalText(zh=f"{name.zh}（{incident.level.label_zh}）",
                                   en=f"{name.en} (level {incident.level.value})"),
                description=LocalText(zh=incident.title, en=f"{name.en}: {incident.title}"),
                instruction=LocalText(zh="请远离事发区域，听从现场指挥。",
                                      en="Keep away from the area and follow the"
                                         " instructions of responders on site.")),
            msg_type=msg_type, references=references, sender_name=self._issuer)

    async def daily(self, day: date, tz: Any = UTC) -> DailySummary:
        """The figures of one day (incidents reported that day, in `tz`)."""
        start = datetime.combine(day, time(), tzinfo=tz)
        rows = await self._store.daily_rows(start, start + timedelta(days=1))
        return summarize(day, [DailyIncidentRow(
            id=r["id"], type=r["type"],
            type_name=_local(self._taxonomy.type_name(r["type"])),
            level=Level(r["level"]), district=self._district(r["lat"], r["lon"]),
            status=IncidentStatus(r["status"]),
            reported_at=r["reported_at"], verified_at=r["verified_at"],
            first_on_scene_at=r["first_on_scene_at"]) for r in rows])

    def _district(self, lat: float, lon: float) -> LocalText | None:
        found = self._spatial.district_of(lat, lon) if self._spatial else None
        return LocalText(zh=found.name_zh, en=found.name_en) if found else None

    def _map(self, incident: Incident, radius_m: float) -> MapInput:
        points = [MapPoint(kind=PointKind.INCIDENT, lat=incident.lat, lon=incident.lon,
                           label=incident.title[:20], level=incident.level)]
        m = MAP_MARGIN_DEG
        return MapInput(bbox=BoundingBox(south=incident.lat - m, west=incident.lon - m * 1.3,
                                         north=incident.lat + m, east=incident.lon + m * 1.3),
                        districts=self._districts, points=tuple(points), radius_m=radius_m)


_SHOWN = {OrderState.ISSUED: ShownState.ISSUED, OrderState.ACKNOWLEDGED: ShownState.ACKNOWLEDGED,
          OrderState.EN_ROUTE: ShownState.EN_ROUTE, OrderState.ON_SCENE: ShownState.ON_SCENE,
          OrderState.DONE: ShownState.DONE}


def _order_row(order: Order, lang: Lang) -> OrderRow:
    shown = (ShownState.ESCALATED if order.escalated_at and order.state is OrderState.ISSUED
             else _SHOWN.get(order.state, ShownState.DONE))
    return OrderRow(order_id=order.id, unit=order.unit, agency=order.agency,
                    task=order.task["name"][lang.value], state=shown, issued_at=order.issued_at,
                    changed_at=order.updated_at)


def _tasks(proposals: Sequence[Any], orders: Sequence[Order], lang: Lang
           ) -> tuple[TaskRow, ...]:
    live = [o for o in orders if o.state not in (OrderState.CANCELLED, OrderState.REJECTED)]
    assigned = Counter(o.task_id for o in live)
    done = Counter(o.task_id for o in live if o.state is OrderState.DONE)
    return tuple(TaskRow(task=p.requirement.name.get(lang.value), agency=p.requirement.agency,
                         required=p.requirement.count, assigned=assigned[p.requirement.task_id],
                         done=done[p.requirement.task_id]) for p in proposals)


def _resources(orders: Sequence[Order]) -> tuple[AgencyResources, ...]:
    live = [o for o in orders if o.state not in (OrderState.CANCELLED, OrderState.REJECTED)]
    units = Counter(o.agency for o in live)
    on_scene = Counter(o.agency for o in live if o.state is OrderState.ON_SCENE)
    return tuple(AgencyResources(agency=a, units=n, on_scene=on_scene[a])
                 for a, n in sorted(units.items()))
