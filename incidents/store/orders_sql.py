"""Orders on ingest's side: acks move them on; the outbox sends, re-sends and escalates them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from incidents.dispatch import DispatchOrderMessage, OrderIncident, OrderState, after_ack
from incidents.journal import Event
from incidents.model import Ack, Availability, Envelope, Level
from incidents.orders import Order
from incidents.store.command import ORDER_COLUMNS, order_from_row
from incidents.store.journal_sql import JournalWriter
from incidents.store.session import transaction
from incidents.taxonomy import Text

# What the unit's availability becomes as its order moves on.
_AVAILABILITY = {
    OrderState.ACKNOWLEDGED: Availability.ENGAGED, OrderState.EN_ROUTE: Availability.EN_ROUTE,
    OrderState.ON_SCENE: Availability.ON_SCENE, OrderState.DONE: Availability.AVAILABLE,
    OrderState.REJECTED: Availability.AVAILABLE,
}

Publish = Callable[[Sequence[tuple[str, DispatchOrderMessage]]], Awaitable[None]]
"""Publishes (unit, message) pairs at QoS 1 and returns once the broker has them all."""


async def apply_acks(conn: asyncpg.Connection, acks: Sequence[tuple[Envelope, Ack]],
                     events: list[Event]) -> int:
    """Move orders on by newly stored acks (in the batch's transaction); return orders moved.

    An ack from another unit than the order's, or for an unknown order, changes nothing; the
    ack itself is kept in order_acks either way, and a mismatch is journaled.
    """
    moved = 0
    for envelope, ack in sorted(acks, key=lambda pair: (pair[1].order, pair[1].ts)):
        row = await conn.fetchrow(
            f"SELECT {ORDER_COLUMNS} FROM dispatch_orders WHERE id = $1 FOR UPDATE", ack.order)
        if row is None:
            continue
        order = order_from_row(row)
        actor = f"{envelope.agency}/{ack.unit}"
        if ack.unit != order.unit:
            events.append(Event(order.incident_id, actor, "order_ack_refused", {
                "order": order.id, "unit": ack.unit, "order_unit": order.unit,
                "reason": "unit_mismatch", "ack": ack.id}, envelope.source))
            continue
        new_state = after_ack(order.state, ack.state)
        if new_state is None:
            continue  # late or repeated: an earlier stage than the order has reached
        await conn.execute(
            "UPDATE dispatch_orders SET state = $2, updated_at = $3, stale_at = NULL"
            " WHERE id = $1",
            order.id, new_state.value, ack.ts)
        await conn.execute(
            "UPDATE units SET availability = $2, availability_ts = $3, updated_at = now()"
            " WHERE unit = $1",
            order.unit, _AVAILABILITY[new_state].value, ack.ts)
        events.append(Event(order.incident_id, actor, "order_ack", {
            "order": order.id, "unit": order.unit, "task": order.task_id,
            "from_state": order.state.value, "state": new_state.value, "note": ack.note,
            "ack": ack.id}, envelope.source))
        moved += 1
    return moved


class OrderOutbox:
    """Sends orders that wait in the outbox; re-sends and escalates unanswered ones."""

    def __init__(self, pool: asyncpg.Pool, journal: JournalWriter, actor: str) -> None:
        self._pool = pool
        self._journal = journal
        self._actor = actor

    async def send_pending(self, publish: Publish, now: datetime, limit: int = 500) -> int:
        """Escalate overdue orders, publish every unsent one, mark them sent; return how many.

        The rows stay locked while publishing: another worker skips them, and if publishing
        fails the transaction rolls back and they are sent on the next round.
        """
        async with transaction(self._pool) as conn:
            events = await _escalate_overdue(conn, now, self._actor)
            rows = await conn.fetch(
                f"SELECT {', '.join('o.' + c.strip() for c in ORDER_COLUMNS.split(','))},"
                " i.type, i.level, i.title, i.lat, i.lon"
                " FROM dispatch_orders o JOIN incidents i ON i.id = o.incident_id"
                " WHERE o.sent_at IS NULL AND o.state = 'issued'"
                " ORDER BY o.issued_at LIMIT $1 FOR UPDATE OF o SKIP LOCKED", limit)
            if rows:
                await publish([(r["unit"], _message(order_from_row(r), r)) for r in rows])
                await conn.execute(
                    "UPDATE dispatch_orders SET sent_at = $2, send_count = send_count + 1"
                    " WHERE id = ANY($1::text[])", [r["id"] for r in rows], now)
            await self._journal.append(conn, events)
        return len(rows)


async def _escalate_overdue(conn: asyncpg.Connection, now: datetime, actor: str
                            ) -> list[Event]:
    """Orders past their deadline unacknowledged: flag, give a second window, queue a re-send."""
    rows = await conn.fetch(
        "UPDATE dispatch_orders SET escalated_at = $1, sent_at = NULL,"
        " deadline_at = $1 + (deadline_at - issued_at), updated_at = $1"
        " WHERE state = 'issued' AND escalated_at IS NULL AND deadline_at < $1"
        " AND sent_at IS NOT NULL RETURNING id, incident_id, unit, task_id, send_count", now)
    return [Event(str(r["incident_id"]), actor, "order_overdue", {
        "order": r["id"], "unit": r["unit"], "task": r["task_id"], "resend": True,
        "sent": r["send_count"]}) for r in rows]


def _message(order: Order, row: asyncpg.Record) -> DispatchOrderMessage:
    task = order.task
    return DispatchOrderMessage(
        id=order.id, ts=order.issued_at, unit=order.unit,
        incident=OrderIncident(id=order.incident_id, type=row["type"], level=Level(row["level"]),
                               title=row["title"], lat=row["lat"], lon=row["lon"]),
        task_id=order.task_id, task=Text(**task["name"]), detail=Text(**task["detail"]),
        dispatch_id=order.dispatch_id,
        ack_by=order.deadline_at, resend=order.send_count,
    )
