"""The simulator's fleets and how a simulated unit answers dispatch orders (no broker)."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from config.settings import DEFAULT_AGENCIES
from incidents.dispatch import DispatchOrderMessage, OrderIncident, OrderState, after_ack
from incidents.model import Ack, AckState, Level
from incidents.plans import load_plans
from incidents.taxonomy import Text, load_taxonomy
from ingest.codecs import DecodeError, Reason
from ingest.field_client import MAX_ORDER_BYTES, decode_order
from ingest.sim_units import (
    FLEETS,
    Duty,
    Fleet,
    Hub,
    Response,
    SimUnit,
    fleet_counts,
    load_hubs,
    make_units,
)

T0 = datetime(2026, 7, 21, 8, 30, tzinfo=UTC)
HUB = Hub(code="130502", name="襄都区", lat=37.06959, lon=114.55774, radius_km=4.0, weight=4)
PATROL = next(f for f in FLEETS if f.unit_type == "patrol_car")
RESPONSE = Response()  # as in the demo: acknowledge in 3-15 s, work 60-180 s


def order(unit: str, lat: float, lon: float, order_id: str = "o-1", resend: int = 0
          ) -> DispatchOrderMessage:
    return DispatchOrderMessage(
        id=order_id, ts=T0, unit=unit,
        incident=OrderIncident(id="i-1", type="fire", level=Level.III, title="襄都区居民楼起火",
                               lat=lat, lon=lon),
        task_id="cordon", task=Text(zh="现场警戒", en="Cordon"),
        detail=Text(zh="设置警戒区", en="Set up a cordon"), dispatch_id="d-1",
        ack_by=T0 + timedelta(minutes=5), resend=resend)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    d_lat = (a[0] - b[0]) * 111_320.0
    d_lon = (a[1] - b[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(d_lat, d_lon)


def run(unit: SimUnit, seconds: int, start: int = 0, dt: float = 1.0
        ) -> list[tuple[int, Ack]]:
    """Step the unit one second at a time; the acks with the second they were made at."""
    made = []
    for second in range(start, start + seconds):
        now = T0 + timedelta(seconds=second)
        made += [(second, ack) for ack in unit.step(dt, now)]
    return made


def step_until(unit: SimUnit, done: Callable[[SimUnit], bool], limit_s: int = 3600) -> None:
    for _ in range(limit_s):
        if done(unit):
            return
        unit.step(1.0, T0)
    raise AssertionError(f"{unit.unit} still {unit.duty} after {limit_s} s")


def unit_near_incident(seed: int = 7) -> tuple[SimUnit, tuple[float, float]]:
    unit = SimUnit("xt-110-001", PATROL, HUB, random.Random(seed), RESPONSE)
    incident = (unit.lat + 0.01, unit.lon - 0.01)  # about 1.1 km north, 0.9 km west
    return unit, incident


# --- fleets ---------------------------------------------------------------------------

def plan_kinds_of_topic_agencies() -> set[str]:
    taxonomy = load_taxonomy()
    book = load_plans(taxonomy)
    return {task.unit_kind for plan in book.plans for task in plan.tasks
            if task.agency in DEFAULT_AGENCIES}


def test_sixty_units_cover_every_kind_the_plans_ask_for() -> None:
    units = make_units(60, load_hubs(), random.Random(1))
    kinds = Counter(u.fleet.unit_type for u in units)
    assert len(units) == 60
    assert plan_kinds_of_topic_agencies() <= set(kinds)
    assert {f.unit_type for f in FLEETS} == set(kinds)
    # Patrols stay the biggest fleet, and the three original kinds over half of all units.
    assert kinds.most_common(1)[0][0] == "patrol_car"
    assert kinds["patrol_car"] + kinds["fire_engine"] + kinds["ambulance"] > 30


def test_fleets_match_the_taxonomy_agencies() -> None:
    taxonomy = load_taxonomy()
    for fleet in FLEETS:
        assert taxonomy.unit_kinds[fleet.unit_type].agency == fleet.agency
        assert fleet.agency in DEFAULT_AGENCIES
    assert len({f.prefix for f in FLEETS}) == len(FLEETS)


@pytest.mark.parametrize("count", [0, 1, 5, 18, 19, 20, 60, 61, 200, 1000])
def test_fleet_counts_add_up_and_give_every_kind_one_when_there_are_enough(count: int) -> None:
    counts = fleet_counts(count)
    assert sum(counts) == count
    if count >= len(FLEETS):
        assert min(counts) >= 1
    assert counts[FLEETS.index(PATROL)] == max(counts)


def test_fleet_counts_follow_the_formula() -> None:
    fleets = [Fleet("police", "a", "a", (1, 2), 3), Fleet("fire", "b", "b", (1, 2), 1),
              Fleet("health", "c", "c", (1, 2), 1)]
    # 10 units: one each, 7 shared 3:1:1 → 4.2, 1.4, 1.4 → 4, 1, 1 plus one by remainder
    # (a tie at 0.4, broken toward the bigger share, then the earlier fleet).
    assert fleet_counts(10, fleets) == [5, 3, 2]
    # Fewer units than fleets: no minimum; 2 shared 3:1:1 → 1.2, 0.4, 0.4 → 1, 1, 0.
    assert fleet_counts(2, fleets) == [1, 1, 0]
    with pytest.raises(ValueError, match="negative"):
        fleet_counts(-1, fleets)


def test_unit_ids_are_unique_with_the_fleet_prefix_and_positions_carry_the_kind() -> None:
    units = make_units(60, load_hubs(), random.Random(2))
    assert len({u.unit for u in units}) == 60
    for unit in units:
        assert unit.unit.startswith(unit.fleet.prefix + "-")
        assert unit.unit.removeprefix(unit.fleet.prefix + "-").isdigit()
        fix = unit.position(T0, "m-1")
        assert fix.unit_type == unit.fleet.unit_type and fix.unit == unit.unit
        assert metres((fix.lat, fix.lon), (unit.hub.lat, unit.hub.lon)) <= (
            unit.hub.radius_km * 1000 + 1)
    assert {u.unit for u in units} >= {"xt-110-001", "xt-119-001", "xt-120-001", "xt-sl-bc-001",
                                       "xt-af-zj-001", "xt-rf-001", "xt-qx-001"}


def test_a_seed_gives_the_same_fleet_and_the_same_moves() -> None:
    def trace(seed: int) -> list[tuple[str, float, float]]:
        units = make_units(20, load_hubs(), random.Random(seed))
        for _ in range(50):
            for unit in units:
                unit.step(1.0, T0)
        return [(u.unit, u.lat, u.lon) for u in units]

    assert trace(5) == trace(5)
    assert trace(5) != trace(6)


# --- answering orders ------------------------------------------------------------------

def test_an_order_is_acknowledged_driven_to_worked_and_done_in_order() -> None:
    unit, incident = unit_near_incident()
    assert unit.receive(order(unit.unit, *incident), T0) == []
    assert unit.busy and unit.duty is Duty.ACKNOWLEDGING
    made = run(unit, 600)
    states = [ack.state for _, ack in made]
    assert states == [AckState.ACKNOWLEDGED, AckState.EN_ROUTE, AckState.ON_SCENE,
                      AckState.DONE]
    assert all(ack.order == "o-1" and ack.unit == unit.unit for _, ack in made)
    assert len({ack.id for _, ack in made}) == 4
    at = {ack.state: second for second, ack in made}
    # Acknowledged after 3-15 s, en route at once; 2 km of streets at 16 m/s x 1.4 ≈ 90 s.
    assert 2 <= at[AckState.ACKNOWLEDGED] <= 15
    assert at[AckState.EN_ROUTE] == at[AckState.ACKNOWLEDGED]
    assert 60 <= at[AckState.ON_SCENE] - at[AckState.EN_ROUTE] <= 200
    assert 59 <= at[AckState.DONE] - at[AckState.ON_SCENE] <= 181
    # Every reported state moves the order on, as the command side sees it.
    state = OrderState.ISSUED
    for _, ack in made:
        moved = after_ack(state, ack.state)
        assert moved is not None
        state = moved
    assert state is OrderState.DONE


def test_the_unit_arrives_at_the_incident_and_then_patrols_again() -> None:
    unit, incident = unit_near_incident()
    unit.receive(order(unit.unit, *incident), T0)
    made = run(unit, 30)
    assert [ack.state for _, ack in made] == [AckState.ACKNOWLEDGED, AckState.EN_ROUTE]
    en_route_speed = unit.speed
    assert en_route_speed > PATROL.speed_mps[1]  # faster than any patrol
    step_until(unit, lambda u: u.duty is Duty.ON_SCENE)
    assert metres((unit.lat, unit.lon), incident) < 1.0
    assert unit.position(T0, "m").speed == 0.0
    step_until(unit, lambda u: not u.busy)
    assert unit.duty is Duty.PATROL
    run(unit, 120)
    assert metres((unit.lat, unit.lon), incident) > 50  # it drove off on patrol
    assert unit.speed <= PATROL.speed_mps[1]


def test_a_busy_unit_rejects_a_second_order_and_carries_on_with_the_first() -> None:
    unit, incident = unit_near_incident()
    unit.receive(order(unit.unit, *incident, order_id="o-1"), T0)
    second = unit.receive(order(unit.unit, 37.1, 114.6, order_id="o-2"), T0)
    assert [(a.order, a.state) for a in second] == [("o-2", AckState.REJECTED)]
    note = second[0].note or ""
    assert "o-1" in note and note.index("正在执行") < note.index("busy")
    made = run(unit, 30)
    assert [(a.order, a.state) for _, a in made] == [("o-1", AckState.ACKNOWLEDGED),
                                                     ("o-1", AckState.EN_ROUTE)]
    # Rejected while en route as well; the order state machine accepts it from `issued`.
    third = unit.receive(order(unit.unit, 37.1, 114.6, order_id="o-3"), T0)
    assert [a.state for a in third] == [AckState.REJECTED]
    assert after_ack(OrderState.ISSUED, AckState.REJECTED) is OrderState.REJECTED
    assert unit.order is not None and unit.order.id == "o-1"


def test_the_same_order_twice_is_handled_once() -> None:
    unit, incident = unit_near_incident()
    first = order(unit.unit, *incident)
    assert unit.receive(first, T0) == []
    assert unit.receive(first, T0) == []  # QoS 1 redelivery: not rejected as "busy"
    made = run(unit, 20)
    assert unit.receive(msgspec.structs.replace(first, resend=1), T0) == []  # re-sent late
    made += run(unit, 600, start=20)
    assert [ack.state for _, ack in made] == [AckState.ACKNOWLEDGED, AckState.EN_ROUTE,
                                              AckState.ON_SCENE, AckState.DONE]
    # Even after it is done, the old order does not send the unit out again.
    assert unit.receive(first, T0) == []
    assert not unit.busy


def test_a_unit_free_again_accepts_the_next_order() -> None:
    unit, incident = unit_near_incident()
    unit.receive(order(unit.unit, *incident, order_id="o-1"), T0)
    run(unit, 600)
    assert not unit.busy
    unit.receive(order(unit.unit, *incident, order_id="o-2"), T0)
    made = run(unit, 600, start=600)
    assert [(a.order, a.state) for _, a in made] == [
        ("o-2", AckState.ACKNOWLEDGED), ("o-2", AckState.EN_ROUTE), ("o-2", AckState.ON_SCENE),
        ("o-2", AckState.DONE)]


def test_a_seeded_unit_answers_the_same_way_every_time() -> None:
    def answers(seed: int) -> list[tuple[int, str, str]]:
        unit, incident = unit_near_incident(seed)
        unit.receive(order(unit.unit, *incident), T0)
        return [(second, ack.id, ack.state) for second, ack in run(unit, 600)]

    assert answers(3) == answers(3)
    assert answers(3) != answers(4)
    assert answers(3)[0][1] == "o-1:acknowledged"


def test_acks_are_valid_wire_messages() -> None:
    unit, incident = unit_near_incident()
    unit.receive(order(unit.unit, *incident), T0)
    unit.receive(order(unit.unit, *incident, order_id="o-2"), T0)
    made = [ack for _, ack in run(unit, 600)]
    decoder = msgspec.json.Decoder(Ack)
    for ack in made:
        assert decoder.decode(msgspec.json.encode(ack)) == ack
    long_id = "x" * 128
    unit2, _ = unit_near_incident()
    unit2.receive(order(unit2.unit, *incident, order_id=long_id), T0)
    ack = [a for _, a in run(unit2, 30)][0]
    assert ack.order == long_id and decoder.decode(msgspec.json.encode(ack)).id == ack.id


# --- orders as the field client reads them ---------------------------------------------

def test_decode_order_reads_a_published_order() -> None:
    sent = order("xt-110-001", 37.07, 114.55)
    assert decode_order(msgspec.json.encode(sent), "xt-110-001") == sent


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", Reason.MALFORMED_JSON),
    (b'{"id": "o-1", "unit": "xt-110-001"}', Reason.INVALID),
    (b"\xff\xfe", Reason.MALFORMED_JSON),
    (b" " * (MAX_ORDER_BYTES + 1), Reason.TOO_LARGE),
    (msgspec.json.encode(order("xt-110-002", 37.07, 114.55)), Reason.BAD_TOPIC),
    (msgspec.json.encode(order("xt-110-001", 370.7, 114.55)), Reason.INVALID),
])
def test_decode_order_refuses_with_a_reason(payload: bytes, reason: Reason) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_order(payload, "xt-110-001")
    assert raised.value.reason is reason
    assert raised.value.detail
