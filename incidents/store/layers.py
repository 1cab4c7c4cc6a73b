"""Map layers in PostgreSQL: every SQL statement on ``map_layers`` and ``map_features``.

The store speaks plain GeoJSON dicts (no GeoPandas, no shapely): ``maps.layers`` reads and
cleans files, this module keeps them. Each feature's bounding box and representative point are
derived here from its coordinates (the point: the feature's own point, its ``label_lat`` /
``label_lon`` properties, or the middle of its box).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import asyncpg

from incidents.layers import LayerExists, LayerInfo, LayerNotFound
from incidents.store.session import connection, transaction

_FEATURE_COLUMNS = ("layer", "fid", "seq", "kind", "name", "props", "geometry",
                    "min_lat", "min_lon", "max_lat", "max_lon", "lat", "lon")


def _positions(coordinates: Any) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) position of a GeoJSON coordinates array, however nested."""
    if coordinates and isinstance(coordinates[0], int | float):
        yield float(coordinates[0]), float(coordinates[1])
        return
    for part in coordinates:
        yield from _positions(part)


def _geometry_positions(geometry: Mapping[str, Any]) -> Iterator[tuple[float, float]]:
    if geometry["type"] == "GeometryCollection":
        for member in geometry["geometries"]:
            yield from _geometry_positions(member)
    else:
        yield from _positions(geometry["coordinates"])


def feature_row(layer: str, seq: int, feature: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``map_features`` row of one GeoJSON feature (columns as ``_FEATURE_COLUMNS``)."""
    geometry = feature.get("geometry")
    if not geometry:
        raise ValueError(f"feature {seq} of layer {layer!r} has no geometry")
    positions = list(_geometry_positions(geometry))
    if not positions:
        raise ValueError(f"feature {seq} of layer {layer!r} has an empty geometry")
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    box = (min(lats), min(lons), max(lats), max(lons))
    props: Mapping[str, Any] = feature.get("properties") or {}
    label_lat, label_lon = props.get("label_lat"), props.get("label_lon")
    if geometry["type"] == "Point":
        lat, lon = lats[0], lons[0]
    elif isinstance(label_lat, int | float) and isinstance(label_lon, int | float):
        lat, lon = float(label_lat), float(label_lon)
    else:
        lat, lon = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    fid = str(feature.get("id", seq))
    return (layer, fid, seq, str(props.get("kind") or ""), str(props.get("name") or ""),
            json.dumps(dict(props), ensure_ascii=False), json.dumps(geometry), *box, lat, lon)


class LayerStore:
    """Layers and their features, over an asyncpg pool the caller owns."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use ``pool``; the caller closes it."""
        self._pool = pool

    async def put_layer(self, name: str, kind: str, source_crs: str,
                        feature_collection: Mapping[str, Any], attribution: str = "",
                        replace: bool = True) -> int:
        """Store a layer in one transaction, replacing one of the same name; return its size.

        Raises LayerExists when the name is taken and ``replace`` is False, and ValueError
        for a feature without geometry (nothing is stored then).
        """
        features = feature_collection["features"]
        rows = [feature_row(name, seq, f) for seq, f in enumerate(features)]
        if len({row[1] for row in rows}) != len(rows):
            raise ValueError(f"feature ids of layer {name!r} are not unique")
        synthetic = feature_collection.get("synthetic") is True
        async with transaction(self._pool) as conn:
            # Two imports of one new name would both find no row to lock: serialise on the name.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('map_layer:' || $1))", name)
            exists = await conn.fetchval("SELECT true FROM map_layers WHERE name = $1", name)
            if exists and not replace:
                raise LayerExists(f"layer {name!r} exists; import it with replace to overwrite")
            await conn.execute("DELETE FROM map_features WHERE layer = $1", name)
            await conn.execute(
                "INSERT INTO map_layers (name, kind, source_crs, feature_count, attribution,"
                " synthetic) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,"
                " source_crs = excluded.source_crs, feature_count = excluded.feature_count,"
                " attribution = excluded.attribution, synthetic = excluded.synthetic,"
                " imported_at = now()",
                name, kind, source_crs, len(rows), attribution, synthetic)
            await conn.copy_records_to_table("map_features", records=rows,
                                             columns=_FEATURE_COLUMNS)
        return len(rows)

    async def delete_layer(self, name: str) -> bool:
        """Delete a layer and its features; False if there was none."""
        async with connection(self._pool) as conn:
            status = await conn.execute("DELETE FROM map_layers WHERE name = $1", name)
        return bool(status != "DELETE 0")

    async def layers(self) -> list[LayerInfo]:
        """Every stored layer, by kind then name."""
        async with connection(self._pool) as conn:
            rows = await conn.fetch(
                "SELECT name, kind, source_crs, feature_count, imported_at, attribution,"
                " synthetic FROM map_layers ORDER BY kind, name")
        return [LayerInfo(**dict(r.items())) for r in rows]

    async def feature_collection(self, name: str) -> dict[str, Any]:
        """One layer as a GeoJSON FeatureCollection, features in import order."""
        async with connection(self._pool) as conn:
            info = await conn.fetchrow(
                "SELECT kind, attribution, synthetic FROM map_layers WHERE name = $1", name)
            if info is None:
                raise LayerNotFound(f"no layer {name!r}")
            rows = await conn.fetch(
                "SELECT fid, props::text AS props, geometry::text AS geometry FROM map_features"
                " WHERE layer = $1 ORDER BY seq", name)
        return _collection(name, info, rows)

    async def feature_collections(self, kind: str) -> list[dict[str, Any]]:
        """Every layer of one kind (e.g. all facilities layers), by name."""
        async with connection(self._pool) as conn:
            infos = await conn.fetch(
                "SELECT name, kind, attribution, synthetic FROM map_layers WHERE kind = $1"
                " ORDER BY name", kind)
            rows = await conn.fetch(
                "SELECT f.layer, f.fid, f.props::text AS props, f.geometry::text AS geometry"
                " FROM map_features f JOIN map_layers l ON l.name = f.layer"
                " WHERE l.kind = $1 ORDER BY f.layer, f.seq", kind)
        by_layer: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_layer.setdefault(row["layer"], []).append(row)
        return [_collection(i["name"], i, by_layer.get(i["name"], [])) for i in infos]


def _collection(name: str, info: asyncpg.Record,
                rows: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection", "name": name, "kind": info["kind"],
        "attribution": info["attribution"], "synthetic": info["synthetic"],
        "features": [
            {"type": "Feature", "id": r["fid"], "properties": json.loads(r["props"]),
             "geometry": json.loads(r["geometry"])}
            for r in rows
        ],
    }
