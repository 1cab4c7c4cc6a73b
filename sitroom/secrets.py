"""Secrets for the demo: generated once, kept in the var directory, readable by the owner only.

Production sets them in the environment; `sitroom up` only generates the ones left unset, so a
demo never runs on a secret that is written in the repository.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.settings import Settings

DASHBOARD_SECRET_FILE = Path("secrets") / "dashboard.key"
"""Where the demo keeps the dashboard's generated secret key, under the var directory."""


def demo_secret(path: Path) -> str:
    """The secret kept in `path`, created (mode 0600) with 32 random bytes if missing."""
    if path.is_file():
        text = path.read_text("ascii").strip()
        if len(text) >= 64:
            return text
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")
    return text


def dashboard_demo_secret(var_dir: Path) -> str:
    """The demo dashboard's secret key, generated once into `var_dir`/secrets/dashboard.key.

    `sitroom up` and `sitroom demo` call this when no secret is configured and pass the result
    to the dashboard process as SITROOM_AUTH__SECRET_KEY.
    """
    from dashboard.auth.keys import check_secret  # only `up` needs the dashboard's rules

    secret = demo_secret(var_dir / DASHBOARD_SECRET_FILE)
    check_secret(secret)  # a file edited by hand into something weak is refused, not used
    return secret


def journal_key(settings: Settings) -> bytes:
    """The journal's HMAC key from the settings, or exit with what to set."""
    from incidents.journal import JournalKeyError
    from incidents.journal import journal_key as checked

    value = settings.journal_key.get_secret_value() if settings.journal_key else None
    try:
        return checked(value)
    except JournalKeyError as exc:
        raise SystemExit(f"sitroom: {exc}") from exc
