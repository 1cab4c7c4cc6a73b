"""The OpenAPI 3.1 description of the dashboard's API, built from the same msgspec types the
routes decode and encode, so the description cannot drift from the code.

Every /api route is described here except those in `INTERNAL_ROUTES`;
tests/integration/test_routes.py compares the two both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, Final

import msgspec

from dashboard.command_schema import (
    Bulk,
    CreateIncident,
    Dispatch,
    Merge,
    Note,
    Problem,
    Reassign,
    Transition,
)
from dashboard.map_inside import InsideRequest, InsideResult
from dashboard.report_api import FIRST_DAY, LAST_DAY
from dashboard.units_api import ReleaseUnit, SetUnitStatus, UnitChanged
from incidents.bulk import BulkResult
from incidents.command import DecisionSupport, DispatchPlan, StateCheck
from incidents.coverage import Cover
from incidents.model import Incident
from incidents.orders import Order
from incidents.reports.daily import DailySummary

INTERNAL_ROUTES: Final[Mapping[str, str]] = {
    "/api/wall/summary": "the wall screen's own figures: their shape follows that screen and"
                         " changes with it, so no other client should depend on it",
}
"""/api routes left out of the description on purpose, each with the reason."""


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


class NearStream(msgspec.Struct, frozen=True, kw_only=True):
    """A live video stream near an incident."""

    id: str
    """Stream id."""
    title: str
    """What to call it."""
    kind: str
    """field, camera or conference."""
    state: str
    """live or interrupted."""
    distance_m: int
    """Distance from the incident, metres."""


class IncidentVideo(msgspec.Struct, frozen=True, kw_only=True):
    """The streams nearest an incident, nearest first, and a page that plays them."""

    streams: list[NearStream]
    """Up to `limit` streams within `radius_m`."""
    url: str | None
    """The video page playing them (with a token for this user); none without streams."""


class ConferenceRoom(msgspec.Struct, frozen=True, kw_only=True):
    """A video conference (视频会商) opened for an incident."""

    room: str
    """Room id on the video server."""
    url: str
    """The room's page, with a token for this user."""


class CapAlertRow(msgspec.Struct, frozen=True, kw_only=True):
    """A CAP alert received, with its state."""

    id: str
    """Store id: cap:{sender}:{identifier}."""
    sender: str
    """CAP sender."""
    identifier: str
    """CAP identifier."""
    sent: datetime
    """When the sender sent it."""
    status: str
    """Actual, Exercise, System, Test or Draft."""
    msg_type: str
    """Alert, Update, Cancel, Ack or Error."""
    level: str | None
    """Incident level it maps to (I–IV), if any."""
    headline: str | None
    """Headline of the info block shown."""
    event: str | None
    """Event of the info block shown."""
    superseded_by: str | None
    """The update that replaced it."""
    cancelled_by: str | None
    """The cancel that withdrew it."""
    incident_id: str | None
    """The incident it opened or updated."""


class CapAlerts(msgspec.Struct, frozen=True, kw_only=True):
    """The most recent CAP alerts received."""

    alerts: list[CapAlertRow]
    """Newest first."""


class LayerRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored map layer."""

    name: str
    """Layer name, unique."""
    kind: str
    """facilities, cameras, roads, districts …"""
    source_crs: str
    """CRS of the imported file; stored geometry is WGS-84."""
    feature_count: int
    """Number of features."""
    imported_at: datetime
    """When it was (last) imported."""
    attribution: str
    """Source and licence of the data."""
    synthetic: bool
    """True for invented demo data."""
    url: str
    """Where to get it as GeoJSON."""


class DeadLetterRow(msgspec.Struct, frozen=True, kw_only=True):
    """A message ingest refused, with why."""

    id: int
    """Row id."""
    received_at: str
    """When ingest received it (RFC 3339)."""
    topic: str
    """MQTT topic."""
    reason: str
    """Reason code (docs/feeds.md lists them)."""
    detail: str
    """What is wrong."""
    message_id: str | None
    """The message id, when one could be read."""
    size: int
    """Payload size, bytes."""
    payload_text: str | None
    """The payload as text, when it is UTF-8."""
    payload_base64: str | None
    """The payload in base64, when it is not."""
    replayed_at: str | None
    """When it was replayed into ingest, if it was."""


class DeadLetters(msgspec.Struct, frozen=True, kw_only=True):
    """Dead letters, newest first."""

    dead_letters: list[DeadLetterRow]
    """At most `limit`."""


_TYPES: list[Any] = [CreateIncident, Transition, Note, Merge, Bulk, BulkResult, Dispatch,
                     Reassign, Problem, Incident, Order, Cover, DispatchPlan, DecisionSupport,
                     TimelineEntry, Merged, Ok,
                     NearStream, IncidentVideo, ConferenceRoom, CapAlerts, LayerRow,
                     DeadLetters, DailySummary, InsideRequest, InsideResult, ReleaseUnit,
                     SetUnitStatus, UnitChanged, StateCheck]


def _ref(kind: Any) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{kind.__name__}"}


def _json_body(kind: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(kind)}}}


def _answer(status: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    return {status: {"description": what, "content": {"application/json": {"schema": schema}}}}


def _document(status: str, what: str, *mimetypes: str,
              json: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer that is a document (HTML, PDF, CAP XML), or JSON of the schema `json`."""
    return {status: {"description": what, "content": {
        mimetype: {"schema": json if mimetype == "application/json" and json
                   else {"type": "string"}} for mimetype in mimetypes}}}


def _errors(*codes: str) -> dict[str, Any]:
    what = {"400": "malformed request", "401": "not signed in", "403": "role may not do this",
            "404": "no such incident, order, unit, plan, layer or alert",
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
    components["GeoJSON"] = _GEOJSON
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
        "/api/incidents/bulk": {"post": _op(
            "Close several incidents, or merge them into one, with a reason (批量结案/合并):"
            " each is closed or merged as alone and journaled with the reason; one refused"
            " leaves the others done (200 with the outcome of each); over bulk_max_incidents"
            " or without a reason, nothing is done (422)",
            _answer("200", _ref(BulkResult), "the outcome of each incident"),
            _errors("400", "404", "422"), body=Bulk)},
        "/api/incidents/{incident_id}/timeline": {"get": _op(
            "The incident's journal", _answer("200", {"type": "array",
                                                      "items": _ref(TimelineEntry)}, "events"),
            _errors("404"), params=[_ID])},
        "/api/incidents/{incident_id}/proposal": {"get": _op(
            "The plan for the incident with proposed units per task",
            _answer("200", _ref(DispatchPlan), "the proposal"), _errors("404"),
            params=[_ID, {"name": "plan", "in": "query", "schema": {"type": "string"}}])},
        "/api/incidents/{incident_id}/dispatch": {"post": _op(
            "Dispatch a plan: orders go to the units over MQTT (a unit holding an open order"
            " only when named in busy_ok, with a reason)",
            _answer("201", {"type": "array", "items": _ref(Order)}, "orders issued"),
            _errors("400", "404", "409", "422"), params=[_ID], body=Dispatch)},
        "/api/incidents/{incident_id}/orders": {"get": _op(
            "The incident's dispatch orders",
            _answer("200", {"type": "array", "items": _ref(Order)}, "orders"),
            _errors("404"), params=[_ID])},
        "/api/incidents/{incident_id}/orders/summary": {"get": _op(
            "Needed, sent, confirmed and short units per plan task and overall",
            _answer("200", _ref(Cover), "the plan's needs against the orders"),
            _errors("404"), params=[_ID])},
        "/api/orders/{order_id}/reassign": {"post": _op(
            "Give an order's task to another unit", _answer("201", _ref(Order), "new order"),
            _errors("400", "404", "409", "422"), params=[_ORDER_ID], body=Reassign)},
        "/api/incidents/{incident_id}/support": {"get": _op(
            "Decision support around the incident",
            _answer("200", _ref(DecisionSupport), "figures"), _errors("400", "404"),
            params=[_ID, {"name": "radius_m", "in": "query",
                          "schema": {"type": "integer", "minimum": 100, "maximum": 50000}}])},
    }
    for path, operations in (_more_paths() | _unit_paths()).items():
        paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "sitroom command API", "version": "1",
                 "description": "Incidents, dispatch, the live picture, maps, reports and video"
                                " for the emergency command centre (应急指挥中心). Errors carry"
                                " `error` (en or a code) and `error_zh` or a bilingual `hint`;"
                                " an /api path no route serves answers 404 `not_found`, a"
                                " wrong method 405 `method_not_allowed`, and a caller not"
                                " signed in gets 401 first, whatever the path."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


