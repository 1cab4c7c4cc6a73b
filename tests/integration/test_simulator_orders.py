"""Simulated units answer dispatch orders over a real Mosquitto; the field client follows orders."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from config.settings import Settings
from incidents.command import Actor
from incidents.dispatch import DispatchOrderMessage, OrderIncident, OrderState
from incidents.lifecycle import Action
from incidents.live import LiveState
from incidents.model import Level
from incidents.store import Store
from incidents.taxonomy import Text
from ingest.field_client import FieldClient
from ingest.sim_units import FLEETS, Hub, Response, SimUnit, load_hubs, make_units
from ingest.simulator import Simulator
from tests.conftest import Broker
from tests.support.command import command_service
from tests.support.ingest import Publisher, publisher, running_ingest
from tests.support.waiting import eventually, eventually_sync

pytestmark = pytest.mark.integration

QUICK = Response(ack_delay_s=(0.1, 0.3), work_s=(1.5, 2.0), speed_factor=40.0)
"""A crew that answers at once, drives at 200-600 m/s and works under two seconds."""
AGENCIES = ("police", "fire")


def order_json(unit: str, lat: float, lon: float, order_id: str | None = None,
               resend: int = 0) -> bytes:
    now = datetime.now(UTC)
    return msgspec.json.encode(DispatchOrderMessage(
        id=order_id or str(uuid.uuid4()), ts=now, unit=unit,
        incident=OrderIncident(id=str(uuid.uuid4()), type="fire", level=Level.III,
                               title="襄都区居民楼起火", lat=lat, lon=lon),
        task_id="cordon", task=Text(zh="现场警戒", en="Cordon"),
        detail=Text(zh="设置警戒区", en="Set up a cordon"), dispatch_id=None,
        ack_by=now + timedelta(minutes=5), resend=resend))


@contextlib.contextmanager
def field_client(broker: Broker, root: str, agency: str, tmp_path: Path) -> Iterator[FieldClient]:
    """A started field client with a client id no other test uses."""
    tag = uuid.uuid4().hex[:8]
    client = FieldClient(broker.url, agency, f"sim-{agency}", tmp_path / f"{agency}-{tag}.sqlite",
                         topic_root=root, protocol=broker.protocol,
                         client_id=f"test-sim-{agency}-{tag}",
                         resend_after_s=600)  # nothing receipts here: no re-sends mid-test
    client.start()
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def running(simulator: Simulator) -> Iterator[None]:
    """The simulator ticking every 50 ms in a thread; an error in it fails the test."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            simulator.run(stop, tick_s=0.05)
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=loop, name="test-simulator")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()
        if errors:
            raise errors[0]


def acks_for(listener: Publisher, order_id: str) -> list[dict[str, object]]:
    found = [json.loads(m.payload) for m in list(listener.received)]
    return [a for a in found if a.get("order") == order_id]


def states(acks: list[dict[str, object]]) -> list[object]:
    return [a["state"] for a in acks]


@pytest.fixture
def fleet() -> list[SimUnit]:
    police_and_fire = [f for f in FLEETS if f.agency in AGENCIES]
    return make_units(len(police_and_fire), load_hubs(), random.Random(11), police_and_fire,
                      QUICK)


def test_a_simulated_unit_acknowledges_drives_arrives_and_finishes(
    mosquitto: Broker, topic_root: str, tmp_path: Path, fleet: list[SimUnit]
) -> None:
    unit = next(u for u in fleet if u.fleet.unit_type == "fire_engine")
    incident = (unit.lat + 0.003, unit.lon + 0.003)  # a few hundred metres away
    with contextlib.ExitStack() as stack:
        clients = {a: stack.enter_context(field_client(mosquitto, topic_root, a, tmp_path))
                   for a in AGENCIES}
        simulator = Simulator(fleet, load_hubs(), clients, random.Random(1), rate=0.0,
                              report_every=None)
        simulator.follow_orders()
        assert simulator.wait_following(10)
        listener = stack.enter_context(publisher(mosquitto.url, mosquitto.protocol))
        listener.listen(f"{topic_root}/fire/ack/+")
        stack.enter_context(running(simulator))
        order_id = str(uuid.uuid4())
        payload = order_json(unit.unit, *incident, order_id=order_id)
        listener.publish(f"{topic_root}/command/dispatch/{unit.unit}", payload)
        # QoS 1 redelivery and a re-send after a missed deadline: handled once.
        listener.publish(f"{topic_root}/command/dispatch/{unit.unit}", payload)
        listener.publish(f"{topic_root}/command/dispatch/{unit.unit}",
                         order_json(unit.unit, *incident, order_id=order_id, resend=1))
        eventually_sync(lambda: states(acks_for(listener, order_id)),
                        lambda s: s[:2] == ["acknowledged", "en_route"], timeout_s=10)
        # A second order while it is busy is turned down, with a note saying why.
        second = str(uuid.uuid4())
        listener.publish(f"{topic_root}/command/dispatch/{unit.unit}",
                         order_json(unit.unit, *incident, order_id=second))
        eventually_sync(lambda: states(acks_for(listener, order_id)),
                        lambda s: "done" in s, timeout_s=15)
        rejected = eventually_sync(lambda: acks_for(listener, second), bool, timeout_s=5)
    acks = acks_for(listener, order_id)
    assert states(acks) == ["acknowledged", "en_route", "on_scene", "done"]
    assert {a["unit"] for a in acks} == {unit.unit}
    assert len({a["id"] for a in acks}) == 4
    assert [m.topic for m in listener.received] == [f"{topic_root}/fire/ack/sim-fire"] * 5
    assert states(rejected) == ["rejected"]
    assert order_id in str(rejected[0]["note"])
    # It drove to the incident, then went back to patrolling.
    assert not unit.busy
    assert simulator.acks_sent == 5


