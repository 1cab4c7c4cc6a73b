"""Links from the dashboard to the video server's pages, each with a short-lived signed token
for the signed-in user (the video server checks it; it never sees the dashboard's session)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

from config.video import VideoSettings, public_base, secret_bytes
from dashboard.auth.roles import User
from incidents.video_tokens import issue

LINK_TTL_S = 12 * 3600
"""A page keeps its token while it stays open: a shift."""

def _token(settings: VideoSettings, user: User, rooms: tuple[str, ...] = ()) -> str:
    return issue(secret_bytes(settings), user.username, user.role, LINK_TTL_S,
                 may_watch=True, rooms=rooms)


def watch_url(settings: VideoSettings, user: User, streams: list[str], lang: str = "zh"
              ) -> str:
    """The grid player for these streams (at most 16)."""
    query = urlencode({"streams": ",".join(streams[:16]), "lang": lang,
                       "token": _token(settings, user)})
    return f"{public_base(settings)}/watch?{query}"


def room_url(settings: VideoSettings, user: User, room_id: str, lang: str = "zh") -> str:
    """A conference room's page (视频会商), for this user."""
    query = urlencode({"lang": lang, "token": _token(settings, user, (room_id,))})
    return f"{public_base(settings)}/room/{quote(room_id)}?{query}"


class VideoUnavailable(RuntimeError):
    """The video server did not open the room; the message says what to check."""


def open_room(settings: VideoSettings, user: User, incident_id: str, title: str) -> str:
    """Ask the video server to open a conference room for the incident; return its id."""
    body = json.dumps({"incident_id": incident_id, "title": title[:120]}).encode()
    request = urllib.request.Request(
        f"http://{settings.host}:{settings.port}/api/rooms", data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {_token(settings, user)}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            room: dict[str, object] = json.loads(answer.read())
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise VideoUnavailable(f"the video server at {settings.host}:{settings.port} did not"
                               f" open a room ({exc}); is `sitroom video` running?") from exc
    return str(room["id"])
