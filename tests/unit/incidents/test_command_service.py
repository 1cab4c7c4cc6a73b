"""The command service on the in-memory store and live state: incidents, their life cycle,
merges and notes, and what happens when the store or the live state is gone."""

from __future__ import annotations

import logging

import pytest

from incidents.command import Actor, NewIncident
from incidents.errors import Conflict, Invalid, NotFound, StoreUnavailable
from incidents.lifecycle import Action, IllegalTransition, Resolution
from incidents.model import IncidentStatus, Level
from tests.support.memory_command import FIRE, LEADER, Desk, desk


@pytest.fixture(name="d")
def desk_fixture() -> Desk:
    """A fresh service on fresh twins."""
    return desk()


def new(kind: str = "fire", title: str = "居民楼起火", text: str | None = None) -> NewIncident:
    """A report as a person enters it."""
    return NewIncident(type=kind, level=Level.III, title=title, lat=FIRE[0], lon=FIRE[1],
                       text=text)


async def test_create_records_the_incident_and_tells_the_live_state(d: Desk) -> None:
    created = await d.service.create(new(title="  仓库起火  ", text="三楼冒烟"), LEADER)
    assert (created.status, created.level, created.title) == (
        IncidentStatus.REPORTED, Level.III, "仓库起火")
    assert created.reported_at == created.updated_at == d.clock.now()
    assert await d.service.incident(created.id) == created
    assert await d.live.incidents() == [created]
    (entry,) = await d.service.timeline(created.id)
    assert (entry["action"], entry["actor"], entry["client"]) == ("reported", "leader-li",
                                                                  "10.0.0.9")
    assert entry["data"]["text"] == "三楼冒烟" and entry["data"]["district"] is None


async def test_create_refuses_unknown_types_and_blank_titles(d: Desk) -> None:
    with pytest.raises(Invalid, match="nope") as unknown:
        await d.service.create(new(kind="nope"), LEADER)
    assert "nope" in unknown.value.zh
    with pytest.raises(Invalid, match="title"):
        await d.service.create(new(title="   "), LEADER)
    assert await d.service.incidents() == []


async def test_the_life_cycle_runs_from_report_to_close(d: Desk) -> None:
    incident = await d.fire(verify=False)
    for action, status in ((Action.VERIFY, IncidentStatus.VERIFIED),
                           (Action.RESPOND, IncidentStatus.RESPONDING),
                           (Action.CONTAIN, IncidentStatus.CONTAINED)):
        d.clock.advance(60)
        moved = await d.service.act(incident.id, action, LEADER, reason="现场")
        assert moved.status is status and moved.updated_at == d.clock.now()
        assert [i.status for i in await d.live.incidents()] == [status]
    closed = await d.service.act(incident.id, Action.CLOSE, LEADER)
    assert closed.status is IncidentStatus.CLOSED
    assert await d.live.incidents() == []  # closed incidents leave the map
    actions = [e["action"] for e in await d.service.timeline(incident.id)]
    assert actions == ["reported", "verify", "respond", "contain", "close"]


async def test_bad_transitions_are_conflicts_and_change_nothing(d: Desk) -> None:
    incident = await d.fire()
    with pytest.raises(IllegalTransition, match="cannot verify an incident that is verified"):
        await d.service.act(incident.id, Action.VERIFY, LEADER)
    with pytest.raises(Conflict, match="must be contained"):
        await d.service.act(incident.id, Action.CLOSE, LEADER)
    with pytest.raises(Conflict, match="cannot deescalate from level IV to III: use escalate"):
        await d.service.act(incident.id, Action.DEESCALATE, LEADER, level=Level.III)
    with pytest.raises(Invalid, match="needs the new level"):
        await d.service.act(incident.id, Action.ESCALATE, LEADER)
    with pytest.raises(Invalid, match="use merge"):
        await d.service.act(incident.id, Action.MERGE, LEADER)
    assert await d.service.incident(incident.id) == incident
    assert len(await d.service.timeline(incident.id)) == 2


async def test_escalation_and_false_alarms(d: Desk) -> None:
    incident = await d.fire()
    raised = await d.service.act(incident.id, Action.ESCALATE, LEADER, level=Level.II)
    assert raised.level is Level.II
    lowered = await d.service.act(incident.id, Action.DEESCALATE, LEADER, level=Level.III)
    assert lowered.level is Level.III
    closed = await d.service.act(incident.id, Action.CLOSE, LEADER,
                                 resolution=Resolution.FALSE_ALARM)
    assert closed.status is IncidentStatus.CLOSED