def test_a_unit_of_another_agency_answers_on_its_own_agency_topic(
    mosquitto: Broker, topic_root: str, tmp_path: Path, fleet: list[SimUnit]
) -> None:
    unit = next(u for u in fleet if u.fleet.unit_type == "special_police")
    with contextlib.ExitStack() as stack:
        clients = {a: stack.enter_context(field_client(mosquitto, topic_root, a, tmp_path))
                   for a in AGENCIES}
        simulator = Simulator(fleet, load_hubs(), clients, random.Random(2), rate=0.0,
                              report_every=None)
        simulator.follow_orders()
        assert simulator.wait_following(10)
        listener = stack.enter_context(publisher(mosquitto.url, mosquitto.protocol))
        listener.listen(f"{topic_root}/+/ack/+")
        stack.enter_context(running(simulator))
        order_id = str(uuid.uuid4())
        listener.publish(f"{topic_root}/command/dispatch/{unit.unit}",
                         order_json(unit.unit, unit.lat, unit.lon + 0.002, order_id=order_id))
        # An order for a unit nobody simulates is not answered by anyone.
        listener.publish(f"{topic_root}/command/dispatch/xt-999-001",
                         order_json("xt-999-001", unit.lat, unit.lon))
        eventually_sync(lambda: states(acks_for(listener, order_id)),
                        lambda s: "done" in s, timeout_s=15)
    assert states(acks_for(listener, order_id)) == ["acknowledged", "en_route", "on_scene",
                                                    "done"]
    assert {m.topic for m in listener.received} == {f"{topic_root}/police/ack/sim-police"}
    assert simulator.acks_sent == 4


