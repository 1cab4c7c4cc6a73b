"""The `auth` blueprint (/login, /logout), and `install_auth`, which puts the guard in front.

Sign-in form: CSRF token bound to a nonce cookie (see tokens.csrf_token); after sign-in the
browser goes back to the page it asked for, if that is a local path. Sign-out is a POST with a
token bound to the session; GET /logout shows the confirmation form.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from importlib import resources
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from config.settings import Settings
from dashboard.auth.flask_guard import SESSION_COOKIE, UNAVAILABLE, AuthGate
from dashboard.auth.keys import derive_key
from dashboard.auth.pages import (
    LOGIN_CSS_PATH,
    Lang,
    Message,
    Text,
    html_response,
    render_login,
    render_logout,
)
from dashboard.auth.passwords import Passwords
from dashboard.auth.service import AuthService, LoginStatus, utc_now
from dashboard.auth.sessions import Clock, Session, SessionUnavailable
from dashboard.auth.tokens import csrf_token, csrf_valid, new_nonce
from dashboard.portal import AsyncBridge
from incidents.store import StoreUnavailable

log = logging.getLogger(__name__)

NONCE_COOKIE = "sitroom_csrf"
"""Nonce the sign-in form's CSRF token is bound to (HttpOnly, SameSite=Strict, path /login)."""

MAX_PASSWORD_CHARS = 1024
"""Longer input is refused unhashed: hashing megabytes on request would be a denial of service."""

BAD_CREDENTIALS = Text("用户名或密码错误。", "Wrong user name or password.")
DISABLED = Text("该账户已停用，请联系系统管理员。",
                "This account is disabled; ask an administrator.")
FORM_EXPIRED = Text("登录页面已过期，请重新输入。", "The sign-in form expired; please enter your"
                    " details again.")
