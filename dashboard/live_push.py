"""Live push to browsers: Server-Sent Events at GET /live/stream, fed by Redis pub/sub.

The `live` blueprint: /live/stream, and the live units and incidents once, as GeoJSON, at
/api/units and GET /api/incidents (for API clients; read from Redis on each request).

Each dashboard worker process runs ONE `LiveHub`. Its task on the bridge's event loop follows
the live state (`LiveState.watch`: a snapshot, then every delta in version order), keeps a
mirror of it, and fans each change out to that worker's browsers through bounded queues
(`dashboard.live_frames`). A browser that cannot keep up is dropped — its EventSource
reconnects and starts again from a fresh snapshot — so a slow screen never holds the others
back. Nothing here reads PostgreSQL, and nothing polls: Redis pushes every change.

redis-py's pub/sub does not reconnect by itself: a lost channel ends `watch`, and the hub
follows again after a jittered backoff, beginning with a new snapshot that it sends to every
browser (a resync). A heartbeat every few seconds tells browsers the version, the server time,
whether the worker is following Redis and which agencies' feeds are silent (read from the
ingest heartbeats, dashboard.feed_watch); it also compares the mirror with Redis's version
counter and resyncs a mirror left behind by a change that never arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dash import html
from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.auth.flask_guard import SESSION_COOKIE, AuthGate
from dashboard.auth.sessions import SessionUnavailable
from dashboard.desk_text import type_names
from dashboard.feed_watch import INGEST_COMPONENT, FeedWatch
from dashboard.geojson import (
    AGENCY_COLOURS,
    OTHER_COLOUR,
    agency_colour,
    incidents_collection,
    units_collection,
)
from dashboard.jsonapi import no_store_json
from dashboard.live_frames import EventName, Fanout, FeedsBeat, Mirror, Stream, sse_frame
from dashboard.portal import AsyncBridge
from incidents.lang import Lang
from incidents.live import LiveState, LiveUnavailable
from incidents.live_wire import LiveSnapshot
from incidents.model import IncidentStatus, Level
from incidents.outage import Outage
from incidents.taxonomy import load_taxonomy

log = logging.getLogger(__name__)

STREAM_PATH = "/live/stream"
STREAMS_PER_WORKER = 64
"""Browsers one worker process serves at once; each holds one of the WSGI server's threads,
so the server gets this many threads on top of `dashboard_threads` (dashboard.server)."""
QUEUE_FRAMES = 256
"""Frames a browser may fall behind by before it is dropped (a delta is one or two frames)."""
HEARTBEAT_S = 3.0
"""Seconds between heartbeats; the wall shows the data as stale after 10 s without one."""
SESSION_RECHECK_S = 60.0
"""How often an open stream checks that its session still exists (sign-out, disabled)."""
STALE_S = 10
"""Seconds without a heartbeat after which pages say the data is stale."""
SVG_MAX_UNITS = 1500
"""Up to this many units are SVG elements (crisp, styleable, findable); above it they are
drawn on one canvas, which stays smooth with 10,000 moving units."""
EXTENSION = "sitroom.live_push"
"""Key of the hub in `app.server.extensions`; dashboard.server.close_app closes it."""


class LiveHub:
    """One worker's subscriber and its browsers (thread-safe: browsers join from WSGI
    threads; everything else happens on the bridge's loop)."""

    def __init__(self, bridge: AsyncBridge, online_s: int, *, heartbeat_s: float = HEARTBEAT_S,
                 queue_frames: int = QUEUE_FRAMES, max_streams: int = STREAMS_PER_WORKER,
                 clock: Callable[[], float] = time.time, feeds: FeedWatch | None = None
                 ) -> None:
        self._bridge = bridge
        self._live: LiveState = bridge.live
        self._heartbeat_s = heartbeat_s
        self._queue_frames = queue_frames
        self._clock = clock
        self.worker = str(os.getpid())
        """This worker's name in heartbeats and snapshots (its process id)."""
        self._mirror = Mirror(self.worker, online_s)
        self._fanout = Fanout(max_streams)
        self._following = False
        self._reachable = False
        self._resync = False
        self._seen_version: int | None = None
        self._feeds = feeds
        self._feeds_beat: FeedsBeat | None = None
        """What the last heartbeat said about the feeds (a new browser hears it at once)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock = threading.Lock()
        self._closed = False

    # --- called from WSGI threads ---------------------------------------------------------

    def open(self) -> Stream | None:
        """A new browser stream (snapshot first), or None when the worker is full."""
        self._ensure_started()
        stream = Stream(self._queue_frames)
        return stream if self._bridge.call(self._register, stream) else None

    def release(self, stream: Stream) -> None:
        """The browser went away: stop feeding its stream."""
        stream.close()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile: nothing to do
                loop.call_soon_threadsafe(self._fanout.discard, stream)

    def stats(self) -> dict[str, int | bool]:
        """Streams open, streams dropped for falling behind, the mirror's version, liveness."""
        return {"streams": len(self._fanout), "dropped": self._fanout.dropped,
                "version": self._mirror.version, "live": self._following and self._reachable}

    def close(self) -> None:
        """Stop following Redis and end every stream (before the bridge closes)."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            if self._loop is not None:
                self._bridge.call(self._stop)

    def _ensure_started(self) -> None:
        # Started by the first browser, so an app that never streams has no subscriber.
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the live hub is closed")
            if self._loop is None:
                self._bridge.call(self._start)

    # --- on the bridge's loop -------------------------------------------------------------

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(self._follow_forever(), name="live-follow"),
                       asyncio.create_task(self._beat_forever(), name="live-heartbeat")]
        for task in self._tasks:
            task.add_done_callback(self._died)
            self._bridge.keep(task)  # which logs a death and lists it in the health report

    def _died(self, task: asyncio.Task[None]) -> None:
        # Both tasks run forever: an end other than cancellation is a bug; heartbeats tell
        # browsers the data is no longer live.
        if not task.cancelled() and task.exception() is not None:
            self._following = False

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fanout.close_all()

    async def _register(self, stream: Stream) -> bool:
        if not self._fanout.add(stream):
            return False
        if self._mirror.synced:  # else the first snapshot reaches it when it arrives
            stream.push(self._mirror.snapshot_frame())
            stream.push(self._mirror.heartbeat_frame(self._clock(), self._live_now(),
                                                     self._feeds_beat))
        return True

    def _live_now(self) -> bool:
        return self._following and self._reachable

    async def _follow_forever(self) -> None:
        outage = Outage("live push", log, "browsers are told their data is not live")
        while True:
            try:
                async with contextlib.aclosing(self._live.watch()) as changes:
                    async for change in changes:
                        if isinstance(change, LiveSnapshot):
                            outage.recovered()
                            self._following = self._reachable = True
                            self._fanout.publish(self._mirror.load(change))
                        elif change is not None:
                            for frame in self._mirror.apply(change):
                                self._fanout.publish(frame)
                        if self._resync:
                            self._resync = False
                            log.warning("live mirror behind Redis at version %d: resyncing",
                                        self._mirror.version)
                            break
            except LiveUnavailable as exc:
                self._following = False
                await asyncio.sleep(outage.failed(exc))

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            await self._check_version()
            self._feeds_beat = await self._read_feeds()
            self._fanout.publish(self._mirror.heartbeat_frame(self._clock(), self._live_now(),
                                                              self._feeds_beat))

    async def _read_feeds(self) -> FeedsBeat | None:
        """The feeds' state now, or None when no feed is watched or Redis does not answer
        (the page then shows the data as stale anyway: the heartbeat says not live)."""
        if self._feeds is None or not self._feeds.expected:
            return None
        try:
            workers = await self._live.statuses(INGEST_COMPONENT)
        except LiveUnavailable:
            return None
        return self._feeds.beat(workers, self._clock())

    async def _check_version(self) -> None:
        """Resync when the mirror has not reached, by now, the version Redis had one beat
        ago (a delta was lost without the channel noticing), or when Redis counts lower
        (it restarted)."""
        try:
            current = await self._live.version()
        except LiveUnavailable:
            self._reachable = False
            return
        self._reachable = True
        mirror = self._mirror.version
        if self._mirror.synced and (current < mirror or (
                self._seen_version is not None and mirror < self._seen_version)):
            self._resync = True
        self._seen_version = current


def stream_response(hub: LiveHub, stream: Stream,
                    session_alive: Callable[[], bool] | None) -> Response:
    """The SSE response writing `stream` until it is dropped, the browser leaves, or the
    session ends (checked every SESSION_RECHECK_S when there is a session)."""

    def body() -> Iterator[bytes]:
        next_check = time.monotonic() + SESSION_RECHECK_S
        try:
            for frame in stream.frames():
                yield frame
                if session_alive is not None and time.monotonic() >= next_check:
                    next_check = time.monotonic() + SESSION_RECHECK_S
                    if not session_alive():
                        yield sse_frame(EventName.SIGNED_OUT, {})
                        return
        finally:
            hub.release(stream)

    return Response(body(), mimetype="text/event-stream", headers={
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # a reverse proxy must pass each event on at once
        "X-Sitroom-Worker": hub.worker,
    })


def _session_check(gate: AuthGate, session_id: str) -> Callable[[], bool]:
    def alive() -> bool:
        try:
            return gate.bridge.call(gate.service.session_user, session_id) is not None
        except SessionUnavailable as exc:
            # Redis is down: the data is stale anyway, and the page says so; do not sign the
            # wall out for it.
            log.warning("cannot re-check a live stream's session: %s", exc)
            return True
    return alive


@dataclass(frozen=True, slots=True)
class LiveIds:
    """Elements of a page that sitroom_live.js keeps current."""

    map: str
    """The dash-leaflet Map to draw units and incidents on."""
    badge: str | None = None
    """The LIVE / OFFLINE badge."""
    units_kpi: str | None = None
    """Tile value "online / total units"."""
    total_kpi: str | None = None
    """Tile value "open incidents"."""
    level_kpis: dict[str, str] = field(default_factory=dict)
    """Tile values "open incidents of level X", by level."""
    feeds: str | None = None
    """The warning that names the agencies whose feeds are silent (hidden while all arrive)."""


@functools.cache
def _type_names() -> dict[str, list[str]]:
    """The incident types' names for the scripts (the shipped taxonomy, read once)."""
    return type_names(load_taxonomy())


