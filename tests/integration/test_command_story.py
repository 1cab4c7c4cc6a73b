"""The whole story over real servers: a chemical-leak report over MQTT becomes an incident,
is verified and escalated to level II, its plan is dispatched, units receive their orders
over MQTT and acknowledge them, and the incident is contained and closed. The journal
verifies at the end."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from config.settings import Settings
from incidents.cap import CapMsgType
from incidents.cap_xml import export_cap
from incidents.command import Actor
from incidents.dispatch import OrderState
from incidents.lifecycle import Action, Resolution
from incidents.live import LiveState
from incidents.model import LOCAL_TZ, IncidentStatus, Level
from incidents.reports.model import Lang, ReportKind
from incidents.reports.pdf import render_pdf
from incidents.reports.sitrep import render_html
from incidents.store import Store
from tests.conftest import Broker
from tests.support.command import briefing, command_service
from tests.support.ingest import publisher, running_ingest
from tests.support.keys import TEST_JOURNAL_KEY
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LEAK = (37.0712, 114.5183)  # 襄都区, in the city
UNITS = [  # (agency, unit, kind, metres north of the leak)
    ("fire", "xt-119-hz1", "hazmat_unit", 800), ("fire", "xt-119-rs1", "rescue_team", 900),
    ("fire", "xt-119-fe1", "fire_engine", 1200), ("fire", "xt-119-fe2", "fire_engine", 5000),
    ("police", "xt-110-p1", "patrol_car", 600), ("health", "xt-120-a1", "ambulance", 1500),
]
LEADER = Actor(name="leader-zhang", client="10.10.1.5")


def now() -> str:
    return datetime.now(UTC).isoformat()


def position(unit: str, kind: str, north_m: float) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": now(), "unit": unit, "unit_type": kind,
                       "lat": LEAK[0] + north_m / 111_000, "lon": LEAK[1]})


def ack(order: str, unit: str, state: str) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "ts": now(), "order": order, "unit": unit,
                       "state": state})


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_chemical_leak_from_report_to_closure(
    settings: Settings, store: Store, live: LiveState, broker: Broker
) -> None:
    root = settings.topic_root
    service = command_service(store, live, with_layers=True)
    async with running_ingest(settings, store, live) as ingest:
        with publisher(broker.url, broker.protocol) as field:
            field.listen(f"{root}/command/dispatch/+")
            for agency, unit, kind, north in UNITS:
                field.publish(f"{root}/{agency}/position/{unit}", position(unit, kind, north))
            field.publish(f"{root}/safety/report/desk-12350", json.dumps({
                "id": str(uuid.uuid4()), "ts": now(), "type": "chemical_leak",
                "lat": LEAK[0], "lon": LEAK[1], "text": "化工厂储罐泄漏，有刺激性气味"}))
            (incident,) = await eventually(live.incidents, lambda found: len(found) == 1)
            await eventually(store.counts, lambda c: c["units"] == len(UNITS))
            assert incident.type == "chemical_leak"

            with pytest.raises(Exception, match="must be verified"):
                await service.dispatch(incident.id, LEADER)
            await service.act(incident.id, Action.VERIFY, LEADER)
            escalated = await service.act(incident.id, Action.ESCALATE, LEADER,
                                          level=Level.II, reason="储罐容量大，周边有学校")
            assert escalated.level is Level.II

            proposal = await service.propose(incident.id)
            assert proposal.plan is not None and proposal.plan.id == "hazchem_leak"
            by_task = {p.requirement.task_id: p for p in proposal.proposals}
            assert [u.unit.unit for u in by_task["detection"].units] == ["xt-119-hz1"]
            assert by_task["detection"].missing == 2  # the plan asks for 3 at level II
            # Nearest first: the engine 1.2 km away before the one 5 km away.
            assert [u.unit.unit for u in by_task["dilution_cooling"].units] == [
                "xt-119-fe1", "xt-119-fe2"]

            orders = await service.dispatch(incident.id, LEADER)
            assert {o.unit for o in orders} == {u for _, u, _, _ in UNITS}
            assert (await service.incident(incident.id)).status is IncidentStatus.RESPONDING

            # Each unit receives its own order over MQTT ...
            received = await eventually(
                lambda: {json.loads(m.payload)["id"]: m for m in field.received},
                lambda got: len(got) == len(orders), timeout_s=15)
            for order in orders:
                message = json.loads(received[order.id].payload)
                assert received[order.id].topic == f"{root}/command/dispatch/{order.unit}"
                assert message["incident"]["level"] == "II"
                assert message["task"]["zh"] and message["detail"]["en"]
            # ... and reports its progress; a late, repeated ack changes nothing.
            agency_of = {unit: agency for agency, unit, _, _ in UNITS}
            for state in ("acknowledged", "en_route", "on_scene", "done", "acknowledged"):
                for order in orders:
                    field.publish(f"{root}/{agency_of[order.unit]}/ack/{order.unit}",
                                  ack(order.id, order.unit, state))
            await eventually(lambda: service.orders(incident.id),
                             lambda got: all(o.state is OrderState.DONE for o in got))
            assert ingest.orders.sent == len(orders)

    await service.act(incident.id, Action.CONTAIN, LEADER)
    closed = await service.act(incident.id, Action.CLOSE, LEADER,
                               resolution=Resolution.RESOLVED)
    assert closed.status is IncidentStatus.CLOSED
    assert await live.incidents() == []

    timeline = await service.timeline(incident.id)
    actions = [e["action"] for e in timeline]
    assert actions[:5] == ["reported", "verify", "escalate", "respond", "dispatch"]
    assert actions[-2:] == ["contain", "close"]
    assert actions.count("order_ack") == 4 * len(orders)
    assert {e["actor"] for e in timeline if e["action"] == "escalate"} == {"leader-zhang"}
    assert {e["client"] for e in timeline if e["action"] == "dispatch"} == {"10.10.1.5"}
    checked, findings, _ = await store.verify_journal(TEST_JOURNAL_KEY.encode())
    assert findings == [] and checked == len(timeline)

    # The final report (终报) of the story, in both languages, and the public CAP alert.
    briefs = briefing(store, service)
    final = await briefs.sitrep(incident.id, Lang.ZH, issue_as="leader-zhang")
    assert (final.kind, final.sequence) == (ReportKind.FINAL, 1)
    assert final.district.zh == "襄都区"
    assert {(r.agency, r.units) for r in final.resources} >= {("fire", 4)}
    html = render_html(final)
    assert "终报" in html and "化工厂储罐泄漏" in html and "xt-119-hz1" in html
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(
        render_pdf(await briefs.sitrep(incident.id, Lang.EN)))).pages)
    assert "final report" in text.lower()
    assert [e["action"] for e in await service.timeline(incident.id)][-1] == "sitrep"
    alert = await briefs.cap(incident.id, sender="xt-ecc@sitroom", msg_type=CapMsgType.ALERT)
    xml = export_cap(alert).decode()
    assert xml.count("<severity>Severe</severity>") == 2  # level II, in both info blocks
    assert "<language>zh-CN</language>" in xml and "<language>en-US</language>" in xml
    summary = await briefs.daily(incident.reported_at.astimezone(LOCAL_TZ).date())
    assert summary.total == 1 and summary.closed == 1
