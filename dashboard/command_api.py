"""The command API: incidents and dispatch as JSON (create, transition, note, merge, dispatch,
list, timeline, decision support), described by /api/openapi.json.

Routes are thin: decode and validate the body once, check the caller's permission, call the
CommandService (the same code the dashboard's pages call) on the bridge's loop, encode.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec
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
from dashboard.openapi import openapi_document
from dashboard.portal import AsyncBridge
from incidents.command import Actor, CommandService
from incidents.errors import CommandRefused
from incidents.journal import JournalKeyError
from incidents.model import IncidentStatus, Level
from incidents.store import StoreUnavailable

T = TypeVar("T")

Authorize = Callable[[str], Actor]
"""Checks that the caller may perform a permission ("view", "report", "incident_act",
"dispatch"); returns who they are, or raises an HTTP error (401/403) the guard renders."""

ServiceFactory = Callable[[AsyncBridge], CommandService]
"""Builds the command service on the bridge's loop (once)."""

_encoder = msgspec.json.Encoder()
MAX_LIMIT = 1000


class BadRequest(Exception):
    """A request the API refuses before calling the service (400)."""

    def __init__(self, message: str, zh: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(error=message, error_zh=zh, hint=hint)


def _json(body: object, status: int = 200) -> Response:
    return Response(_encoder.encode(body), status=status, mimetype="application/json")


def _problem(status: int, problem: Problem) -> Response:
    return _json(problem, status)


def _body(kind: type[T]) -> T:
    if not request.is_json:
        raise BadRequest("send a JSON body with Content-Type: application/json",
                         "请以 application/json 发送 JSON 请求体")
    try:
        return msgspec.json.decode(request.get_data(), type=kind)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"invalid {kind.__name__}: {exc}", f"请求体不合法：{exc}",
                         "see /api/openapi.json for the fields and their limits") from exc
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", "请求体不是合法的 JSON") from exc


def _enums(name: str, kind: type[Any]) -> list[Any] | None:
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v]
    if not values:
        return None
    try:
        return [kind(v) for v in values]
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}", f"参数 {name} 不合法") from exc


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer", f"参数 {name} 须为整数") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}",
                         f"参数 {name} 须在 {low} 到 {high} 之间")
    return value


def _since() -> datetime | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest("since must be an RFC 3339 time, e.g. 2026-11-26T08:00:00+08:00",
                         "since 须为 RFC 3339 时间") from None
    if value.tzinfo is None:
        raise BadRequest("since needs a time zone offset", "since 须带时区")
    return value


def register_command_api(server: Flask, bridge: AsyncBridge | None, factory: ServiceFactory,
                         authorize: Authorize) -> None:
    """Add the command API's routes to the dashboard's Flask server."""
    built: list[CommandService] = []

    def service() -> CommandService:
        if bridge is None:
            raise StoreUnavailable("the dashboard runs without a store")
        if not built:
            built.append(factory(bridge))
        return built[0]

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        assert bridge is not None
        return bridge.call(fn, *args)

    @server.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return _problem(400, exc.problem)

    @server.errorhandler(CommandRefused)
    def refused(exc: CommandRefused) -> Response:
        return _problem(exc.status, Problem(error=exc.en, error_zh=exc.zh))

    @server.errorhandler(StoreUnavailable)
    def unavailable(exc: StoreUnavailable) -> Response:
        return _problem(503, Problem(error=str(exc), error_zh="数据库暂不可用",
                                     hint="retry in a few seconds; /api/health shows what is"
                                          " down"))

    @server.errorhandler(JournalKeyError)
    def no_key(exc: JournalKeyError) -> Response:
        return _problem(503, Problem(error=str(exc), error_zh="未配置日志密钥，无法记录操作"))

    @server.get("/api/openapi.json")
    def openapi() -> Response:
        authorize("view")
        return _json(openapi_document())

    @server.post("/api/incidents")
    def create_incident() -> Response:
        actor = authorize("report")
        body = _body(CreateIncident)
        return _json(run(service().create, body.to_domain(), actor), 201)

    @server.get("/api/incidents/search")
    def search_incidents() -> Response:
        authorize("view")
        svc = service()
        status = _enums("status", IncidentStatus)
        levels = _enums("level", Level)
        types = [t for raw in request.args.getlist("type") for t in raw.split(",") if t] or None
        since = _since()
        limit = _int_arg("limit", 200, 1, MAX_LIMIT)

        async def query() -> Any:
            return await svc.incidents(status=status, levels=levels, types=types, since=since,
                                       limit=limit)
        return _json(run(query))

    @server.get("/api/incidents/<incident_id>")
    def get_incident(incident_id: str) -> Response:
        authorize("view")
        return _json(run(service().incident, incident_id))

    @server.post("/api/incidents/<incident_id>/actions")
    def act(incident_id: str) -> Response:
        body = _body(Transition)
        actor = authorize("incident_act")

        async def call() -> Any:
            return await service().act(incident_id, body.action, actor, level=body.level,
                                       resolution=body.resolution, reason=body.reason)
        return _json(run(call))

    @server.post("/api/incidents/<incident_id>/notes")
    def note(incident_id: str) -> Response:
        body = _body(Note)
        actor = authorize("report")
        run(service().note, incident_id, body.text, actor)
        return _json({"ok": True}, 201)

    @server.post("/api/incidents/<incident_id>/merge")
    def merge(incident_id: str) -> Response:
        body = _body(Merge)
        actor = authorize("incident_act")
        kept, gone = run(service().merge, incident_id, body.absorbed, actor)
        return _json({"incident": kept, "absorbed": gone})

    @server.get("/api/incidents/<incident_id>/timeline")
    def timeline(incident_id: str) -> Response:
        authorize("view")
        return _json(run(service().timeline, incident_id))

    @server.get("/api/incidents/<incident_id>/proposal")
    def proposal(incident_id: str) -> Response:
        authorize("view")
        return _json(run(service().propose, incident_id, request.args.get("plan")))

    @server.post("/api/incidents/<incident_id>/dispatch")
    def dispatch(incident_id: str) -> Response:
        body = _body(Dispatch)
        actor = authorize("dispatch")
        pairs = ([(a.task, a.unit) for a in body.assignments]
                 if body.assignments is not None else None)

        async def call() -> Any:
            return await service().dispatch(incident_id, actor, plan_id=body.plan,
                                            assignments=pairs)
        return _json(run(call), 201)

    @server.get("/api/incidents/<incident_id>/orders")
    def orders(incident_id: str) -> Response:
        authorize("view")
        return _json(run(service().orders, incident_id))

    @server.post("/api/orders/<order_id>/reassign")
    def reassign(order_id: str) -> Response:
        body = _body(Reassign)
        actor = authorize("dispatch")
        return _json(run(service().reassign, order_id, actor, body.unit), 201)

    @server.get("/api/incidents/<incident_id>/support")
    def support(incident_id: str) -> Response:
        authorize("view")
        radius = _int_arg("radius_m", 3000, 100, 50_000)
        return _json(run(service().decision_support, incident_id, float(radius)))

