"""Dispatch orders as the command side keeps them: the record the store returns, the API
serves and the desk shows (the order's wire form to units is `incidents.dispatch`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from incidents.dispatch import OrderState
from incidents.lang import Lang
from incidents.plans import Requirement
from incidents.taxonomy import Text


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """A dispatch order as stored."""

    id: str
    """Order id (the unit's acks name it)."""
    incident_id: str
    """The incident."""
    dispatch_id: str | None
    """The plan dispatch it belongs to; None for a single order."""
    unit: str
    """The unit sent."""
    agency: str
    """The unit's agency."""
    task_id: str
    """Plan task id."""
    task: dict[str, Any]
    """Task name and detail, bilingual: {"name": {zh, en}, "detail": {zh, en}}."""
    state: OrderState
    """Where the order stands."""
    issued_by: str
    """Who issued it."""
    issued_at: datetime
    """When."""
    deadline_at: datetime
    """Acknowledge by then."""
    sent_at: datetime | None
    """When it was last published; None while waiting in the outbox."""
    send_count: int
    """How many times it was published."""
    escalated_at: datetime | None
    """When its deadline passed unacknowledged."""
    replaces: str | None
    """The order it reassigns, if any."""
    updated_at: datetime
    """Last change."""
    stale_at: datetime | None = None
    """When it was flagged for making no progress (cleared by the unit's next ack)."""


def task_doc(name: Text, detail: Text) -> dict[str, Any]:
    """The bilingual task description stored with an order."""
    return {"name": {"zh": name.zh, "en": name.en}, "detail": {"zh": detail.zh, "en": detail.en}}


def new_order(req: Requirement, unit: str, agency: str, incident_id: str, dispatch_id: str,
              actor: str, now: datetime) -> Order:
    """A fresh order of a plan task to a unit, waiting in the outbox."""
    return Order(
        id=str(uuid.uuid4()), incident_id=incident_id, dispatch_id=dispatch_id, unit=unit,
        agency=agency, task_id=req.task_id, task=task_doc(req.name, req.detail),
        state=OrderState.ISSUED, issued_by=actor, issued_at=now,
        deadline_at=now + timedelta(seconds=req.ack_deadline_s), sent_at=None, send_count=0,
        escalated_at=None, replaces=None, updated_at=now)


def reassigned(old: Order, unit: str, agency: str, actor: str, now: datetime) -> Order:
    """The order that replaces `old` on another unit: same task, as long to acknowledge."""
    return msgspec.structs.replace(
        old, id=str(uuid.uuid4()), unit=unit, agency=agency, state=OrderState.ISSUED,
        issued_by=actor, issued_at=now, deadline_at=now + (old.deadline_at - old.issued_at),
        sent_at=None, send_count=0, escalated_at=None, replaces=old.id, updated_at=now)


def override_data(units: Sequence[str], reason: str | None) -> dict[str, Any]:
    """What a dispatch or reassignment journals when it sends units that hold an open order
    on purpose (nothing when it sends none)."""
    return {"busy_override": list(units), "reason": reason} if units else {}


def order_numbers(orders: Iterable[Order]) -> dict[str, int]:
    """Short per-incident numbers of orders (1, 2, 3 … by issue time, then id): what people
    read aloud ("令-3") instead of the UUID. Numbers are stable because an incident's orders
    are only ever added, each issued after the ones before; pass every order of the incident
    (cancelled and rejected ones too) so that the numbers never shift."""
    ranked = sorted(orders, key=lambda o: (o.issued_at, o.id))
    return {o.id: n for n, o in enumerate(ranked, 1)}


def order_number_text(number: int, lang: Lang) -> str:
    """An order's short number as people write it: 令-3, Order 3."""
    return f"令-{number}" if lang is Lang.ZH else f"Order {number}"
