"""Sign-in against real PostgreSQL and Redis: lock-out, sessions, tokens, and the route guard.

The service tests move an injected clock; the guard tests drive the real dashboard app through
Flask's test client, so every request passes the same before_request hook as in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import dash
import pytest
from dash import Input, Output
from flask import Response, jsonify

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import Action, Role, require, requires
from dashboard.auth.admin import ensure_demo_leader, user_disable_command, user_passwd_command
from dashboard.auth.passwords import Passwords
from dashboard.auth.service import AuthService, LoginStatus
from dashboard.auth.sessions import TOUCH_EVERY_S
from dashboard.auth.tokens import parse_api_token
from dashboard.server import close_app
from incidents.live import LiveState
from incidents.store.users import UserStore
from tests.support.auth import (
    TEST_PASSWORD,
    bearer,
    create_token,
    create_user,
    csrf_of,
    sign_in_client,
    sign_out_client,
    with_auth,
)

pytestmark = pytest.mark.integration


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth_settings(database_url: str, redis_server: str, redis_prefix: str,
                  live: LiveState) -> Settings:
    """Settings with the test secret; `live` deletes this test's Redis keys afterwards."""
    return with_auth(Settings(database_url=database_url, redis_url=redis_server,
                              redis_prefix=redis_prefix))


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


# --- the guard, through the real app ---------------------------------------------------------


def _add_test_routes(app: dash.Dash) -> None:
    """Routes that exist only in these tests, guarded the way the command API's are."""
    @requires(Action.ADMIN)
    def admin_only() -> Response:
        return jsonify(ok=True)

    def fire_task() -> Response:
        return jsonify(by=require(Action.AGENCY_TASK, agency="fire").username)

    @requires(Action.DISPATCH)
    def leader_page() -> str:
        return "leader page"

    app.server.add_url_rule("/api/test/admin-only", view_func=admin_only, methods=["GET"])
    app.server.add_url_rule("/api/test/fire-task", view_func=fire_task, methods=["POST"])
    app.server.add_url_rule("/test/leader-page", view_func=leader_page, methods=["GET"])

    def admin_callback(n: int | None) -> str:
        return require(Action.ADMIN).username

    app.callback(Output("test-out", "children"), Input("test-in", "n_clicks"))(admin_callback)


@pytest.fixture
def app(auth_settings: Settings) -> Iterator[dash.Dash]:
    built = create_app(auth_settings)
    _add_test_routes(built)
    yield built
    close_app(built)


CALLBACK = {"output": "test-out.children", "outputs": {"id": "test-out", "property": "children"},
            "inputs": [{"id": "test-in", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["test-in.n_clicks"], "state": []}


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/_dash-update-component"), ("GET", "/_dash-layout"),
    ("GET", "/_dash-dependencies"), ("GET", "/api/units"), ("GET", "/api/incidents"),
    ("GET", "/api/deadletters"), ("GET", "/assets/sitroom.css"), ("GET", "/_reload-hash"),
    ("GET", "/_dash-component-suites/dash/dcc/dash_core_components.js"),
])
def test_every_machine_path_is_refused_with_401_json(app: dash.Dash, method: str,
                                                     path: str) -> None:
    response = app.server.test_client().open(path, method=method, json=CALLBACK)
    assert response.status_code == 401
    doc = response.get_json()
    assert doc["error"] == "unauthenticated" and "/login" in doc["hint"]
    assert "请先登录" in doc["hint"]


@pytest.mark.parametrize("path", ["/", "/incidents/42?tab=map", "/anything"])
def test_pages_redirect_to_login_with_the_page_to_return_to(app: dash.Dash, path: str) -> None:
    response = app.server.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert app.server.test_client().get(response.headers["Location"]).status_code == 200


async def test_sign_in_opens_everything_and_sign_out_closes_it(
        app: dash.Dash, database_url: str, passwords: Passwords) -> None:
    await create_user(database_url, "chenjing", Role.OPERATOR, passwords=passwords)
    client = app.server.test_client()
    signed_in = sign_in_client(client, "chenjing", next_path="/?view=wall")
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/?view=wall"
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie")
                  if c.startswith("sitroom_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    for path in ("/", "/_dash-layout", "/_dash-dependencies", "/api/units",
                 "/assets/sitroom.css"):
        with client.get(path) as response:  # closes the file an asset is streamed from
            assert response.status_code == 200, path

    signed_out = sign_out_client(client)
    assert signed_out.status_code == 303 and "out=1" in signed_out.headers["Location"]
    assert client.get("/").status_code == 302
    assert client.get("/api/units").status_code == 401


async def test_the_cookie_is_secure_when_configured(auth_settings: Settings, database_url: str,
                                                    passwords: Passwords) -> None:
    await create_user(database_url, "secure1", Role.OPERATOR, passwords=passwords)
    secure = with_auth(auth_settings, cookie_secure=True)
    built = create_app(secure)
    try:
        response = sign_in_client(built.server.test_client(), "secure1")
        cookie = next(c for c in response.headers.getlist("Set-Cookie")
                      if c.startswith("sitroom_session="))
        assert "Secure" in cookie
    finally:
        close_app(built)


