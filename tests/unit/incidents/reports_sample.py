"""A hand-made situation report input for the report tests: two districts, one incident."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from incidents.cap import BoundingBox
from incidents.model import Incident, IncidentStatus, Level
from incidents.reports.model import (
    AgencyResources,
    Casualties,
    DecisionSupport,
    FacilityCount,
    Lang,
    LocalText,
    MapDistrict,
    MapInput,
    MapPoint,
    OrderRow,
    OrderState,
    PointKind,
    ReportKind,
    SitrepInput,
    TaskRow,
    TimelineEntry,
)
from incidents.taxonomy import load_taxonomy

CST = timezone(timedelta(hours=8))
# The agencies' names come from the taxonomy, as incidents.briefing passes them.
AGENCY_NAMES = {code: LocalText(zh=text.zh, en=text.en)
                for code, text in load_taxonomy().agencies.items()}
T0 = datetime(2024, 7, 3, 14, 20, tzinfo=CST)
"""When the incident was reported."""

XINDU = MapDistrict(
    name=LocalText(zh="信都区", en="Xindu District"),
    geometry={"type": "Polygon", "coordinates": [[
        [114.40, 37.00], [114.50, 37.00], [114.50, 37.12], [114.40, 37.12], [114.40, 37.00]]]},
)
XIANGDU = MapDistrict(
    name=LocalText(zh="襄都区", en="Xiangdu District"),
    geometry={"type": "MultiPolygon", "coordinates": [
        [[[114.50, 37.00], [114.60, 37.00], [114.60, 37.12], [114.50, 37.12], [114.50, 37.00]]],
        [[[114.62, 37.02], [114.64, 37.02], [114.64, 37.04], [114.62, 37.02]]],
    ]},
    label_at=(37.06, 114.55),
)


def incident(title: str = "信都区某化工厂危化品泄漏", level: Level = Level.III,
             status: IncidentStatus = IncidentStatus.RESPONDING) -> Incident:
    """The incident the sample report is about."""
    return Incident(id="inc-20240703-0007", type="chemical_leak", level=level, status=status,
                    title=title, lat=37.06, lon=114.47, reported_at=T0,
                    updated_at=T0 + timedelta(hours=2, minutes=5), agency="fire",
                    source_report="rep-1")


def sample_input(lang: Lang = Lang.ZH, kind: ReportKind = ReportKind.PROGRESS, *,
                 title: str = "信都区某化工厂危化品泄漏", level: Level = Level.III,
                 status: IncidentStatus = IncidentStatus.RESPONDING) -> SitrepInput:
    """A progress (or final) report with three journal entries, two orders and two tasks."""
    return SitrepInput(
        kind=kind, sequence=2, language=lang, generated_at=T0 + timedelta(hours=2, minutes=40),
        issuer=LocalText(zh="邢台市应急指挥中心", en="Xingtai Emergency Command Centre"),
        incident=incident(title, level, status),
        incident_type=LocalText(zh="危化品泄漏", en="hazardous chemical leak"),
        district=LocalText(zh="信都区", en="Xindu District"),
        timeline=(
            TimelineEntry(at=T0, actor="119指挥中心", action="report",
                          summary="接报：厂区储罐泄漏"),
            TimelineEntry(at=T0 + timedelta(minutes=12), actor="值班员张三", action="verify",
                          summary="视频核实，确认泄漏"),
            TimelineEntry(at=T0 + timedelta(minutes=20), actor="值班领导", action="dispatch",
                          summary="启动危化品泄漏处置预案"),
        ),
        orders=(
            OrderRow(order_id="ord-1", number=1, unit="XD-FIRE-03", agency="fire",
                     task="堵漏与稀释",
                     state=OrderState.ON_SCENE, issued_at=T0 + timedelta(minutes=21),
                     changed_at=T0 + timedelta(minutes=38)),
            OrderRow(order_id="ord-2", number=2, unit="XD-POL-11", agency="police", task="交通管制",
                     state=OrderState.DONE, issued_at=T0 + timedelta(minutes=21),
                     changed_at=T0 + timedelta(minutes=90)),
        ),
        tasks=(
            TaskRow(task="堵漏与稀释", agency="fire", required=2, assigned=1, done=0),
            TaskRow(task="交通管制", agency="police", required=1, assigned=1, done=1),
        ),
        resources=(
            AgencyResources(agency="fire", units=1, on_scene=1, personnel=12, vehicles=3),
            AgencyResources(agency="police", units=1, on_scene=0, personnel=4),
        ),
        casualties=Casualties(injured=3, evacuated=120),
        decision=DecisionSupport(radius_m=1000, population=12000, facilities=(
            FacilityCount(kind="school", count=2), FacilityCount(kind="hospital", count=1))),
        map=MapInput(
            bbox=BoundingBox(south=37.0, west=114.4, north=37.12, east=114.6),
            districts=(XINDU, XIANGDU),
            points=(
                MapPoint(kind=PointKind.FACILITY, lat=37.07, lon=114.48, label="第三中学"),
                MapPoint(kind=PointKind.UNIT, lat=37.061, lon=114.472, label="XD-FIRE-03",
                         agency="fire"),
                MapPoint(kind=PointKind.UNIT, lat=37.05, lon=114.49, label="XD-POL-11",
                         agency="police"),
                MapPoint(kind=PointKind.INCIDENT, lat=37.06, lon=114.47, level=level),
            ),
            radius_m=1000,
        ),
        next_steps=("继续监测下风向空气质量",),
        outcome=("泄漏已封堵，周边空气质量恢复正常。",),
        agency_names=AGENCY_NAMES,
    )


def english_input() -> SitrepInput:
    """The sample in English with every free text English too: it needs no Chinese font."""
    data = sample_input(Lang.EN, title="Chemical plant tank leak")
    return msgspec.structs.replace(
        data,
        timeline=(TimelineEntry(at=T0, actor="119 centre", action="report",
                                summary="Tank leaking at the plant"),
                  TimelineEntry(at=T0 + timedelta(minutes=30), actor="XD-POL-11",
                                action="order_ack", summary="Closed the Xingshi Road")),
        orders=tuple(msgspec.structs.replace(o, task="Traffic control") for o in data.orders),
        tasks=(TaskRow(task="Traffic control", agency="police", required=1, assigned=1,
                       done=1),),
        next_steps=("Keep measuring the air downwind",), outcome=(),
        map=msgspec.structs.replace(data.map, points=data.map.points[1:]),
    )
