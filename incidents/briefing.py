"""Briefings for the chain of command: the situation report (续报/终报) of an incident, the
CAP alert issued from it, and the daily summary — gathered from the store, rendered by
incidents.reports. Generating a report is journaled as issued, with its number."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from incidents.accounts import TOKEN_PREFIX, People, Person
from incidents.cap import BoundingBox, CapAlert, CapCircle, CapMsgType, CapReference
from incidents.clock import Clock, SystemClock
from incidents.command import CommandService
from incidents.dispatch import OrderState
from incidents.lang import Bilingual, pick
from incidents.lifecycle import Resolution
from incidents.model import LOCAL_TZ, Incident, IncidentStatus, Level
from incidents.orders import Order, order_number_text, order_numbers
from incidents.ports.command import CommandStore
from incidents.reports.cap_issue import CapTexts, CapTypeInfo, cap_from_incident
from incidents.reports.daily import DailySummary, summarize
from incidents.reports.model import (
    AgencyResources,
    Casualties,
    DailyIncidentRow,
    DecisionSupport,
    FacilityCount,
    Lang,
    LocalText,
    MapDistrict,
    MapInput,
    MapLink,
    MapPoint,
    MapZone,
    OrderRow,
    PointKind,
    ReportKind,
    Signatory,
    SitrepInput,
    TaskRow,
    TimelineEntry,
    ZoneKind,
)
from incidents.reports.model import OrderState as ShownState
from incidents.reports.texts import action_name, agency_name, label, role_name
from incidents.spatial import DownwindZone, Spatial, UnitPoint
from incidents.taxonomy import Taxonomy

ISSUER = LocalText(zh="邢台市应急指挥中心", en="Xingtai Emergency Command Centre")
MAP_MARGIN_DEG = 0.02
"""Least distance from the incident to the map's edge, in degrees of latitude (about 2 km)."""
MAP_PAD = 0.15
"""Padding around the units and zones on the map, as a share of their extent."""
MAP_MAX_SPAN_DEG = 0.6
"""Widest map frame: units farther out are left off rather than shrink the scene to a dot."""
SITREP_ACTION = "sitrep"
_SERVICE_ACTORS = {"rules": "rules", "cap": "cap_feed"}
"""Actor names of sitroom's own processes and the label naming each."""


def _local(text: Any) -> LocalText:
    return LocalText(zh=text.zh, en=text.en)


_CANCEL_REASONS: dict[str, Bilingual] = {
    "incident_closed": ("事件已结案", "incident closed"),
    "unit_reported_available": ("单位自报待命", "the unit reported available"),
}
"""Words for the reason codes the system journals when it cancels orders (a leader's reason
is free text and shown as written)."""


def _state_name(code: Any, lang: Lang) -> str:
    """An order state code in words (the code only if it is none the dispatch cycle knows)."""
    try:
        return OrderState(str(code)).label(lang)
    except ValueError:
        return label("unknown", lang)


