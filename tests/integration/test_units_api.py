"""A leader's word on a unit over HTTP (release, set status, both with a reason), refused
without a reason or to an operator, and the invariant check the desk warns about."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from incidents.model import Ack, AckState, Availability, Envelope, Inbound, Kind, Position, Status
from incidents.store import Store
from tests.support.auth import create_token
from tests.support.http import send_json

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]


@pytest.fixture
async def leader(database_url: str) -> str:
    """A leader's bearer token."""
    return await create_token(database_url, "leader", label="leader-wang")


async def feed(store: Store, unit: str, message: Position | Status | Ack) -> None:
    """What a fire engine publishes, written as ingest writes it."""
    kind = {Position: Kind.POSITION, Status: Kind.STATUS, Ack: Kind.ACK}[type(message)]
    await store.write_batch([Inbound(envelope=Envelope(
        topic="t", agency="fire", kind=kind, source=unit, received_at=datetime.now(UTC)),
        message=message)], [])


async def test_a_leader_releases_a_unit_with_a_reason(dashboard: str, leader: str,
                                                      api_token: str, store: Store) -> None:
    api = f"{dashboard}/api"
    now = datetime.now(UTC)
    for unit in ("e1", "e2"):
        await feed(store, unit, Position(id=str(uuid.uuid4()), ts=now, unit=unit,
                                         unit_type="fire_engine", lat=37.06, lon=114.49))
    status, incident = send_json("POST", f"{api}/incidents", leader, {
        "type": "fire", "title": "仓库起火", "lat": 37.06, "lon": 114.49})
    url = f"{api}/incidents/{incident['id']}"
    send_json("POST", f"{url}/actions", leader, {"action": "verify"})
    status, (order,) = send_json("POST", f"{url}/dispatch", leader,
                                 {"assignments": [{"task": "fire_attack", "unit": "e1"}]})
    assert status == 201
    await feed(store, "e1", Ack(id=str(uuid.uuid4()), ts=datetime.now(UTC), order=order["id"],
                                unit="e1", state=AckState.EN_ROUTE))

    for who, body, code in ((leader, {}, 400), (leader, {"reason": ""}, 400),
                            (api_token, {"reason": "归队"}, 403)):
        assert send_json("POST", f"{api}/units/e1/release", who, body)[0] == code
    status, refused = send_json("POST", f"{api}/units/e1/status", leader,
                                {"status": "en_route", "reason": "x"})
    assert status == 400
    assert send_json("POST", f"{api}/units/ghost/release", leader, {"reason": "x"})[0] == 404

    status, released = send_json("POST", f"{api}/units/e1/release", leader,
                                 {"reason": "电话确认已归队"})
    assert (status, released) == (200, {"unit": "e1", "cancelled": [order["id"]]})
    status, timeline = send_json("GET", f"{url}/timeline", api_token)
    assert timeline[-1]["action"] == "orders_cancelled"
    assert timeline[-1]["data"]["reason"] == "电话确认已归队"
    status, (event,) = send_json("GET", f"{api}/units/e1/events", api_token)
    assert (event["action"], event["data"]["from"], event["data"]["to"]) == (
        "release", "en_route", "available")
    assert event["actor"] == "token:" + leader.split("_")[1]
    status, proposal = send_json("GET", f"{url}/proposal", leader)
    attack = next(p for p in proposal["proposals"]
                  if p["requirement"]["task_id"] == "fire_attack")
    assert sorted(u["unit"]["unit"] for u in attack["units"]) == ["e1", "e2"]

    status, done = send_json("POST", f"{api}/units/e2/status", leader,
                             {"status": "out_of_service", "reason": "检修"})
    assert (status, done["cancelled"]) == (200, [])
    status, check = send_json("GET", f"{api}/check", api_token)
    assert status == 200 and check["findings"] == []


async def test_the_check_names_the_problem_and_its_repair(dashboard: str, api_token: str,
                                                          store: Store) -> None:
    now = datetime.now(UTC)
    await feed(store, "e9", Position(id=str(uuid.uuid4()), ts=now, unit="e9", lat=37.0,
                                     lon=114.5))
    await feed(store, "e9", Status(id=str(uuid.uuid4()), ts=now, unit="e9",
                                   availability=Availability.ON_SCENE))
    status, check = send_json("GET", f"{dashboard}/api/check", api_token)
    assert status == 200
    (finding,) = check["findings"]
    assert (finding["check"], finding["subject"]) == ("unit_busy_without_order", "e9")
    assert finding["repair"].startswith("sitroom unit release e9 --reason")
