"""Bulk close and bulk merge on the in-memory twins: the reason, the limit, and per-incident
outcomes that keep one refusal from hiding the others."""

from __future__ import annotations

import pytest

from incidents.bulk import BulkVerb, each
from incidents.command import NewIncident
from incidents.errors import Invalid, NotFound, StoreUnavailable
from incidents.lifecycle import Action, Resolution
from incidents.model import Incident, IncidentStatus, Level
from tests.support.memory_command import FIRE, LEADER, Desk, desk


@pytest.fixture(name="d")
def desk_fixture() -> Desk:
    """A fresh service on fresh twins, at most 5 incidents per bulk command."""
    made = desk()
    made.service.bulk_max = 5
    return made


async def reported(d: Desk, n: int) -> list[Incident]:
    """`n` reported incidents."""
    return [await d.service.create(NewIncident(type="fire", level=Level.IV, title=f"误报 {i}",
                                               lat=FIRE[0], lon=FIRE[1]), LEADER)
            for i in range(n)]


async def test_bulk_false_alarm_closes_each_and_journals_the_reason(d: Desk) -> None:
    incidents = await reported(d, 3)
    result = await d.service.close_many([i.id for i in incidents], LEADER,
                                        reason=" 演练误报 ", resolution=Resolution.FALSE_ALARM)
    assert (result.action, result.done, result.refused) == (BulkVerb.CLOSE, 3, 0)
    assert [item.incident_id for item in result.items] == [i.id for i in incidents]
    for incident in incidents:
        assert (await d.service.incident(incident.id)).status is IncidentStatus.CLOSED
        last = (await d.service.timeline(incident.id))[-1]
        assert (last["action"], last["actor"], last["data"]["reason"],
                last["data"]["resolution"]) == ("close", "leader-li", "演练误报", "false_alarm")
    assert await d.live.incidents() == []


async def test_one_refusal_does_not_hide_the_others(d: Desk) -> None:
    first, busy, last = await reported(d, 3)
    for move in (Action.VERIFY, Action.RESPOND):  # false alarm no longer fits a response
        await d.service.act(busy.id, move, LEADER)
    result = await d.service.close_many([first.id, busy.id, "nope", last.id, first.id], LEADER,
                                        reason="重复报警", resolution=Resolution.FALSE_ALARM)
    assert (result.done, result.refused) == (2, 2)  # the repeated id counts once
    outcome = {item.incident_id: item for item in result.items}
    assert outcome[first.id].done and outcome[last.id].done
    assert not outcome[busy.id].done and "false" in (outcome[busy.id].error or "")
    assert outcome[busy.id].error_zh
    assert "does not exist" in (outcome["nope"].error or "")
    assert (await d.service.incident(busy.id)).status is IncidentStatus.RESPONDING


async def test_a_reason_is_required_and_the_limit_holds(d: Desk) -> None:
    incidents = await reported(d, 6)
    ids = [i.id for i in incidents]
    with pytest.raises(Invalid, match="needs a reason"):
        await d.service.close_many(ids[:2], LEADER, reason="   ")
    with pytest.raises(Invalid, match="at most 5 incidents.*6 asked") as over:
        await d.service.close_many(ids, LEADER, reason="清理")
    assert "5" in over.value.zh
    with pytest.raises(Invalid, match="set by merging"):
        await d.service.close_many(ids[:1], LEADER, reason="清理",
                                   resolution=Resolution.MERGED)
    with pytest.raises(Invalid, match="at least one"):
        await d.service.close_many([], LEADER, reason="清理")
    assert all(i.status is IncidentStatus.REPORTED for i in await d.service.incidents())


async def test_bulk_merge_folds_duplicates_into_the_target(d: Desk) -> None:
    target = await d.fire(level=Level.III)
    dups = await reported(d, 2)
    result = await d.service.merge_many(target.id, [dups[0].id, target.id, dups[1].id], LEADER,
                                        reason="同一起火情的重复报警")
    assert (result.action, result.target, result.done, result.refused) == (
        BulkVerb.MERGE, target.id, 2, 1)
    assert "itself" in (result.items[1].error or "")
    for dup in dups:
        gone = (await d.service.timeline(dup.id))[-1]
        assert gone["data"]["merged_into"] == target.id
        assert gone["data"]["reason"] == "同一起火情的重复报警"
    kept = [e for e in await d.service.timeline(target.id) if e["action"] == "merge"]
    assert [e["data"]["absorbed"] for e in kept] == [dups[0].id, dups[1].id]
    assert {e["data"]["reason"] for e in kept} == {"同一起火情的重复报警"}
    with pytest.raises(NotFound):
        await d.service.merge_many("nope", [dups[0].id], LEADER, reason="x")


async def test_an_outage_before_anything_is_done_is_the_usual_error(d: Desk) -> None:
    incidents = await reported(d, 2)
    with d.store.outage(), pytest.raises(StoreUnavailable):
        await d.service.close_many([i.id for i in incidents], LEADER, reason="清理",
                                   resolution=Resolution.FALSE_ALARM)


async def test_an_outage_midway_reports_the_rest_as_not_tried() -> None:
    seen: list[str] = []

    async def apply(incident_id: str) -> None:
        seen.append(incident_id)
        if incident_id == "b":
            raise StoreUnavailable("connection refused")
        if incident_id == "c":
            raise AssertionError("nothing is tried after the outage")

    result = await each(BulkVerb.CLOSE, None, ["a", "b", "c"], apply)
    assert seen == ["a", "b"]
    assert (result.done, result.refused) == (1, 2)
    assert [item.done for item in result.items] == [True, False, False]
    assert all("not tried: connection refused" in (item.error or "")
               for item in result.items[1:])
