"""The guard in front of every route, and the helpers routes and callbacks use to check roles.

Every request passes `AuthGate.check` (a Flask `before_request` that runs first) before Dash or
the API sees it. Only the sign-in pages, their stylesheet and (if configured) a reduced
/api/health are open; every page, every Dash endpoint and every /api route needs a session
cookie or, for /api/*, `Authorization: Bearer <token>`.

In a route: `@requires(Action.DISPATCH)` or `user = require(Action.DISPATCH)`; in a Dash
callback: `current_user()` or `require(...)`. Refusals are HTTP errors Flask answers itself:
401 or 403, as JSON `{"error", "hint"}` for /api, Dash and asset paths, as a page otherwise.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

import msgspec
from flask import Flask, Response, current_app, g, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from config.settings import Settings
from dashboard.auth.pages import LOGIN_CSS_PATH, Lang, Text, html_response, render_problem
from dashboard.auth.roles import Action, User
from dashboard.auth.service import AuthService
from dashboard.auth.sessions import SessionUnavailable
from dashboard.auth.tokens import bearer_token
from dashboard.portal import AsyncBridge
from incidents.store import StoreUnavailable

log = logging.getLogger(__name__)

SESSION_COOKIE = "sitroom_session"
"""The session id cookie (HttpOnly, SameSite=Strict, Secure when configured)."""

PUBLIC_PATHS = frozenset({"/login", "/logout", LOGIN_CSS_PATH})
"""Paths anyone may open: the sign-in pages need nothing else."""

_USER = "sitroom_user"
_encoder = msgspec.json.Encoder()
P = ParamSpec("P")
R = TypeVar("R")

SIGN_IN_HINT = Text("请先登录：浏览器打开 /login；API 客户端发送 Authorization: Bearer <令牌>"
                    "（由管理员用 sitroom token create 签发）",
                    "sign in first: browsers at /login; API clients send Authorization:"
                    " Bearer <token> (an administrator issues one with sitroom token create)")
UNAVAILABLE = Text("认证服务暂不可用（无法连接数据库或缓存），请稍后重试。",
                   "sign-in is unavailable right now (the database or the cache cannot be"
                   " reached); try again shortly")
DENIED = Text("无权访问", "Access denied")


def wants_json(path: str) -> bool:
    """API, Dash and asset requests get JSON errors; page requests get pages and redirects."""
    return path.startswith(("/api/", "/_", "/assets/"))


class AuthProblem(HTTPException):
    """A refused request: JSON `{"error", "hint"}` for machines, a bilingual page for people."""

    error = "auth_problem"

    def __init__(self, hint: Text, error: str | None = None) -> None:
        super().__init__(description=f"{hint.zh} / {hint.en}")
        self.hint = hint
        if error is not None:
            self.error = error

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        """JSON for /api, Dash and assets; a page for everything else."""
        status = self.code or 500
        if wants_json(request.path):
            body = _encoder.encode({"error": self.error,
                                    "hint": f"{self.hint.zh} / {self.hint.en}"})
            return Response(body, status=status, mimetype="application/json",
                            headers={"Cache-Control": "no-store"})
        title = DENIED if status == 403 else Text("暂不可用", "Unavailable")
        return html_response(render_problem(Lang.of(request.args.get("lang")), title,
                                            self.hint), status)


class NotAuthenticated(AuthProblem):
    """401: nobody is signed in, or the token is not accepted."""

    code = 401
    error = "unauthenticated"


class NotAllowed(AuthProblem):
    """403: signed in, but the role may not do this."""

    code = 403
    error = "forbidden"


class AuthUnavailable(AuthProblem):
    """503: Redis or PostgreSQL cannot be reached, so nobody can be checked."""

    code = 503
    error = "auth_unavailable"


def current_user() -> User:
    """The user of the current request, or NotAuthenticated (for Dash callbacks and routes)."""
    user: User | None = g.get(_USER)
    if user is None:
        raise NotAuthenticated(SIGN_IN_HINT)
    return user


def require(action: Action, agency: str | None = None) -> User:
    """The current user if they may take `action` (for `agency`'s orders), else 401/403."""
    user = current_user()
    if not user.may(action, agency):
        raise NotAllowed(denied_hint(user, action, agency), "forbidden")
    return user


def requires(action: Action) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator for a Flask view: only users who may take `action` get through."""

    def wrap(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            require(action)
            return view(*args, **kwargs)

        return checked

    return wrap


def denied_hint(user: User, action: Action, agency: str | None) -> Text:
    """Why `user` may not take `action`, in both languages."""
    if agency is not None and user.agency is not None and agency != user.agency:
        return Text(f"您是{user.agency}的联络员，只能处理本部门（{user.agency}）的任务，"
                    f"不能处理 {agency} 的任务。",
                    f"as the liaison of {user.agency} you may act on {user.agency}'s tasks"
                    f" only, not on {agency}'s")
    return Text(f"您的角色（{user.role.label_zh}）无权执行此操作：{action.label_zh}。",
                f"your role ({user.role.label_en}) may not do this: {action.label_en}")


class AuthGate:
    """Checks every request of one Flask server against sessions and tokens."""

    def __init__(self, bridge: AsyncBridge, service: AuthService, settings: Settings,
                 csrf_key: bytes) -> None:
        self.bridge = bridge
        self.service = service
        self.settings = settings
        self.csrf_key = csrf_key
        """Key of the CSRF tokens of the sign-in and sign-out forms."""

    def install(self, server: Flask) -> None:
        """Run `check` before anything else on every request of `server`."""
        server.before_request_funcs.setdefault(None, []).insert(0, self.check)

    def close(self) -> None:
        """Close the service's connections (on the bridge's loop, before the bridge closes)."""
        self.bridge.call(self.service.close)

    def check(self) -> BaseResponse | None:
        """The before_request hook: None lets the request through, else the refusal."""
        path = request.path
        if path in PUBLIC_PATHS:
            return None
        try:
            user = self._identify(path)
        except (SessionUnavailable, StoreUnavailable) as exc:
            log.warning("cannot check %s %s: %s", request.method, path, exc)
            raise AuthUnavailable(UNAVAILABLE) from exc
        if user is None:
            if path == "/api/health" and self.settings.auth.public_health:
                return _reduced_health()
            return self._sign_in_first(path)
        g.setdefault(_USER, user)
        require(Action.VIEW)  # every role may view today; a role that may not is refused here
        return None

    def _identify(self, path: str) -> User | None:
        header = request.headers.get("Authorization")
        if header is not None and path.startswith("/api/"):
            token = bearer_token(header)
            checked = self.bridge.call(self.service.token_user, token or "")
            if checked.user is None:
                log.warning("bearer token refused (%s) for %s %s from %s",
                            checked.reason or "malformed", request.method, path,
                            request.remote_addr)
                raise NotAuthenticated(Text(
                    f"令牌无效（{checked.reason or 'malformed'}），请向管理员申请新令牌",
                    f"the bearer token is {checked.reason or 'malformed'}: ask an"
                    f" administrator for a new one (sitroom token create)"), "invalid_token")
            return checked.user
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        found = self.bridge.call(self.service.session_user, session_id)
        if found is None:
            g.setdefault("sitroom_session_ended", True)
            return None
        return found[0]

    def _sign_in_first(self, path: str) -> BaseResponse:
        if wants_json(path) or request.method not in ("GET", "HEAD"):
            raise NotAuthenticated(SIGN_IN_HINT)
        target = path + (f"?{request.query_string.decode('latin-1')}"
                         if request.query_string else "")
        query = {"next": target}
        if g.get("sitroom_session_ended"):
            query["ended"] = "1"
        response = redirect("/login?" + urlencode(query), 302)
        response.headers["Cache-Control"] = "no-store"
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict")
        return response


def _reduced_health() -> Response:
    # Probes need the status word and the HTTP status only; URLs, hosts, user names and worker
    # details stay behind sign-in.
    view = current_app.view_functions[request.endpoint or ""]
    full = current_app.make_response(view())  # type: ignore[arg-type]  # a view's own result
    status = json.loads(full.get_data()).get("status", "down")
    return Response(_encoder.encode({"status": status}), status=full.status_code,
                    mimetype="application/json", headers={"Cache-Control": "no-store"})
