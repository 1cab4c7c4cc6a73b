"""Bulk close and bulk merge over HTTP on a served dashboard with real PostgreSQL and Redis:
each incident journaled with the reason and the actor, refusals reported one by one, the
reason required, roles enforced and the limit held."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.settings import Settings
from tests.support.auth import create_token
from tests.support.http import send_json, served_dashboard

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

LIMIT = 4


@pytest.fixture
def desk_api(settings: Settings) -> Iterator[str]:
    """The dashboard's /api, with at most LIMIT incidents per bulk command."""
    with served_dashboard(settings.model_copy(update={"bulk_max_incidents": LIMIT})) as url:
        yield f"{url}/api"


@pytest.fixture
async def leader(database_url: str) -> str:
    """A leader's bearer token."""
    return await create_token(database_url, "leader", label="leader-zhao")


def reported(api: str, token: str, n: int, title: str = "重复报警") -> list[str]:
    """Ids of `n` new reported incidents."""
    ids = []
    for i in range(n):
        status, incident = send_json("POST", f"{api}/incidents", token, {
            "type": "fire", "title": f"{title} {i}", "lat": 37.06 + i * 1e-3, "lon": 114.49})
        assert status == 201, incident
        ids.append(incident["id"])
    return ids


def status_of(api: str, token: str, incident_id: str) -> str:
    """The incident's status now."""
    status, incident = send_json("GET", f"{api}/incidents/{incident_id}", token)
    assert status == 200
    return str(incident["status"])


def last_event(api: str, token: str, incident_id: str) -> dict[str, object]:
    """The incident's latest journal event."""
    status, timeline = send_json("GET", f"{api}/incidents/{incident_id}/timeline", token)
    assert status == 200
    return dict(timeline[-1])


async def test_bulk_close_journals_the_reason_on_each(desk_api: str, leader: str) -> None:
    ids = reported(desk_api, leader, 3)
    status, result = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "close", "incidents": ids, "resolution": "false_alarm",
        "reason": "同一测试账号发出的演练报警"})
    assert status == 200, result
    assert (result["action"], result["done"], result["refused"]) == ("close", 3, 0)
    assert [item["incident_id"] for item in result["items"]] == ids
    for incident_id in ids:
        assert status_of(desk_api, leader, incident_id) == "closed"
        event = last_event(desk_api, leader, incident_id)
        assert event["action"] == "close" and str(event["actor"]).startswith("token:")
        data = event["data"]
        assert isinstance(data, dict)
        assert (data["resolution"], data["reason"]) == ("false_alarm", "同一测试账号发出的演练报警")


async def test_refusals_are_reported_one_by_one(desk_api: str, leader: str) -> None:
    fine, busy = reported(desk_api, leader, 2)
    assert send_json("POST", f"{desk_api}/incidents/{busy}/actions", leader,
                     {"action": "verify"})[0] == 200
    status, result = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "close", "incidents": [busy, fine, "00000000-0000-4000-8000-000000000000"],
        "reason": "已处置"})  # resolved: only a contained incident may be closed so
    assert status == 200, result
    assert (result["done"], result["refused"]) == (0, 3)
    busy_item, fine_item, missing = result["items"]
    assert "must be contained" in busy_item["error"] and busy_item["error_zh"]
    assert "must be contained" in fine_item["error"]
    assert "does not exist" in missing["error"]
    status, result = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "close", "incidents": [busy, fine], "resolution": "false_alarm",
        "reason": "误报"})
    assert (result["done"], result["refused"]) == (2, 0)


async def test_bulk_merge_folds_them_into_the_target(desk_api: str, leader: str) -> None:
    target, *dups = reported(desk_api, leader, 3, title="化工厂泄漏")
    status, result = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "merge", "target": target, "incidents": dups, "reason": "同一泄漏点"})
    assert status == 200, result
    assert (result["action"], result["target"], result["done"]) == ("merge", target, 2)
    for dup in dups:
        assert status_of(desk_api, leader, dup) == "closed"
        data = last_event(desk_api, leader, dup)["data"]
        assert isinstance(data, dict)
        assert (data["merged_into"], data["reason"]) == (target, "同一泄漏点")
    assert status_of(desk_api, leader, target) == "reported"
    status, problem = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "merge", "incidents": dups, "reason": "x"})
    assert status == 400 and "needs target" in problem["error"]


@pytest.mark.parametrize(("reason", "status", "fragment"), [
    ("   ", 422, "needs a reason"),
    ("", 400, "Expected `str` of length >= 1"),
    (None, 400, "missing required field `reason`"),
])
async def test_a_reason_is_required(desk_api: str, leader: str, reason: str | None,
                                    status: int, fragment: str) -> None:
    ids = reported(desk_api, leader, 1)
    request: dict[str, object] = {"action": "close", "incidents": ids,
                                  "resolution": "false_alarm"}
    if reason is not None:
        request["reason"] = reason
    got, problem = send_json("POST", f"{desk_api}/incidents/bulk", leader, request)
    assert (got, fragment in problem["error"]) == (status, True), problem
    assert status_of(desk_api, leader, ids[0]) == "reported"


async def test_over_the_limit_nothing_is_done(desk_api: str, leader: str) -> None:
    ids = reported(desk_api, leader, LIMIT + 1)
    status, problem = send_json("POST", f"{desk_api}/incidents/bulk", leader, {
        "action": "close", "incidents": ids, "resolution": "false_alarm", "reason": "清理"})
    assert status == 422
    assert problem["error"].startswith(f"at most {LIMIT} incidents per bulk command (5 asked)")
    assert "bulk_max_incidents" in problem["error"] and "分批" in problem["error_zh"]
    assert {status_of(desk_api, leader, i) for i in ids} == {"reported"}


async def test_an_operator_may_not_bulk_close(desk_api: str, leader: str,
                                              api_token: str) -> None:
    ids = reported(desk_api, leader, 2)
    status, problem = send_json("POST", f"{desk_api}/incidents/bulk", api_token, {
        "action": "close", "incidents": ids, "resolution": "false_alarm", "reason": "清理"})
    assert status == 403, problem
    status, _ = send_json("POST", f"{desk_api}/incidents/bulk", None, {
        "action": "close", "incidents": ids, "resolution": "false_alarm", "reason": "清理"})
    assert status == 401
    assert {status_of(desk_api, leader, i) for i in ids} == {"reported"}
