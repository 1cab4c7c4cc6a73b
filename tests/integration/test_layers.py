"""Map layers through LayerStore and the importer, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import geopandas as gpd
import pytest
from shapely.geometry import Point

from incidents.layers import LayerExists, LayerNotFound
from incidents.store.layers import LayerStore
from maps.layers import LayerError
from sitroom.layers_cli import import_demo_layers, import_layer_file
from tests.support.db import fetch

pytestmark = pytest.mark.integration


@pytest.fixture
async def layer_store(database_url: str) -> AsyncIterator[LayerStore]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield LayerStore(pool)
    await pool.close()


def collection(*names: str, synthetic: bool = False) -> dict[str, Any]:
    features = [
        {"type": "Feature", "id": f"f{i}",
         "properties": {"kind": "hospital", "name": name, "beds": 100 + i, "tags": ["a", "b"]},
         "geometry": {"type": "Point", "coordinates": [114.5 + i / 100, 37.07]}}
        for i, name in enumerate(names)
    ]
    features.append({
        "type": "Feature", "id": "zone",
        "properties": {"kind": "shelter", "name": "避难场所", "label_lat": 37.08,
                       "label_lon": 114.6},
        "geometry": {"type": "Polygon", "coordinates": [[[114.59, 37.07], [114.61, 37.07],
                                                         [114.61, 37.09], [114.59, 37.07]]]}})
    result: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if synthetic:
        result["synthetic"] = True
    return result


async def test_put_and_read_back_a_layer(layer_store: LayerStore) -> None:
    original = collection("人民医院", "中医院")
    stored = await layer_store.put_layer("hospitals", "facilities", "EPSG:4326", original,
                                         "test data")
    assert stored == 3
    back = await layer_store.feature_collection("hospitals")
    assert back["features"] == original["features"]
    assert (back["name"], back["kind"], back["attribution"], back["synthetic"]) == (
        "hospitals", "facilities", "test data", False)
    (info,) = await layer_store.layers()
    assert (info.name, info.kind, info.source_crs, info.feature_count) == (
        "hospitals", "facilities", "EPSG:4326", 3)


async def test_reimport_replaces_and_refusal_keeps(layer_store: LayerStore,
                                                   database_url: str) -> None:
    await layer_store.put_layer("hospitals", "facilities", "gcj02", collection("a", "b", "c"))
    await layer_store.put_layer("hospitals", "facilities", "EPSG:4326", collection("d"))
    back = await layer_store.feature_collection("hospitals")
    assert [f["properties"]["name"] for f in back["features"]] == ["d", "避难场所"]
    with pytest.raises(LayerExists):
        await layer_store.put_layer("hospitals", "facilities", "EPSG:4326", collection("e"),
                                    replace=False)
    broken = collection("f")
    broken["features"][0]["geometry"] = None
    with pytest.raises(ValueError, match="no geometry"):
        await layer_store.put_layer("hospitals", "facilities", "EPSG:4326", broken)
    back = await layer_store.feature_collection("hospitals")
    assert [f["properties"]["name"] for f in back["features"]] == ["d", "避难场所"]
    rows = await fetch(database_url, "SELECT fid, kind, name, lat, lon, min_lon, max_lon"
                                     " FROM map_features ORDER BY seq")
    assert [tuple(r.values()) for r in rows] == [
        ("f0", "hospital", "d", 37.07, 114.5, 114.5, 114.5),
        ("zone", "shelter", "避难场所", 37.08, 114.6, 114.59, 114.61)]


async def test_collections_by_kind_and_delete(layer_store: LayerStore) -> None:
    await layer_store.put_layer("b_shelters", "facilities", "EPSG:4326", collection("x"))
    await layer_store.put_layer("a_hospitals", "facilities", "EPSG:4326", collection("y", "z"))
    await layer_store.put_layer("fences", "sensitive_areas", "EPSG:4326",
                                collection(synthetic=True))
    found = await layer_store.feature_collections("facilities")
    assert [(c["name"], len(c["features"])) for c in found] == [("a_hospitals", 3),
                                                                 ("b_shelters", 2)]
    (fences,) = await layer_store.feature_collections("sensitive_areas")
    assert fences["synthetic"] is True
    assert await layer_store.delete_layer("b_shelters") is True
    assert await layer_store.delete_layer("b_shelters") is False
    with pytest.raises(LayerNotFound):
        await layer_store.feature_collection("b_shelters")
    assert [i.name for i in await layer_store.layers()] == ["a_hospitals", "fences"]


async def test_import_a_file_end_to_end(database_url: str, tmp_path: Path,
                                        layer_store: LayerStore) -> None:
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame({"name": ["医院", "学校"], "类型": ["医院", "学校"]},
                     geometry=[Point(114.50, 37.07), Point(114.51, 37.08)],
                     crs="EPSG:4326").to_crs(epsg=4547).to_file(path)
    calls: list[tuple[int, int]] = []
    summary = await import_layer_file(database_url, path, name="sites", kind="facilities",
                                      progress=lambda done, total: calls.append((done, total)))
    assert (summary.features, summary.source_crs, summary.dropped) == (2, "EPSG:4547", 0)
    assert calls[-1] == (2, 2)
    back = await layer_store.feature_collection("sites")
    assert [f["properties"]["kind"] for f in back["features"]] == ["hospital", "school"]
    lon, lat = back["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(114.50, abs=1e-7) and lat == pytest.approx(37.07, abs=1e-7)
    with pytest.raises(LayerError, match="unknown layer kind"):
        await import_layer_file(database_url, path, name="x", kind="hospitals")


async def test_import_the_demo_layers(database_url: str, layer_store: LayerStore) -> None:
    summaries = await import_demo_layers(database_url)
    assert all(s.features > 0 and not s.warnings for s in summaries)
    infos = await layer_store.layers()
    assert len(infos) == 7 and all(i.synthetic for i in infos)
    assert all("SYNTHETIC" in i.attribution for i in infos)
    (population,) = await layer_store.feature_collections("population")
    assert sum(f["properties"]["population"] for f in population["features"]) > 7_000_000