def live_config(element_id: str, settings: Settings, page: str, ids: LiveIds,
                bounds: list[list[float]]) -> html.Div:
    """The hidden element that tells sitroom_live.js to go live on this page, and how to draw:
    where, in which colours, and which elements to keep current."""
    config = {
        "page": page,
        "stream": STREAM_PATH,
        "online_s": settings.unit_online_s,
        "stale_s": STALE_S,
        "svg_max": SVG_MAX_UNITS,
        "bounds": bounds,
        "ids": {"map": ids.map, "badge": ids.badge, "units": ids.units_kpi,
                "total": ids.total_kpi, "levels": ids.level_kpis, "feeds": ids.feeds},
        "agencies": dict(AGENCY_COLOURS),
        "other": OTHER_COLOUR,
        "unit_types": {kind: agency_colour("", kind) for kind in ("ambulance",)},
        "levels": {level.value: {"colour": level.colour, "zh": level.label_zh,
                                 "en": level.label_en} for level in Level},
        # The scripts name statuses with the domain's words, never a copy of their own.
        "statuses": {status.value: [status.label(Lang.ZH), status.label(Lang.EN)]
                     for status in IncidentStatus},
        "types": _type_names(),
    }
    data: dict[str, Any] = {"data-config": json.dumps(config, ensure_ascii=False)}
    return html.Div(id=element_id, className="sitroom-live-config", hidden=True, **data)


