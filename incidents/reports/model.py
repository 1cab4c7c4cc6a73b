"""What a situation report is made of: plain data the caller gathers and the renderers read.

The caller (the command service) fills these structs from PostgreSQL and the spatial layer;
the renderers do no I/O and trust them. Free texts (timeline summaries, task names, unit
names) come in the report's language; names the domain has in both languages (incident type,
district, issuing organisation, agencies) come as `LocalText` pairs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec

from incidents.cap import BoundingBox
from incidents.dispatch import OrderState as DispatchState
from incidents.lang import Lang as Lang
from incidents.lang import pick
from incidents.model import Incident, IncidentStatus, Latitude, Level, Longitude, Timestamp

Count = Annotated[int, msgspec.Meta(ge=0)]
"""A number of people, units or things: never negative."""


class ReportKind(StrEnum):
    """Which situation report this is: a progress report (续报) or the final one (终报)."""

    PROGRESS = "progress"
    FINAL = "final"


class OrderState(StrEnum):
    """Where a dispatch order stands, as the report shows it."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    DONE = "done"
    ESCALATED = "escalated"

    def label(self, lang: Lang) -> str:
        """Where the order stands, in the dispatch life cycle's words."""
        if self is OrderState.ESCALATED:
            return pick(("已升级", "Escalated"), lang)
        return DispatchState(self.value).label(lang)


