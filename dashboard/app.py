"""Builds the Dash app: the situation page, its live callbacks and the REST API."""

from __future__ import annotations

from pathlib import Path

import dash

from config.settings import Settings
from dashboard import situation
from dashboard.api import register_api
from dashboard.portal import AsyncBridge

ASSETS = Path(__file__).resolve().parent / "assets"
"""CSS and the map's JS functions, served by the app itself."""


def create_app(settings: Settings, bridge: AsyncBridge | None = None) -> dash.Dash:
    """The dashboard app; it creates an AsyncBridge when none is given.

    The bridge is kept on `app.server.extensions["sitroom.bridge"]` so the server that runs
    the app can close it.
    """
    bridge = bridge or AsyncBridge(settings)
    app = dash.Dash(
        __name__,
        title=situation.TITLE_ZH,
        update_title="",  # no "Updating..." flicker in the tab every poll
        assets_folder=str(ASSETS),
        serve_locally=True,  # the private network has no CDN: every script comes from here
        external_scripts=[],
        external_stylesheets=[],
        use_pages=False,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    if settings.auth.secret_key is not None:
        app.server.secret_key = settings.auth.secret_key.get_secret_value()
    app.layout = situation.layout(settings)
    situation.register_callbacks(app, situation.BridgeReader(bridge), settings)
    register_api(app.server, bridge, settings)
    app.server.extensions["sitroom.bridge"] = bridge
    return app
