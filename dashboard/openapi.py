"""The OpenAPI 3.1 description of the command API, built from the same msgspec types the
routes decode and encode, so the description cannot drift from the code."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from dashboard.command_schema import (
    CreateIncident,
    Dispatch,
    Merge,
    Note,
    Problem,
    Reassign,
    Transition,
)
from incidents.command import DecisionSupport, DispatchPlan
from incidents.model import Incident
from incidents.orders import Order


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One journal event of an incident."""

    seq: int
    """Position in the journal chain."""
    at: str
    """When (RFC 3339)."""
    actor: str
    """Who."""
    action: str
    """What."""
    client: str | None
    """From where."""
    data: dict[str, Any]
    """Details."""


class Merged(msgspec.Struct, frozen=True, kw_only=True):
    """The two incidents after a merge."""

    incident: Incident
    """The incident kept."""
    absorbed: Incident
    """The incident closed into it."""


class Ok(msgspec.Struct, frozen=True, kw_only=True):
    """An acknowledgement."""

    ok: bool
    """True."""


_TYPES: list[Any] = [CreateIncident, Transition, Note, Merge, Dispatch, Reassign, Problem,
                     Incident, Order, DispatchPlan, DecisionSupport, TimelineEntry, Merged, Ok]


def _ref(kind: Any) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{kind.__name__}"}


def _json_body(kind: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(kind)}}}


def _answer(status: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {status: {"description": what, "content": {"application/json": {"schema": schema}}}}


def _errors(*codes: str) -> dict[str, Any]:
    what = {"400": "malformed request", "401": "not signed in", "403": "role may not do this",
            "404": "no such incident, order, unit or plan",
            "409": "refused by the incident's or order's state",
            "422": "inconsistent command", "503": "database or journal key unavailable"}
    out: dict[str, Any] = {}
    for code in ("401", "403", "503", *codes):
        out |= _answer(code, _ref(Problem), what[code])
    return out


_ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(summary: str, ok: dict[str, Any], errors: dict[str, Any], *,
        params: list[dict[str, Any]] | None = None, body: Any = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": ok | errors}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = _json_body(body)
    return op


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the command API."""
    (_, components) = msgspec.json.schema_components(
        _TYPES, ref_template="#/components/schemas/{name}")
    array = {"type": "array", "items": _ref(Incident)}
    list_params = [
        {"name": "status", "in": "query", "schema": {"type": "string"},
         "description": "comma-separated statuses"},
        {"name": "level", "in": "query", "schema": {"type": "string"},
         "description": "comma-separated levels I–IV"},
        {"name": "type", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    ]
    paths: dict[str, Any] = {
        "/api/incidents": {"post": _op(
            "Record an incident (接报)", _answer("201", _ref(Incident), "created"),
            _errors("400", "422"), body=CreateIncident)},
        "/api/incidents/search": {"get": _op(
            "List incidents by status, level, type and time", _answer("200", array, "found"),
            _errors("400"), params=list_params)},
        "/api/incidents/{incident_id}": {"get": _op(
            "One incident", _answer("200", _ref(Incident), "the incident"), _errors("404"),
            params=[_ID])},
        "/api/incidents/{incident_id}/actions": {"post": _op(
            "Verify, respond, contain, close, escalate, de-escalate or reopen",
            _answer("200", _ref(Incident), "the incident after the action"),
            _errors("400", "404", "409", "422"), params=[_ID], body=Transition)},
        "/api/incidents/{incident_id}/notes": {"post": _op(
            "Add a note to the journal", _answer("201", _ref(Ok), "journaled"),
            _errors("400", "404", "422"), params=[_ID], body=Note)},
        "/api/incidents/{incident_id}/merge": {"post": _op(
            "Merge another incident into this one", _answer("200", _ref(Merged), "merged"),
            _errors("400", "404", "409", "422"), params=[_ID], body=Merge)},
        "/api/incidents/{incident_id}/timeline": {"get": _op(
            "The incident's journal", _answer("200", {"type": "array",
                                                      "items": _ref(TimelineEntry)}, "events"),
            _errors("404"), params=[_ID])},
        "/api/incidents/{incident_id}/proposal": {"get": _op(
            "The plan for the incident with proposed units per task",
            _answer("200", _ref(DispatchPlan), "the proposal"), _errors("404"),
            params=[_ID, {"name": "plan", "in": "query", "schema": {"type": "string"}}])},
        "/api/incidents/{incident_id}/dispatch": {"post": _op(
            "Dispatch a plan: orders go to the units over MQTT",
            _answer("201", {"type": "array", "items": _ref(Order)}, "orders issued"),
            _errors("400", "404", "409", "422"), params=[_ID], body=Dispatch)},
        "/api/incidents/{incident_id}/orders": {"get": _op(
            "The incident's dispatch orders",
            _answer("200", {"type": "array", "items": _ref(Order)}, "orders"),
            _errors("404"), params=[_ID])},
        "/api/orders/{order_id}/reassign": {"post": _op(
            "Give an order's task to another unit", _answer("201", _ref(Order), "new order"),
            _errors("400", "404", "409"), params=[_ORDER_ID], body=Reassign)},
        "/api/incidents/{incident_id}/support": {"get": _op(
            "Decision support around the incident",
            _answer("200", _ref(DecisionSupport), "figures"), _errors("400", "404"),
            params=[_ID, {"name": "radius_m", "in": "query",
                          "schema": {"type": "integer", "minimum": 100, "maximum": 50000}}])},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "sitroom command API", "version": "1",
                 "description": "Incidents and dispatch for the emergency command centre"
                                " (应急指挥中心). Errors carry `error` (en) and `error_zh`."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
