"""The dashboard's routes: one blueprint per area, registered by create_app, the API's
description all served."""

from __future__ import annotations

import re
from collections.abc import Iterator

import dash
import pytest

from config.settings import Settings
from dashboard.app import create_app
from dashboard.openapi import INTERNAL_ROUTES, openapi_document
from dashboard.server import close_app

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

AREAS = {"auth", "errors", "health", "live", "command", "reports", "map", "streams", "video",
         "wall", "units"}
OURS = re.compile(r"^/(api|tiles|live|login|logout|auth)(/|$)")
"""Paths sitroom serves itself; the rest are Dash's (pages, callbacks, assets)."""


@pytest.fixture
def app(settings: Settings) -> Iterator[dash.Dash]:
    """The dashboard app, not served."""
    built = create_app(settings)
    try:
        yield built
    finally:
        close_app(built)


def test_every_route_of_ours_comes_from_an_area_blueprint(app: dash.Dash) -> None:
    server = app.server
    ours = [rule for rule in server.url_map.iter_rules() if OURS.match(rule.rule)]
    assert len(ours) >= 37  # as many as when the routes became blueprints
    outside = [f"{rule.rule} ({rule.endpoint})" for rule in ours
               if rule.endpoint.partition(".")[0] not in AREAS]
    assert not outside, "routes registered outside the area blueprints: " + ", ".join(outside)
    assert set(server.blueprints) >= AREAS


def served_api(app: dash.Dash) -> set[tuple[str, str]]:
    """(path as OpenAPI writes it, method) of every /api route the server serves."""
    return {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
            for rule in app.server.url_map.iter_rules() if rule.rule.startswith("/api/")
            for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}


def documented_api() -> set[tuple[str, str]]:
    """(path, method) of every operation /api/openapi.json describes."""
    return {(path, method.upper()) for path, operations in openapi_document()["paths"].items()
            for method in operations}


def test_the_documented_api_is_served(app: dash.Dash) -> None:
    documented = documented_api()
    assert documented and documented <= served_api(app), documented - served_api(app)


def test_every_api_route_served_is_documented_or_declared_internal(app: dash.Dash) -> None:
    undocumented = {(path, method) for path, method in served_api(app) - documented_api()
                    if path not in INTERNAL_ROUTES}
    assert not undocumented, f"describe these in dashboard/openapi.py: {sorted(undocumented)}"
    assert all(reason.strip() for reason in INTERNAL_ROUTES.values())
    # An internal route that is no longer served would hide a typo in the allow-list.
    assert set(INTERNAL_ROUTES) <= {path for path, _ in served_api(app)}
    assert not set(INTERNAL_ROUTES) & {path for path, _ in documented_api()}


def test_the_description_names_the_report_conference_and_stream_routes(app: dash.Dash) -> None:
    assert ("/api/incidents/{incident_id}/conference", "POST") in served_api(app)
    paths = openapi_document()["paths"]
    assert set(paths["/api/incidents/{incident_id}/sitrep"]) == {"get", "post"}
    assert "post" in paths["/api/incidents/{incident_id}/conference"]
    assert "get" in paths["/api/streams"] and "get" in paths["/api/incidents/{incident_id}/video"]
    schemas = openapi_document()["components"]["schemas"]
    assert {"ConferenceRoom", "IncidentVideo", "DailySummary", "InsideRequest"} <= set(schemas)
