"""An /api path no route serves answers JSON 404 (a wrong method 405), never Dash's page; a
caller who is not signed in gets 401 for every /api path, so it learns nothing about them."""

from __future__ import annotations

from collections.abc import Iterator

import dash
import pytest

from config.settings import Settings
from dashboard.app import create_app
from dashboard.auth import Role
from dashboard.server import close_app
from tests.support.auth import bearer, create_token

pytestmark = pytest.mark.integration

UNKNOWN = ["/api/nothing-here", "/api/incidents/x/no-such-action", "/api/v2/incidents",
           "/api/openapi.yaml", "/api/"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@pytest.fixture
def app(auth_settings: Settings) -> Iterator[dash.Dash]:
    built = create_app(auth_settings)
    yield built
    close_app(built)


@pytest.mark.parametrize("path", UNKNOWN)
async def test_an_unknown_api_path_is_404_json_for_every_method(
        app: dash.Dash, database_url: str, path: str) -> None:
    client = app.server.test_client()
    token = bearer(await create_token(database_url, Role.OPERATOR))
    for method in METHODS:
        response = client.open(path, method=method, headers=token)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.mimetype == "application/json", (method, path)
        if method == "HEAD":
            continue  # no body
        doc = response.get_json()
        assert doc["error"] == "not_found" and path in doc["detail"] and method in doc["detail"]
        assert "该接口不存在" in doc["hint"] and "no such API path" in doc["hint"]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/api/incidents/abc/dispatch", "POST"),  # Dash's catch-all would serve a page
    ("POST", "/api/incidents/search", "GET"),  # Flask would answer an HTML 405
    ("DELETE", "/api/openapi.json", "GET"),
])
async def test_a_known_api_path_with_a_wrong_method_is_405_json(
        app: dash.Dash, database_url: str, method: str, path: str, allowed: str) -> None:
    client = app.server.test_client()
    token = bearer(await create_token(database_url, Role.OPERATOR))
    response = client.open(path, method=method, headers=token, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    doc = response.get_json()
    assert doc["error"] == "method_not_allowed" and allowed in doc["detail"]
    assert "接口说明" in doc["hint"] and "/api/openapi.json" in doc["hint"]


@pytest.mark.parametrize("path", [*UNKNOWN, "/api/incidents/search"])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_without_a_token_every_api_path_is_401_first(app: dash.Dash, path: str,
                                                      method: str) -> None:
    response = app.server.test_client().open(path, method=method)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


async def test_known_routes_and_pages_are_untouched(app: dash.Dash, database_url: str) -> None:
    client = app.server.test_client()
    token = bearer(await create_token(database_url, Role.OPERATOR))
    assert client.get("/api/openapi.json", headers=token).status_code == 200
    assert client.get("/api/units", headers=token).status_code == 200
    # Outside /api the catch-all still belongs to Dash (sign-in redirect for a page).
    assert client.get("/map").status_code == 302
