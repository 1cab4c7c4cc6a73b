"""The command API over HTTP on a served dashboard, real PostgreSQL and Redis: the story of an
incident, clear 4xx answers, roles, reports, and the OpenAPI description."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from config.settings import Settings
from incidents.model import Envelope, Inbound, Kind, Position
from incidents.store import Store
from tests.support.auth import create_token
from tests.support.http import get, send_json

# The API needs no broker: one broker is enough for the settings fixture.
pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

INCIDENT = {"type": "fire", "title": "襄都区某小区居民楼起火", "lat": 37.06, "lon": 114.49,
            "level": "III", "text": "三楼冒烟，有人被困"}


@pytest.fixture
async def leader(database_url: str) -> str:
    """A leader's bearer token."""
    return await create_token(database_url, "leader", label="leader-wang")


async def engines(store: Store, *units: str) -> None:
    now = datetime.now(UTC)
    await store.write_batch([Inbound(
        envelope=Envelope(topic="t", agency="fire", kind=Kind.POSITION, source=u,
                          received_at=now),
        message=Position(id=str(uuid.uuid4()), ts=now, unit=u, unit_type="fire_engine",
                         lat=37.06 + i * 0.001, lon=114.49)) for i, u in enumerate(units)], [])


async def test_an_incident_through_the_api(dashboard: str, leader: str, store: Store,
                                           api_token: str) -> None:
    api = f"{dashboard}/api"
    await engines(store, "e1", "e2")
    status, incident = send_json("POST", f"{api}/incidents", leader, INCIDENT)
    assert status == 201 and incident["status"] == "reported"
    url = f"{api}/incidents/{incident['id']}"
    assert send_json("POST", f"{url}/actions", leader, {"action": "verify"})[0] == 200
    status, refused = send_json("POST", f"{url}/actions", leader, {"action": "verify"})
    assert status == 409
    assert refused["error"] == "cannot verify an incident that is verified"
    assert "事件当前状态" in refused["error_zh"]
    status, up = send_json("POST", f"{url}/actions", leader,
                           {"action": "escalate", "level": "II", "reason": "有人被困"})
    assert (status, up["level"]) == (200, "II")
    status, proposal = send_json("GET", f"{url}/proposal", leader)
    assert status == 200 and proposal["plan"]["id"] == "building_fire"
    attack = next(p for p in proposal["proposals"]
                  if p["requirement"]["task_id"] == "fire_attack")
    assert [u["unit"]["unit"] for u in attack["units"]] == ["e1", "e2"]
    status, orders = send_json("POST", f"{url}/dispatch", leader,
                               {"assignments": [{"task": "fire_attack", "unit": "e1"}]})
    assert status == 201 and [o["unit"] for o in orders] == ["e1"]
    assert send_json("POST", f"{url}/notes", leader, {"text": "消防已到场"})[0] == 201
    status, timeline = send_json("GET", f"{url}/timeline", api_token)
    assert [e["action"] for e in timeline] == ["reported", "verify", "escalate", "respond",
                                               "dispatch", "note"]
    assert {e["actor"] for e in timeline} == {"token:" + leader.split("_")[1]}
    status, support = send_json("GET", f"{url}/support?radius_m=2000", api_token)
    assert status == 200 and support["district"]["name_zh"] == "襄都区"

    status, kind, html = get(f"{url}/sitrep?lang=zh", api_token)
    assert (status, kind) == (200, "text/html") and "续报" in html.decode()
    status, kind, document = get(f"{url}/sitrep?format=pdf&lang=en", api_token)
    assert (status, kind) == (200, "application/pdf")
    assert "progress report" in PdfReader(io.BytesIO(document)).pages[0].extract_text().lower()
    status, kind, xml = get(f"{url}/cap", api_token)
    assert (status, kind) == (200, "application/cap+xml")
    assert b"<msgType>Alert</msgType>" in xml
    status, day = send_json("GET", f"{api}/reports/daily?format=json", api_token)
    assert status == 200 and day["total"] == 1


@pytest.mark.parametrize(("body", "raw", "fragment"), [
    ({"title": "no type", "lat": 37, "lon": 114}, None, "missing required field `type`"),
    ({**INCIDENT, "lat": 137}, None, "Expected `float` <= 90.0 - at `$.lat`"),
    ({**INCIDENT, "level": "V"}, None, "Invalid enum value 'V'"),
    ({**INCIDENT, "colour": "red"}, None, "unknown field `colour`"),
    (None, b"{not json", "not valid JSON"),
])
async def test_malformed_requests_get_400_with_the_reason(
    dashboard: str, leader: str, body: object, raw: bytes | None, fragment: str
) -> None:
    status, problem = send_json("POST", f"{dashboard}/api/incidents", leader, body, raw)
    assert status == 400 and fragment in problem["error"], problem
    assert problem["error_zh"]


