"""The `map` blueprint: local raster tiles, the stored layers as GeoJSON, incident hotspots,
and draw-to-query.

    GET  /tiles/{z}/{x}/{y}.{png|jpg|webp}   tiles of `map.tiles_file` (MBTiles or PMTiles)
    GET  /api/layers                          the stored layers
    GET  /api/layers/<name>.geojson           one layer (?kind=a,b / ?exclude_kind=a,b)
    GET  /api/layers/by-kind/<kind>.geojson   every layer of one layer kind, merged
    GET  /api/hotspots?hours=24&resolution=8  H3 hexagons of the incidents reported lately
    POST /api/analysis/inside                 what lies inside a drawn polygon or circle

Every route is behind the sign-in guard (tiles like pages, by session; /api also by token).
Answers that do not change often carry an ETag, so a reload costs a 304.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState

from config.settings import Settings
from dashboard.auth import Action, require
from dashboard.command_schema import Problem
from dashboard.command_wiring import spatial_from_store
from dashboard.jsonapi import BadRequest, int_arg, json_response, problem_response
from dashboard.map_inside import InvalidZone, inside, parse_inside
from dashboard.portal import AsyncBridge
from incidents.layers import LayerNotFound
from incidents.live import LiveState, LiveUnavailable
from incidents.model import Incident, UnitState
from incidents.store import Store
from incidents.store.layers import LayerStore
from maps.analysis.hotspots import incident_hotspots
from maps.analysis.spatial import LayerSpatial
from maps.layers import LayerKind
from maps.tiles import TileFormat, TileReader, open_tiles, tile_etag

TILE_CACHE: Final = "private, max-age=86400"
"""Tiles change only when the file is replaced; the ETag catches that on revalidation."""
MISSING_TILE_CACHE: Final = "private, max-age=600"
LAYER_CACHE: Final = "private, no-cache"
"""Layers change on import: always revalidate, answered by a 304 when unchanged."""
HOTSPOT_MAX_INCIDENTS: Final = 50_000
"""Most incidents counted into hotspots (the most recent ones)."""
TILES_EXTENSION: Final = "sitroom.tiles"
"""Key of the open tile reader in the Flask server's extensions (to close it on shutdown)."""

_encoder = msgspec.json.Encoder()


class SpatialCache:
    """The spatial indexes of the stored layers, rebuilt when a layer is imported or deleted."""

    def __init__(self) -> None:
        """Start empty: the first query builds the indexes."""
        self._key: tuple[tuple[Any, ...], ...] | None = None
        self._spatial: LayerSpatial | None = None
        self._lock = asyncio.Lock()

    async def get(self, store: Store) -> LayerSpatial:
        """The indexes for the layers stored now (call on the bridge's loop)."""
        infos = await LayerStore(store.pool).layers()
        key = tuple((i.name, i.kind, i.imported_at, i.feature_count) for i in infos)
        async with self._lock:
            if self._spatial is None or key != self._key:
                self._spatial = await spatial_from_store(store)
                self._key = key
            return self._spatial


def _kinds_arg(name: str) -> frozenset[str] | None:
    values = {v.strip() for raw in request.args.getlist(name) for v in raw.split(",")}
    values.discard("")
    return frozenset(values) if values else None


def filter_features(features: Iterable[Mapping[str, Any]], kinds: frozenset[str] | None,
                    excluded: frozenset[str] | None) -> list[Mapping[str, Any]]:
    """Features whose ``properties.kind`` is among ``kinds`` (all when None) and not among
    ``excluded``."""
    def kind_of(feature: Mapping[str, Any]) -> str:
        return str((feature.get("properties") or {}).get("kind") or "")

    return [f for f in features
            if (kinds is None or kind_of(f) in kinds)
            and (excluded is None or kind_of(f) not in excluded)]


def merge_layers(collections: Iterable[Mapping[str, Any]], kinds: frozenset[str] | None,
                 excluded: frozenset[str] | None) -> dict[str, Any]:
    """Layers as one FeatureCollection; each feature's id becomes ``layer:id`` and its
    properties name the layer."""
    features = [
        {**feature, "id": f"{fc['name']}:{feature['id']}",
         "properties": {**(feature.get("properties") or {}), "layer": fc["name"]}}
        for fc in collections
        for feature in filter_features(fc["features"], kinds, excluded)
    ]
    return {"type": "FeatureCollection", "features": features}


def _conditional(body: bytes, mimetype: str, cache: str) -> Response:
    response = Response(body, mimetype=mimetype, headers={"Cache-Control": cache})
    response.set_etag(tile_etag(body))
    response.make_conditional(request)  # turns itself into a 304 when the client's tag matches
    return response


def _geojson(doc: Mapping[str, Any]) -> Response:
    return _conditional(_encoder.encode(doc), "application/geo+json", LAYER_CACHE)


async def _live_snapshot(live: LiveState) -> tuple[list[UnitState], list[Incident]] | None:
    try:
        units, incidents = await asyncio.gather(live.units(), live.incidents())
    except LiveUnavailable:
        return None
    return units, incidents