def describe(event: dict[str, Any], lang: Lang, numbers: dict[str, int] | None = None) -> str:
    """A journal event in one line for people (the report's timeline); orders by their short
    numbers from `numbers` (order id → number), never their ids or state codes."""
    data: dict[str, Any] = event["data"]
    name = action_name(event["action"], lang)
    zh = lang is Lang.ZH
    known = numbers or {}

    def order_of(doc: dict[str, Any], key: str = "order") -> str:
        n = known.get(str(doc.get(key)))
        return f"（{order_number_text(n, lang)}）" if n and zh else (
            f" ({order_number_text(n, lang)})" if n else "")

    def order(key: str = "order") -> str:
        return order_of(data, key)
    match event["action"]:
        case "reported":
            detail = (data.get("text") or (data.get("note_zh") if zh else data.get("note_en"))
                      or (data.get("title") if zh else data.get("title_en")) or "")
        case "escalate" | "deescalate" | "merge":
            detail = f"{data.get('from_level')} → {data.get('to_level')}"
        case "dispatch":
            detail = (f"{len(data.get('orders', []))} 条指令" if zh
                      else f"{len(data.get('orders', []))} orders")
        case "order_ack":
            colon = "：" if zh else ": "
            detail = f"{data.get('unit')}{order()}{colon}{_state_name(data.get('state'), lang)}"
        case "order_ack_refused":
            detail = (f"{data.get('unit')} 不是该指令的受令力量{order()}" if zh else
                      f"{data.get('unit')} is not the unit of the order{order()}")
        case "order_overdue":
            detail = (f"{data.get('unit')}{order()} 超时未确认，已重发" if zh
                      else f"{data.get('unit')}{order()} did not acknowledge in time; re-sent")
        case "reassign":
            detail = f"{data.get('from_unit')}{order()} → {data.get('unit')}{order('new_order')}"
        case "orders_cancelled":
            units = ", ".join(str(o.get("unit")) + order_of(o) for o in data.get("orders", []))
            why = _CANCEL_REASONS.get(str(data.get("reason", "")).partition(":")[0])
            reason = pick(why, lang) if why else str(data.get("reason", ""))
            detail = f"{units}（{reason}）" if zh else f"{units} ({reason})"
        case "order_stale":
            detail = (f"{data.get('unit')}{order()}，已 {data.get('minutes')} 分钟" if zh
                      else f"{data.get('unit')}{order()}, {data.get('minutes')} min")
        case "note":
            detail = str(data.get("text", ""))
        case "close" if data.get("resolution") in set(Resolution):
            detail = Resolution(data["resolution"]).label(lang)
        case _:
            detail = str(data.get("reason") or "")
    if data.get("busy_override"):  # busy units sent on purpose (decision 72)
        units = ", ".join(data["busy_override"])
        detail += (f"；选用执行任务中的 {units}（{data.get('reason')}）" if zh
                   else f"; sent while on an order: {units} ({data.get('reason')})")
    if zh:
        return f"{name}：{detail}" if detail else name
    return f"{name}: {detail}" if detail else name


def actor_text(actor: str, people: dict[str, Person], lang: Lang,
               agency_names: dict[str, LocalText]) -> str:
    """Who an actor name stands for: a person by name and role, a token by its label, a
    feed by its agency and source, sitroom's own processes by what they do."""
    person = people.get(actor)
    sep = ("（", "）") if lang is Lang.ZH else (" (", ")")
    if person is not None:
        what = label("api_token", lang) if person.token else role_name(person.role, lang)
        return f"{person.name}{sep[0]}{what}{sep[1]}"
    if actor in _SERVICE_ACTORS:
        return label(_SERVICE_ACTORS[actor], lang)
    if actor.startswith(TOKEN_PREFIX):  # a token since deleted: say what it was, not its id
        return label("api_token", lang)
    agency, slash, source = actor.partition("/")
    if slash:
        return f"{agency_name(agency, lang, agency_names)}·{source}"
    return actor


