"""Dispatch on a real PostgreSQL: the outbox sends, re-sends and escalates; acks move orders on
only forward and only from their own unit; a unit holds one open order; reassignment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from incidents.clock import ManualClock
from incidents.command import Actor, CommandService
from incidents.dispatch import DispatchOrderMessage, OrderState
from incidents.errors import Conflict, Invalid, NotFound
from incidents.lifecycle import Action, IllegalTransition
from incidents.model import Ack, AckState, Envelope, Inbound, Incident, Kind, Level, Position
from incidents.store import Store
from tests.support.command import command_service
from tests.support.messages import inbound, report

pytestmark = pytest.mark.integration

LEADER = Actor(name="leader-li", client="10.0.0.9")
FIRE = (37.06, 114.49)  # where tests.support.messages.report() puts it


class Sent:
    """Records what the outbox publishes (the broker side is tested in the story test)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, DispatchOrderMessage]] = []

    async def __call__(self, batch: Sequence[tuple[str, DispatchOrderMessage]]) -> None:
        self.messages.extend(batch)


def unit_at(unit: str, kind: str, north_m: float, agency: str = "fire") -> Inbound:
    fix = Position(id=str(uuid.uuid4()), ts=datetime.now(UTC), unit=unit, unit_type=kind,
                   lat=FIRE[0] + north_m / 111_000, lon=FIRE[1])
    return inbound(fix, agency=agency, source=unit)


def ack_of(order: str, unit: str, state: AckState, agency: str = "fire") -> Inbound:
    message = Ack(id=str(uuid.uuid4()), ts=datetime.now(UTC), order=order, unit=unit,
                  state=state)
    return Inbound(envelope=Envelope(topic=f"sitroom/v1/{agency}/ack/{unit}", agency=agency,
                                     kind=Kind.ACK, source=unit, received_at=datetime.now(UTC)),
                   message=message)


async def verified_fire(store: Store, service: CommandService) -> Incident:
    await store.write_batch([unit_at("e1", "fire_engine", 500), unit_at("e2", "fire_engine", 900),
                             unit_at("e3", "fire_engine", 3000),
                             unit_at("p1", "patrol_car", 400, agency="police")], [])
    (incident,) = (await store.write_batch([inbound(report(), agency="fire")], [])).incidents
    return await service.act(incident.id, Action.VERIFY, LEADER)


async def test_outbox_sends_once_then_escalates_and_resends_an_unanswered_order(
    store: Store
) -> None:
    clock = ManualClock(datetime.now(UTC))
    service = command_service(store, None, clock=clock)
    incident = await verified_fire(store, service)
    (order,) = await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "e1")])
    assert order.deadline_at - order.issued_at == timedelta(seconds=60)
    outbox, sent = store.outbox("ingest/test"), Sent()

    assert await outbox.send_pending(sent, clock.now()) == 1
    assert await outbox.send_pending(sent, clock.now()) == 0  # sent once, not again
    unit, message = sent.messages[0]
    assert (unit, message.id, message.resend) == ("e1", order.id, 0)
    assert message.incident.id == incident.id and message.task.zh

    clock.advance(61)
    assert await outbox.send_pending(sent, clock.now()) == 1  # overdue: re-sent
    assert sent.messages[1][1].resend == 1
    (late,) = await service.orders(incident.id)
    assert late.escalated_at == clock.now() and late.state is OrderState.ISSUED
    clock.advance(120)
    assert await outbox.send_pending(sent, clock.now()) == 0  # escalated once, then it is ours
    overdue = [e for e in await service.timeline(incident.id) if e["action"] == "order_overdue"]
    assert [e["data"]["order"] for e in overdue] == [order.id]


async def test_acks_move_orders_forward_only_and_only_from_their_unit(store: Store) -> None:
    service = command_service(store, None)
    incident = await verified_fire(store, service)
    (order,) = await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "e1")])
    result = await store.write_batch([ack_of(order.id, "e2", AckState.ACKNOWLEDGED)], [])
    assert result.orders_moved == 0
    await store.write_batch([ack_of(order.id, "e1", AckState.ON_SCENE)], [])
    await store.write_batch([ack_of(order.id, "e1", AckState.EN_ROUTE)], [])  # late: ignored
    (moved,) = await service.orders(incident.id)
    assert moved.state is OrderState.ON_SCENE
    events = [(e["action"], e["data"].get("state")) for e in await service.timeline(incident.id)]
    assert ("order_ack_refused", None) in events and ("order_ack", "on_scene") in events
    assert ("order_ack", "en_route") not in events


async def test_a_unit_holds_one_open_order(store: Store) -> None:
    service = command_service(store, None)
    incident = await verified_fire(store, service)
    await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "e1")])
    with pytest.raises(Conflict, match="open order"):
        await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "e1")])
    # Two leaders at once: the database lets exactly one of them have the unit.
    results = await asyncio.gather(*(
        service.dispatch(incident.id, Actor(name=f"leader-{i}"),
                         assignments=[("fire_attack", "e2")]) for i in range(2)),
        return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "list"]
    proposal = await service.propose(incident.id)
    attack = next(p for p in proposal.proposals if p.requirement.task_id == "fire_attack")
    assert [u.unit.unit for u in attack.units] == ["e3"]  # e1 and e2 are busy


async def test_reassign_gives_the_task_to_the_next_nearest_unit(store: Store) -> None:
    service = command_service(store, None)
    incident = await verified_fire(store, service)
    (order,) = await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "e1")])
    new = await service.reassign(order.id, LEADER)
    assert (new.unit, new.replaces, new.task_id) == ("e2", order.id, "fire_attack")
    states = {o.id: o.state for o in await service.orders(incident.id)}
    assert states == {order.id: OrderState.CANCELLED, new.id: OrderState.ISSUED}
    with pytest.raises(Conflict, match="cancelled"):
        await service.reassign(order.id, LEADER, unit="e3")


async def test_refusals_are_clear(store: Store) -> None:
    service = command_service(store, None)
    incident = await verified_fire(store, service)
    with pytest.raises(IllegalTransition, match="cannot verify an incident that is verified"):
        await service.act(incident.id, Action.VERIFY, LEADER)
    with pytest.raises(NotFound, match="does not exist"):
        await service.act(str(uuid.uuid4()), Action.VERIFY, LEADER)
    with pytest.raises(NotFound, match="does not exist"):
        await service.act("not-an-id", Action.VERIFY, LEADER)
    with pytest.raises(Invalid, match="no task nope"):
        await service.dispatch(incident.id, LEADER, assignments=[("nope", "e1")])
    with pytest.raises(NotFound, match="unit ghost"):
        await service.dispatch(incident.id, LEADER, assignments=[("fire_attack", "ghost")])
    with pytest.raises(Conflict, match="cannot escalate from level III to IV: use deescalate"):
        await service.act(incident.id, Action.ESCALATE, LEADER, level=Level.IV)
