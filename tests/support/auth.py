"""Signing in from tests: users, bearer tokens, a Flask test client or a Playwright page.

Tests that serve the dashboard give it `with_auth(settings)`; accounts are made with
`create_user` / `create_token` on the test's database, then a client signs in with
`sign_in_client` (Flask test client) or `sign_in_page` (Playwright).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from playwright.async_api import Page
from pydantic import SecretStr
from werkzeug.test import TestResponse

from config.settings import AuthSettings, Settings
from dashboard.auth.admin import create_token as issue_token
from dashboard.auth.admin import create_user as add_user
from dashboard.auth.passwords import Passwords
from dashboard.auth.roles import Role
from incidents.store.users import UserStore
from tests.support.http import served_dashboard as http_served

TEST_AUTH_SECRET = "tst-7Qm2vXc9LrB4nKp8WzH3sJd6TfY1gNa5EuR0oViC"
"""The dashboard secret key in tests (random-looking: sitroom refuses known defaults)."""

TEST_PASSWORD = "Kestrel-Harbour-2718"
"""Password of the accounts tests create unless they say otherwise."""

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def with_auth(settings: Settings, **auth: Any) -> Settings:
    """`settings` with the test secret key and any other auth settings given."""
    values: dict[str, Any] = {"secret_key": SecretStr(TEST_AUTH_SECRET), **auth}
    return settings.model_copy(update={"auth": AuthSettings(**values)})


async def create_user(database_url: str, username: str, role: Role | str = Role.LEADER,
                      agency: str | None = None, password: str = TEST_PASSWORD,
                      display_name: str | None = None,
                      passwords: Passwords | None = None) -> None:
    """Create a dashboard account in the database at `database_url`."""
    users = await UserStore.connect(database_url, min_size=1, max_size=1)
    try:
        await add_user(users, passwords or Passwords(), Settings(database_url=database_url),
                       username, password, str(role), agency, display_name)
    finally:
        await users.close()


async def create_token(database_url: str, role: Role | str = Role.OPERATOR,
                       agency: str | None = None, days: float | None = None,
                       label: str = "tests") -> str:
    """Issue an API token in the database at `database_url`; returns its text."""
    users = await UserStore.connect(database_url, min_size=1, max_size=1)
    try:
        token = await issue_token(users, Settings(database_url=database_url), str(role),
                                  agency, label, days)
    finally:
        await users.close()
    return token.text


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a bearer token."""
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    """The CSRF token of the form in a sign-in or sign-out page."""
    found = _CSRF_RE.search(html)
    if found is None:
        raise AssertionError(f"no CSRF token in the page: {html[:300]!r}")
    return found.group(1)


def sign_in_client(client: FlaskClient, username: str, password: str = TEST_PASSWORD,
                   next_path: str = "/") -> TestResponse:
    """Sign a Flask test client in through the form; returns the POST's response."""
    form = client.get("/login", query_string={"next": next_path})
    assert form.status_code == 200, form.status_code
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(form.get_data(as_text=True)),
                                       "next": next_path})


def sign_out_client(client: FlaskClient) -> TestResponse:
    """Sign a Flask test client out through the confirmation form."""
    page = client.get("/logout")
    assert page.status_code == 200, page.status_code
    return client.post("/logout", data={"csrf_token": csrf_of(page.get_data(as_text=True))})


async def sign_in_page(page: Page, base_url: str, username: str,
                       password: str = TEST_PASSWORD, next_path: str = "/") -> None:
    """Sign a browser page in through the form and wait until it is back on `next_path`."""
    base = base_url.rstrip("/")
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("#login-submit")
    if not page.url.startswith(base + next_path):
        raise AssertionError(f"signing in as {username} ended on {page.url}")


@dataclass(frozen=True)
class Served:
    """A dashboard served on loopback for a test."""

    url: str
    """Base URL without a trailing slash."""


@contextmanager
def served_dashboard(settings: Settings, prepare: Any = None) -> Iterator[Served]:
    """The real dashboard app, with auth, on a free loopback port; closed afterwards.

    `prepare(app)`, when given, runs before the first request (e.g. to add a test-only route).
    """
    with http_served(settings, prepare) as url:
        yield Served(url)
