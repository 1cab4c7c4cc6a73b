"""The secret key: refused when missing, short or a default; the demo's generated one."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import AuthSettings, Settings
from dashboard.app import create_app
from dashboard.auth.keys import InsecureSecret, check_secret, derive_key
from dashboard.server import serve
from sitroom.secrets import DASHBOARD_SECRET_FILE, dashboard_demo_secret


@pytest.mark.parametrize("secret", [
    None, "", "short-but-random-Xq9", "change-me", "change-me-change-me-change-me-change-me",
    "secretsecretsecretsecretsecretsecret", "your-secret-key-please-change-me-now",
    "a" * 64, "0123456789" * 4, "sitroom-dev-secret-key-change-me-1234",
])
def test_missing_short_or_default_secrets_are_refused(secret: str | None) -> None:
    with pytest.raises(InsecureSecret) as caught:
        check_secret(secret)
    assert "SITROOM_AUTH__SECRET_KEY" in str(caught.value)


@pytest.mark.parametrize("secret", [secrets.token_urlsafe(48), secrets.token_hex(32),
                                    "应急指挥中心的随机密钥-Xq9vLr2Bn7Kp4WzH3sJd"])
def test_random_secrets_are_accepted(secret: str) -> None:
    assert check_secret(SecretStr(secret)) == secret.encode()


def test_derived_keys_differ_by_purpose_and_secret() -> None:
    one, two = b"1" * 32, b"2" * 32
    assert derive_key(one, "csrf") != derive_key(one, "flask")
    assert derive_key(one, "csrf") != derive_key(two, "csrf")
    assert derive_key(one, "csrf") == derive_key(one, "csrf")
    assert len(derive_key(one, "csrf")) == 32


def test_demo_secret_is_generated_once_private_and_accepted(tmp_path: Path) -> None:
    first = dashboard_demo_secret(tmp_path)
    path = tmp_path / DASHBOARD_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dashboard_demo_secret(tmp_path) == first
    check_secret(first)


@pytest.mark.parametrize("secret", [None, "change-me", "too-short"])
def test_the_dashboard_refuses_to_start_with_a_weak_secret(secret: str | None) -> None:
    # No Redis is named: the check must come before anything is opened.
    settings = Settings(auth=AuthSettings(secret_key=SecretStr(secret) if secret else None))
    with pytest.raises(InsecureSecret):
        create_app(settings)
    with pytest.raises(SystemExit) as stopped:
        serve(settings)
    assert "SITROOM_AUTH__SECRET_KEY" in str(stopped.value)
