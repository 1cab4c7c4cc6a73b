"""The `streams` blueprint: every live video stream with a position as GeoJSON (the map's
video layer), and the streams nearest an incident with a link that plays them."""

from __future__ import annotations

from typing import Any

import msgspec
import redis
from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.command_api import CommandAccess
from dashboard.jsonapi import int_arg, json_response
from dashboard.video_links import watch_url
from maps.analysis.geodesy import haversine_m


class StreamView(msgspec.Struct, frozen=True, kw_only=True):
    """A stream as the video server lists it in Redis (`{prefix}video:streams`)."""

    id: str
    """Stream id."""
    owner: str
    """The unit or camera that publishes it."""
    kind: str
    """field, camera or conference."""
    title: str
    """What to call it."""
    state: str
    """live, interrupted or ended."""
    lat: float | None = None
    """Where it is (following its unit), if known."""
    lon: float | None = None
    """Where it is, if known."""


_decoder = msgspec.json.Decoder(StreamView)
EXTENSION = "sitroom.streams_redis"
"""Where the app keeps the Redis client the stream routes read (closed by close_app)."""


def streams_geojson(streams: list[StreamView]) -> dict[str, Any]:
    """Streams that have a position, as map features."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": s.id,
         "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
         "properties": {"id": s.id, "name": s.title, "kind": "camera", "stream": s.kind,
                        "state": s.state, "owner": s.owner}}
        for s in streams if s.lat is not None and s.lon is not None]}


def nearest(streams: list[StreamView], lat: float, lon: float, radius_m: float,
            limit: int) -> list[tuple[StreamView, float]]:
    """Live or interrupted streams within `radius_m`, nearest first."""
    found = [(s, haversine_m(lat, lon, s.lat, s.lon)) for s in streams
             if s.lat is not None and s.lon is not None and s.state != "ended"]
    return sorted((p for p in found if p[1] <= radius_m), key=lambda p: p[1])[:limit]


def streams_blueprint(settings: Settings, access: CommandAccess) -> Blueprint:
    """The stream routes; their Redis client is kept in the app's extensions (see EXTENSION)."""
    routes = Blueprint("streams", __name__)
    client = redis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    key = settings.redis_prefix + "video:streams"
    service, run = access.service, access.run

    def keep_client(state: BlueprintSetupState) -> None:
        state.app.extensions[EXTENSION] = client

    routes.record_once(keep_client)

    def streams() -> list[StreamView]:
        if client is None:
            return []
        return [_decoder.decode(doc) for doc in client.hvals(key)]

    @routes.get("/api/streams")
    def all_streams() -> Response:
        """Every stream with a position (GeoJSON)."""
        require(Action.VIEW)
        return json_response(streams_geojson(streams()))

    @routes.get("/api/incidents/<incident_id>/video")
    def incident_video(incident_id: str) -> Response:
        """The streams nearest the incident and a page that plays them (up to 16)."""
        user = require(Action.VIEW)
        incident = run(service().incident, incident_id)
        radius = int_arg("radius_m", 3000, 100, 50_000)
        found = nearest(streams(), incident.lat, incident.lon, radius,
                        int_arg("limit", 4, 1, 16))
        ids = [s.id for s, _ in found]
        return json_response({
            "streams": [{"id": s.id, "title": s.title, "kind": s.kind, "state": s.state,
                         "distance_m": round(d)} for s, d in found],
            "url": watch_url(settings.video, user, ids, request.args.get("lang", "zh"))
            if ids else None})

    return routes