class Briefing:
    """Builds report inputs from the store and the command service."""

    def __init__(self, service: CommandService, store: CommandStore, taxonomy: Taxonomy,
                 districts: Sequence[MapDistrict], spatial: Spatial | None, *,
                 issuer: LocalText = ISSUER, people: People | None = None,
                 tz: tzinfo = LOCAL_TZ, clock: Clock | None = None) -> None:
        """Reports over the service and store; `people` names the actors (user names and
        tokens) and `tz` is the zone every time of a report is shown in."""
        self._people = people
        self._tz = tz
        self._service = service
        self._store = store
        self._taxonomy = taxonomy
        self._districts = tuple(districts)
        self._spatial = spatial
        self._issuer = issuer
        self._clock = clock or SystemClock()

    @property
    def issuer(self) -> LocalText:
        """The issuing office printed on every report."""
        return self._issuer

    @property
    def tz(self) -> tzinfo:
        """The zone every time of a report is shown in."""
        return self._tz

    async def sitrep(self, incident_id: str, lang: Lang, *, issue_as: str | None = None,
                     signer: str | None = None, reviewer: str | None = None) -> SitrepInput:
        """The situation report of the incident now; journaled as issued when `issue_as`.

        `signer` (default `issue_as`) is the actor name of who signs it (签发人), `reviewer`
        the actor name or the plain name of who reviewed it (审核人); both print by name."""
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
        signer = signer or issue_as
        agencies = {code: _local(t) for code, t in self._taxonomy.agencies.items()}
        names = {e["actor"] for e in timeline} | {n for n in (signer, reviewer) if n}
        people = await self._people.people(names) if self._people else {}
        numbers = order_numbers(orders)
        return SitrepInput(
            kind=kind, sequence=issued + 1, language=lang,
            generated_at=self._clock.now().astimezone(self._tz),
            signed_by=_signatory(signer, people, lang),
            reviewed_by=_signatory(reviewer, people, lang),
            casualties=_casualties(await self._store.casualties(incident_id)),
            issuer=self._issuer, incident=incident,
            incident_type=_local(self._taxonomy.type_name(incident.type)),
            district=(LocalText(zh=district.name_zh, en=district.name_en) if district
                      else LocalText(zh="市外", en="Outside the city")),
            map=await self._map(incident, support.radius_m, orders, numbers, support.downwind,
                                lang),
            timeline=tuple(TimelineEntry(at=e["at"], action=e["action"],
                                         actor=actor_text(e["actor"], people, lang, agencies),
                                         summary=describe(e, lang, numbers)) for e in timeline
                           if e["action"] != SITREP_ACTION),
            orders=tuple(_order_row(o, lang, numbers[o.id]) for o in orders),
            tasks=_tasks(support.plan.proposals, orders, lang),
            resources=_resources(orders),
            decision=DecisionSupport(
                radius_m=support.radius_m, population=support.population,
                facilities=tuple(FacilityCount(kind=k, count=n) for k, n in sorted(
                    Counter(f.kind for f in support.facilities).items()))),
            agency_names=agencies,
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

    async def daily(self, day: date, tz: tzinfo | None = None) -> DailySummary:
        """The figures of one day (incidents reported that day, in `tz`: the display zone
        when None)."""
        start = datetime.combine(day, time(), tzinfo=tz or self._tz)
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

    async def _map(self, incident: Incident, radius_m: float, orders: Sequence[Order],
                   numbers: dict[str, int], downwind: DownwindZone | None, lang: Lang
                   ) -> MapInput:
        """The incident, the units of its live orders (labelled with the orders' numbers and
        linked to the scene), the cordon and the downwind zone when decision support has one."""
        live = [o for o in orders if o.state not in _OVER]
        places = await self._unit_places({o.unit for o in live})
        units: dict[str, list[int]] = {}
        for o in live:
            units.setdefault(o.unit, []).append(numbers[o.id])
        points: list[MapPoint] = []
        links: list[MapLink] = []
        for unit, ns in sorted(units.items()):
            at = places.get(unit)
            if at is None or max(abs(at.lat - incident.lat), abs(at.lon - incident.lon)
                                 ) > MAP_MAX_SPAN_DEG / 2:
                continue
            points.append(MapPoint(kind=PointKind.UNIT, lat=at.lat, lon=at.lon,
                                   agency=at.agency,
                                   label=_unit_label(unit, ns, lang)))
            links.append(MapLink(from_lat=at.lat, from_lon=at.lon, to_lat=incident.lat,
                                 to_lon=incident.lon, agency=at.agency))
        zones = _zones(downwind)
        points.append(MapPoint(kind=PointKind.INCIDENT, lat=incident.lat, lon=incident.lon,
                               label=incident.title[:20], level=incident.level))
        return MapInput(bbox=_frame(incident, points, zones), districts=self._districts,
                        points=tuple(points), radius_m=None if zones else radius_m,
                        zones=zones, links=tuple(links))

    async def _unit_places(self, units: set[str]) -> dict[str, UnitPoint]:
        """The last known place of each of `units`, however old (the map shows where the
        unit was last seen)."""
        if not units:
            return {}
        found = await self._store.unit_points(datetime(2000, 1, 1, tzinfo=UTC))
        return {p.unit: p for p in found if p.unit in units}


_SHOWN = {OrderState.ISSUED: ShownState.ISSUED, OrderState.ACKNOWLEDGED: ShownState.ACKNOWLEDGED,
          OrderState.EN_ROUTE: ShownState.EN_ROUTE, OrderState.ON_SCENE: ShownState.ON_SCENE,
          OrderState.DONE: ShownState.DONE}


_OVER = frozenset({OrderState.CANCELLED, OrderState.REJECTED, OrderState.DONE})
"""Order states whose unit is no longer on its way to or at the scene."""


def _unit_label(unit: str, numbers: list[int], lang: Lang) -> str:
    """A unit's map label with its orders' numbers as the order table writes them:
    xt-119-hz1 令-3、令-5."""
    sep = "、" if lang is Lang.ZH else ", "
    return f"{unit} {sep.join(order_number_text(n, lang) for n in sorted(numbers))}"


def _signatory(actor: str | None, people: dict[str, Person], lang: Lang) -> Signatory | None:
    """A signing person by name and role; a name nobody has an account for prints as given."""
    if not actor:
        return None
    person = people.get(actor)
    if person is None:
        return Signatory(name=actor, role="")
    return Signatory(name=person.name, role=(label("api_token", lang) if person.token
                                             else role_name(person.role, lang)))


def _casualties(found: Any) -> Casualties | None:
    """The store's figures as the report's; None when no report gave any."""
    values = {f: getattr(found, f) for f in ("deaths", "injured", "missing", "trapped")}
    return Casualties(**values) if any(v is not None for v in values.values()) else None


def _zones(downwind: DownwindZone | None) -> tuple[MapZone, ...]:
    """The downwind protective zone and the cordon (initial isolation zone) to draw."""
    if downwind is None:
        return ()
    kinds = {"protective_action": ZoneKind.DOWNWIND, "isolation": ZoneKind.CORDON}
    return tuple(MapZone(kind=kinds[f["id"]], geometry=f["geometry"])
                 for f in downwind.geojson.get("features", []) if f.get("id") in kinds)


def _frame(incident: Incident, points: Sequence[MapPoint], zones: Sequence[MapZone]
           ) -> BoundingBox:
    """The map frame: the incident, the units and the zones, with a margin."""
    lats = [incident.lat] + [p.lat for p in points]
    lons = [incident.lon] + [p.lon for p in points]
    for z in zones:
        for ring in _rings(z.geometry):
            lons.extend(float(pos[0]) for pos in ring)
            lats.extend(float(pos[1]) for pos in ring)
    m = MAP_MARGIN_DEG
    lats += [incident.lat - m, incident.lat + m]
    lons += [incident.lon - m * 1.3, incident.lon + m * 1.3]
    pad_lat = (max(lats) - min(lats)) * MAP_PAD
    pad_lon = (max(lons) - min(lons)) * MAP_PAD
    return BoundingBox(south=max(-90.0, min(lats) - pad_lat), north=min(90.0, max(lats) + pad_lat),
                       west=max(-180.0, min(lons) - pad_lon),
                       east=min(180.0, max(lons) + pad_lon))


def _rings(geometry: dict[str, Any]) -> list[Any]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _order_row(order: Order, lang: Lang, number: int) -> OrderRow:
    shown = (ShownState.ESCALATED if order.escalated_at and order.state is OrderState.ISSUED
             else _SHOWN.get(order.state, ShownState.DONE))
    return OrderRow(order_id=order.id, number=number, unit=order.unit, agency=order.agency,
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
