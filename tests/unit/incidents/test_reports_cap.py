"""CAP from an incident: two languages, severity from the level, XML that reads back the same."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.cap import (
    CAP_NAMESPACE,
    CapAlert,
    CapCategory,
    CapCertainty,
    CapCircle,
    CapMsgType,
    CapReference,
    CapResponseType,
    CapSeverity,
    CapStatus,
    CapUrgency,
    alert_level,
)
from incidents.cap_xml import export_cap, parse_cap
from incidents.model import IncidentStatus, Level
from incidents.reports.cap_issue import CapTexts, CapTypeInfo, cap_from_incident
from incidents.reports.model import LocalText
from tests.unit.incidents.reports_sample import T0, incident

TYPE = CapTypeInfo(categories=(CapCategory.CBRNE, CapCategory.ENV),
                   event=LocalText(zh="危化品泄漏", en="Hazardous chemical leak"))
TEXTS = CapTexts(
    headline=LocalText(zh="信都区危化品泄漏，请远离", en="Chemical leak in Xindu: keep away"),
    description=LocalText(zh="  某化工厂储罐泄漏。\n现场正在处置。 ",
                          en="A tank is leaking at a chemical plant & <b>crews</b> are on it."),
    instruction=LocalText(zh="下风向居民关闭门窗。", en="Downwind residents: close windows."),
)
AREA = LocalText(zh="邢台市信都区", en="Xindu District, Xingtai")
SENT = T0 + timedelta(minutes=30, microseconds=123456)
RING = ((37.05, 114.46), (37.05, 114.48), (37.07, 114.48), (37.07, 114.46), (37.05, 114.46))


def _alert(level: Level = Level.III, status: IncidentStatus = IncidentStatus.RESPONDING,
           **changes: Any) -> CapAlert:
    args: dict[str, Any] = {
        "type_info": TYPE, "sender": "xtecc@xingtai.gov.cn", "sent_at": SENT,
        "identifier": "XT-2024-0703-0007", "area": CapCircle(lat=37.06, lon=114.47, radius_km=2),
        "area_name": AREA, "texts": TEXTS,
        "sender_name": LocalText(zh="邢台市应急指挥中心", en="Xingtai Emergency Command Centre"),
    }
    args.update(changes)
    return cap_from_incident(incident(level=level, status=status), **args)


@pytest.mark.parametrize("area", [CapCircle(lat=37.06, lon=114.47, radius_km=2.5), RING],
                         ids=["circle", "polygon"])
def test_the_xml_reads_back_to_the_same_alert(area: object) -> None:
    alert = _alert(area=area, expires=T0 + timedelta(hours=6))
    assert parse_cap(export_cap(alert)) == alert


def test_required_elements_are_present() -> None:
    root = ET.fromstring(export_cap(_alert()))
    ns = {"cap": CAP_NAMESPACE}
    for name in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert root.find(f"cap:{name}", ns) is not None, name
    infos = root.findall("cap:info", ns)
    assert [i.findtext("cap:language", namespaces=ns) for i in infos] == ["zh-CN", "en-US"]
    for info in infos:
        for name in ("category", "event", "urgency", "severity", "certainty", "headline",
                     "description", "area/cap:areaDesc", "area/cap:circle"):
            assert info.find(f"cap:{name}", ns) is not None, name
    assert root.findtext("cap:sent", namespaces=ns) == "2024-07-03T14:50:00+08:00"


def test_the_two_info_blocks() -> None:
    alert = _alert()
    zh, en = alert.infos
    assert (zh.event, en.event) == ("危化品泄漏", "Hazardous chemical leak")
    assert zh.description == "某化工厂储罐泄漏。\n现场正在处置。"  # trimmed, inner line kept
    assert (zh.areas[0].area_desc, en.areas[0].area_desc) == (AREA.zh, AREA.en)
    assert zh.event_codes == (("sitroom:type", "chemical_leak"),)
    assert alert.incidents == ("inc-20240703-0007",)
    assert alert.sent == T0 + timedelta(minutes=30)  # whole seconds
    assert alert.info_for("zh-CN") is zh and alert.info_for("en") is en


@pytest.mark.parametrize(("level", "severity"), [
    (Level.I, CapSeverity.EXTREME), (Level.II, CapSeverity.SEVERE),
    (Level.III, CapSeverity.MODERATE), (Level.IV, CapSeverity.MINOR)])
def test_severity_follows_the_level_and_ingest_reads_the_level_back(
        level: Level, severity: CapSeverity) -> None:
    alert = _alert(level=level)
    assert {info.severity for info in alert.infos} == {severity}
    assert alert_level(parse_cap(export_cap(alert))) is level


@pytest.mark.parametrize(("status", "urgency", "certainty", "response"), [
    (IncidentStatus.REPORTED, CapUrgency.IMMEDIATE, CapCertainty.LIKELY,
     CapResponseType.MONITOR),
    (IncidentStatus.RESPONDING, CapUrgency.IMMEDIATE, CapCertainty.OBSERVED,
     CapResponseType.MONITOR),
    (IncidentStatus.CONTAINED, CapUrgency.EXPECTED, CapCertainty.OBSERVED,
     CapResponseType.MONITOR),
    (IncidentStatus.CLOSED, CapUrgency.PAST, CapCertainty.OBSERVED, CapResponseType.ALL_CLEAR),
])
def test_urgency_and_certainty_follow_the_status(
        status: IncidentStatus, urgency: CapUrgency, certainty: CapCertainty,
        response: CapResponseType) -> None:
    info = _alert(status=status).infos[0]
    assert (info.urgency, info.certainty, info.response_types) == (urgency, certainty,
                                                                   (response,))


def test_exercise_update_with_references() -> None:
    ref = CapReference(sender="xtecc@xingtai.gov.cn", identifier="XT-2024-0703-0006",
                       sent=datetime(2024, 7, 3, 6, 30, tzinfo=UTC))
    alert = _alert(msg_type=CapMsgType.UPDATE, references=(ref,), exercise=True)
    assert (alert.status, alert.msg_type, alert.references) == (
        CapStatus.EXERCISE, CapMsgType.UPDATE, (ref,))
    assert not alert.is_actual
    assert parse_cap(export_cap(alert)) == alert
    assert _alert().status is CapStatus.ACTUAL


@pytest.mark.parametrize(("changes", "message"), [
    ({"identifier": "has space"}, "identifier"),
    ({"sender": "a,b"}, "sender"),
    ({"sent_at": datetime(2024, 7, 3, 14, 0)}, "timezone-aware"),
    ({"area": RING[:-1]}, "polygon"),
    ({"msg_type": CapMsgType.CANCEL}, "reference"),
    ({"area_name": LocalText(zh=" ", en="x")}, "must not be empty"),
])
def test_what_cap_forbids_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _alert(**changes)