def live_blueprint(bridge: AsyncBridge, settings: Settings) -> Blueprint:
    """GET /live/stream, /api/units and /api/incidents (any signed-in user who may view).

    The worker's hub is kept in the app's extensions under EXTENSION (close_app closes it).
    """
    hub = LiveHub(bridge, settings.unit_online_s, feeds=FeedWatch.from_settings(settings))
    live = Blueprint("live", __name__)

    def keep_hub(state: BlueprintSetupState) -> None:
        state.app.extensions[EXTENSION] = hub

    live.record_once(keep_hub)

    @live.get(STREAM_PATH)
    def live_stream() -> Response:
        """The live picture as Server-Sent Events: a snapshot, then changes and heartbeats."""
        require(Action.VIEW)
        if request.method == "HEAD":  # a probe: answer without holding a thread open
            return Response(mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
        stream = hub.open()
        if stream is None:
            return Response('{"error": "busy", "hint": "此工作进程实时连接已满 / this worker'
                            ' serves its maximum of live screens; retrying"}', status=503,
                            mimetype="application/json", headers={"Retry-After": "5"})
        gate = current_app.extensions.get("sitroom.auth")
        session_id = request.cookies.get(SESSION_COOKIE)
        check = (_session_check(gate, session_id)
                 if isinstance(gate, AuthGate) and session_id else None)
        return stream_response(hub, stream, check)

    @live.get("/api/units")
    def units() -> Response:
        """The last known fix of every unit."""
        try:
            found = bridge.call(bridge.live.units)
        except LiveUnavailable as exc:
            return no_store_json({"error": "live_unavailable", "detail": str(exc)}, 503)
        now = datetime.now(UTC)
        return no_store_json(units_collection(found, now, settings.unit_online_s), 200,
                             "application/geo+json")

    @live.get("/api/incidents")
    def incidents() -> Response:
        """The open incidents."""
        try:
            found = bridge.call(bridge.live.incidents)
        except LiveUnavailable as exc:
            return no_store_json({"error": "live_unavailable", "detail": str(exc)}, 503)
        return no_store_json(incidents_collection(found), 200, "application/geo+json")

    return live