def test_a_gateway_follows_the_orders_of_the_units_it_accepts_and_survives_bad_ones(
    mosquitto: Broker, topic_root: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[DispatchOrderMessage] = []
    with field_client(mosquitto, topic_root, "police", tmp_path) as client, \
            publisher(mosquitto.url, mosquitto.protocol) as pub:
        client.follow_orders(lambda unit: unit.startswith("xt-110-"), received.append)
        assert client.wait_following(10)
        dispatch = f"{topic_root}/command/dispatch"
        caplog.set_level(logging.ERROR, logger="ingest.field_client")
        pub.publish(f"{dispatch}/xt-110-002", b"{not json")
        pub.publish(f"{dispatch}/xt-110-003", b'{"id": "o-9", "unit": "xt-110-003"}')
        pub.publish(f"{dispatch}/xt-110-004", order_json("xt-110-005", 37.07, 114.5))
        pub.publish(f"{dispatch}/xt-119-001", order_json("xt-119-001", 37.07, 114.5))
        good = str(uuid.uuid4())
        pub.publish(f"{dispatch}/xt-110-001", order_json("xt-110-001", 37.07, 114.5, good))
        eventually_sync(lambda: len(received), lambda n: n >= 1)
        eventually_sync(lambda: len(client.refused_orders), lambda n: n >= 3)
        assert client.connected
    assert [o.id for o in received] == [good]
    assert client.refused_orders == [(f"{dispatch}/xt-110-002", "malformed_json"),
                                     (f"{dispatch}/xt-110-003", "invalid"),
                                     (f"{dispatch}/xt-110-004", "bad_topic")]
    logged = [r.getMessage() for r in caplog.records if r.name == "ingest.field_client"]
    assert any("xt-110-002" in m and "malformed_json" in m for m in logged)
    assert any("xt-110-004" in m and "bad_topic" in m for m in logged)


def test_a_unit_subscribes_to_its_own_orders_only(
    mosquitto: Broker, topic_root: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[DispatchOrderMessage] = []
    caplog.set_level(logging.DEBUG, logger="ingest.field_client")
    with field_client(mosquitto, topic_root, "fire", tmp_path) as client, \
            publisher(mosquitto.url, mosquitto.protocol) as pub:
        client.follow_orders({"xt-119-001"}, received.append)
        assert client.wait_following(10)
        dispatch = f"{topic_root}/command/dispatch"
        other, mine = str(uuid.uuid4()), str(uuid.uuid4())
        pub.publish(f"{dispatch}/xt-119-002", order_json("xt-119-002", 37.07, 114.5, other))
        pub.publish(f"{dispatch}/xt-119-001", order_json("xt-119-001", 37.07, 114.5, mine))
        eventually_sync(lambda: len(received), lambda n: n >= 1)
        # Following another unit instead drops the old subscription at the broker.
        client.follow_orders({"xt-119-002"}, received.append)
        assert client.wait_following(10)
        old, new = str(uuid.uuid4()), str(uuid.uuid4())
        pub.publish(f"{dispatch}/xt-119-001", order_json("xt-119-001", 37.07, 114.5, old))
        pub.publish(f"{dispatch}/xt-119-002", order_json("xt-119-002", 37.07, 114.5, new))
        eventually_sync(lambda: len(received), lambda n: n >= 2)
        # Orders for other units never reach this client: nothing to refuse or skip.
        assert client.refused_orders == []
    assert [o.id for o in received] == [mine, new]
    assert not [r for r in caplog.records if "not one of ours" in r.getMessage()]
    with pytest.raises(ValueError, match="free of"):
        client.follow_orders({"xt-119-001", "xt/119"}, received.append)


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_dispatched_plan_is_carried_out_by_the_simulated_fleet(
    settings: Settings, store: Store, live: LiveState, broker: Broker, tmp_path: Path
) -> None:
    """Units publish fixes, a fire is reported, its plan dispatched; every order gets done."""
    root = settings.topic_root
    fire = (37.0712, 114.5183)
    hub = Hub(code="130502", name="襄都区", lat=fire[0], lon=fire[1], radius_km=1.5, weight=1)
    fleet = make_units(60, [hub], random.Random(3),
                       response=Response(ack_delay_s=(0.1, 0.5), work_s=(0.5, 1.0),
                                         speed_factor=100.0))
    agencies = sorted({u.fleet.agency for u in fleet})
    service = command_service(store, live)
    async with running_ingest(settings, store, live) as ingest:
        with contextlib.ExitStack() as stack:
            clients = {a: stack.enter_context(field_client(broker, root, a, tmp_path))
                       for a in agencies}
            simulator = Simulator(fleet, [hub], clients, random.Random(4), rate=1.0,
                                  report_every=None)
            simulator.follow_orders()
            assert await asyncio.to_thread(simulator.wait_following, 10)
            with running(simulator):
                await eventually(store.counts, lambda c: c["units"] == 60, timeout_s=20)
                with publisher(broker.url, broker.protocol) as caller:
                    caller.publish(f"{root}/fire/report/desk-119", json.dumps({
                        "id": str(uuid.uuid4()), "ts": datetime.now(UTC).isoformat(),
                        "type": "fire", "level": "III", "lat": fire[0], "lon": fire[1],
                        "text": "襄都区居民楼起火，有人被困"}))
                (incident,) = await eventually(live.incidents, lambda found: len(found) == 1)
                await service.act(incident.id, Action.VERIFY, Actor(name="leader-wang"))
                orders = await service.dispatch(incident.id, Actor(name="leader-wang"))
                await eventually(lambda: service.orders(incident.id),
                                 lambda got: all(o.state is OrderState.DONE for o in got),
                                 timeout_s=30)
            # Stopped: every ack (and fix) leaves the outbox once ingest has receipted it.
            await eventually(lambda: sum(c.pending() for c in clients.values()),
                             lambda n: n == 0, timeout_s=20)
    assert len(orders) >= 10 and ingest.orders.sent == len(orders)
    assert {o.unit for o in orders} <= set(simulator.units)
    assert all(not simulator.units[o.unit].busy for o in orders)
    timeline = await service.timeline(incident.id)
    assert [e["action"] for e in timeline].count("order_ack") == 4 * len(orders)


def test_the_weather_stations_report_wind_temperature_and_rain(
    mosquitto: Broker, topic_root: str, tmp_path: Path, fleet: list[SimUnit]
) -> None:
    with contextlib.ExitStack() as stack:
        clients = {a: stack.enter_context(field_client(mosquitto, topic_root, a, tmp_path))
                   for a in (*AGENCIES, "weather")}
        listener = stack.enter_context(publisher(mosquitto.url, mosquitto.protocol))
        listener.listen(f"{topic_root}/weather/observation/+")
        simulator = Simulator(fleet, load_hubs(), clients, random.Random(5), rate=0.0,
                              report_every=None)
        simulator.tick()  # the first tick reports at once; the next only after a minute
        simulator.tick()
        readings = eventually_sync(lambda: [json.loads(m.payload) for m in listener.received],
                                   lambda got: len(got) >= 12)
    assert len(readings) == 12  # 3 stations x 4 quantities, once
    assert {r["quantity"] for r in readings} == {"wind_direction", "wind_speed",
                                                 "temperature", "rainfall"}
    assert all(0 <= r["value"] < 360 for r in readings if r["quantity"] == "wind_direction")
