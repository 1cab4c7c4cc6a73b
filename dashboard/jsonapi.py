"""JSON API plumbing shared by the dashboard's API modules: bodies decoded and validated once,
query arguments checked, errors answered as `Problem` documents in both languages (the
`errors` blueprint answers them for every route of the app, and answers an /api path no API
route serves with a JSON 404 or 405 instead of Dash's page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from dashboard.command_schema import Problem
from incidents.errors import CommandRefused
from incidents.journal import JournalKeyError
from incidents.store import StoreUnavailable

T = TypeVar("T")

API_PREFIX = "/api/"
"""Paths under it are the JSON API: never answered by Dash's catch-all page route."""
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""Methods tried when telling a wrong method (405) from a path nobody serves (404)."""

_encoder = msgspec.json.Encoder()


class BadRequest(Exception):
    """A request the API refuses before calling the service (400)."""

    def __init__(self, message: str, zh: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(error=message, error_zh=zh, hint=hint)


def json_response(body: object, status: int = 200) -> Response:
    return Response(_encoder.encode(body), status=status, mimetype="application/json")


def no_store_json(doc: Any, status: int = 200, mimetype: str = "application/json",
                  headers: dict[str, str] | None = None) -> Response:
    """`doc` as JSON that no cache keeps (live and operational answers)."""
    return Response(_encoder.encode(doc), status=status, mimetype=mimetype,
                    headers={"Cache-Control": "no-store"} | (headers or {}))


def problem_response(status: int, problem: Problem) -> Response:
    return json_response(problem, status)


def body(kind: type[T]) -> T:
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


def enum_args(name: str, kind: type[Any]) -> list[Any] | None:
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v]
    if not values:
        return None
    try:
        return [kind(v) for v in values]
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}", f"参数 {name} 不合法") from exc


def int_arg(name: str, default: int, low: int, high: int) -> int:
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


def since_arg() -> datetime | None:
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


def errors_blueprint() -> Blueprint:
    """App-wide answers to refusals: 400 and the service's refusals as Problems, 503 when down."""
    errors = Blueprint("errors", __name__)

    # app_errorhandler: a refusal raised by any route or callback, not only this blueprint's.
    @errors.app_errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Response:
        return problem_response(400, exc.problem)

    @errors.app_errorhandler(CommandRefused)
    def refused(exc: CommandRefused) -> Response:
        return problem_response(exc.status, Problem(error=exc.en, error_zh=exc.zh))

    @errors.app_errorhandler(StoreUnavailable)
    def unavailable(exc: StoreUnavailable) -> Response:
        return problem_response(503, Problem(error=str(exc), error_zh="数据库暂不可用",
                                     hint="retry in a few seconds; /api/health shows what is"
                                          " down"))

    # Runs after the sign-in guard (which puts itself first): a caller without a session or
    # token gets 401 for every /api path, so only signed-in callers learn which paths exist.
    errors.before_app_request(unrouted_api)

    @errors.app_errorhandler(JournalKeyError)
    def no_key(exc: JournalKeyError) -> Response:
        return problem_response(503, Problem(error=str(exc),
                                             error_zh="未配置日志密钥，无法记录操作"))

    return errors


def unrouted_api() -> Response | None:
    """A JSON 404 (or 405) for an /api path no API route serves with this method, else None."""
    path = request.path
    rule = request.url_rule
    if not path.startswith(API_PREFIX) or (rule is not None and _is_api(rule.rule)):
        return None
    allowed = _api_methods(path)
    if allowed:
        shown = ", ".join(allowed)
        return no_store_json(
            {"error": "method_not_allowed", "detail": f"{path} answers {shown}, not"
             f" {request.method}",
             "hint": f"请改用 {shown} 方法；接口说明见 /api/openapi.json"
                     f" / use {shown}; the API is described at /api/openapi.json"},
            405, headers={"Allow": shown})
    return no_store_json(
        {"error": "not_found", "detail": f"no API route serves {request.method} {path}",
         "hint": "该接口不存在，请核对路径；接口说明见 /api/openapi.json"
                 " / no such API path; the API is described at /api/openapi.json"}, 404)


def _is_api(rule: str) -> bool:
    return rule.startswith(API_PREFIX)


def _api_methods(path: str) -> list[str]:
    """The methods some API route serves `path` with (Dash's catch-all does not count)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed: list[str] = []
    for method in _METHODS:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:  # no route, another method, or a redirect: not served this way
            continue
        if _is_api(rule.rule):
            allowed.append(method)
    return allowed
