"""Dispatch, pure: the order life cycle, the wire format of an order, and unit proposals.

issued → acknowledged → en route → on scene → done (or rejected, or cancelled by a leader).
Acks arrive over MQTT out of order and more than once, so a report of an earlier stage than
the order has reached changes nothing; it is still kept in order_acks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

import msgspec

from incidents.lang import Bilingual, Lang, checked, pair_of, pick
from incidents.model import AckState, Level
from incidents.plans import Requirement
from incidents.spatial import NearUnit, UnitIndex
from incidents.taxonomy import Text


class OrderState(StrEnum):
    """Where a dispatch order stands."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    def label(self, lang: Lang) -> str:
        """Where the order stands, in words (a unit's report uses the same words)."""
        return pick(_ORDER_LABELS[self], lang)


_ORDER_LABELS: Mapping[OrderState, Bilingual] = checked({
    OrderState.ISSUED: ("已下达", "Issued"),
    OrderState.ACKNOWLEDGED: pair_of(AckState.ACKNOWLEDGED),
    OrderState.EN_ROUTE: pair_of(AckState.EN_ROUTE),
    OrderState.ON_SCENE: pair_of(AckState.ON_SCENE),
    OrderState.DONE: pair_of(AckState.DONE),
    OrderState.REJECTED: pair_of(AckState.REJECTED),
    OrderState.CANCELLED: ("已取消", "Cancelled"),
}, OrderState)


_PROGRESS = (OrderState.ISSUED, OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE,
             OrderState.ON_SCENE, OrderState.DONE)
FINAL = frozenset({OrderState.DONE, OrderState.REJECTED, OrderState.CANCELLED})
"""States an order never leaves."""


def after_ack(current: OrderState, reported: AckState) -> OrderState | None:
    """The order's state after a unit reports `reported`, or None when it changes nothing."""
    if current in FINAL:
        return None
    if reported is AckState.REJECTED:
        # A unit can only turn an order down before it is on its way.
        return OrderState.REJECTED if current in (OrderState.ISSUED,
                                                  OrderState.ACKNOWLEDGED) else None
    target = OrderState(reported.value)
    return target if _PROGRESS.index(target) > _PROGRESS.index(current) else None


class OrderIncident(msgspec.Struct, frozen=True, kw_only=True):
    """What a unit is told about the incident it is sent to."""

    id: str
    """Incident id."""
    type: str
    """Incident type code."""
    level: Level
    """Severity level."""
    title: str
    """Short description."""
    lat: float
    """Where to go (WGS-84)."""
    lon: float
    """Where to go (WGS-84)."""


class DispatchOrderMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A dispatch order as published on sitroom/v1/command/dispatch/{unit} (JSON)."""

    id: str
    """Order id: the unit's ack messages name it in `order`."""
    ts: datetime
    """When it was issued."""
    unit: str
    """The unit it is for."""
    incident: OrderIncident
    """The incident to go to."""
    task_id: str
    """The plan task."""
    task: Text
    """The task's name."""
    detail: Text
    """Instructions."""
    dispatch_id: str | None
    """The plan dispatch it is part of, if any (orders of one dispatch work together)."""
    ack_by: datetime
    """Acknowledge by then, or the order is escalated."""
    resend: int = 0
    """0 for the first sending; 1 and more when re-sent after a missed deadline."""


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """Units proposed for one plan task; `missing` is the resource gap of that task."""

    requirement: Requirement
    """The task at the incident's level."""
    units: list[NearUnit]
    """Proposed units, nearest first."""
    missing: int
    """How many more units of that kind the task needs than were found."""


def propose(requirements: Sequence[Requirement], index: UnitIndex, lat: float, lon: float,
            exclude: set[str] | None = None) -> list[Proposal]:
    """Nearest available units of the right agency and kind for every task, none twice."""
    taken = set(exclude or ())
    # Units given to an earlier task of the same agency and kind are skipped: ask for that
    # many more (asking for more than needed makes the index search wider than it must).
    given: dict[tuple[str, str], int] = {}
    proposals: list[Proposal] = []
    for req in requirements:
        kind = (req.agency, req.unit_kind)
        found = index.nearest(lat, lon, agency=req.agency, unit_kind=req.unit_kind,
                              k=req.count + given.get(kind, 0) + len(exclude or ()))
        chosen = [near for near in found if near.unit.unit not in taken][:req.count]
        taken.update(near.unit.unit for near in chosen)
        given[kind] = given.get(kind, 0) + len(chosen)
        proposals.append(Proposal(requirement=req, units=chosen,
                                  missing=req.count - len(chosen)))
    return proposals
