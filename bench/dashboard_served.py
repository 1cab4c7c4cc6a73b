"""`python -m bench.dashboard_served`: the dashboard as `sitroom dashboard` serves it (one
waitress process, settings from the environment) with the two pages the dashboard benchmark
compares: /bench/push (the situation page, live by push) and /bench/poll (the old 400 ms
polling page, the baseline)."""

from __future__ import annotations

import logging

import dash

from bench import polling_page
from config.settings import load_settings
from dashboard import situation
from dashboard.portal import AsyncBridge
from dashboard.server import serve_one

PUSH_PATH = "/bench/push"


def add_pages(app: dash.Dash, bridge: AsyncBridge) -> None:
    """Register the benchmark's two pages."""
    settings = load_settings()
    dash.register_page(  # type: ignore[no-untyped-call]
        "bench-push", path=PUSH_PATH, title="live push",
        layout=lambda **_q: situation.layout(settings))
    polling_page.register(app, settings, bridge)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_one(load_settings(), prepare=add_pages)
