"""Builds the Dash app: the situation page, its live callbacks and the REST API."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import dcc, html
from flask import request

from config.settings import Settings
from dashboard import analytics, desk, replay, situation
from dashboard.api import register_api
from dashboard.auth import Action, check_secret, install_auth, require
from dashboard.auth.keys import derive_key
from dashboard.command_api import register_command_api
from dashboard.command_wiring import shared_commands
from dashboard.live_push import register_live_push
from dashboard.map_api import register_map_api
from dashboard.portal import AsyncBridge
from dashboard.streams_api import register_streams_api
from dashboard.video_routes import register_video_routes
from dashboard.wall import register as register_wall
from dashboard.wall_api import register_wall_api
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
    register_pages(app, settings, bridge)
    app.layout = html.Div([dcc.Location(id=URL_ID), dash.page_container])
    register_api(app.server, bridge, settings)
    commands, run = register_command_api(app.server, bridge,
                                         shared_commands(app.server, settings), _authorize)
    register_video_routes(app.server, settings, lambda: commands().service, run)
    register_streams_api(app.server, settings, lambda: commands().service, run)
    register_map_api(app.server, bridge, settings)  # /tiles, /api/layers, hotspots, inside
    register_live_push(app.server, bridge, settings)  # GET /live/stream (SSE)
    register_wall_api(app.server, bridge, settings)  # GET /api/wall/summary
    install_auth(app.server, bridge, settings, secret)  # every route above is behind it
    app.server.extensions["sitroom.bridge"] = bridge
    return app


def register_pages(app: dash.Dash, settings: Settings, bridge: AsyncBridge) -> None:
    """Every page of the dashboard: its path, layout and callbacks."""
    # Pages: add one line per page module here.
    situation.register(app, settings)  # the plain live map at /map
    desk.register(app, settings, bridge)
    analytics.register(app, settings, bridge)
    replay.register(app, settings, bridge)
    register_wall(app, settings)  # the wall screen at /wall


def _authorize(permission: str) -> Actor:
    """The signed-in user if they may do `permission` (else 401/403), as the journal's actor."""
    user = require(Action(permission))
    return Actor(name=user.username, client=request.remote_addr)
