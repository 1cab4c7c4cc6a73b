"""The order sender publishes what waits in the outbox through the source, and keeps what the
broker did not take (in-memory outbox and source)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

from incidents.clock import ManualClock
from incidents.dispatch import DispatchOrderMessage, OrderIncident
from incidents.memory.feeds import MemoryOutbox
from incidents.model import Level
from incidents.taxonomy import Text
from ingest.memory_source import MemorySource
from ingest.order_sender import OrderSender
from ingest.topics import TopicScheme
from tests.support.waiting import eventually

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def order(unit: str, order_id: str) -> DispatchOrderMessage:
    """An order for `unit`."""
    return DispatchOrderMessage(
        id=order_id, ts=NOW, unit=unit,
        incident=OrderIncident(id="i-1", type="fire", level=Level.III, title="起火", lat=37.0,
                               lon=114.5),
        task_id="t-1", task=Text(zh="灭火", en="put out the fire"),
        detail=Text(zh="东门进入", en="enter by the east gate"), dispatch_id=None,
        ack_by=NOW + timedelta(minutes=2))


async def test_waiting_orders_go_out_once_connected_and_stay_while_refused() -> None:
    clock = ManualClock(NOW)
    source = MemorySource(clock)
    outbox = MemoryOutbox()
    outbox.orders += [("car-1", order("car-1", "o-1")), ("car-2", order("car-2", "o-2"))]
    sender = OrderSender(outbox, source, TopicScheme("sitroom/v1", frozenset()), clock,
                         poll_s=0.01)
    task = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.05)
        assert sender.sent == 0 and len(outbox.orders) == 2  # not connected: nothing sent
        async with source:
            source.refuse_publishing = True
            await asyncio.sleep(0.05)
            assert sender.sent == 0 and len(outbox.orders) == 2  # refused: kept
            source.refuse_publishing = False
            await eventually(lambda: sender.sent, lambda n: n == 2)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert outbox.orders == []
    assert [(t, json.loads(p)["id"], q) for t, p, q in source.published] == [
        ("sitroom/v1/command/dispatch/car-1", "o-1", 1),
        ("sitroom/v1/command/dispatch/car-2", "o-2", 1)]