def _add_tiles(routes: Blueprint, reader: TileReader | None) -> None:
    """Serve `reader`'s tiles at /tiles/{z}/{x}/{y}.{ext} (ext: the file's format); without a
    reader every tile is a 404 (not the Dash page a browser would get for an unknown path)."""
    served = reader.info.format if reader is not None else None

    @routes.get("/tiles/<int:z>/<int:x>/<int:y>.<ext>")
    def tile(z: int, x: int, y: int, ext: str) -> Response:
        require(Action.VIEW)
        wanted = reader is not None and served is not None and TileFormat.parse(ext) is served
        data = reader.tile(z, x, y) if reader is not None and wanted else None
        if data is None or served is None:
            return Response(b"", status=404, headers={"Cache-Control": MISSING_TILE_CACHE})
        return _conditional(data, served.media_type, TILE_CACHE)


def map_blueprint(bridge: AsyncBridge, settings: Settings) -> Blueprint:
    """The map routes; opens `map.tiles_file` now, so a bad file stops the start-up
    (raises maps.tiles.TileError saying why)."""
    routes = Blueprint("map", __name__)
    reader = None
    if settings.map.tiles_file is not None:
        reader = open_tiles(settings.map.tiles_file)

        def keep_reader(state: BlueprintSetupState) -> None:
            state.app.extensions[TILES_EXTENSION] = reader

        routes.record_once(keep_reader)
    _add_tiles(routes, reader)
    spatial = SpatialCache()

    @routes.get("/api/layers")
    def layers() -> Response:
        """The stored layers, with the URL of each as GeoJSON."""
        require(Action.VIEW)

        async def query() -> Any:
            return await LayerStore((await bridge.store()).pool).layers()
        infos = bridge.call(query)
        return json_response([{
            "name": i.name, "kind": i.kind, "source_crs": i.source_crs,
            "feature_count": i.feature_count, "imported_at": i.imported_at,
            "attribution": i.attribution, "synthetic": i.synthetic,
            "url": f"/api/layers/{i.name}.geojson"} for i in infos])

    @routes.get("/api/layers/<name>.geojson")
    def layer(name: str) -> Response:
        """One stored layer as GeoJSON, optionally only some feature kinds."""
        require(Action.VIEW)
        kinds, excluded = _kinds_arg("kind"), _kinds_arg("exclude_kind")

        async def query() -> Any:
            return await LayerStore((await bridge.store()).pool).feature_collection(name)
        try:
            found: dict[str, Any] = bridge.call(query)
        except LayerNotFound:
            return problem_response(404, Problem(
                error=f"no layer {name!r}", error_zh=f"没有名为 {name} 的图层",
                hint="GET /api/layers lists the stored layers"))
        found["features"] = filter_features(found["features"], kinds, excluded)
        return _geojson(found)

    @routes.get("/api/layers/by-kind/<layer_kind>.geojson")
    def layers_of_kind(layer_kind: str) -> Response:
        """Every stored layer of one kind (facilities, cameras, roads …) as one collection."""
        require(Action.VIEW)
        try:
            kind = LayerKind(layer_kind)
        except ValueError:
            raise BadRequest(f"unknown layer kind {layer_kind!r}; use one of"
                             f" {', '.join(k.value for k in LayerKind)}",
                             f"未知图层类型 {layer_kind}") from None
        kinds, excluded = _kinds_arg("kind"), _kinds_arg("exclude_kind")

        async def query() -> Any:
            return await LayerStore((await bridge.store()).pool).feature_collections(kind)
        return _geojson(merge_layers(bridge.call(query), kinds, excluded))

    @routes.get("/api/hotspots")
    def hotspots() -> Response:
        """H3 hexagons counting the incidents reported in the last `hours`."""
        require(Action.VIEW)
        hours = int_arg("hours", 24, 1, 24 * 31)
        resolution = int_arg("resolution", 8, 5, 10)
        end = datetime.now(UTC)
        start = end - timedelta(hours=hours)

        async def query() -> Any:
            store = await bridge.store()
            return await store.commands.list_incidents(
                status=None, levels=None, types=None, since=start, limit=HOTSPOT_MAX_INCIDENTS)
        found: list[Incident] = bridge.call(query)
        # The window's end is open: an incident reported this very microsecond still counts.
        doc = incident_hotspots(found, start=start, end=end + timedelta(seconds=1),
                                resolution=resolution)
        doc["window"] = {"start": start.isoformat(), "end": end.isoformat(), "hours": hours,
                         "resolution": resolution, "incidents": len(found)}
        return _geojson(doc)

    @routes.post("/api/analysis/inside")
    def analysis_inside() -> Response:
        """Facilities, population, units and incidents inside a drawn polygon or circle."""
        require(Action.VIEW)
        if not request.is_json:
            raise BadRequest("send a JSON body with Content-Type: application/json",
                             "请以 application/json 发送 JSON 请求体")
        try:
            zone = parse_inside(request.get_data())
        except InvalidZone as exc:
            return problem_response(400, Problem(error=exc.en, error_zh=exc.zh,
                                                 hint="see docs/maps.md, draw-to-query"))

        async def query() -> Any:
            store = await bridge.store()
            found, live = await asyncio.gather(spatial.get(store), _live_snapshot(bridge.live))
            return found, live
        found, live = bridge.call(query)
        return json_response(inside(zone, found, live, datetime.now(UTC),
                                    settings.unit_online_s))

    return routes