_GEOJSON: Final[dict[str, Any]] = {
    "type": "object", "description": "A GeoJSON FeatureCollection (WGS-84)",
    "required": ["type", "features"],
    "properties": {"type": {"const": "FeatureCollection"},
                   "features": {"type": "array", "items": {"type": "object"}}}}
_LANG: Final[dict[str, Any]] = {"name": "lang", "in": "query",
                                "schema": {"type": "string", "enum": ["zh", "en"]}}
_KINDS: Final[list[dict[str, Any]]] = [
    {"name": name, "in": "query", "schema": {"type": "string"},
     "description": f"comma-separated feature kinds to {what}"}
    for name, what in (("kind", "keep"), ("exclude_kind", "leave out"))]


def _int_param(name: str, low: int, high: int) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "integer", "minimum": low,
                                                    "maximum": high}}


def _format_param(*formats: str) -> dict[str, Any]:
    return {"name": "format", "in": "query",
            "schema": {"type": "string", "enum": list(formats), "default": formats[0]}}


def _geojson(what: str) -> dict[str, Any]:
    return {"200": {"description": what, "content": {
        mime: {"schema": _ref_named("GeoJSON")}
        for mime in ("application/geo+json", "application/json")}}}


def _ref_named(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


_UNIT = {"name": "unit", "in": "path", "required": True, "schema": {"type": "string"}}


def _unit_paths() -> dict[str, dict[str, Any]]:
    """A leader's word on a unit, and the invariant check."""
    return {
        "/api/units/{unit}/release": {"post": _op(
            "Release a unit from its order, with a reason (journaled): en route, on scene or"
            " unknown becomes available; out of service / off duty stay",
            _answer("200", _ref(UnitChanged), "released"), _errors("400", "404"),
            params=[_UNIT], body=ReleaseUnit)},
        "/api/units/{unit}/status": {"post": _op(
            "Set a unit available, out of service or off duty, with a reason (journaled); its"
            " open order is cancelled", _answer("200", _ref(UnitChanged), "set"),
            _errors("400", "404"), params=[_UNIT], body=SetUnitStatus)},
        "/api/units/{unit}/events": {"get": _op(
            "What leaders did to a unit, oldest first",
            _answer("200", {"type": "array", "items": _ref(TimelineEntry)}, "events"),
            _errors(), params=[_UNIT])},
        "/api/check": {"get": _op(
            "Check the invariants now (units, orders, incidents, journal), each failure with"
            " a repair command (the desk's banner shows the dashboard's periodic check)",
            _answer("200", _ref(StateCheck), "the check"), _errors())},
    }


def _more_paths() -> dict[str, dict[str, Any]]:
    """The live picture, operations, reports, maps and video routes."""
    sitrep = [_ID, _format_param("html", "pdf"), _LANG]
    return {
        "/api/units": {"get": _op("The last known fix of every unit",
                                  _geojson("units as points"), _errors())},
        "/api/incidents": {"get": _op("The open incidents (the live picture)",
                                      _geojson("incidents as points"), _errors())},
        "/api/health": {"get": _op(
            "Health of the database, the cache, ingest and the workers (only the status word"
            " when read without signing in and auth.public_health is on)",
            _answer("200", {"type": "object", "required": ["status"]}, "up or degraded"),
            _answer("503", {"type": "object", "required": ["status"]}, "down"))},
        "/api/deadletters": {"get": _op(
            "Messages ingest refused, newest first", _answer("200", _ref(DeadLetters), "found"),
            _errors("400"), params=[_int_param("limit", 1, 1000),
                                    {"name": "reason", "in": "query",
                                     "schema": {"type": "string"}}])},
        "/api/openapi.json": {"get": _op(
            "This description", _answer("200", {"type": "object"}, "OpenAPI 3.1"), _errors())},
        "/api/incidents/{incident_id}/sitrep": {
            "get": _op("The situation report as it would be issued now (not journaled)",
                       _document("200", "the report", "text/html", "application/pdf"),
                       _errors("400", "404"), params=sitrep),
            "post": _op("Issue the next situation report (journaled with its number)",
                        _document("201", "the report issued", "text/html", "application/pdf"),
                        _errors("400", "404"), params=sitrep)},
        "/api/incidents/{incident_id}/cap": {"get": _op(
            "A CAP 1.2 alert (zh-CN and en-US) about the incident",
            _document("200", "the alert", "application/cap+xml"), _errors("400", "404"),
            params=[_ID, {"name": "msg_type", "in": "query",
                          "schema": {"type": "string", "enum": ["Alert"]}}])},
        "/api/reports/daily": {"get": _op(
            "The daily summary: incidents by type, level and district; response times",
            _document("200", "the summary: HTML, PDF or (format=json) JSON", "text/html",
                      "application/pdf", "application/json", json=_ref(DailySummary)),
            _errors("400"), params=[{"name": "day", "in": "query",
                                     "schema": {"type": "string", "format": "date"},
                                     "description": f"{FIRST_DAY} … {LAST_DAY}; default today"},
                                    _format_param("html", "pdf", "json"), _LANG])},
        "/api/cap": {"get": _op("The most recent CAP alerts received, with their state",
                                _answer("200", _ref(CapAlerts), "alerts"), _errors())},
        "/api/cap/{alert_id}": {"get": _op(
            "One received CAP alert, exported back as CAP 1.2 XML",
            _document("200", "the alert", "application/cap+xml"), _errors("404"),
            params=[{"name": "alert_id", "in": "path", "required": True,
                     "schema": {"type": "string"}, "description": "may contain '/'"}])},
        "/api/layers": {"get": _op(
            "The stored map layers", _answer("200", {"type": "array", "items": _ref(LayerRow)},
                                             "layers"), _errors())},
        "/api/layers/{name}.geojson": {"get": _op(
            "One stored layer as GeoJSON", _geojson("the layer"), _errors("404"),
            params=[{"name": "name", "in": "path", "required": True,
                     "schema": {"type": "string"}}, *_KINDS])},
        "/api/layers/by-kind/{layer_kind}.geojson": {"get": _op(
            "Every stored layer of one kind as one collection", _geojson("the layers"),
            _errors("400"), params=[{"name": "layer_kind", "in": "path", "required": True,
                                     "schema": {"type": "string"}}, *_KINDS])},
        "/api/hotspots": {"get": _op(
            "H3 hexagons counting the incidents reported in the last `hours`",
            _geojson("hexagons"), _errors("400"),
            params=[_int_param("hours", 1, 24 * 31), _int_param("resolution", 5, 10)])},
        "/api/analysis/inside": {"post": _op(
            "Facilities, population, units and incidents inside a drawn polygon or circle",
            _answer("200", _ref(InsideResult), "what is inside"), _errors("400"),
            body=InsideRequest)},
        "/api/streams": {"get": _op("Every live video stream with a position",
                                    _geojson("streams as points"), _errors())},
        "/api/incidents/{incident_id}/video": {"get": _op(
            "The streams nearest the incident and a page that plays them",
            _answer("200", _ref(IncidentVideo), "streams"), _errors("400", "404"),
            params=[_ID, _int_param("radius_m", 100, 50_000), _int_param("limit", 1, 16),
                    _LANG])},
        "/api/incidents/{incident_id}/conference": {"post": _op(
            "Open a video conference (视频会商) for the incident (journaled)",
            _answer("201", _ref(ConferenceRoom), "where to join"), _errors("404"),
            params=[_ID, _LANG])},
    }
