"""The `units` blueprint: a leader's word on a unit (release, set status, with a reason), the
unit's history of such actions, and the invariant check the desk warns about.

Thin, like the command routes: decode once, check the permission (dispatching is what a unit's
release belongs with), call the CommandService on the bridge's loop, encode.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from flask import Blueprint, Response

from dashboard.command_api import Authorize, CommandAccess
from dashboard.jsonapi import body, json_response
from incidents.model import Availability

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ReleaseUnit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Release a unit from its order."""

    reason: Reason
    """Why (journaled), e.g. 电话确认已归队."""


class SetUnitStatus(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Set a unit's status; its open order is cancelled."""

    status: Literal["available", "out_of_service", "off_duty"]
    """What the unit is now (the other states come from the unit's own acks)."""
    reason: Reason
    """Why (journaled)."""


class UnitChanged(msgspec.Struct, frozen=True, kw_only=True):
    """What a release or status change did."""

    unit: str
    """The unit."""
    cancelled: list[str]
    """Orders it cancelled (each journaled on its incident)."""


def units_blueprint(access: CommandAccess, authorize: Authorize) -> Blueprint:
    """The unit-state routes (errors are answered by jsonapi's `errors` blueprint)."""
    api = Blueprint("units", __name__)
    service, run = access.service, access.run

    @api.post("/api/units/<unit>/release")
    def release(unit: str) -> Response:
        req = body(ReleaseUnit)
        actor = authorize("dispatch")
        cancelled = run(service().release_unit, unit, actor, req.reason)
        return json_response(UnitChanged(unit=unit, cancelled=cancelled))

    @api.post("/api/units/<unit>/status")
    def set_status(unit: str) -> Response:
        req = body(SetUnitStatus)
        actor = authorize("dispatch")
        svc = service()

        async def call() -> Any:
            return await svc.set_unit_status(unit, Availability(req.status), actor, req.reason)
        return json_response(UnitChanged(unit=unit, cancelled=run(call)))

    @api.get("/api/units/<unit>/events")
    def events(unit: str) -> Response:
        authorize("view")
        return json_response(run(service().unit_events, unit))

    @api.get("/api/check")
    def check() -> Response:
        authorize("view")
        # Checked now (three indexed queries): an answer from memory would hide an outage.
        return json_response(run(service().check))

    return api
