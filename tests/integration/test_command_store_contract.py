"""The command store's contract: one suite, run against PostgreSQL and the in-memory twin
(habit 13), so the service's fast unit tests on the twin stand for the real store."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from incidents import lifecycle
from incidents.dispatch import OrderState
from incidents.errors import Conflict, NotFound
from incidents.lifecycle import Action, IllegalTransition, Resolution
from incidents.memory.command import MemoryCommandStore
from incidents.model import AckState, Availability, Incident, IncidentStatus, Level
from incidents.plans import Requirement
from incidents.ports.command import Decide
from incidents.taxonomy import Text
from maps.analysis.geodesy import haversine_m
from tests.support.command_backends import Backend, MemoryBackend, PostgresBackend

pytestmark = pytest.mark.integration

HERE = (37.06, 114.49)
M_PER_DEG = 111_195.0  # one degree of latitude on the mean sphere, metres
ATTACK = Requirement(plan_id="fire", plan_version="3", level=Level.III, task_id="attack",
                     agency="fire", unit_kind="fire_engine", count=2, ack_deadline_s=90,
                     name=Text(zh="灭火", en="Fire attack"),
                     detail=Text(zh="扑灭明火", en="Put the fire out"))


@pytest.fixture(params=["postgres", "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each command store in turn (PostgreSQL on the test's own database)."""
    if request.param == "memory":
        return MemoryBackend(MemoryCommandStore(haversine_m))
    return PostgresBackend(request.getfixturevalue("store"))


def north(metres: float) -> tuple[float, float]:
    """The point `metres` north of HERE."""
    return HERE[0] + metres / M_PER_DEG, HERE[1]


def incident(kind: str = "fire", level: Level = Level.III, at: tuple[float, float] = HERE,
             reported_at: datetime | None = None, title: str = "仓库起火") -> Incident:
    """A new reported incident."""
    when = reported_at or datetime.now(UTC)
    return Incident(id=str(uuid.uuid4()), type=kind, level=level,
                    status=IncidentStatus.REPORTED, title=title, lat=at[0], lon=at[1],
                    reported_at=when, updated_at=when, agency="command")


def advance(action: Action) -> Decide:
    """The decision that moves an incident by `action`."""
    return lambda state: lifecycle.advance(state, action)


async def created(backend: Backend, kind: str = "fire", level: Level = Level.III,
                  at: tuple[float, float] = HERE, reported_at: datetime | None = None,
                  title: str = "仓库起火") -> Incident:
    """An incident created in the store."""
    new = incident(kind, level, at, reported_at, title)
    return await backend.store.create(new, "leader", "10.0.0.1", {"text": "电话报警"})


async def verified(backend: Backend) -> Incident:
    """A verified incident with two fire engines and a patrol car near it."""
    found = await created(backend)
    now = datetime.now(UTC)
    for unit, metres in (("e1", 500), ("e2", 900), ("e3", 3000)):
        await backend.fix(unit, "fire_engine", *north(metres), now)
    await backend.fix("p1", "patrol_car", *north(400), now, agency="police")
    return await backend.store.transition(found.id, advance(Action.VERIFY), "leader", None, {})


# --- incidents and the journal ----------------------------------------------------------

async def test_a_created_incident_is_read_back_and_journaled(backend: Backend) -> None:
    store = backend.store
    new = await created(backend, title="化工厂泄漏")
    assert await store.incident(new.id) == new
    (entry,) = await store.timeline(new.id)
    assert (entry["seq"] > 0, entry["actor"], entry["action"], entry["client"]) == (
        True, "leader", "reported", "10.0.0.1")
    assert entry["data"] == {"type": "fire", "level": "III", "title": "化工厂泄漏",
                             "text": "电话报警"}


async def test_unknown_incidents_are_not_found(backend: Backend) -> None:
    store, nobody = backend.store, str(uuid.uuid4())
    for call in (store.incident(nobody), store.incident("not-a-uuid"), store.timeline(nobody),
                 store.note(nobody, "x", "a", None),
                 store.transition(nobody, advance(Action.VERIFY), "a", None, {})):
        with pytest.raises(NotFound):
            await call


