"""The video server process (`sitroom video`): aiohttp app, routes, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from config.video import VideoConfigError, VideoSettings, secret_bytes
from video import handlers
from video.cameras import add_camera, check_spec
from video.hub import OnRecording, VideoHub
from video.pages import field_page, lang_of, room_page, watch_page
from video.registry import StreamRegistry
from video.sdp import valid_id
from video.web import HUB, SECRET, SETTINGS, PathOnlyAccessLogger, fail, security_headers

log = logging.getLogger("sitroom.video")

STATIC = Path(__file__).parent / "static"


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8")


async def field(request: web.Request) -> web.Response:
    """GET /field."""
    return _html(field_page(lang_of(request.query.get("lang"))))


async def watch(request: web.Request) -> web.Response:
    """GET /watch?streams=a,b."""
    return _html(watch_page(lang_of(request.query.get("lang")), request.app[SETTINGS].max_grid))


async def room(request: web.Request) -> web.Response:
    """GET /room/{room_id}."""
    room_id = request.match_info["room_id"]
    if not valid_id(room_id):
        fail(web.HTTPNotFound, "no_room", "no such room")
    return _html(room_page(lang_of(request.query.get("lang")), room_id))


async def health(request: web.Request) -> web.Response:
    """GET /healthz: the process answers (no auth, no details)."""
    return web.json_response({"ok": True})


def _routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", health)
    r.add_get("/field", field)
    r.add_get("/watch", watch)
    r.add_get("/room/{room_id}", room)
    r.add_static("/static", STATIC, show_index=False, follow_symlinks=False)
    r.add_post("/whip/{stream_id}", handlers.whip_publish)
    r.add_delete("/whip/{stream_id}/{session}", handlers.end_whip)
    r.add_patch("/whip/{stream_id}/{session}", handlers.no_trickle)
    r.add_post("/whep/{stream_id}", handlers.whep_view)
    r.add_delete("/whep/{stream_id}/{session}", handlers.end_whep)
    r.add_patch("/whep/{stream_id}/{session}", handlers.no_trickle)
    r.add_post("/rooms/{room_id}/join", handlers.join_room)
    r.add_delete("/rooms/{room_id}/join/{session}", handlers.leave_room)
    r.add_get("/api/config", handlers.config)
    r.add_get("/api/streams", handlers.streams)
    r.add_get("/api/streams/near", handlers.streams_near)
    r.add_post("/api/rooms", handlers.create_room)
    r.add_get("/api/rooms/{room_id}", handlers.room_info)
    r.add_get("/api/rooms/{room_id}/log", handlers.room_log)
    r.add_post("/api/rooms/{room_id}/recording", handlers.recording)
    r.add_post("/api/cameras", handlers.cameras_add)
    r.add_delete("/api/cameras/{camera_id}", handlers.cameras_remove)


def build_app(settings: VideoSettings, *, redis_url: str | None = None,
              redis_prefix: str = "sitroom:", on_recording: OnRecording | None = None
              ) -> web.Application:
    """The video server's application; refuses a missing or default token secret, and
    cameras in the settings that may not be pulled."""
    secret = secret_bytes(settings)
    for camera in settings.cameras:
        try:
            check_spec(camera, settings)
        except ValueError as exc:
            raise VideoConfigError(f"video.cameras: {camera.id}: {exc}") from exc
    app = web.Application(middlewares=[security_headers], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[SECRET] = secret

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        client = (aioredis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3)
                  if redis_url else None)
        registry = StreamRegistry(client, redis_prefix)
        hub = VideoHub(settings, registry, on_recording=on_recording)
        app[HUB] = hub
        await registry.sync()  # drop what a previous run left in Redis
        for camera in settings.cameras:
            await add_camera(hub, camera)
        hub.spawn(hub.maintain(), "video-maintenance")
        try:
            yield
        finally:
            await hub.close()
            if client is not None:
                await client.aclose()

    app.cleanup_ctx.append(lifecycle)
    _routes(app)
    return app


@dataclass(frozen=True)
class Running:
    """A started video server."""

    app: web.Application
    base_url: str
    """http://host:port (the real port when 0 was asked for)."""

    @property
    def hub(self) -> VideoHub:
        """The server's hub."""
        return self.app[HUB]


@contextlib.asynccontextmanager
async def running(settings: VideoSettings, *, redis_url: str | None, redis_prefix: str,
                  on_recording: OnRecording | None = None) -> AsyncIterator[Running]:
    """The video server, listening, until the block exits (then everything is closed)."""
    app = build_app(settings, redis_url=redis_url, redis_prefix=redis_prefix,
                    on_recording=on_recording)
    runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger,
                           access_log=logging.getLogger("sitroom.video.access"))
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield Running(app, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


async def serve(settings: VideoSettings, *, redis_url: str | None, redis_prefix: str,
                on_recording: OnRecording | None) -> None:
    """Serve until cancelled (SIGTERM via the CLI), then close every peer connection."""
    async with running(settings, redis_url=redis_url, redis_prefix=redis_prefix,
                       on_recording=on_recording) as server:
        log.info("video server on %s/", server.base_url)
        await asyncio.Event().wait()
