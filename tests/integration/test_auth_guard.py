"""The route guard, through the real dashboard app and Flask's test client: every request
passes the same before_request hook as in production (sign-in, CSRF, roles, tokens)."""

from __future__ import annotations

from collections.abc import Iterator

import dash
import pytest
from dash import Input, Output
from flask import Response, jsonify

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import Action, Role, require, requires
from dashboard.auth.passwords import Passwords
from dashboard.server import close_app
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