async def test_merge_keeps_one_incident_and_closes_the_other(d: Desk) -> None:
    kept = await d.fire()
    dup = await d.service.create(new(), LEADER)
    target, gone = await d.service.merge(kept.id, dup.id, LEADER)
    assert (target.status, target.level) == (IncidentStatus.VERIFIED, Level.III)
    assert gone.status is IncidentStatus.CLOSED
    assert [i.id for i in await d.live.incidents()] == [kept.id]
    with pytest.raises(Conflict, match="closed incident"):
        await d.service.merge(kept.id, dup.id, LEADER)


async def test_merging_an_incident_with_itself_is_refused_before_the_store(d: Desk) -> None:
    incident = await d.fire()
    with d.store.outage(), pytest.raises(IllegalTransition, match="itself"):
        await d.service.merge(incident.id, incident.id, LEADER)


async def test_notes_and_records_are_journaled(d: Desk) -> None:
    incident = await d.fire()
    with pytest.raises(Invalid, match="must not be empty"):
        await d.service.note(incident.id, "  ", LEADER)
    await d.service.note(incident.id, " 消防已到场 ", Actor(name="op"))
    await d.service.record(incident.id, "conference", {"room": "r1"}, LEADER)
    *_, note, record = await d.service.timeline(incident.id)
    assert (note["action"], note["actor"], note["data"]) == ("note", "op", {"text": "消防已到场"})
    assert (record["action"], record["data"]) == ("conference", {"room": "r1"})


async def test_unknown_incidents_are_not_found(d: Desk) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await d.service.act("nope", Action.VERIFY, LEADER)
    with pytest.raises(NotFound):
        await d.service.note("nope", "x", LEADER)
    with pytest.raises(NotFound):
        await d.service.propose("nope")


async def test_incidents_are_filtered(d: Desk) -> None:
    first = await d.fire()
    d.clock.advance(60)
    second = await d.service.create(new(kind="flood"), LEADER)
    assert [i.id for i in await d.service.incidents()] == [second.id, first.id]
    assert [i.id for i in await d.service.incidents(types=["fire"])] == [first.id]
    assert [i.id for i in await d.service.incidents(
        status=[IncidentStatus.REPORTED])] == [second.id]
    assert [i.id for i in await d.service.incidents(since=d.clock.now())] == [second.id]


async def test_a_store_outage_surfaces_as_store_unavailable(d: Desk) -> None:
    incident = await d.fire()
    with d.store.outage():
        for call in (d.service.create(new(), LEADER),
                     d.service.act(incident.id, Action.RESPOND, LEADER),
                     d.service.incidents(), d.service.propose(incident.id)):
            with pytest.raises(StoreUnavailable):
                await call
    assert (await d.service.incident(incident.id)).status is IncidentStatus.VERIFIED


async def test_a_live_state_outage_does_not_undo_the_command(
    d: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    incident = await d.fire()
    with d.live.outage(), caplog.at_level(logging.WARNING, "incidents.command"):
        moved = await d.service.act(incident.id, Action.RESPOND, LEADER)
    assert moved.status is IncidentStatus.RESPONDING
    assert (await d.service.incident(incident.id)).status is IncidentStatus.RESPONDING
    assert "not yet live" in caplog.text
    assert [i.status for i in await d.live.incidents()] == [IncidentStatus.VERIFIED]
    await d.service.act(incident.id, Action.CONTAIN, LEADER)  # the next change catches up
    assert [i.status for i in await d.live.incidents()] == [IncidentStatus.CONTAINED]


async def test_closing_as_merged_is_refused_and_says_to_merge(d: Desk) -> None:
    incident = await d.fire()
    with pytest.raises(Invalid, match="set by merging.*/merge") as refused:
        await d.service.act(incident.id, Action.CLOSE, LEADER, resolution=Resolution.MERGED)
    assert "合并" in refused.value.zh
    assert await d.service.incident(incident.id) == incident


async def test_a_subnormal_latitude_is_recorded_as_zero(d: Desk) -> None:
    created = await d.service.create(
        NewIncident(type="fire", title="赤道附近", lat=-5e-324, lon=5e-324), LEADER)
    assert (created.lat, created.lon) == (0.0, 0.0)
    assert await d.service.incident(created.id) == created
