"""Builds the Dash app: the pages, their callbacks, and the routes (one blueprint per area)."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import dcc, html
from flask import Flask, request

from config.settings import Settings
from dashboard import analytics, desk, not_found, replay, situation
from dashboard.api import health_blueprint
from dashboard.auth import Action, auth_blueprint, check_secret, install_auth, require
from dashboard.auth.keys import derive_key
from dashboard.command_api import CommandAccess, command_blueprint
from dashboard.command_wiring import shared_commands
from dashboard.jsonapi import errors_blueprint
from dashboard.live_push import live_blueprint
from dashboard.map_api import map_blueprint
from dashboard.portal import AsyncBridge
from dashboard.report_api import reports_blueprint
from dashboard.streams_api import streams_blueprint
from dashboard.units_api import units_blueprint
from dashboard.video_routes import video_blueprint
from dashboard.wall import register as register_wall
from dashboard.wall_api import wall_blueprint
from incidents.command import Actor

ASSETS = Path(__file__).resolve().parent / "assets"
"""CSS and the map's JS functions, served by the app itself."""
URL_ID = "app-url"
"""The browser location: pages read the query (e.g. ?lang=en) from it."""


def create_app(settings: Settings, bridge: AsyncBridge | None = None) -> dash.Dash:
    """The dashboard app; it creates an AsyncBridge when none is given.

    Raises InsecureSecret, before anything starts, when `auth.secret_key` is missing or weak.
    The bridge is kept on `app.server.extensions["sitroom.bridge"]` and the auth gate on
    `["sitroom.auth"]`: close both with dashboard.server.close_app.
    """
    secret = check_secret(settings.auth.secret_key)
    bridge = bridge or AsyncBridge(settings)
    app = dash.Dash(
        __name__,
        title=situation.TITLE_ZH,
        update_title="",  # no "Updating..." flicker in the tab every poll
        assets_folder=str(ASSETS),
        serve_locally=True,  # the private network has no CDN: every script comes from here
        external_scripts=[],
        external_stylesheets=[],
        use_pages=True,  # one module per page, each registers its path (see register_pages)
        pages_folder="",
        suppress_callback_exceptions=True,  # a page's callbacks name ids of that page only
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.secret_key = derive_key(secret, "flask")  # Flask's own session: unused, signed
    # The same limit as the server's, for whatever WSGI server runs the app (a chunked body
    # has no length up front: Werkzeug stops reading it here).
    app.server.config["MAX_CONTENT_LENGTH"] = settings.dashboard_max_body_bytes
    register_pages(app, settings, bridge)
    app.layout = html.Div([dcc.Location(id=URL_ID), dash.page_container])
    register_routes(app.server, bridge, settings, secret)
    app.server.extensions["sitroom.bridge"] = bridge
    return app


def register_routes(server: Flask, bridge: AsyncBridge, settings: Settings,
                    secret: bytes) -> None:
    """Every route of the dashboard outside Dash: one blueprint per area, behind the guard."""
    access = CommandAccess(bridge, shared_commands(server, settings))
    # Each is registered as soon as it is built: what one opens (the tiles file, a Redis
    # client) is then in the app's extensions for close_app, even if a later one fails.
    server.register_blueprint(errors_blueprint())  # Problem answers for every route
    server.register_blueprint(health_blueprint(bridge, settings))  # health, dead letters, openapi
    server.register_blueprint(live_blueprint(bridge, settings))  # /live/stream, units, incidents
    server.register_blueprint(command_blueprint(access, _authorize))  # incidents and dispatch
    server.register_blueprint(units_blueprint(access, _authorize))  # release, status, check
    server.register_blueprint(reports_blueprint(bridge, access, _authorize))  # sitreps, CAP
    server.register_blueprint(map_blueprint(bridge, settings))  # tiles, layers, draw-to-query
    server.register_blueprint(streams_blueprint(settings, access))  # video streams near things
    server.register_blueprint(video_blueprint(settings, access))  # video conferences
    server.register_blueprint(wall_blueprint(bridge, settings))  # the wall's figures
    gate = install_auth(server, bridge, settings, secret)  # every route above is behind it
    server.register_blueprint(auth_blueprint(gate))  # /login, /logout


def register_pages(app: dash.Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Every page of the dashboard: its path, layout and callbacks."""
    # Pages: add one line per page module here.
    situation.register(app, settings)  # the plain live map at /map
    desk.register(app, settings, bridge)
    analytics.register(app, settings, bridge)
    replay.register(app, settings, bridge)
    register_wall(app, settings)  # the wall screen at /wall
    not_found.register()  # what an unknown address shows, in the page's language


def _authorize(permission: str) -> Actor:
    """The signed-in user if they may do `permission` (else 401/403), as the journal's actor."""
    user = require(Action(permission))
    return Actor(name=user.username, client=request.remote_addr)
