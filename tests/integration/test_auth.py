"""Sign-in against real PostgreSQL and Redis: lock-out, sessions, tokens, account commands.

The service tests move an injected clock; the route guard is tested in test_auth_guard.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import Role
from dashboard.auth.admin import ensure_demo_leader, user_disable_command, user_passwd_command
from dashboard.auth.passwords import Passwords
from dashboard.auth.service import AuthService, LoginStatus
from dashboard.auth.sessions import TOUCH_EVERY_S
from dashboard.auth.tokens import parse_api_token
from dashboard.server import close_app
from incidents.live import LiveState
from incidents.store.users import UserStore
from tests.support.auth import TEST_PASSWORD, create_token, create_user, sign_in_client, with_auth

pytestmark = pytest.mark.integration


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def service(auth_settings: Settings, clock: FakeClock,
                  passwords: Passwords) -> AsyncIterator[AuthService]:
    opened = AuthService.open(auth_settings, clock, passwords)
    yield opened
    await opened.close()


async def _row(database_url: str, sql: str, *args: Any) -> asyncpg.Record | None:
    conn = await asyncpg.connect(database_url)
    try:
        row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
        return row
    finally:
        await conn.close()


# --- the service: lock-out, sessions, tokens ------------------------------------------------


async def test_lock_out_after_five_failures_and_unlock_after_fifteen_minutes(
        service: AuthService, clock: FakeClock, database_url: str, passwords: Passwords,
        caplog: pytest.LogCaptureFixture) -> None:
    await create_user(database_url, "wangwei", Role.LEADER, passwords=passwords)
    caplog.set_level(logging.INFO, "dashboard.auth")
    for _ in range(4):
        result = await service.login("wangwei", "wrong-password-1", "10.1.2.3")
        assert result.status is LoginStatus.BAD_CREDENTIALS
    fifth = await service.login("wangwei", "wrong-password-1", "10.1.2.3")
    assert fifth.status is LoginStatus.LOCKED
    assert fifth.locked_until == clock.now + timedelta(minutes=15)

    # While locked even the right password is refused, and does not extend the lock.
    clock.advance(minutes=14, seconds=59)
    still = await service.login("WangWei", TEST_PASSWORD, "10.1.2.3")
    assert (still.status, still.locked_until) == (LoginStatus.LOCKED, fifth.locked_until)

    clock.advance(seconds=2)
    opened = await service.login("wangwei", TEST_PASSWORD, "10.1.2.3")
    assert opened.status is LoginStatus.OK and opened.session_id
    row = await _row(database_url, "SELECT failed_logins, locked_until, last_login_at FROM users"
                     " WHERE username = 'wangwei'")
    assert row is not None and row["failed_logins"] == 0 and row["locked_until"] is None
    assert row["last_login_at"] == clock.now

    text = caplog.text
    assert "account wangwei locked until" in text and "10.1.2.3" in text
    assert "sign-in: wangwei (leader) from 10.1.2.3" in text
    assert "wrong-password-1" not in text and TEST_PASSWORD not in text


async def test_one_failure_after_a_lock_ran_out_does_not_lock_again(
        service: AuthService, clock: FakeClock, database_url: str, passwords: Passwords) -> None:
    await create_user(database_url, "lihua", Role.OPERATOR, passwords=passwords)
    for _ in range(5):
        await service.login("lihua", "wrong-password-1", "-")
    clock.advance(minutes=16)
    again = await service.login("lihua", "wrong-password-1", "-")
    assert again.status is LoginStatus.BAD_CREDENTIALS


async def test_unknown_and_disabled_users(service: AuthService, database_url: str,
                                          passwords: Passwords,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "dashboard.auth")
    nobody = await service.login("nobody", TEST_PASSWORD, "10.9.9.9")
    assert nobody.status is LoginStatus.BAD_CREDENTIALS
    assert "unknown user 'nobody' from 10.9.9.9" in caplog.text
    await create_user(database_url, "zhaolei", Role.OPERATOR, passwords=passwords)
    users = await UserStore.connect(database_url)
    try:
        assert await users.set_disabled("zhaolei", True)
    finally:
        await users.close()
    refused = await service.login("zhaolei", TEST_PASSWORD, "10.9.9.9")
    assert refused.status is LoginStatus.DISABLED and refused.session_id is None


async def test_idle_timeout_slides_and_the_absolute_lifetime_holds(
        service: AuthService, clock: FakeClock, database_url: str, passwords: Passwords) -> None:
    await create_user(database_url, "sunli", Role.LIAISON, agency="fire", passwords=passwords)
    result = await service.login("sunli", TEST_PASSWORD, "-")
    assert result.session_id is not None
    session_id = result.session_id

    clock.advance(minutes=29)
    found = await service.session_user(session_id)
    assert found is not None and found[0].role is Role.LIAISON and found[0].agency == "fire"
    clock.advance(minutes=29)  # 58 minutes since sign-in, 29 since the last request
    assert await service.session_user(session_id) is not None
    clock.advance(minutes=30, seconds=1)
    assert await service.session_user(session_id) is None, "30 idle minutes end the session"

    again = await service.login("sunli", TEST_PASSWORD, "-")
    assert again.session_id is not None
    for _ in range(int(12 * 60 / 20) - 1):  # a request every 20 minutes for almost 12 h
        clock.advance(minutes=20)
        assert await service.session_user(again.session_id) is not None
    clock.advance(minutes=20)
    assert await service.session_user(again.session_id) is None, "12 h end it anyway"


async def test_sessions_are_stored_under_a_hash_and_logout_deletes_them(
        service: AuthService, database_url: str, passwords: Passwords, live: LiveState,
        redis_prefix: str) -> None:
    await create_user(database_url, "zhouyu", Role.LEADER, passwords=passwords)
    result = await service.login("zhouyu", TEST_PASSWORD, "-")
    assert result.session_id is not None
    redis = live._redis  # noqa: SLF001 - looking at what the session store wrote
    keys = [k.decode() async for k in redis.scan_iter(match=redis_prefix + "*")]
    digest = hashlib.sha256(result.session_id.encode()).hexdigest()
    assert f"{redis_prefix}session:{digest}" in keys
    assert not any(result.session_id in k for k in keys)
    stored = await redis.get(f"{redis_prefix}session:{digest}")
    assert stored is not None and result.session_id.encode() not in stored
    assert 0 < await redis.ttl(f"{redis_prefix}session:{digest}") <= 30 * 60

    await service.logout(result.session_id)
    assert await service.session_user(result.session_id) is None
    assert not await redis.exists(f"{redis_prefix}session:{digest}")

    # A document another version wrote (or garbage) ends the session instead of failing.
    again = await service.login("zhouyu", TEST_PASSWORD, "-")
    assert again.session_id is not None
    await redis.set(service.sessions.key(again.session_id), b'{"username": 1}', xx=True)
    assert await service.session_user(again.session_id) is None
    assert not await redis.exists(service.sessions.key(again.session_id))


async def test_a_disabled_or_demoted_account_is_seen_within_a_minute(
        service: AuthService, clock: FakeClock, database_url: str, passwords: Passwords) -> None:
    await create_user(database_url, "wuqi", Role.LEADER, passwords=passwords)
    result = await service.login("wuqi", TEST_PASSWORD, "-")
    assert result.session_id is not None
    await _row(database_url, "UPDATE users SET role = 'operator' WHERE username = 'wuqi'")
    clock.advance(seconds=TOUCH_EVERY_S + 50)
    found = await service.session_user(result.session_id)
    assert found is not None and found[0].role is Role.OPERATOR
    await _row(database_url, "UPDATE users SET disabled = true WHERE username = 'wuqi'")
    clock.advance(seconds=61)
    assert await service.session_user(result.session_id) is None


async def test_an_outdated_hash_is_upgraded_at_sign_in(service: AuthService, database_url: str,
                                                       passwords: Passwords) -> None:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    weak = Passwords(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192,
                                                parallelism=1),)))
    await create_user(database_url, "qianfang", Role.OPERATOR, passwords=weak)
    assert (await service.login("qianfang", TEST_PASSWORD, "-")).status is LoginStatus.OK
    row = await _row(database_url, "SELECT password_hash FROM users WHERE username = $1",
                     "qianfang")
    assert row is not None and "m=8192" not in row["password_hash"]


async def test_tokens_valid_revoked_expired_and_wrong(service: AuthService, clock: FakeClock,
                                                      database_url: str) -> None:
    text = await create_token(database_url, Role.LIAISON, agency="police", days=30)
    parsed = parse_api_token(text)
    assert parsed is not None
    token_id, secret = parsed
    checked = await service.token_user(text)
    assert checked.user is not None and checked.user.role is Role.LIAISON
    assert (checked.user.username, checked.user.agency) == (f"token:{token_id}", "police")
    row = await _row(database_url, "SELECT * FROM api_tokens WHERE token_id = $1", token_id)
    assert row is not None and row["last_used_at"] == clock.now
    assert bytes(row["secret_sha256"]) == hashlib.sha256(secret.encode()).digest()
    assert secret not in repr(dict(row)), "the secret itself is never stored"

    assert (await service.token_user(text[:-1] + ("A" if text[-1] != "A" else "B"))).reason \
        == "unknown"
    assert (await service.token_user("srt_nonsense")).reason == "malformed"
    clock.advance(days=30, seconds=1)
    assert (await service.token_user(text)).reason == "expired"

    other = await create_token(database_url, Role.OPERATOR)
    other_id = other.split("_")[1]
    users = await UserStore.connect(database_url)
    try:
        assert await users.revoke_token(other_id, clock.now)
        assert not await users.revoke_token(other_id, clock.now)
    finally:
        await users.close()
    assert (await service.token_user(other)).reason == "revoked"


# --- account commands ------------------------------------------------------------------------


async def test_passwd_and_disable_end_every_open_session(
        service: AuthService, auth_settings: Settings, database_url: str, passwords: Passwords,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    await create_user(database_url, "gaoyang", Role.LEADER, passwords=passwords)
    first = await service.login("gaoyang", TEST_PASSWORD, "desk-1")
    second = await service.login("gaoyang", TEST_PASSWORD, "wall-2")
    assert first.session_id and second.session_id
    for _ in range(5):
        await service.login("gaoyang", "wrong-password-1", "-")

    monkeypatch.setattr("sys.stdin", io.StringIO("Osprey-Lantern-1618\n"))
    status = await asyncio.to_thread(user_passwd_command, auth_settings, "GaoYang", True)
    assert status == 0 and "2 open session(s) ended" in capsys.readouterr().out
    assert await service.session_user(first.session_id) is None
    assert await service.session_user(second.session_id) is None
    after = await service.login("gaoyang", "Osprey-Lantern-1618", "-")
    assert after.status is LoginStatus.OK, "a new password also lifts the lock"

    assert await asyncio.to_thread(user_disable_command, auth_settings, "gaoyang") == 0
    assert after.session_id and await service.session_user(after.session_id) is None
    assert (await service.login("gaoyang", "Osprey-Lantern-1618", "-")).status \
        is LoginStatus.DISABLED


async def test_the_demo_leader_gets_a_new_password_each_start(
        service: AuthService, database_url: str, passwords: Passwords) -> None:
    users = await UserStore.connect(database_url)
    try:
        first = await ensure_demo_leader(users, passwords)
        second = await ensure_demo_leader(users, passwords)
    finally:
        await users.close()
    assert first.username == second.username == "leader"
    assert first.password != second.password
    assert (await service.login("leader", first.password, "-")).status \
        is LoginStatus.BAD_CREDENTIALS
    result = await service.login("leader", second.password, "-")
    assert result.status is LoginStatus.OK and result.user is not None
    assert result.user.role is Role.LEADER


async def test_health_can_be_closed_to_anonymous_probes(auth_settings: Settings) -> None:
    built = create_app(with_auth(auth_settings, public_health=False))
    try:
        assert built.server.test_client().get("/api/health").status_code == 401
    finally:
        close_app(built)


async def test_sign_in_says_when_the_database_or_redis_is_down(auth_settings: Settings) -> None:
    no_database = create_app(auth_settings.model_copy(update={"database_url": None}))
    try:
        response = sign_in_client(no_database.server.test_client(), "anyone")
        assert response.status_code == 503
        assert "认证服务暂不可用" in response.get_data(as_text=True)
        assert "sign-in is unavailable" in response.get_data(as_text=True)
    finally:
        close_app(no_database)
    no_redis = create_app(auth_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    try:
        client = no_redis.server.test_client()
        client.set_cookie("sitroom_session", "some-session-id")
        refused = client.get("/api/units")
        assert refused.status_code == 503 and refused.get_json()["error"] == "auth_unavailable"
        assert client.get("/").status_code == 503
    finally:
        close_app(no_redis)
