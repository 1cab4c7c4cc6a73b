"""Fixtures shared by the sign-in tests (the service's and the guard's)."""

from __future__ import annotations

import pytest

from config.settings import Settings
from dashboard.auth.passwords import Passwords
from incidents.live import LiveState
from tests.support.auth import with_auth


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    """The password hasher, made once per module (it is slow to build on purpose)."""
    return Passwords()


@pytest.fixture
def auth_settings(database_url: str, redis_server: str, redis_prefix: str,
                  live: LiveState) -> Settings:
    """Settings with the test secret; `live` deletes this test's Redis keys afterwards."""
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix))
