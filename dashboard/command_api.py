"""The `command` blueprint: incidents and dispatch as JSON (create, transition, note, merge,
dispatch, list, timeline, decision support), described by /api/openapi.json.

Routes are thin: decode and validate the body once, check the caller's permission, call the
CommandService (the same code the dashboard's pages call) on the bridge's loop, encode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from dashboard.command_schema import (
    Bulk,
    CreateIncident,
    Dispatch,
    Merge,
    Note,
    Reassign,
    Transition,
)
from dashboard.command_wiring import Commands
from dashboard.jsonapi import BadRequest, body, enum_args, int_arg, json_response, since_arg
from dashboard.portal import AsyncBridge
from incidents.briefing import Briefing
from incidents.bulk import BulkVerb
from incidents.command import Actor, CommandService
from incidents.errors import Invalid
from incidents.model import IncidentStatus, Level
from incidents.store import StoreUnavailable

Authorize = Callable[[str], Actor]
"""Checks that the caller may perform a permission ("view", "report", "incident_act",
"dispatch"); returns who they are, or raises an HTTP error (401/403) the guard renders."""

Factory = Callable[[AsyncBridge], Commands]
"""Builds the command service and briefings on the bridge's loop (once)."""

MAX_LIMIT = 1000


class CommandAccess:
    """The dashboard's one command service, built on first use, and the runner that calls it on
    the bridge's loop: shared by the command, reports, streams and video blueprints."""

    def __init__(self, bridge: AsyncBridge | None, factory: Factory) -> None:
        """Build with `factory` on `bridge` when first asked; without a bridge, 503 on use."""
        self._bridge = bridge
        self._factory = factory
        self._built: list[Commands] = []
        self._lock = threading.Lock()

    def commands(self) -> Commands:
        """The command service and briefings (StoreUnavailable when there is no bridge)."""
        if self._bridge is None:
            raise StoreUnavailable("the dashboard runs without a store")
        with self._lock:  # several request threads may arrive first at once
            if not self._built:
                self._built.append(self._factory(self._bridge))
        return self._built[0]

    def service(self) -> CommandService:
        """The command service."""
        return self.commands().service

    def briefing(self) -> Briefing:
        """The situation reports, CAP alerts and daily summary."""
        return self.commands().briefing

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call `fn(*args)` on the bridge's loop and wait for its result."""
        assert self._bridge is not None
        return self._bridge.call(fn, *args)


def command_blueprint(access: CommandAccess, authorize: Authorize) -> Blueprint:
    """The command API's routes (errors are answered by jsonapi's `errors` blueprint)."""
    api = Blueprint("command", __name__)
    service, run = access.service, access.run

    @api.post("/api/incidents")
    def create_incident() -> Response:
        actor = authorize("report")
        req = body(CreateIncident)
        return json_response(run(service().create, req.to_domain(), actor), 201)

    @api.get("/api/incidents/search")
    def search_incidents() -> Response:
        authorize("view")
        svc = service()
        status = enum_args("status", IncidentStatus)
        levels = enum_args("level", Level)
        types = [t for raw in request.args.getlist("type") for t in raw.split(",") if t] or None
        since = since_arg()
        limit = int_arg("limit", 200, 1, MAX_LIMIT)

        async def query() -> Any:
            return await svc.incidents(status=status, levels=levels, types=types, since=since,
                                       limit=limit)
        return json_response(run(query))

    @api.get("/api/incidents/<incident_id>")
    def get_incident(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().incident, incident_id))

    @api.post("/api/incidents/<incident_id>/actions")
    def act(incident_id: str) -> Response:
        req = body(Transition)
        actor = authorize("incident_act")

        svc = service()  # built outside the loop: building it calls into the loop

        async def call() -> Any:
            return await svc.act(incident_id, req.action, actor, level=req.level,
                                       resolution=req.resolution, reason=req.reason)
        return json_response(run(call))

    @api.post("/api/incidents/<incident_id>/notes")
    def note(incident_id: str) -> Response:
        req = body(Note)
        actor = authorize("incident_act")  # annotating is acting on it, as on the desk
        run(service().note, incident_id, req.text, actor)
        return json_response({"ok": True}, 201)

    @api.post("/api/incidents/<incident_id>/merge")
    def merge(incident_id: str) -> Response:
        req = body(Merge)
        actor = authorize("incident_act")
        kept, gone = run(service().merge, incident_id, req.absorbed, actor)
        return json_response({"incident": kept, "absorbed": gone})

    @api.post("/api/incidents/bulk")
    def bulk() -> Response:
        req = body(Bulk)
        closing = req.action is BulkVerb.CLOSE
        if closing and req.target is not None:
            raise BadRequest("target is for merge: leave it out to close",
                             "结案无需 target（目标事件仅用于合并）")
        if not closing and (req.target is None or req.resolution is not None):
            raise BadRequest("merge needs target (the incident kept) and no resolution",
                             "合并须给出 target（保留的事件），且不带 resolution")
        actor = authorize("incident_act")  # as closing or merging one
        svc = service()

        async def call() -> Any:
            if req.target is None:
                return await svc.close_many(req.incidents, actor, reason=req.reason,
                                            resolution=req.resolution)
            return await svc.merge_many(req.target, req.incidents, actor, reason=req.reason)
        return json_response(run(call))

    @api.get("/api/incidents/<incident_id>/timeline")
    def timeline(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().timeline, incident_id))

    @api.get("/api/incidents/<incident_id>/proposal")
    def proposal(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().propose, incident_id, request.args.get("plan")))

    @api.post("/api/incidents/<incident_id>/dispatch")
    def dispatch(incident_id: str) -> Response:
        req = body(Dispatch)
        actor = authorize("dispatch")
        pairs = ([(a.task, a.unit) for a in req.assignments]
                 if req.assignments is not None else None)

        svc = service()

        async def call() -> Any:
            return await svc.dispatch(incident_id, actor, plan_id=req.plan,
                                      assignments=pairs, busy_ok=req.busy_ok,
                                      reason=req.reason)
        return json_response(run(call), 201)

    @api.get("/api/incidents/<incident_id>/orders")
    def orders(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().orders, incident_id))

    @api.get("/api/incidents/<incident_id>/orders/summary")
    def orders_summary(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().coverage, incident_id))

    @api.post("/api/orders/<order_id>/reassign")
    def reassign(order_id: str) -> Response:
        req = body(Reassign)
        actor = authorize("dispatch")
        if req.busy_ok and req.unit is None:
            raise Invalid("选用正在执行任务的单位须指明单位", "busy_ok needs the unit it is for")
        svc = service()

        async def call() -> Any:
            return await svc.reassign(order_id, actor, req.unit,
                                      busy_ok=[req.unit] if req.busy_ok and req.unit else [],
                                      reason=req.reason)
        return json_response(run(call), 201)

    @api.get("/api/incidents/<incident_id>/support")
    def support(incident_id: str) -> Response:
        authorize("view")
        radius = int_arg("radius_m", 3000, 100, 50_000)
        return json_response(run(service().decision_support, incident_id, float(radius)))

    return api