async def test_transitions_follow_the_decision_and_journal_it(backend: Backend) -> None:
    store = backend.store
    new = await created(backend)
    moved = await store.transition(new.id, advance(Action.VERIFY), "leader", "c",
                                   {"reason": "现场确认"})
    assert (moved.status, moved.level) == (IncidentStatus.VERIFIED, Level.III)
    assert moved.updated_at >= new.reported_at
    assert await store.incident(new.id) == moved
    escalated = await store.transition(
        new.id, lambda s: lifecycle.change_level(s, Level.I), "leader", None, {})
    assert escalated.level is Level.I
    actions = [(e["action"], e["data"].get("reason")) for e in await store.timeline(new.id)]
    assert actions == [("reported", None), ("verify", "现场确认"), ("escalate", None)]


async def test_a_refused_decision_changes_nothing(backend: Backend) -> None:
    store = backend.store
    new = await created(backend)
    with pytest.raises(IllegalTransition):
        await store.transition(new.id, lambda s: lifecycle.close(s, Resolution.RESOLVED),
                               "leader", None, {})
    assert await store.incident(new.id) == new
    assert [e["action"] for e in await store.timeline(new.id)] == ["reported"]


async def test_notes_and_events_are_journaled_in_order(backend: Backend) -> None:
    store = backend.store
    new = await created(backend)
    await store.note(new.id, "消防已到场", "leader", "10.0.0.2")
    await store.note_event(new.id, "video", "recording", {"file": "a.mp4", "n": [1, 2]})
    entries = (await store.timeline(new.id))[1:]
    assert [(e["action"], e["actor"], e["client"], e["data"]) for e in entries] == [
        ("note", "leader", "10.0.0.2", {"text": "消防已到场"}),
        ("recording", "video", None, {"file": "a.mp4", "n": [1, 2]})]
    assert entries[0]["seq"] < entries[1]["seq"] and entries[0]["at"] <= entries[1]["at"]


async def test_a_merge_moves_open_orders_and_journals_both(backend: Backend) -> None:
    store = backend.store
    target = await verified(backend)
    absorbed = await created(backend, level=Level.II)
    absorbed = await store.transition(absorbed.id, advance(Action.VERIFY), "l", None, {})
    now = datetime.now(UTC)
    open_order, done_order = await store.dispatch(
        absorbed.id, ("fire", "3"), Level.II, [(ATTACK, "e1"), (ATTACK, "e2")], "l", None,
        now, None)
    await backend.ack(done_order.id, "e2", AckState.DONE, now + timedelta(seconds=5))

    kept, gone = await store.merge(target.id, absorbed.id,
                                   lambda t, a: lifecycle.merge(t, a, same=False), "l", "c")
    assert (kept.status, kept.level) == (IncidentStatus.VERIFIED, Level.II)
    assert gone.status is IncidentStatus.CLOSED
    assert [o.id for o in await store.orders(target.id)] == [open_order.id]
    assert [o.id for o in await store.orders(absorbed.id)] == [done_order.id]
    assert (await store.timeline(target.id))[-1]["data"]["absorbed"] == absorbed.id
    assert (await store.timeline(absorbed.id))[-1]["data"]["merged_into"] == target.id


async def test_incidents_are_listed_by_filter_newest_first(backend: Backend) -> None:
    store, now = backend.store, datetime.now(UTC)
    old = await created(backend, reported_at=now - timedelta(hours=5))
    gas = await created(backend, kind="gas_leak", level=Level.I,
                        reported_at=now - timedelta(hours=1))
    fire = await created(backend, reported_at=now - timedelta(minutes=5))
    fire = await store.transition(fire.id, advance(Action.VERIFY), "l", None, {})

    async def ids(status: list[IncidentStatus] | None = None, levels: list[Level] | None = None,
                  types: list[str] | None = None, since: datetime | None = None,
                  limit: int = 50) -> list[str]:
        found = await store.list_incidents(status=status, levels=levels, types=types,
                                           since=since, limit=limit)
        return [i.id for i in found]

    assert await ids() == [fire.id, gas.id, old.id]
    assert await ids(status=[IncidentStatus.REPORTED]) == [gas.id, old.id]
    assert await ids(levels=[Level.I]) == [gas.id]
    assert await ids(types=["fire"], since=now - timedelta(hours=2)) == [fire.id]
    assert await ids(limit=2) == [fire.id, gas.id]


