"""HTTP handlers: WHIP and WHEP (RFC 9725 shape), conference joins, and the JSON API.

Every handler verifies the bearer token and the holder's role before doing anything else.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import msgspec
from aiohttp import web

from incidents.video_tokens import (
    Claims,
    Role,
    in_any_room,
    is_admin,
    may_join,
    may_manage_rooms,
    may_publish,
    may_record,
    may_watch,
)
from video.cameras import CameraSpec, add_camera, remove_camera
from video.hub import Conflict, Full, NotFound
from video.peers import Session, SessionKind, browser_ice_servers
from video.registry import StreamInfo, StreamKind, nearest
from video.sdp import Purpose, SdpError, SdpProblem, parse_offer, valid_id
from video.web import HUB, SETTINGS, claims_of, fail, json_response, require

MAX_NEAR_RADIUS_M = 100_000.0
T = TypeVar("T")


class RoomRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /api/rooms."""

    incident_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    """The incident the conference is about."""
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    """Shown to participants."""


class RecordingRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /api/rooms/{id}/recording."""

    action: Literal["start", "stop"]
    """Start or stop recording."""


def _decode(body: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        fail(web.HTTPBadRequest, "bad_request", str(exc))


def _stream_id(request: web.Request) -> str:
    stream_id = request.match_info["stream_id"]
    if not valid_id(stream_id):
        fail(web.HTTPBadRequest, "bad_stream_id",
             "stream ids are 1-64 letters, digits, '.', '_' or '-'")
    return stream_id


async def _offer(request: web.Request, purpose: Purpose) -> str:
    try:
        return parse_offer(await request.read(), request.headers.get("Content-Type"), purpose)
    except SdpError as exc:
        _sdp_failed(exc)


def _sdp_failed(exc: SdpError) -> NoReturn:
    error = (web.HTTPUnsupportedMediaType if exc.problem is SdpProblem.CONTENT_TYPE
             else web.HTTPBadRequest)
    fail(error, str(exc.problem), str(exc))


def _created(answer: str, location: str, extra: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=201, text=answer, content_type="application/sdp",
                        headers={"Location": location, **(extra or {})})


def _float(request: web.Request, name: str, default: float | None = None) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        fail(web.HTTPBadRequest, "bad_query", f"{name} must be a number")
    if not math.isfinite(value):
        fail(web.HTTPBadRequest, "bad_query", f"{name} must be finite")
    return value


def _position(request: web.Request) -> tuple[float | None, float | None]:
    lat, lon = _float(request, "lat"), _float(request, "lon")
    if (lat is None) != (lon is None):
        fail(web.HTTPBadRequest, "bad_query", "give both lat and lon, or neither")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        fail(web.HTTPBadRequest, "bad_query", "lat/lon out of range")
    return lat, lon


async def whip_publish(request: web.Request) -> web.Response:
    """POST /whip/{stream_id}: publish a stream."""
    claims = claims_of(request)
    stream_id = _stream_id(request)
    require(may_publish(claims, stream_id), f"this token may not publish {stream_id}")
    offer = await _offer(request, Purpose.PUBLISH)
    lat, lon = _position(request)
    kind = StreamKind.CAMERA if claims.role is Role.CAMERA else StreamKind.FIELD
    try:
        session, answer = await request.app[HUB].publish(
            stream_id, offer, owner=claims.sub, kind=kind,
            title=request.query.get("title", "")[:100], lat=lat, lon=lon)
    except SdpError as exc:
        _sdp_failed(exc)
    except Full as exc:
        fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "30"})
    except Conflict as exc:
        fail(web.HTTPConflict, "conflict", str(exc))
    return _created(answer, f"/whip/{stream_id}/{session.id}")


async def whep_view(request: web.Request) -> web.Response:
    """POST /whep/{stream_id}: watch a stream."""
    claims = claims_of(request)
    stream_id = _stream_id(request)
    hub = request.app[HUB]
    info = hub.registry.get(stream_id)
    if info is not None and info.kind is StreamKind.CONFERENCE and info.room is not None:
        require(may_join(claims, info.room), "this token is not in that conference")
    else:
        require(may_watch(claims), "this token may not watch streams")
    offer = await _offer(request, Purpose.VIEW)
    try:
        session, answer = await hub.view(stream_id, offer, owner=claims.sub)
    except NotFound as exc:
        fail(web.HTTPNotFound, "no_stream", str(exc))
    except SdpError as exc:
        _sdp_failed(exc)
    except Full as exc:
        fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "30"})
    except Conflict as exc:
        fail(web.HTTPConflict, "conflict", str(exc))
    return _created(answer, f"/whep/{stream_id}/{session.id}")


def _session(request: web.Request, claims: Claims, kind: SessionKind, key: str) -> Session:
    session = request.app[HUB].sessions.get(request.match_info["session"])
    if session is None or session.kind is not kind or (
            (session.room_id if kind is SessionKind.JOIN else session.stream_id)
            != request.match_info[key]):
        fail(web.HTTPNotFound, "no_session", "no such session")
    require(session.owner == claims.sub or is_admin(claims), "not your session")
    return session


async def end_whip(request: web.Request) -> web.Response:
    """DELETE /whip/{stream_id}/{session}: the publisher is done."""
    claims = claims_of(request)
    session = _session(request, claims, SessionKind.PUBLISH, "stream_id")
    await request.app[HUB].end_session(session.id)
    return web.Response(status=200)


async def end_whep(request: web.Request) -> web.Response:
    """DELETE /whep/{stream_id}/{session}: the viewer is done."""
    claims = claims_of(request)
    session = _session(request, claims, SessionKind.VIEW, "stream_id")
    await request.app[HUB].end_session(session.id)
    return web.Response(status=200)


async def no_trickle(request: web.Request) -> web.Response:
    """PATCH on a session: trickle ICE is not offered."""
    claims_of(request)
    text = ('{"error": "no_trickle", '
            '"message": "trickle ICE is not supported: send a complete offer"}')
    raise web.HTTPMethodNotAllowed(request.method, ["DELETE"], text=text,
                                   content_type="application/json")


async def join_room(request: web.Request) -> web.Response:
    """POST /rooms/{room_id}/join: join a conference with audio, video and a data channel."""
    claims = claims_of(request)
    room_id = request.match_info["room_id"]
    require(may_join(claims, room_id), "this token may not join that room")
    offer = await _offer(request, Purpose.PUBLISH)
    try:
        session, participant, answer = await request.app[HUB].join(
            room_id, offer, name=claims.sub, role=str(claims.role))
    except NotFound as exc:
        fail(web.HTTPNotFound, "no_room", str(exc))
    except Full as exc:
        fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "30"})
    except Conflict as exc:
        fail(web.HTTPConflict, "conflict", str(exc))
    except SdpError as exc:
        _sdp_failed(exc)
    return _created(answer, f"/rooms/{room_id}/join/{session.id}",
                    {"X-Sitroom-Participant": participant.id,
                     "X-Sitroom-Stream": participant.stream_id})


async def leave_room(request: web.Request) -> web.Response:
    """DELETE /rooms/{room_id}/join/{session}: leave the conference."""
    claims = claims_of(request)
    session = _session(request, claims, SessionKind.JOIN, "room_id")
    await request.app[HUB].end_session(session.id)
    return web.Response(status=200)


async def config(request: web.Request) -> web.Response:
    """GET /api/config: what the pages need (ICE servers, limits, who I am)."""
    claims = claims_of(request)
    settings = request.app[SETTINGS]
    return json_response({
        "iceServers": browser_ice_servers(settings.ice_servers), "maxGrid": settings.max_grid,
        "maxFileBytes": settings.max_file_bytes, "sub": claims.sub, "role": claims.role,
        "publish": claims.publish, "mayWatch": may_watch(claims)})


def _visible(claims: Claims, info: StreamInfo) -> bool:
    if info.kind is StreamKind.CONFERENCE:
        return info.room is not None and may_join(claims, info.room)
    return may_watch(claims)


async def streams(request: web.Request) -> web.Response:
    """GET /api/streams: every stream this token may watch."""
    claims = claims_of(request)
    require(may_watch(claims) or in_any_room(claims), "this token may not watch streams")
    found = [i for i in request.app[HUB].registry.all() if _visible(claims, i)]
    return json_response({"streams": found})


async def streams_near(request: web.Request) -> web.Response:
    """GET /api/streams/near?lat=&lon=&radius_m=&limit=: nearest streams first."""
    claims = claims_of(request)
    require(may_watch(claims), "this token may not watch streams")
    lat, lon = _position(request)
    if lat is None or lon is None:
        fail(web.HTTPBadRequest, "bad_query", "lat and lon are required")
    radius = _float(request, "radius_m", 5000.0) or 0.0
    limit = _float(request, "limit", 10) or 0
    if not (0 < radius <= MAX_NEAR_RADIUS_M) or not (1 <= limit <= 100):
        fail(web.HTTPBadRequest, "bad_query", "radius_m in (0, 100000], limit in [1, 100]")
    pairs = nearest(request.app[HUB].registry.all(), lat, lon, radius, int(limit))
    docs: list[dict[str, Any]] = [{**msgspec.to_builtins(info), "distance_m": round(m, 1)}
                                  for info, m in pairs]
    return json_response({"streams": docs})


async def create_room(request: web.Request) -> web.Response:
    """POST /api/rooms {incident_id, title}: open a conference."""
    claims = claims_of(request)
    require(may_manage_rooms(claims), "only leaders, operators and admins open rooms")
    body = _decode(await request.read(), RoomRequest)
    try:
        room = request.app[HUB].create_room(body.incident_id, body.title, claims.sub)
    except Full as exc:
        fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "30"})
    return json_response(room.info(), 201, {"Location": f"/room/{room.id}"})


def _room_for(request: web.Request, claims: Claims) -> str:
    room_id = request.match_info["room_id"]
    require(may_join(claims, room_id), "this token may not see that room")
    if room_id not in request.app[HUB].rooms:
        fail(web.HTTPNotFound, "no_room", f"no room {room_id}")
    return room_id


async def room_info(request: web.Request) -> web.Response:
    """GET /api/rooms/{room_id}: the room and who is in it."""
    claims = claims_of(request)
    return json_response(request.app[HUB].room(_room_for(request, claims)).info())


async def room_log(request: web.Request) -> web.Response:
    """GET /api/rooms/{room_id}/log: chat, annotations and files shared, oldest first."""
    claims = claims_of(request)
    return json_response({"log": request.app[HUB].room(_room_for(request, claims)).log})


async def recording(request: web.Request) -> web.Response:
    """POST /api/rooms/{room_id}/recording {action: start|stop}."""
    claims = claims_of(request)
    room_id = _room_for(request, claims)
    require(may_record(claims, room_id), "only leaders, operators and admins record")
    body = _decode(await request.read(), RecordingRequest)
    hub = request.app[HUB]
    if body.action == "start":
        try:
            await hub.start_recording(room_id)
        except Full as exc:
            fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "60"})
        return json_response({"recording": True, "files": []})
    files = await hub.stop_recording(room_id)
    return json_response({"recording": False, "files": [
        {"stream_id": f.stream_id, "path": str(f.path), "started_at": f.started_at,
         "ended_at": f.ended_at, "packets": f.packets} for f in files]})


async def cameras_add(request: web.Request) -> web.Response:
    """POST /api/cameras (admin): pull a camera (RTSP URL or file)."""
    claims = claims_of(request)
    require(is_admin(claims), "only admins add cameras")
    spec = _decode(await request.read(), CameraSpec)
    try:
        await add_camera(request.app[HUB], spec)
    except ValueError as exc:
        fail(web.HTTPBadRequest, "bad_camera", str(exc))
    except Full as exc:
        fail(web.HTTPServiceUnavailable, "full", str(exc), {"Retry-After": "30"})
    except Conflict as exc:
        fail(web.HTTPConflict, "conflict", str(exc))
    return json_response({"id": spec.id, "stream": f"/whep/{spec.id}"}, 201)


async def cameras_remove(request: web.Request) -> web.Response:
    """DELETE /api/cameras/{camera_id} (admin): stop pulling a camera."""
    claims = claims_of(request)
    require(is_admin(claims), "only admins remove cameras")
    if not await remove_camera(request.app[HUB], request.match_info["camera_id"]):
        fail(web.HTTPNotFound, "no_camera", "no such camera")
    return web.Response(status=200)