class LocalText(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A name in both report languages."""

    zh: str
    """Chinese text, e.g. 信都区."""
    en: str
    """English text, e.g. Xindu District."""

    def pick(self, lang: Lang) -> str:
        """The text in `lang`."""
        return self.zh if lang is Lang.ZH else self.en


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """One event of the incident's journal, as a line of 处置进展."""

    at: Timestamp
    """When it happened."""
    actor: str
    """Who did it: an operator, a leader, a unit or a rule."""
    action: str
    """The journal's action code (verify, escalate, dispatch, note …)."""
    summary: str
    """What happened, in the report's language."""


class OrderRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A dispatch order sent to a unit and where it stands."""

    order_id: str
    """The order's id (internal: documents print `number`)."""
    number: Annotated[int, msgspec.Meta(ge=1)]
    """The order's short number within the incident (see incidents.orders.order_numbers)."""
    unit: str
    """The unit (call sign or name) the order went to."""
    agency: str
    """The unit's agency code (police, fire …)."""
    task: str
    """The task of the plan the order carries, in the report's language."""
    state: OrderState
    """Where the order stands."""
    issued_at: Timestamp
    """When the order was issued."""
    changed_at: Timestamp
    """When its state last changed."""


class TaskRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A task of the response plan (预案) and how far it has got."""

    task: str
    """The task's name, in the report's language."""
    agency: str
    """The agency code responsible for it."""
    required: Count
    """Units the plan asks for."""
    assigned: Count
    """Units dispatched to it."""
    done: Count
    """Units that have finished it."""


class AgencyResources(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """What one agency has committed to the incident."""

    agency: str
    """Agency code."""
    units: Count
    """Units dispatched."""
    on_scene: Count
    """Units on scene now."""
    personnel: Count | None = None
    """People committed, when known."""
    vehicles: Count | None = None
    """Vehicles committed, when known."""


class Casualties(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """Casualty and impact figures; None where nothing is known yet."""

    deaths: Count | None = None
    """People killed."""
    injured: Count | None = None
    """People injured."""
    missing: Count | None = None
    """People missing."""
    trapped: Count | None = None
    """People trapped."""
    evacuated: Count | None = None
    """People evacuated or relocated."""
    affected: Count | None = None
    """People otherwise affected."""


class FacilityCount(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """How many facilities of one kind lie within the decision-support radius."""

    kind: str
    """Facility kind code: hospital, school, shelter, hazardous_site …"""
    count: Count
    """How many."""


class DecisionSupport(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """Figures of the decision support panel around the incident."""

    radius_m: Annotated[float, msgspec.Meta(gt=0)]
    """Radius the figures were computed for, in metres."""
    population: Count | None = None
    """Estimated residents within the radius, when a population layer exists."""
    facilities: tuple[FacilityCount, ...] = ()
    """Facilities within the radius, by kind."""


class PointKind(StrEnum):
    """What a map point stands for; decides its marker."""

    INCIDENT = "incident"
    UNIT = "unit"
    FACILITY = "facility"


class ZoneKind(StrEnum):
    """What an area drawn on the map stands for; decides its colours and legend line."""

    CORDON = "cordon"
    """The cordon: the initial isolation zone around the scene (警戒区)."""
    DOWNWIND = "downwind"
    """The downwind protective action zone of a gas release."""


class MapZone(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """An area to draw under the markers."""

    kind: ZoneKind
    """What it is."""
    geometry: dict[str, Any]
    """GeoJSON geometry (Polygon or MultiPolygon), WGS-84 [lon, lat] positions."""


class MapLink(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A dispatch order as a line from the unit to the incident."""

    from_lat: Latitude
    """Latitude of the unit."""
    from_lon: Longitude
    """Longitude of the unit."""
    to_lat: Latitude
    """Latitude of the incident."""
    to_lon: Longitude
    """Longitude of the incident."""
    agency: str | None = None
    """The unit's agency: decides the line's colour."""


class MapDistrict(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A district outline to draw, with its name."""

    name: LocalText
    """The district's name."""
    geometry: dict[str, Any]
    """GeoJSON geometry (Polygon or MultiPolygon), WGS-84 [lon, lat] positions."""
    label_at: tuple[Latitude, Longitude] | None = None
    """Where to write the name as (lat, lon); the largest ring's centroid when None."""


class MapPoint(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A point to draw: the incident, a unit or a facility."""

    kind: PointKind
    """What it is."""
    lat: Latitude
    """WGS-84 latitude."""
    lon: Longitude
    """WGS-84 longitude."""
    label: str = ""
    """Text written beside the marker (unit call sign, facility name); none when empty."""
    agency: str | None = None
    """Agency code of a unit: decides its colour."""
    level: Level | None = None
    """Level of an incident: decides its colour."""


class MapInput(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """Everything the map snapshot draws."""

    bbox: BoundingBox
    """The area to frame; the drawing keeps its aspect and centres it."""
    districts: tuple[MapDistrict, ...] = ()
    """District outlines."""
    points: tuple[MapPoint, ...] = ()
    """Markers, drawn in order (put the incident last so it stays on top)."""
    radius_m: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """Decision-support radius to draw around each incident marker, in metres."""
    zones: tuple[MapZone, ...] = ()
    """Areas (cordon, downwind zone), drawn under everything else but the districts."""
    links: tuple[MapLink, ...] = ()
    """Dispatch orders as lines unit → incident."""


class Signatory(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """A person who signs a report off: the issuer (签发人) or the reviewer (审核人)."""

    name: str
    """Their name as people know it (display name), never an account id."""
    role: str
    """Their role or post, in the report's language (值班领导); empty when not known."""


class SitrepInput(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """All a situation report (续报 or 终报) says, in one language."""

    kind: ReportKind
    """Progress report or final report."""
    sequence: Annotated[int, msgspec.Meta(ge=1)]
    """Issue number of the report for this incident (第N期)."""
    language: Lang
    """Language the report is written in."""
    generated_at: Timestamp
    """When the report was made, in the configured display zone: every time of the report
    is shown in this time's zone (Beijing time by default)."""
    issuer: LocalText
    """Issuing organisation, e.g. 邢台市应急指挥中心."""
    incident: Incident
    """The incident the report is about."""
    incident_type: LocalText
    """Name of the incident's type, e.g. 危化品泄漏."""
    district: LocalText
    """Name of the district it happened in."""
    map: MapInput
    """The map snapshot."""
    timeline: tuple[TimelineEntry, ...] = ()
    """Journal entries, oldest first."""
    orders: tuple[OrderRow, ...] = ()
    """Dispatch orders, oldest first."""
    tasks: tuple[TaskRow, ...] = ()
    """Tasks of the response plan."""
    resources: tuple[AgencyResources, ...] = ()
    """Forces committed, per agency."""
    casualties: Casualties | None = None
    """Casualty and impact figures, if any are known."""
    decision: DecisionSupport | None = None
    """Decision-support figures, if computed."""
    next_steps: tuple[str, ...] = ()
    """Next steps (下一步工作) written by the duty officer; unfinished tasks follow them."""
    outcome: tuple[str, ...] = ()
    """Result paragraphs (处置结果) of a final report; a summary of the figures follows them."""
    agency_names: dict[str, LocalText] = msgspec.field(default_factory=dict)
    """Names of agency codes beyond the built-in six (and overrides of them)."""
    signed_by: Signatory | None = None
    """Who issues (签发) the report: the signed-in leader; None in a preview nobody signs."""
    reviewed_by: Signatory | None = None
    """Who reviewed (审核) it, as the issuer named them; None when nobody is named."""


class DailyIncidentRow(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # acyclic
    """One incident of the day, with the times its response figures come from."""

    id: str
    """Incident id."""
    type: str
    """Incident type code."""
    type_name: LocalText
    """Name of the type."""
    level: Level
    """Its level now."""
    district: LocalText | None
    """The district it happened in; None outside the city."""
    status: IncidentStatus
    """Its status now: closed, or still open."""
    reported_at: Timestamp
    """When it was reported (接报)."""
    verified_at: Timestamp | None = None
    """When it was verified, if it was."""
    first_on_scene_at: Timestamp | None = None
    """When the first dispatched unit reached the scene, if one did."""
