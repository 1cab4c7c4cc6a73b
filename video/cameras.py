"""Server-pulled cameras: an RTSP URL or a file, decoded by aiortc's MediaPlayer and relayed.

A camera is a stream of kind `camera`. When its source fails or ends, the stream shows
`interrupted` and the camera reconnects with jittered exponential backoff; viewers stay
attached and resume when it comes back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import av
import msgspec
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack

from config.video import CameraSpec as CameraSpec  # the one camera model, defined with the settings
from config.video import VideoSettings, secret_bytes
from incidents.video_tokens import Role, issue
from video.camera_sources import check_source
from video.hub import Conflict, VideoHub
from video.registry import PositionSource, StreamEvent, StreamKind
from video.sdp import valid_id

log = logging.getLogger("sitroom.video.cameras")

STEADY_S = 30.0
"""A source that ran this long before failing starts the backoff from the beginning again."""


def redacted(url: str) -> str:
    """`url` without its user name and password, for logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, "***@" + netloc, parts.path, "", ""))


def check_spec(spec: CameraSpec, settings: VideoSettings) -> None:
    """Raise ValueError when the spec cannot be used, or its source may not be pulled."""
    if not valid_id(spec.id):
        raise ValueError(f"invalid camera id {spec.id!r}")
    if not spec.url:
        raise ValueError("a camera needs a url")
    check_source(spec.url, settings.camera_hosts, settings.camera_files)
    if (spec.lat is None) != (spec.lon is None):
        raise ValueError("give both lat and lon, or neither")
    if spec.lat is not None and spec.lon is not None and not (
            -90 <= spec.lat <= 90 and -180 <= spec.lon <= 180):
        raise ValueError("lat/lon out of range")


class Backoff:
    """Jittered exponential delays: base, 2×base, … up to cap, each times 0.5–1.0."""

    def __init__(self, base_s: float = 1.0, cap_s: float = 30.0,
                 rand: Callable[[], float] = random.random) -> None:
        self._base, self._cap, self._rand = base_s, cap_s, rand
        self._attempt = 0

    def reset(self) -> None:
        """Start again from the base delay."""
        self._attempt = 0

    def next(self) -> float:
        """The next delay in seconds."""
        delay = min(self._cap, self._base * 2 ** self._attempt)
        self._attempt += 1
        return float(delay * (0.5 + self._rand() / 2))


class CameraSource:
    """Keeps one camera's stream fed, reconnecting when the source fails."""

    def __init__(self, hub: VideoHub, spec: CameraSpec, backoff: Backoff | None = None) -> None:
        self.spec = spec
        self._hub = hub
        self._backoff = backoff or Backoff()
        self.connects = 0
        """How many times the source was opened."""
        self._task = hub.spawn(self._run(), f"camera-{spec.id}")

    def _open(self) -> MediaPlayer:
        is_rtsp = self.spec.url.startswith(("rtsp://", "rtsps://"))
        options = {"rtsp_transport": self.spec.rtsp_transport} if is_rtsp else None
        return MediaPlayer(self.spec.url, options=options, timeout=10,
                           loop=self.spec.loop and not is_rtsp)

    async def _run(self) -> None:
        source = f"camera:{self.spec.id}"
        while True:
            try:
                # Opening probes the source (network, disk): not on the event loop.
                player = await asyncio.to_thread(self._open)
            except (av.FFmpegError, OSError) as exc:
                # Not str(exc): FFmpeg's message repeats the URL, credentials and all.
                log.warning("camera %s: cannot open %s: %s", self.spec.id,
                            redacted(self.spec.url), exc.strerror or type(exc).__name__)
                await self._hub.go_dark(self.spec.id, source, StreamEvent.LOST)
                await asyncio.sleep(self._backoff.next())
                continue
            self.connects += 1
            ended = asyncio.Event()
            tracks: list[MediaStreamTrack] = [t for t in (player.video, player.audio) if t]
            started = time.monotonic()
            try:
                await self._hub.go_live(
                    self.spec.id, source, tracks, ended.set, owner=self.spec.id,
                    kind=StreamKind.CAMERA, title=self.spec.name or self.spec.id,
                    lat=self.spec.lat, lon=self.spec.lon, position_source=PositionSource.CAMERA)
                await ended.wait()
                log.warning("camera %s: source ended; reconnecting", self.spec.id)
                await self._hub.go_dark(self.spec.id, source, StreamEvent.LOST)
            finally:
                for track in tracks:
                    track.stop()  # stops the player's thread and closes its container
            if time.monotonic() - started > STEADY_S:
                self._backoff.reset()
            await asyncio.sleep(self._backoff.next())

    async def close(self) -> None:
        """Stop pulling; the stream ends."""
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await self._hub.go_dark(self.spec.id, f"camera:{self.spec.id}", StreamEvent.STOPPED)


async def add_camera(hub: VideoHub, spec: CameraSpec,
                     backoff: Backoff | None = None) -> CameraSource:
    """Start pulling a camera into the hub as a stream of kind camera."""
    check_spec(spec, hub.settings)
    if spec.id in hub.cameras:
        raise Conflict(f"camera {spec.id} exists")
    info = hub.registry.get(spec.id)
    if info is not None and info.kind is not StreamKind.CAMERA:
        raise Conflict(f"stream {spec.id} is a {info.kind} stream")
    camera = CameraSource(hub, spec, backoff)
    hub.cameras[spec.id] = camera
    return camera


async def remove_camera(hub: VideoHub, camera_id: str) -> bool:
    """Stop pulling a camera; False if there was none."""
    camera = hub.cameras.pop(camera_id, None)
    if camera is None:
        return False
    await camera.close()
    return True


async def register_camera(settings: VideoSettings, spec: CameraSpec,
                          base_url: str | None = None) -> dict[str, object]:
    """For `sitroom camera add`: ask the running video server to pull a camera."""
    check_spec(spec, settings)
    token = issue(secret_bytes(settings), "cli", Role.ADMIN, 60)
    url = (base_url or f"http://{settings.host}:{settings.port}") + "/api/cameras"
    async with aiohttp.ClientSession() as client, client.post(
            url, data=msgspec.json.encode(spec),
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/json"}) as response:
        doc: dict[str, object] = await response.json(content_type=None)
        if response.status != 201:
            raise RuntimeError(f"video server refused the camera ({response.status}): {doc}")
        return doc
