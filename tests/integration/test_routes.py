"""The dashboard's routes: one blueprint per area, registered by create_app, the API's
description all served."""

from __future__ import annotations

import re
from collections.abc import Iterator

import dash
import pytest

from config.settings import Settings
from dashboard.app import create_app
from dashboard.openapi import openapi_document
from dashboard.server import close_app

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

AREAS = {"auth", "errors", "health", "live", "command", "reports", "map", "streams", "video",
         "wall"}
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


def test_the_documented_api_is_served(app: dash.Dash) -> None:
    served = {(rule.rule, method) for rule in app.server.url_map.iter_rules()
              for method in rule.methods or ()}
    documented = {(re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
                  for path, operations in openapi_document()["paths"].items()
                  for method in operations}
    assert documented and documented <= served, documented - served
