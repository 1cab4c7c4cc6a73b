"""How far a plan's needs are met, pure: per task and overall, the units the plan needs at the
incident's level, the units sent (orders not cancelled or rejected), how many confirmed, and
how many are still short.

"8/8 已确认" said nothing of the 42 units never sent; this is the count a leader reads first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import msgspec

from incidents.dispatch import OrderState
from incidents.orders import Order
from incidents.plans import Requirement
from incidents.taxonomy import Text

NOT_SENT = frozenset({OrderState.CANCELLED, OrderState.REJECTED})
"""Orders that put no unit on the task: taken back by a leader, or turned down by the unit."""
CONFIRMED = frozenset({OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE, OrderState.ON_SCENE,
                       OrderState.DONE})
"""Orders the unit has acknowledged (or gone further)."""


class TaskCover(msgspec.Struct, frozen=True, kw_only=True):
    """One task: needed, sent, confirmed, short."""

    task_id: str
    """The plan's task id (or an order's task outside the plan at this level)."""
    name: Text
    """The task's name."""
    agency: str
    """Agency carrying it out."""
    unit_kind: str | None
    """Kind of unit it needs; None for a task known only from its orders."""
    needed: int
    """Units the plan asks for at the incident's level (0: not in the plan at this level)."""
    sent: int
    """Orders issued for it and not cancelled or rejected."""
    confirmed: int
    """Of those, acknowledged by their unit."""
    short: int
    """needed − sent, never below 0."""


class Cover(msgspec.Struct, frozen=True, kw_only=True):
    """The whole incident: the sums over its tasks."""

    plan: str | None
    """The plan the needs come from; None when no plan applies."""
    needed: int
    """Units the plan needs."""
    sent: int
    """Units sent (for any task)."""
    confirmed: int
    """Units that acknowledged."""
    short: int
    """Sum of the tasks' shortfalls (a surplus on one task fills no other)."""
    tasks: list[TaskCover]
    """Plan tasks in plan order, then tasks known only from orders."""


def cover(requirements: Sequence[Requirement], orders: Sequence[Order],
          plan: str | None = None) -> Cover:
    """Needed / sent / confirmed / short of an incident's plan against its orders."""
    live = [o for o in orders if o.state not in NOT_SENT]
    sent = Counter(o.task_id for o in live)
    confirmed = Counter(o.task_id for o in live if o.state in CONFIRMED)
    tasks = [TaskCover(task_id=r.task_id, name=r.name, agency=r.agency, unit_kind=r.unit_kind,
                       needed=r.count, sent=sent[r.task_id], confirmed=confirmed[r.task_id],
                       short=max(0, r.count - sent[r.task_id])) for r in requirements]
    planned = {r.task_id for r in requirements}
    extra: dict[str, Order] = {}
    for o in live:  # a task of another level or plan: shown with what was sent, needing none
        if o.task_id not in planned:
            extra.setdefault(o.task_id, o)
    for task_id, o in extra.items():
        name = o.task.get("name") or {}
        tasks.append(TaskCover(
            task_id=task_id, name=Text(zh=str(name.get("zh") or task_id),
                                       en=str(name.get("en") or task_id)),
            agency=o.agency, unit_kind=None, needed=0, sent=sent[task_id],
            confirmed=confirmed[task_id], short=0))
    return Cover(plan=plan, needed=sum(t.needed for t in tasks), sent=len(live),
                 confirmed=sum(confirmed.values()), short=sum(t.short for t in tasks),
                 tasks=tasks)
