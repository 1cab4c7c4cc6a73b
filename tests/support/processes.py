"""Run sitroom commands as real child processes, as `sitroom up` would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config.settings import Settings
from tests.support.auth import TEST_AUTH_SECRET
from tests.support.keys import TEST_JOURNAL_KEY


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that gives a child process the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITROOM_")}
    values = {
        "SITROOM_DATABASE_URL": settings.database_url,
        "SITROOM_REDIS_URL": settings.redis_url,
        "SITROOM_REDIS_PREFIX": settings.redis_prefix,
        "SITROOM_MQTT_URL": settings.mqtt_url,
        "SITROOM_MQTT_PROTOCOL": settings.mqtt_protocol,
        "SITROOM_TOPIC_ROOT": settings.topic_root,
        "SITROOM_VAR_DIR": str(settings.var_dir),
        "SITROOM_INGEST__CLIENT_ID": settings.ingest.client_id,
        "SITROOM_INGEST__SESSION_EXPIRY_S": str(settings.ingest.session_expiry_s),
        "SITROOM_DASHBOARD_PORT": str(settings.dashboard_port),
        "SITROOM_AGENCIES": json.dumps(list(settings.agencies)),
        "SITROOM_FEEDS__STALE_S": str(settings.feeds.stale_s),
        "SITROOM_DISPATCH__STALE_ORDER_S": str(settings.dispatch.stale_order_s),
        "SITROOM_DISPATCH__CHECK_EVERY_S": str(settings.dispatch.check_every_s),
        "SITROOM_FEEDS__AGENCIES": (None if settings.feeds.agencies is None
                                    else json.dumps(list(settings.feeds.agencies))),
        "SITROOM_JOURNAL_KEY": (settings.journal_key.get_secret_value()
                                if settings.journal_key else TEST_JOURNAL_KEY),
        "SITROOM_AUTH__SECRET_KEY": (settings.auth.secret_key.get_secret_value()
                                     if settings.auth.secret_key else TEST_AUTH_SECRET),
    }
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def start_sitroom(args: list[str], settings: Settings, log_path: Path,
                  extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `sitroom ARGS` with `settings` (plus `extra_env`), output to `log_path`."""
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it from here
    try:
        return subprocess.Popen([sys.executable, "-m", "sitroom", *args], stdout=log,
                                stderr=subprocess.STDOUT,
                                env={**settings_env(settings), **(extra_env or {})})
    finally:
        log.close()
