"""`sitroom video` and `sitroom camera add`: the video server, with recordings journaled."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

from config.settings import Settings
from config.video import VideoConfigError
from incidents.errors import NotFound
from incidents.store import Store
from sitroom.secrets import journal_key

log = logging.getLogger(__name__)


async def run_video(settings: Settings) -> int:
    """Serve video until cancelled; each conference recording goes on its incident's timeline."""
    from video.server import serve

    store = (await Store.connect(settings.database_url, journal_key=journal_key(settings),
                                 wait_s=settings.startup_wait_s)
             if settings.database_url else None)

    async def on_recording(*, incident_id: str, room_id: str, path: Path,
                           started_at: datetime, ended_at: datetime) -> None:
        if store is None:
            return
        try:
            await store.commands.note_event(incident_id, "video", "recording", {
                "room": room_id, "path": str(path), "started_at": started_at.isoformat(),
                "ended_at": ended_at.isoformat()})
        except NotFound:  # a room for no incident (a drill): the file is kept, no timeline
            log.info("recording %s of room %s belongs to no incident", path, room_id)

    try:
        await serve(settings.video, redis_url=settings.redis_url,
                    redis_prefix=settings.redis_prefix, on_recording=on_recording)
    except VideoConfigError as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            await store.close()
    return 0


def add_camera(settings: Settings, url: str, stream_id: str, name: str, lat: float | None,
               lon: float | None) -> int:
    """Register a camera with the running video server; 0 when it accepted it."""
    from video.cameras import CameraSpec, register_camera

    try:
        answer = asyncio.run(register_camera(settings.video, CameraSpec(
            id=stream_id, url=url, name=name, lat=lat, lon=lon)))
    except (ValueError, RuntimeError) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 2
    print(f"camera {stream_id} added: {answer}")
    return 0
