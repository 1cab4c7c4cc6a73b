"""Needed / sent / confirmed / short of a plan against the incident's orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidents.coverage import cover
from incidents.dispatch import OrderState
from incidents.model import Level
from incidents.orders import Order, task_doc
from incidents.plans import Requirement
from incidents.taxonomy import Text

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def need(task: str, count: int) -> Requirement:
    return Requirement(plan_id="p", plan_version="1", level=Level.II, task_id=task,
                       agency="fire", unit_kind="fire_engine", count=count, ack_deadline_s=60,
                       name=Text(zh=task, en=task), detail=Text(zh="细则", en="detail"))


def order(n: int, task: str, state: OrderState) -> Order:
    return Order(id=f"o{n}", incident_id="i", dispatch_id="d", unit=f"u{n}", agency="fire",
                 task_id=task, task=task_doc(Text(zh="旧任务", en="Old task"),
                                             Text(zh="细则", en="detail")),
                 state=state, issued_by="l", issued_at=NOW,
                 deadline_at=NOW + timedelta(minutes=2), sent_at=None, send_count=0,
                 escalated_at=None, replaces=None, updated_at=NOW)


def test_the_story_of_the_issue_eight_confirmed_of_fifty() -> None:
    orders = [order(n, "attack", OrderState.ACKNOWLEDGED) for n in range(8)]
    found = cover([need("attack", 30), need("cordon", 20)], orders, "p")
    assert (found.needed, found.sent, found.confirmed, found.short) == (50, 8, 8, 42)
    assert [(t.task_id, t.needed, t.sent, t.short) for t in found.tasks] == [
        ("attack", 30, 8, 22), ("cordon", 20, 0, 20)]


def test_cancelled_and_rejected_are_not_sent_and_a_surplus_fills_no_other_task() -> None:
    orders = [order(1, "attack", OrderState.ISSUED), order(2, "attack", OrderState.ON_SCENE),
              order(3, "attack", OrderState.DONE), order(4, "attack", OrderState.CANCELLED),
              order(5, "attack", OrderState.REJECTED), order(6, "old", OrderState.EN_ROUTE)]
    found = cover([need("attack", 2), need("cordon", 1)], orders, "p")
    attack, cordon, old = found.tasks
    assert (attack.sent, attack.confirmed, attack.short) == (3, 2, 0)
    assert (cordon.sent, cordon.short) == (0, 1)
    # A task the plan no longer has at this level: shown with what went, needing none.
    assert (old.task_id, old.name.zh, old.needed, old.sent, old.unit_kind) == (
        "old", "旧任务", 0, 1, None)
    assert (found.needed, found.sent, found.confirmed, found.short) == (3, 4, 3, 1)


def test_without_a_plan_only_what_was_sent_counts() -> None:
    found = cover([], [order(1, "x", OrderState.ISSUED)])
    assert (found.plan, found.needed, found.sent, found.short) == (None, 0, 1, 0)
