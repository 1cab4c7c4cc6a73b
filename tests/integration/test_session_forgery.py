"""Someone who can write to Redis but does not hold the dashboard's secret: a session record
written by hand, a genuine record moved to another id, or one edited to stop the account's
re-check, grants nothing and is deleted."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from config.settings import Settings
from dashboard.auth import Role
from dashboard.auth.keys import check_secret, derive_key
from dashboard.auth.passwords import Passwords
from dashboard.auth.service import AuthService
from dashboard.auth.sessions import Session, seal
from dashboard.auth.tokens import new_nonce, new_session_id
from incidents.live import LiveState
from tests.support.auth import TEST_PASSWORD, create_user

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(auth_settings: Settings, passwords: Passwords
                  ) -> AsyncIterator[AuthService]:
    opened = AuthService.open(auth_settings, passwords=passwords)
    yield opened
    await opened.close()


def admin_record(checked_at: float) -> Session:
    now = time.time()
    return Session(username="intruder", display_name="x", role=Role.ADMIN, agency=None,
                   created_at=now, seen_at=now, checked_at=checked_at, csrf=new_nonce())


async def test_a_record_written_by_hand_grants_nothing(
        service: AuthService, live: LiveState, caplog: pytest.LogCaptureFixture) -> None:
    redis = live._redis  # noqa: SLF001 - writing to Redis is the attack
    forged_id = new_session_id()
    key = service.sessions.key(forged_id)
    # The old format (plain JSON) and a record sealed with a guessed key.
    for doc in (msgspec.json.encode(admin_record(time.time() + 10 ** 9)),
                seal(b"g" * 32, key, admin_record(time.time()))):
        await redis.set(key, doc)
        with caplog.at_level(logging.CRITICAL, logger="dashboard.auth.sessions"):
            assert await service.session_user(forged_id) is None
        assert not await redis.exists(key)


async def test_a_genuine_record_moved_to_another_id_or_edited_grants_nothing(
        service: AuthService, live: LiveState, database_url: str, passwords: Passwords,
        caplog: pytest.LogCaptureFixture) -> None:
    redis = live._redis  # noqa: SLF001 - writing to Redis is the attack
    await create_user(database_url, "zhaolei", Role.OPERATOR, passwords=passwords)
    signed_in = await service.login("zhaolei", TEST_PASSWORD, "-")
    assert signed_in.session_id is not None
    genuine = await redis.get(service.sessions.key(signed_in.session_id))
    assert isinstance(genuine, bytes)
    other = new_session_id()
    await redis.set(service.sessions.key(other), genuine)
    edited = genuine.replace(b'"role":"operator"', b'"role":"admin"')
    assert edited != genuine
    with caplog.at_level(logging.CRITICAL, logger="dashboard.auth.sessions"):
        assert await service.session_user(other) is None
        await redis.set(service.sessions.key(signed_in.session_id), edited)
        assert await service.session_user(signed_in.session_id) is None


async def test_a_check_from_the_future_is_done_again(
        service: AuthService, auth_settings: Settings, live: LiveState) -> None:
    """Even a record sealed with the key (a bug, a clock set back) cannot skip the account's
    re-check by a `checked_at` in the future: the account is read, and it does not exist."""
    redis = live._redis  # noqa: SLF001 - writing to Redis is the attack
    session_id = new_session_id()
    key = service.sessions.key(session_id)
    mac_key = derive_key(check_secret(auth_settings.auth.secret_key), "sessions")
    await redis.set(key, seal(mac_key, key, admin_record(time.time() + 10 ** 9)))
    assert await service.session_user(session_id) is None
