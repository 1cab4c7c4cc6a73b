"""A situation report a leader can send as it is, from a rich incident on the real store: a
chemical leak with casualty reports from two sources, wind (so a downwind zone and cordon),
dispatched units acknowledging and en route, a note by an API token, a video conference.

The PDF's text (pypdf) must hold no code word, UTC stamp, UUID or token id; it names people
by name and role, orders by short number, times in Beijing time, and the sign-off block."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from incidents.accounts import KnownPeople, Person
from incidents.briefing import Briefing
from incidents.command import Actor
from incidents.dispatch import OrderState
from incidents.facilities import FacilityKind
from incidents.lifecycle import Action, Resolution, journal_action_label
from incidents.model import Ack as AckMessage
from incidents.model import (
    AckState,
    Availability,
    Envelope,
    Inbound,
    IncidentStatus,
    Kind,
    Level,
    Observation,
    Position,
    Report,
    ReportCasualties,
)
from incidents.reports import pdf
from incidents.reports.fonts import find_cjk_font
from incidents.reports.model import Lang, PointKind, ReportKind, ZoneKind
from incidents.reports.model import OrderState as ShownState
from incidents.store import Store
from incidents.taxonomy import load_taxonomy
from maps.analysis.spatial import demo_spatial
from maps.reporting import report_districts
from tests.support.command import command_service

pytestmark = pytest.mark.integration

LEAK = (37.0650, 114.5050)  # central Xingtai: demo facilities and people all around
LEADER = Actor(name="leader-wang", client="10.10.1.5")
TOKEN = "token:73597620a1b2c3d4"
PEOPLE = KnownPeople({
    "leader-wang": Person(name="王强", role="leader"),
    "op-li": Person(name="李敏", role="operator"),
    TOKEN: Person(name="大屏值守脚本", role="operator", token=True),
})
UNITS = [("fire", "xt-119-hz1", "hazmat_unit", 800), ("fire", "xt-119-rs1", "rescue_team", 900),
         ("fire", "xt-119-fe1", "fire_engine", 1200), ("police", "xt-110-p1", "patrol_car", 600),
         ("health", "xt-120-a1", "ambulance", 1500)]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
UTC_STAMP = re.compile(r"UTC|GMT|\d{2}:\d{2}(:\d{2})?(\.\d+)?Z\b|\d{4}-\d{2}-\d{2}T\d{2}")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def code_words() -> set[str]:
    """Every enum value and code word that could leak into a Chinese report."""
    taxonomy = load_taxonomy()
    words: set[str] = set()
    for enum in (OrderState, ShownState, IncidentStatus, FacilityKind, Availability, AckState,
                 Kind, Action, Resolution, ReportKind, PointKind, ZoneKind):
        words.update(str(member.value) for member in enum)
    words.update(taxonomy.types)  # incident type codes
    words.update(taxonomy.agencies)  # agency codes
    words.update(("hydrant", "other", "river_gauge", "conference", "reported", "recording",
                  "order_ack", "order_overdue", "reassign", "dispatch", "note", "sitrep",
                  "leader", "operator", "liaison", "admin", "rules", "cap", "unit_mismatch",
                  "wind_direction", "wind_speed", "water_level", "token"))
    # journal action codes: each one with a name of its own
    words.update(w for w in list(words) if journal_action_label(w, Lang.ZH) != w)
    return words


def inbound(agency: str, source: str, message: Report | Observation | Position | AckMessage
            ) -> Inbound:
    kind = {Report: Kind.REPORT, Observation: Kind.OBSERVATION, Position: Kind.POSITION,
            AckMessage: Kind.ACK}[type(message)]
    return Inbound(envelope=Envelope(topic="t", agency=agency, kind=kind, source=source,
                                     received_at=datetime.now(UTC)), message=message)


def report(ts: datetime, casualties: ReportCasualties, text: str = "储罐泄漏，有人受伤"
           ) -> Report:
    return Report(id=str(uuid.uuid4()), ts=ts, type="chemical_leak", lat=LEAK[0],
                  lon=LEAK[1], text=text, level=Level.II, casualties=casualties)


async def rich_incident(store: Store) -> tuple[str, Briefing]:
    """The incident, with every kind of thing a report must put in words."""
    now = datetime.now(UTC)
    service = command_service(store, None, with_layers=True)
    first = report(now - timedelta(minutes=30), ReportCasualties(injured=2, trapped=1))
    (incident,) = (await store.write_batch([inbound("safety", "desk-12350", first)],
                                           [])).incidents
    # Two more reports of the same incident (the rules would link them; here SQL does): the
    # same desk's later count replaces its earlier one, another source's adds to it.
    later = report(now - timedelta(minutes=10), ReportCasualties(injured=3, trapped=1))
    other = report(now - timedelta(minutes=5), ReportCasualties(deaths=1, missing=2),
                   text="120 急救：一人死亡，两人失踪")
    await store.write_batch([inbound("safety", "desk-12350", later),
                             inbound("health", "desk-120", other)], [])
    async with store.pool.acquire() as conn:
        await conn.execute("UPDATE reports SET incident_id = $1 WHERE id = ANY($2::text[])",
                           uuid.UUID(incident.id), [later.id, other.id])
    await store.write_batch([
        inbound("weather", "aws", Observation(
            id=str(uuid.uuid4()), ts=now, sensor="xt-aws-01", quantity=quantity, value=value,
            unit=unit, lat=LEAK[0] + 0.02, lon=LEAK[1]))
        for quantity, value, unit in (("wind_direction", 0.0, "deg"), ("wind_speed", 3.0, "m/s"))
    ], [])
    await store.write_batch([inbound(agency, unit, Position(
        id=str(uuid.uuid4()), ts=now, unit=unit, unit_type=kind, lat=LEAK[0] + north / 111_000,
        lon=LEAK[1])) for agency, unit, kind, north in UNITS], [])
    await service.refresh_units()
    await service.act(incident.id, Action.VERIFY, LEADER)
    orders = await service.dispatch(incident.id, LEADER)
    assert len(orders) >= 3
    agency_of = {unit: agency for agency, unit, _, _ in UNITS}
    for n, order in enumerate(orders):
        state = AckState.EN_ROUTE if n % 2 == 0 else AckState.ACKNOWLEDGED
        await store.write_batch([inbound(agency_of[order.unit], order.unit, AckMessage(
            id=str(uuid.uuid4()), ts=datetime.now(UTC), order=order.id, unit=order.unit,
            state=state))], [])
    await service.note(incident.id, "大屏值守：下风向500米处已设立检测点", Actor(name=TOKEN))
    await service.record(incident.id, "conference", {"room": str(uuid.uuid4())}, LEADER)
    briefs = Briefing(service, store.commands, load_taxonomy(), report_districts(),
                      demo_spatial(), people=PEOPLE)
    return incident.id, briefs


def pages(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


def common_leaks(text: str) -> list[str]:
    """Stamps and ids no report may print, in either language."""
    found = [f"UUID {m}" for m in UUID.findall(text)]
    found += [f"stamp {m.group(0)}" for m in UTC_STAMP.finditer(text)]
    found += ["token:"] if "token:" in text else []
    return found


async def test_chinese_and_english_sitreps_are_ready_to_send(store: Store) -> None:
    incident_id, briefs = await rich_incident(store)
    font = find_cjk_font()
    zh = await briefs.sitrep(incident_id, Lang.ZH, issue_as="leader-wang", reviewer="op-li")
    assert zh.map.zones and {z.kind for z in zh.map.zones} == {ZoneKind.CORDON,
                                                              ZoneKind.DOWNWIND}
    assert len(zh.map.links) == len(zh.orders)
    text = "\n".join(pages(pdf.render_pdf(zh, font=font)))

    assert common_leaks(text) == []
    words = code_words()
    leaked = sorted({w for w in re.findall(r"[A-Za-z_]+", text) if w in words})
    assert leaked == [], f"code words in the Chinese report: {leaked}"
    flat = re.sub(r"\s+", "", text)  # table cells wrap where the column ends
    assert "签发人:王强（值班领导）" in flat  # the header line
    assert "签发人王强（值班领导）审核人李敏（值班员）" in flat  # the sign-off block
    for expected in ("王强（值班领导）", "大屏值守脚本（API令牌）",
                     "北京时间", "死亡", "受伤", "失踪", "被困", "二、人员伤亡",
                     "死亡1人、受伤3人、失踪2人、被困1人", "令-1", "令-2", "令-3",
                     OrderState.EN_ROUTE.label(Lang.ZH), "发起视频会商", "下风向防护区",
                     "警戒区（初始隔离区）", "调度指令（力量→事发点）"):
        assert expected in flat, expected
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\d{2}时\d{2}分（北京时间）", text)

    en = await briefs.sitrep(incident_id, Lang.EN, issue_as="leader-wang", reviewer="Li Min")
    text_en = "\n".join(pages(pdf.render_pdf(en, font=font)))
    assert common_leaks(text_en) == []
    assert SNAKE.findall(text_en) == []
    flat_en = re.sub(r"\s+", " ", text_en)
    assert "Issued by (signed): 王强 (duty leader)" in flat_en  # the header line
    assert re.search(r"Reviewed by\s+Li Min\n", text_en)  # a name no account has, as given
    for expected in (
                     "(Beijing time)", "Order 1", "Order 3", "3 injured", "1 dead", "2 missing",
                     "1 trapped", "2. Casualties", "Downwind protective zone"):
        assert expected in flat_en, expected
    # The preview and the issued report use the same number for each order.
    assert [o.number for o in en.orders] == [o.number for o in zh.orders]
    assert sorted(o.number for o in zh.orders) == list(range(1, len(zh.orders) + 1))
