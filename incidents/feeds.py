"""Records of the feed write path: what a committed batch changed, and the rules' hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from incidents.model import Inbound, Incident, UnitState
from incidents.outcomes import Outcome


class UnitFix(msgspec.Struct, gc=False):
    """A position with its envelope's fields: a row of `positions`, and a unit's latest fix."""

    id: str
    unit: str
    agency: str
    source: str
    ts: datetime
    lat: float
    lon: float
    speed: float | None
    heading: float | None
    accuracy: float | None
    received_at: datetime
    unit_type: str | None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch changed."""

    positions_new: int
    """Positions stored now (the rest of the batch's positions were already there)."""
    units: list[UnitState]
    """Latest position per unit in the batch."""
    incidents: list[Incident]
    """Incidents opened by the batch's new reports."""
    dead_letters: int
    """Dead letters stored."""
    orders_moved: int = 0
    """Dispatch orders moved on by the batch's acks."""
    unit_fixes: list[UnitFix] = field(default_factory=list)
    """With `defer_units`: each unit's latest fix, for `upsert_units` to write later."""


Evaluate = Callable[[Sequence[Inbound]], list[Outcome]]
"""The rules: outcomes of the messages a batch stored for the first time, in arrival order."""
