"""Request and response bodies of the command API: validated once at the edge (msgspec)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from incidents.bulk import REASON_MAX, BulkVerb
from incidents.command import NewIncident
from incidents.lifecycle import Action, Resolution
from incidents.model import Level

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+\Z")]
UnitId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class CreateIncident(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents: an incident entered by a person (接报)."""

    type: Code
    """Incident type code (see GET /api/taxonomy)."""
    title: Title
    """Short description."""
    lat: Lat
    """WGS-84 latitude."""
    lon: Lon
    """WGS-84 longitude."""
    level: Level = Level.IV
    """Initial level, I (most severe) … IV."""
    agency: Code = "command"
    """Receiving agency."""
    text: Text | None = None
    """What the caller or reporter said."""

    def to_domain(self) -> NewIncident:
        """The service's command."""
        return NewIncident(type=self.type, level=self.level, title=self.title, lat=self.lat,
                           lon=self.lon, agency=self.agency, text=self.text)


class Transition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents/{id}/actions: a life-cycle action."""

    action: Action
    """verify, respond, contain, close, escalate, deescalate or reopen (merge has its route)."""
    level: Level | None = None
    """The new level, for escalate and deescalate."""
    resolution: Resolution | None = None
    """For close: resolved (default) or false_alarm."""
    reason: Text | None = None
    """Why, for the journal."""


class Note(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents/{id}/notes."""

    text: Text
    """The note."""


class Merge(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents/{id}/merge: absorb another incident into this one."""

    absorbed: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    """Id of the incident that is the same event."""


IncidentId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
BULK_HARD_MAX = 10_000
"""Ids a bulk body may carry at all (the setting bulk_max_incidents is at most this)."""


class Bulk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents/bulk: close several incidents, or merge them into one (批量处理)."""

    action: BulkVerb
    """close or merge."""
    incidents: Annotated[list[IncidentId], msgspec.Meta(min_length=1, max_length=BULK_HARD_MAX)]
    """The incidents to close, or to merge into `target`; at most the setting
    bulk_max_incidents (default 200)."""
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=REASON_MAX)]
    """Why (required), journaled with every incident."""
    resolution: Resolution | None = None
    """For close: resolved (default) or false_alarm."""
    target: IncidentId | None = None
    """For merge: the incident the others are merged into."""


class Assignment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One plan task given to one unit."""

    task: Code
    """Plan task id."""
    unit: UnitId
    """Unit id."""


class Dispatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/incidents/{id}/dispatch: dispatch a plan."""

    plan: Code | None = None
    """Plan id; default: the plan for the incident's type and level."""
    assignments: Annotated[list[Assignment], msgspec.Meta(max_length=500)] | None = None
    """The leader's confirmed or edited assignments; default: the proposal as it stands."""
    busy_ok: Annotated[list[UnitId], msgspec.Meta(max_length=500)] = []
    """Units to send although they hold an open order (picked on purpose); needs `reason`."""
    reason: Text | None = None
    """Why the units in `busy_ok` are sent, for the journal."""


class Reassign(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /api/orders/{id}/reassign."""

    unit: UnitId | None = None
    """The new unit; default: the nearest available unit of the same agency and kind."""
    busy_ok: bool = False
    """Send `unit` although it holds an open order (picked on purpose); needs `reason`."""
    reason: Text | None = None
    """Why, for the journal."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An error answer: what went wrong, in both languages, and what to do."""

    error: str
    """What went wrong (English)."""
    error_zh: str | None = None
    """What went wrong (Chinese)."""
    hint: str | None = None
    """What to do about it."""
