"""The command API: incidents and dispatch as JSON (create, transition, note, merge, dispatch,
list, timeline, decision support), described by /api/openapi.json.

Routes are thin: decode and validate the body once, check the caller's permission, call the
CommandService (the same code the dashboard's pages call) on the bridge's loop, encode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request

from dashboard.command_schema import (
    CreateIncident,
    Dispatch,
    Merge,
    Note,
    Problem,
    Reassign,
    Transition,
)
from dashboard.command_wiring import Commands
from dashboard.jsonapi import (
    BadRequest,
    body,
    enum_args,
    int_arg,
    json_response,
    problem_response,
    since_arg,
)
from dashboard.openapi import openapi_document
from dashboard.portal import AsyncBridge
from dashboard.report_api import register_report_api
from incidents.command import Actor, CommandService
from incidents.errors import CommandRefused
from incidents.journal import JournalKeyError
from incidents.model import IncidentStatus, Level
from incidents.store import StoreUnavailable

T = TypeVar("T")

Authorize = Callable[[str], Actor]
"""Checks that the caller may perform a permission ("view", "report", "incident_act",
"dispatch"); returns who they are, or raises an HTTP error (401/403) the guard renders."""

Factory = Callable[[AsyncBridge], Commands]
"""Builds the command service and briefings on the bridge's loop (once)."""

MAX_LIMIT = 1000


def register_command_api(server: Flask, bridge: AsyncBridge | None, factory: Factory,
                         authorize: Authorize) -> tuple[Callable[[], Commands],
                                                         Callable[..., Any]]:
    """Add the command API's routes to the dashboard's Flask server; return the accessor of
    the command service (built on first use) and the runner that calls it on the bridge, for
    the pages to share."""
    built: list[Commands] = []
    lock = threading.Lock()

    def commands() -> Commands:
        if bridge is None:
            raise StoreUnavailable("the dashboard runs without a store")
        with lock:  # several request threads may arrive first at once
            if not built:
                built.append(factory(bridge))
        return built[0]

    def service() -> CommandService:
        return commands().service

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        assert bridge is not None
        return bridge.call(fn, *args)

    @server.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return problem_response(400, exc.problem)

    @server.errorhandler(CommandRefused)
    def refused(exc: CommandRefused) -> Response:
        return problem_response(exc.status, Problem(error=exc.en, error_zh=exc.zh))

    @server.errorhandler(StoreUnavailable)
    def unavailable(exc: StoreUnavailable) -> Response:
        return problem_response(503, Problem(error=str(exc), error_zh="数据库暂不可用",
                                     hint="retry in a few seconds; /api/health shows what is"
                                          " down"))

    @server.errorhandler(JournalKeyError)
    def no_key(exc: JournalKeyError) -> Response:
        return problem_response(503, Problem(error=str(exc),
                                             error_zh="未配置日志密钥，无法记录操作"))

    @server.get("/api/openapi.json")
    def openapi() -> Response:
        authorize("view")
        return json_response(openapi_document())

    @server.post("/api/incidents")
    def create_incident() -> Response:
        actor = authorize("report")
        req = body(CreateIncident)
        return json_response(run(service().create, req.to_domain(), actor), 201)

    @server.get("/api/incidents/search")
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

    @server.get("/api/incidents/<incident_id>")
    def get_incident(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().incident, incident_id))

    @server.post("/api/incidents/<incident_id>/actions")
    def act(incident_id: str) -> Response:
        req = body(Transition)
        actor = authorize("incident_act")

        svc = service()  # built outside the loop: building it calls into the loop

        async def call() -> Any:
            return await svc.act(incident_id, req.action, actor, level=req.level,
                                       resolution=req.resolution, reason=req.reason)
        return json_response(run(call))

    @server.post("/api/incidents/<incident_id>/notes")
    def note(incident_id: str) -> Response:
        req = body(Note)
        actor = authorize("incident_act")  # annotating is acting on it, as on the desk
        run(service().note, incident_id, req.text, actor)
        return json_response({"ok": True}, 201)

    @server.post("/api/incidents/<incident_id>/merge")
    def merge(incident_id: str) -> Response:
        req = body(Merge)
        actor = authorize("incident_act")
        kept, gone = run(service().merge, incident_id, req.absorbed, actor)
        return json_response({"incident": kept, "absorbed": gone})

    @server.get("/api/incidents/<incident_id>/timeline")
    def timeline(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().timeline, incident_id))

    @server.get("/api/incidents/<incident_id>/proposal")
    def proposal(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().propose, incident_id, request.args.get("plan")))

    @server.post("/api/incidents/<incident_id>/dispatch")
    def dispatch(incident_id: str) -> Response:
        req = body(Dispatch)
        actor = authorize("dispatch")
        pairs = ([(a.task, a.unit) for a in req.assignments]
                 if req.assignments is not None else None)

        svc = service()

        async def call() -> Any:
            return await svc.dispatch(incident_id, actor, plan_id=req.plan,
                                            assignments=pairs)
        return json_response(run(call), 201)

    @server.get("/api/incidents/<incident_id>/orders")
    def orders(incident_id: str) -> Response:
        authorize("view")
        return json_response(run(service().orders, incident_id))

    @server.post("/api/orders/<order_id>/reassign")
    def reassign(order_id: str) -> Response:
        req = body(Reassign)
        actor = authorize("dispatch")
        return json_response(run(service().reassign, order_id, actor, req.unit), 201)

    @server.get("/api/incidents/<incident_id>/support")
    def support(incident_id: str) -> Response:
        authorize("view")
        radius = int_arg("radius_m", 3000, 100, 50_000)
        return json_response(run(service().decision_support, incident_id, float(radius)))

    register_report_api(server, lambda: commands().briefing, run, authorize)
    return commands, run