async def test_similar_incidents_are_near_recent_and_of_the_type(backend: Backend) -> None:
    store, now = backend.store, datetime.now(UTC)
    this = await created(backend, reported_at=now)
    near = await created(backend, at=north(1000), reported_at=now - timedelta(days=30))
    nearer = await created(backend, at=north(300), reported_at=now - timedelta(days=200))
    await created(backend, at=north(9000), reported_at=now - timedelta(days=3))  # too far
    await created(backend, at=north(200), reported_at=now - timedelta(days=400))  # too old
    await created(backend, kind="flood", at=north(100), reported_at=now)  # other type
    found = await store.similar(this, radius_m=5000, days=365, limit=10)
    assert [i.id for i in found] == [nearer.id, near.id]
    assert [i.id for i in await store.similar(this, 5000, 365, 1)] == [nearer.id]
    assert [i.id for i in await store.similar(this, 5000, 60, 10)] == [near.id]


# --- dispatch and orders ------------------------------------------------------------------

async def test_dispatch_issues_orders_and_can_move_the_incident_on(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    orders = await store.dispatch(found.id, ("fire", "3"), Level.III,
                                  [(ATTACK, "e1"), (ATTACK, "e2")], "leader", "c", now,
                                  advance(Action.RESPOND))
    assert [(o.unit, o.agency, o.task_id, o.state, o.replaces) for o in orders] == [
        ("e1", "fire", "attack", OrderState.ISSUED, None),
        ("e2", "fire", "attack", OrderState.ISSUED, None)]
    first = orders[0]
    assert (first.incident_id, first.issued_by, first.issued_at, first.send_count) == (
        found.id, "leader", now, 0)
    assert first.deadline_at - first.issued_at == timedelta(seconds=90)
    assert first.task == {"name": {"zh": "灭火", "en": "Fire attack"},
                          "detail": {"zh": "扑灭明火", "en": "Put the fire out"}}
    assert first.dispatch_id is not None and first.dispatch_id == orders[1].dispatch_id
    assert (await store.incident(found.id)).status is IncidentStatus.RESPONDING
    assert sorted(await store.orders(found.id), key=lambda o: o.unit) == orders
    assert await store.order(first.id) == first
    *_, responded, dispatched = await store.timeline(found.id)
    assert responded["action"] == "respond"
    assert dispatched["action"] == "dispatch" and dispatched["data"]["plan"] == "fire"
    assert [o["unit"] for o in dispatched["data"]["orders"]] == ["e1", "e2"]
    assert await store.busy_units() == {"e1", "e2"}


async def test_dispatch_refuses_unknown_busy_and_doubled_units(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    await store.dispatch(found.id, None, Level.III, [(ATTACK, "e1")], "l", None, now, None)
    before = await store.timeline(found.id)
    with pytest.raises(NotFound):
        await store.dispatch(found.id, None, Level.III, [(ATTACK, "ghost")], "l", None, now,
                             None)
    with pytest.raises(Conflict):
        await store.dispatch(found.id, None, Level.III, [(ATTACK, "e1")], "l", None, now, None)
    with pytest.raises(Conflict):
        await store.dispatch(found.id, None, Level.III, [(ATTACK, "e2"), (ATTACK, "e2")],
                             "l", None, now, advance(Action.RESPOND))
    with pytest.raises(NotFound):
        await store.order(str(uuid.uuid4()))
    assert await store.timeline(found.id) == before
    assert [o.unit for o in await store.orders(found.id)] == ["e1"]
    assert (await store.incident(found.id)).status is IncidentStatus.VERIFIED


async def test_units_are_free_again_when_their_order_ends(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    one, two = await store.dispatch(found.id, None, Level.III,
                                    [(ATTACK, "e1"), (ATTACK, "e2")], "l", None, now, None)
    await backend.ack(one.id, "e1", AckState.ON_SCENE, now + timedelta(seconds=1))
    await backend.ack(two.id, "e2", AckState.REJECTED, now + timedelta(seconds=1))
    assert await store.busy_units() == {"e1"}
    assert (await store.order(two.id)).state is OrderState.REJECTED
    await backend.ack(one.id, "e1", AckState.DONE, now + timedelta(seconds=2))
    assert await store.busy_units() == set()


async def test_reassign_cancels_and_reissues_the_task(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    (old,) = await store.dispatch(found.id, None, Level.III, [(ATTACK, "e1")], "l", None, now,
                                  None)
    later = now + timedelta(minutes=3)
    new = await store.reassign(old.id, "e3", "leader-2", "c", later)
    assert (new.unit, new.replaces, new.state, new.issued_by, new.issued_at) == (
        "e3", old.id, OrderState.ISSUED, "leader-2", later)
    assert (new.task_id, new.task, new.dispatch_id) == (old.task_id, old.task, old.dispatch_id)
    assert new.deadline_at - new.issued_at == old.deadline_at - old.issued_at
    assert (await store.order(old.id)).state is OrderState.CANCELLED
    assert await store.busy_units() == {"e3"}
    reassigned = (await store.timeline(found.id))[-1]
    assert (reassigned["action"], reassigned["data"]["from_unit"]) == ("reassign", "e1")
    with pytest.raises(Conflict):  # cancelled
        await store.reassign(old.id, "e2", "l", None, later)
    with pytest.raises(Conflict):  # e3 is busy
        await store.reassign(new.id, "e3", "l", None, later)
    with pytest.raises(NotFound):
        await store.reassign(new.id, "ghost", "l", None, later)
    with pytest.raises(NotFound):
        await store.reassign(str(uuid.uuid4()), "e2", "l", None, later)


async def test_a_busy_unit_is_sent_on_purpose_only_when_named(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    other = await verified(backend)
    now = datetime.now(UTC)
    (first,) = await store.dispatch(found.id, None, Level.III, [(ATTACK, "e1")], "l", None,
                                    now, None)
    with pytest.raises(Conflict):  # e1 is busy and not named in busy_ok
        await store.dispatch(other.id, None, Level.III, [(ATTACK, "e1"), (ATTACK, "e2")],
                             "l", None, now, None, busy_ok={"e2"}, reason="最近")
    orders = await store.dispatch(other.id, None, Level.III, [(ATTACK, "e1"), (ATTACK, "e2")],
                                  "l", None, now, None, busy_ok={"e1", "e2"},
                                  reason="唯一的泡沫车")
    assert [o.unit for o in orders] == ["e1", "e2"]
    assert (await store.order(first.id)).state is OrderState.ISSUED  # the first order stands
    dispatched = (await store.timeline(other.id))[-1]
    # Only e1 was busy: e2 is named but overrides nothing, so only e1 is journaled.
    assert (dispatched["data"]["busy_override"], dispatched["data"]["reason"]) == (
        ["e1"], "唯一的泡沫车")
    assert "busy_override" not in (await store.timeline(found.id))[-1]["data"]
    # An ordinary dispatch of e2 (now busy) is still refused.
    with pytest.raises(Conflict):
        await store.dispatch(found.id, None, Level.III, [(ATTACK, "e2")], "l", None, now, None)
    # Reassigning to a busy unit: refused unless named, journaled when named.
    with pytest.raises(Conflict):
        await store.reassign(first.id, "e2", "l", None, now)
    new = await store.reassign(first.id, "e2", "l2", None, now, busy_ok={"e2"},
                               reason="e3 故障")
    assert new.unit == "e2"
    reassigned = (await store.timeline(found.id))[-1]
    assert (reassigned["action"], reassigned["data"]["busy_override"],
            reassigned["data"]["reason"]) == ("reassign", ["e2"], "e3 故障")
    assert await store.busy_units() == {"e1", "e2"}


# --- units, wind, the daily figures --------------------------------------------------------

async def test_unit_points_say_who_is_online_and_available(backend: Backend) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    await backend.fix("old", "fire_engine", *north(100), now - timedelta(hours=2))
    await backend.status("e2", Availability.OUT_OF_SERVICE, now)
    await store.dispatch(found.id, None, Level.III, [(ATTACK, "e1")], "l", None, now, None)
    points = {p.unit: p for p in await store.unit_points(now - timedelta(minutes=5))}
    assert sorted(points) == ["e1", "e2", "e3", "p1"]
    assert {u: p.available for u, p in points.items()} == {
        "e1": False, "e2": False, "e3": True, "p1": True}
    assert (points["p1"].agency, points["p1"].unit_kind) == ("police", "patrol_car")
    assert points["e3"].lat == pytest.approx(north(3000)[0])
    assert await store.unit_kind("e1") == "fire_engine"
    assert await store.unit_kind("ghost") is None


async def test_unit_changes_follow_a_watermark(backend: Backend) -> None:
    store = backend.store
    now = datetime.now(UTC)
    await backend.fix("a", "fire_engine", *north(100), now)
    await backend.fix("b", None, *north(200), now)
    online = now - timedelta(minutes=5)
    everything = await store.unit_changes(online, None)
    assert sorted(p.unit for p in everything.points) == ["a", "b"]
    assert everything.last_seen == {"a": now, "b": now}
    assert everything.watermark is not None
    nothing = await store.unit_changes(online, everything.watermark)
    assert (nothing.points, nothing.watermark) == ([], everything.watermark)
    await asyncio.sleep(0.01)  # the next change is written at a later time
    await backend.fix("b", None, *north(250), now + timedelta(seconds=1))
    moved = await store.unit_changes(online, everything.watermark)
    assert [p.unit for p in moved.points] == ["b"]
    assert moved.points[0].lat == pytest.approx(north(250)[0])
    assert moved.watermark is not None and moved.watermark > everything.watermark


async def test_latest_wind_is_the_nearest_complete_recent_station(backend: Backend) -> None:
    store, now = backend.store, datetime.now(UTC)
    since = now - timedelta(hours=3)
    assert await store.latest_wind(*HERE, 30_000, since) is None
    await backend.observe("near", "wind_direction", 370.0, *north(2000), now)
    await backend.observe("near", "wind_speed", 4.5, *north(2000), now)
    await backend.observe("nearest-no-speed", "wind_direction", 90.0, *north(500), now)
    await backend.observe("far", "wind_direction", 180.0, *north(40_000), now)
    await backend.observe("far", "wind_speed", 9.0, *north(40_000), now)
    await backend.observe("stale", "wind_direction", 45.0, *north(100), now - timedelta(hours=4))
    await backend.observe("stale", "wind_speed", 2.0, *north(100), now - timedelta(hours=4))
    assert await store.latest_wind(*HERE, 30_000, since) == (10.0, 4.5, "near", now)
    assert await store.latest_wind(*HERE, 1000, since) is None


async def test_daily_rows_say_when_incidents_were_verified_and_reached(
    backend: Backend
) -> None:
    store = backend.store
    found = await verified(backend)
    now = datetime.now(UTC)
    order, other = await store.dispatch(found.id, None, Level.III,
                                        [(ATTACK, "e1"), (ATTACK, "e2")], "l", None, now, None)
    await backend.ack(order.id, "e1", AckState.ON_SCENE, now + timedelta(minutes=9))
    await backend.ack(other.id, "e2", AckState.ON_SCENE, now + timedelta(minutes=7))
    quiet = await created(backend, kind="flood", reported_at=now - timedelta(minutes=1))
    await created(backend, reported_at=now - timedelta(days=2))  # another day
    rows = await store.daily_rows(now - timedelta(hours=1), now + timedelta(hours=1))
    assert [r["id"] for r in rows] == [quiet.id, found.id]
    assert rows[0] == {"id": quiet.id, "type": "flood", "level": "III", "status": "reported",
                       "lat": HERE[0], "lon": HERE[1], "reported_at": quiet.reported_at,
                       "verified_at": None, "first_on_scene_at": None}
    assert rows[1]["status"] == "verified" and rows[1]["verified_at"] is not None
    assert rows[1]["first_on_scene_at"] == now + timedelta(minutes=7)