async def test_unknown_things_are_404_and_roles_are_enforced(
    dashboard: str, leader: str, api_token: str
) -> None:
    api = f"{dashboard}/api"
    status, problem = send_json("GET", f"{api}/incidents/{uuid.uuid4()}", leader)
    assert status == 404 and "does not exist" in problem["error"]
    _, incident = send_json("POST", f"{api}/incidents", leader, INCIDENT)
    status, problem = send_json("POST", f"{api}/incidents/{incident['id']}/actions",
                                api_token, {"action": "verify"})  # an operator's token
    assert status == 403
    status, _ = send_json("POST", f"{api}/incidents", None, INCIDENT)
    assert status == 401
    status, problem = send_json("POST", f"{api}/incidents/{incident['id']}/dispatch", leader,
                                {})
    assert status == 409 and "must be verified" in problem["error"]


def test_settings_fixture_has_no_default_secret(settings: Settings) -> None:
    assert settings.auth.secret_key is not None


async def test_a_busy_unit_is_sent_on_purpose_with_a_reason(dashboard: str, leader: str,
                                                            store: Store) -> None:
    api = f"{dashboard}/api"
    await engines(store, "e1", "e2")
    urls = []
    for _ in range(2):
        _, incident = send_json("POST", f"{api}/incidents", leader, INCIDENT)
        urls.append(f"{api}/incidents/{incident['id']}")
        assert send_json("POST", f"{urls[-1]}/actions", leader, {"action": "verify"})[0] == 200
    first, second = urls
    e1 = {"assignments": [{"task": "fire_attack", "unit": "e1"}]}
    status, (order,) = send_json("POST", f"{first}/dispatch", leader, e1)
    assert status == 201
    status, problem = send_json("POST", f"{second}/dispatch", leader, e1)
    assert status == 409 and "already hold an open order" in problem["error"]
    status, problem = send_json("POST", f"{second}/dispatch", leader, {**e1, "busy_ok": ["e1"]})
    assert status == 422 and "needs a reason" in problem["error"] and problem["error_zh"]
    status, problem = send_json("POST", f"{second}/dispatch", leader,
                                {**e1, "busy_ok": ["e1"], "reason": "  "})
    assert status == 422
    status, orders = send_json("POST", f"{second}/dispatch", leader,
                               {**e1, "busy_ok": ["e1"], "reason": "唯一的高喷车"})
    assert status == 201 and [o["unit"] for o in orders] == ["e1"]
    status, timeline = send_json("GET", f"{second}/timeline", leader)
    dispatched = timeline[-1]
    assert dispatched["action"] == "dispatch"
    assert (dispatched["data"]["busy_override"], dispatched["data"]["reason"]) == (
        ["e1"], "唯一的高喷车")
    # Reassigning to a busy unit needs busy_ok and a reason too.
    reassign = f"{api}/orders/{orders[0]['id']}/reassign"
    status, _ = send_json("POST", f"{first}/dispatch", leader,
                          {"assignments": [{"task": "search_rescue", "unit": "e2"}]})
    assert status == 201
    status, _ = send_json("POST", reassign, leader, {"unit": "e2"})
    assert status == 409
    status, _ = send_json("POST", reassign, leader, {"unit": "e2", "busy_ok": True})
    assert status == 422
    status, new = send_json("POST", reassign, leader,
                            {"unit": "e2", "busy_ok": True, "reason": "e2 就在现场"})
    assert status == 201 and new["unit"] == "e2"
    _, timeline = send_json("GET", f"{second}/timeline", leader)
    assert (timeline[-1]["action"], timeline[-1]["data"]["busy_override"]) == (
        "reassign", ["e2"])

    # The order summary: needed from the plan at level III, sent, confirmed, short.
    status, cover = send_json("GET", f"{first}/orders/summary", leader)
    assert status == 200 and cover["plan"] == "building_fire"
    assert (cover["needed"], cover["sent"], cover["confirmed"], cover["short"]) == (19, 2, 0, 17)
    attack = next(t for t in cover["tasks"] if t["task_id"] == "fire_attack")
    assert (attack["needed"], attack["sent"], attack["short"]) == (6, 1, 5)
    assert attack["name"] == {"zh": "灭火堵截", "en": "Fire attack"}
    assert order["unit"] == "e1"
