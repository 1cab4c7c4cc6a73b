"""aiohttp plumbing shared by the handlers: app keys, bearer auth, JSON errors, headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from config.video import VideoSettings
from incidents.video_tokens import Claims, TokenError, verify
from video.hub import VideoHub

HUB = web.AppKey("hub", VideoHub)
SECRET = web.AppKey("secret", bytes)
SETTINGS = web.AppKey("settings", VideoSettings)

# Pages load only what this server serves; media and files come from the page itself.
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'self'")

_encoder = msgspec.json.Encoder()


def json_response(doc: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    """A JSON response (msgspec handles structs)."""
    return web.Response(body=_encoder.encode(doc), status=status, headers=headers,
                        content_type="application/json")


def fail(error: type[web.HTTPError], reason: str, message: str,
         headers: dict[str, str] | None = None) -> NoReturn:
    """Raise an HTTP error whose body is JSON {error, message}."""
    text = _encoder.encode({"error": reason, "message": message}).decode()
    raise error(text=text, content_type="application/json", headers=headers)


def claims_of(request: web.Request) -> Claims:
    """The verified claims of the request's bearer token, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        fail(web.HTTPUnauthorized, "no_token", "send Authorization: Bearer <token>",
             {"WWW-Authenticate": 'Bearer realm="sitroom-video"'})
    try:
        return verify(request.app[SECRET], token.strip())
    except TokenError as exc:
        fail(web.HTTPUnauthorized, str(exc.problem), str(exc),
             {"WWW-Authenticate": f'Bearer realm="sitroom-video", error="invalid_token", '
                                  f'error_description="{exc.problem}"'})


def require(allowed: bool, message: str) -> None:
    """403 unless `allowed`."""
    if not allowed:
        fail(web.HTTPForbidden, "forbidden", message)


@web.middleware
async def security_headers(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """Lock pages to this origin and keep tokens out of referrers."""
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log without query strings: page URLs carry tokens (?token=)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse,
            time: float) -> None:
        """One line per request."""
        self.logger.info("%s %s %s %d %.1fms", request.remote, request.method, request.path,
                         response.status, time * 1000)

