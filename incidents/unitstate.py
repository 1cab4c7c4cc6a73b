"""Unit and order states that stay true, pure: what releasing a unit leaves it as, which
orders have gone stale, and the invariants `sitroom check` verifies with how to repair each.

A unit's availability comes from three voices: its own status reports and acks (the latest
wins), the leader (release, set status, with a reason) and the system (an order cancelled
because its incident closed; an order without progress). The system never overrides what a
unit said of itself: out of service and off duty stay until the unit or a leader says
otherwise.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

import msgspec

from incidents.dispatch import OrderState
from incidents.lang import Bilingual, Lang, checked, pick
from incidents.model import Availability

ORDER_STAGES = frozenset({Availability.ENGAGED, Availability.EN_ROUTE, Availability.ON_SCENE})
"""Availabilities an order's acks set: they end with the order."""
OWN_WORD = frozenset({Availability.OUT_OF_SERVICE, Availability.OFF_DUTY})
"""Availabilities only the unit itself or a leader sets: nothing automatic overrides them."""
LEADER_STATUSES = frozenset({Availability.AVAILABLE, *OWN_WORD})
"""What a leader may set a unit to (order stages come from acks, unknown from staleness)."""
STALE_STATES = frozenset({OrderState.ISSUED, OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE})
"""Order states that go stale without progress: on scene, work may rightly last for hours."""


def released(current: Availability | None) -> Availability | None:
    """A unit's availability once its order is cancelled by the system (None: unchanged)."""
    return Availability.AVAILABLE if current in ORDER_STAGES else None


def released_by_leader(current: Availability | None) -> Availability | None:
    """A unit's availability once a leader releases it: the leader vouches for an unknown
    unit too, but the unit's own out of service / off duty stays (None: unchanged)."""
    if current in OWN_WORD or current is Availability.AVAILABLE:
        return None
    return Availability.AVAILABLE


def is_stale(state: OrderState, updated_at: datetime, stale_at: datetime | None,
             now: datetime, after: timedelta) -> bool:
    """True when an open order made no progress for `after` and is not flagged yet."""
    return state in STALE_STATES and stale_at is None and now - updated_at >= after


class Check(StrEnum):
    """An invariant `sitroom check` verifies."""

    UNIT_BUSY_WITHOUT_ORDER = "unit_busy_without_order"
    OPEN_ORDER_ON_CLOSED_INCIDENT = "open_order_on_closed_incident"
    INCIDENT_WITHOUT_JOURNAL = "incident_without_journal"

    def label(self, lang: Lang) -> str:
        """What the failure means, in words."""
        return pick(_CHECK_LABELS[self], lang)


_CHECK_LABELS: Mapping[Check, Bilingual] = checked({
    Check.UNIT_BUSY_WITHOUT_ORDER: ("单位显示执行任务但没有未完成的指令",
                                    "unit shows busy but holds no open order"),
    Check.OPEN_ORDER_ON_CLOSED_INCIDENT: ("已结案（或已合并）的事件仍有未完成的指令",
                                          "open order on a closed (or merged) incident"),
    Check.INCIDENT_WITHOUT_JOURNAL: ("事件没有任何日志记录", "incident has no journal row"),
}, Check)

REPAIRABLE = frozenset({Check.UNIT_BUSY_WITHOUT_ORDER, Check.OPEN_ORDER_ON_CLOSED_INCIDENT})
"""Failures `sitroom check --repair` fixes (by releasing the unit, journaled)."""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One failed invariant and how to repair it."""

    check: Check
    """Which invariant."""
    subject: str
    """The unit or incident it is about."""
    detail: str
    """What was found (ids, states)."""
    repair: str
    """A command that repairs it."""

    def line(self, lang: Lang) -> str:
        """The finding as one line for people."""
        return f"{self.check.value}: {self.check.label(lang)} — {self.subject} ({self.detail})"


def busy_without_order(unit: str, availability: str) -> Finding:
    """A unit whose availability is an order stage while it holds no open order."""
    return Finding(check=Check.UNIT_BUSY_WITHOUT_ORDER, subject=unit,
                   detail=f"availability {availability}",
                   repair=release_command(unit, "no open order (sitroom check)"))


def open_order_on_closed(unit: str, order: str, incident: str, state: str) -> Finding:
    """An order still open on an incident that is closed (merged ones are closed too)."""
    return Finding(check=Check.OPEN_ORDER_ON_CLOSED_INCIDENT, subject=unit,
                   detail=f"order {order} {state} on closed incident {incident}",
                   repair=release_command(unit, f"incident {incident} is closed"))


def without_journal(incident: str) -> Finding:
    """An incident with no journal row: the journal cannot be back-filled, only annotated."""
    return Finding(check=Check.INCIDENT_WITHOUT_JOURNAL, subject=incident,
                   detail="no row in incident_events",
                   repair=("sitroom journal verify  # then find how it was written without a"
                           " journal row; add a note through the desk or"
                           f" POST /api/incidents/{incident}/notes"))


def release_command(unit: str, reason: str) -> str:
    """The CLI command that releases `unit` (quoted for a POSIX shell)."""
    return f"sitroom unit release {shlex.quote(unit)} --reason {shlex.quote(reason)}"