MISSING = Text("请输入用户名和密码。", "Enter your user name and password.")
SIGNED_OUT = Text("您已安全退出。", "You have signed out.")
SESSION_ENDED = Text("登录已超时，请重新登录。", "Your session has ended; please sign in again.")


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else "/": sign-in never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers drop tabs and newlines and read "\" as "/": "/\t/evil.example" is "//evil…".
    if any(ord(c) < 32 or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return target


def locked_text(locked_until: datetime, now: datetime, timezone: str) -> Text:
    """The lock-out message: when to try again, as a local time and in minutes."""
    minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
    at = locked_until.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    return Text(f"连续登录失败次数过多，账户已锁定。请于 {at}（约 {minutes} 分钟后）再试，"
                f"或联系系统管理员解锁。",
                f"Too many failed sign-ins: the account is locked. Try again after {at}"
                f" (in about {minutes} min), or ask an administrator to unlock it.")


def throttled_text(retry_at: datetime, timezone: str) -> Text:
    """The back-off message: when the next attempt from here will be heard."""
    at = retry_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M:%S")
    return Text(f"登录尝试过于频繁，请于 {at} 后再试。",
                f"Too many sign-in attempts from here: try again after {at}.")


BUSY = Text("系统正忙于核验登录，请数秒后再试。",
            "The server is busy checking sign-ins: try again in a few seconds.")


def install_auth(server: Flask, bridge: AsyncBridge, settings: Settings, secret: bytes,
                 passwords: Passwords | None = None, clock: Clock = utc_now) -> AuthGate:
    """Guard every route of `server`; returns the gate, which `auth_blueprint` serves.

    The gate holds Redis and PostgreSQL connections on the bridge's loop: close it (see
    dashboard.server.close_app) before closing the bridge.
    """
    ZoneInfo(settings.auth.timezone)  # an unknown zone fails here, not at the first lock-out
    hasher = passwords or Passwords()
    service = bridge.call(_open_service, settings, clock, hasher)
    gate = AuthGate(bridge, service, settings, derive_key(secret, "csrf"))
    gate.install(server)
    server.extensions["sitroom.auth"] = gate
    return gate


def auth_blueprint(gate: AuthGate, clock: Clock = utc_now) -> Blueprint:
    """/login, /logout and the sign-in pages' stylesheet (the guard lets everyone reach them)."""
    return _Routes(gate, clock).blueprint()


async def _open_service(settings: Settings, clock: Clock, passwords: Passwords) -> AuthService:
    return AuthService.open(settings, clock, passwords)  # on the loop whose pools it will own


class _Routes:
    """The views of /login, /logout and the pages' stylesheet."""

    def __init__(self, gate: AuthGate, clock: Clock) -> None:
        self._gate = gate
        self._clock = clock
        self._auth = gate.settings.auth
        self._css = resources.files("dashboard.auth").joinpath("login.css").read_bytes()

    def blueprint(self) -> Blueprint:
        """The routes, as the `auth` blueprint."""
        routes = Blueprint("auth", __name__)
        routes.add_url_rule("/login", "login", self.login, methods=["GET", "POST"])
        routes.add_url_rule("/logout", "logout", self.logout, methods=["GET", "POST"])
        routes.add_url_rule(LOGIN_CSS_PATH, "css", self.css, methods=["GET"])
        return routes

    def css(self) -> Response:
        """The sign-in pages' stylesheet."""
        return Response(self._css, mimetype="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})

    def _session(self) -> tuple[str, Session] | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        found = self._gate.bridge.call(self._gate.service.session_user, session_id)
        return None if found is None else (session_id, found[1])

    def _form(self, lang: Lang, next_path: str, message: Message | None, status: int,
              username: str = "") -> Response:
        nonce = request.cookies.get(NONCE_COOKIE) or new_nonce()
        switch = lang.other
        switch_url = "/login?" + urlencode({"lang": switch.tag, "next": next_path})
        body = render_login(lang, csrf_token(self._gate.csrf_key, "login", nonce), next_path,
                            username, message, switch_url)
        response = html_response(body, status)
        response.set_cookie(NONCE_COOKIE, nonce, max_age=2 * 3600, path="/login",
                            httponly=True, samesite="Strict", secure=self._auth.cookie_secure)
        return response

    def login(self) -> BaseResponse:
        """GET: the form (or straight on, when signed in already). POST: sign in."""
        lang = Lang.of(request.args.get("lang"))
        try:
            if request.method == "GET":
                next_path = safe_next(request.args.get("next"))
                if self._session() is not None:
                    return redirect(next_path, 303)
                message = (Message(SIGNED_OUT, error=False) if request.args.get("out")
                           else Message(SESSION_ENDED, error=False)
                           if request.args.get("ended") else None)
                return self._form(lang, next_path, message, 200)
            return self._sign_in(lang)
        except (StoreUnavailable, SessionUnavailable) as exc:
            log.warning("sign-in unavailable: %s", exc)
            return self._form(lang, safe_next(request.values.get("next")), Message(UNAVAILABLE),
                              503)

    def _sign_in(self, lang: Lang) -> BaseResponse:
        form = request.form
        next_path = safe_next(form.get("next"))
        username = form.get("username", "")[:128]
        password = form.get("password", "")
        client = request.remote_addr or "-"
        if not csrf_valid(self._gate.csrf_key, "login", request.cookies.get(NONCE_COOKIE),
                          form.get("csrf_token")):
            log.warning("sign-in form without a valid CSRF token from %s", client)
            return self._form(lang, next_path, Message(FORM_EXPIRED), 400, username)
        if not username.strip() or not password:
            return self._form(lang, next_path, Message(MISSING), 400, username)
        if len(password) > MAX_PASSWORD_CHARS:
            log.warning("sign-in failed: over-long password for %r from %s", username[:64],
                        client)
            return self._form(lang, next_path, Message(BAD_CREDENTIALS), 401, username)
        result = self._gate.bridge.call(self._gate.service.login, username, password, client)
        waiting = (LoginStatus.LOCKED, LoginStatus.THROTTLED, LoginStatus.BUSY)
        if result.status in waiting and result.locked_until is not None:
            text = (locked_text(result.locked_until, self._clock(), self._auth.timezone)
                    if result.status is LoginStatus.LOCKED else BUSY
                    if result.status is LoginStatus.BUSY else
                    throttled_text(result.locked_until, self._auth.timezone))
            response = self._form(lang, next_path, Message(text),
                                  503 if result.status is LoginStatus.BUSY else 429, username)
            wait_s = (result.locked_until - self._clock()).total_seconds()
            response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
            return response
        if result.status is LoginStatus.DISABLED:
            return self._form(lang, next_path, Message(DISABLED), 403, username)
        if result.status is not LoginStatus.OK or result.session_id is None:
            return self._form(lang, next_path, Message(BAD_CREDENTIALS), 401, username)
        old = request.cookies.get(SESSION_COOKIE)
        if old:  # a new id at every sign-in: a planted cookie never becomes a live session
            self._gate.bridge.call(self._gate.service.logout, old)
        signed_in = redirect(next_path, 303)
        signed_in.set_cookie(SESSION_COOKIE, result.session_id, path="/", httponly=True,
                             samesite="Strict", secure=self._auth.cookie_secure,
                             max_age=math.ceil(self._auth.session_max_hours * 3600))
        signed_in.delete_cookie(NONCE_COOKIE, path="/login", samesite="Strict")
        signed_in.headers["Cache-Control"] = "no-store"
        return signed_in

    def logout(self) -> BaseResponse:
        """GET: the confirmation form. POST (with its CSRF token): end the session."""
        lang = Lang.of(request.args.get("lang"))
        try:
            found = self._session()
            if found is None:
                response = redirect("/login?" + urlencode({"lang": lang.tag}), 303)
                response.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict")
                return response
            session_id, session = found
            token = csrf_token(self._gate.csrf_key, "logout", session.csrf)
            if request.method == "GET":
                return html_response(render_logout(lang, token, session.display_name,
                                                   session.username))
            if not csrf_valid(self._gate.csrf_key, "logout", session.csrf,
                              request.form.get("csrf_token")):
                log.warning("sign-out form without a valid CSRF token from %s",
                            request.remote_addr)
                return html_response(render_logout(lang, token, session.display_name,
                                                   session.username), 400)
            self._gate.bridge.call(self._gate.service.logout, session_id)
        except (StoreUnavailable, SessionUnavailable) as exc:
            log.warning("sign-out unavailable: %s", exc)
            return self._form(lang, "/", Message(UNAVAILABLE), 503)
        log.info("sign-out: %s from %s", session.username, request.remote_addr)
        response = redirect("/login?" + urlencode({"lang": lang.tag, "out": "1"}), 303)
        response.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict")
        response.headers["Cache-Control"] = "no-store"
        return response