async def test_wrong_password_shows_both_languages(app: dash.Dash, database_url: str,
                                                   passwords: Passwords) -> None:
    await create_user(database_url, "hewei", Role.OPERATOR, passwords=passwords)
    response = sign_in_client(app.server.test_client(), "hewei", "Not-The-Password-1")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "用户名或密码错误" in page and "Wrong user name or password" in page
    assert 'value="hewei"' in page, "the user name is kept, the password is not"
    assert "Not-The-Password-1" not in page


async def test_lock_out_through_the_form_says_when_to_retry(app: dash.Dash, database_url: str,
                                                            passwords: Passwords) -> None:
    await create_user(database_url, "lockme", Role.OPERATOR, passwords=passwords)
    client = app.server.test_client()
    statuses = [sign_in_client(client, "lockme", "Not-The-Password-1").status_code
                for _ in range(4)]
    locked = sign_in_client(client, "lockme", "Not-The-Password-1")
    assert statuses == [401] * 4 and locked.status_code == 429
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    page = locked.get_data(as_text=True)
    assert "账户已锁定" in page and "the account is locked" in page and "15" in page
    assert sign_in_client(client, "lockme").status_code == 429, "right password, still locked"


async def test_sign_in_needs_the_csrf_token(app: dash.Dash, database_url: str,
                                            passwords: Passwords) -> None:
    await create_user(database_url, "csrf1", Role.OPERATOR, passwords=passwords)
    client = app.server.test_client()
    form = {"username": "csrf1", "password": TEST_PASSWORD, "next": "/"}
    missing = client.post("/login", data=form)
    assert missing.status_code == 400 and "sitroom_session=" not in str(missing.headers)
    other = app.server.test_client()
    token = csrf_of(other.get("/login").get_data(as_text=True))  # another browser's token
    client.get("/login")
    forged = client.post("/login", data={**form, "csrf_token": token})
    assert forged.status_code == 400 and "页面已过期" in forged.get_data(as_text=True)


async def test_sign_out_needs_its_csrf_token(app: dash.Dash, database_url: str,
                                             passwords: Passwords) -> None:
    await create_user(database_url, "csrf2", Role.OPERATOR, passwords=passwords)
    client = app.server.test_client()
    sign_in_client(client, "csrf2")
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/api/units").status_code == 200, "still signed in"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)"])
async def test_sign_in_never_redirects_off_site(app: dash.Dash, database_url: str,
                                                passwords: Passwords, target: str) -> None:
    await create_user(database_url, "redir", Role.OPERATOR, passwords=passwords)
    response = sign_in_client(app.server.test_client(), "redir", next_path=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


async def test_wrong_role_gets_403_on_routes_and_callbacks(app: dash.Dash, database_url: str,
                                                           passwords: Passwords) -> None:
    await create_user(database_url, "op1", Role.OPERATOR, passwords=passwords)
    await create_user(database_url, "admin1", Role.ADMIN, passwords=passwords)
    operator = app.server.test_client()
    sign_in_client(operator, "op1")
    refused = operator.get("/api/test/admin-only")
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert "值班员" in refused.get_json()["hint"] and "Operator" in refused.get_json()["hint"]
    page = operator.get("/test/leader-page")
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "无权访问" in page.get_data(as_text=True)
    assert "Access denied" in page.get_data(as_text=True)
    callback = operator.post("/_dash-update-component", json=CALLBACK)
    assert callback.status_code == 403 and callback.get_json()["error"] == "forbidden"

    admin = app.server.test_client()
    sign_in_client(admin, "admin1")
    assert admin.get("/api/test/admin-only").get_json() == {"ok": True}
    assert "admin1" in admin.post("/_dash-update-component", json=CALLBACK).get_data(True)


async def test_bearer_tokens_on_the_api(app: dash.Dash, database_url: str) -> None:
    client = app.server.test_client()
    operator = await create_token(database_url, Role.OPERATOR)
    assert client.get("/api/units", headers=bearer(operator)).status_code == 200
    assert client.get("/api/test/admin-only", headers=bearer(operator)).status_code == 403
    admin = await create_token(database_url, Role.ADMIN)
    assert client.get("/api/test/admin-only", headers=bearer(admin)).status_code == 200
    bad = client.get("/api/units", headers=bearer(operator[:-2] + "xx"))
    assert bad.status_code == 401 and bad.get_json()["error"] == "invalid_token"
    assert client.get("/api/units", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert client.get("/", headers=bearer(admin)).status_code == 302, "tokens are for /api only"


async def test_a_liaison_may_act_for_their_own_agency_only(app: dash.Dash,
                                                           database_url: str) -> None:
    client = app.server.test_client()
    fire = await create_token(database_url, Role.LIAISON, agency="fire")
    police = await create_token(database_url, Role.LIAISON, agency="police")
    assert client.post("/api/test/fire-task", headers=bearer(fire)).status_code == 200
    refused = client.post("/api/test/fire-task", headers=bearer(police))
    assert refused.status_code == 403 and "police" in refused.get_json()["hint"]


async def test_anonymous_health_is_the_status_word_only(app: dash.Dash,
                                                        database_url: str) -> None:
    client = app.server.test_client()
    anonymous = client.get("/api/health")
    assert anonymous.status_code in (200, 503)
    assert set(anonymous.get_json()) == {"status"}
    token = await create_token(database_url, Role.OPERATOR)
    full = client.get("/api/health", headers=bearer(token)).get_json()
    assert {"status", "database", "cache", "broker", "ingest"} <= set(full)
    assert full["status"] == anonymous.get_json()["status"]


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
