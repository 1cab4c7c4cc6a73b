"""`python -m dashboard`: serve the dashboard with the settings from the environment."""

from __future__ import annotations

import logging

from config.settings import load_settings
from dashboard.server import serve

logging.basicConfig(level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
serve(load_settings())
