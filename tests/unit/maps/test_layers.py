"""Reading layer files: every format, CRS handling, repair, normalisation and helpful errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, Polygon, shape

from maps import layers
from maps.analysis.geodesy import haversine_m
from maps.crs import Crs, wgs84_to_bd09, wgs84_to_gcj02
from maps.layers import LayerError, LayerKind, parse_crs, read_layer

SITES = [  # (name, kind, lon, lat) in WGS-84, in the city of Xingtai
    ("示范人民医院", "hospital", 114.4950, 37.0725),
    ("示范中学", "school", 114.5060, 37.0655),
    ("示范避难场所", "shelter", 114.5200, 37.0800),
]


def sites_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [s[0] for s in SITES], "kind": [s[1] for s in SITES], "beds": [800, None, None]},
        geometry=[Point(s[2], s[3]) for s in SITES], crs="EPSG:4326")


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def zip_shapefile(frame: gpd.GeoDataFrame, tmp_path: Path) -> Path:
    frame.to_file(tmp_path / "sites.shp", encoding="utf-8")
    archive = tmp_path / "sites.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("sites.*"):
            if part.suffix != ".zip":
                z.write(part, part.name)
    return archive


def write_format(fmt: str, tmp_path: Path) -> Path:
    frame = sites_frame()
    if fmt == "geojson":
        frame.to_file(tmp_path / "sites.geojson")
        return tmp_path / "sites.geojson"
    if fmt == "gpkg":
        frame.to_file(tmp_path / "sites.gpkg", layer="sites")
        return tmp_path / "sites.gpkg"
    if fmt == "zip":
        return zip_shapefile(frame, tmp_path)
    if fmt == "kml":
        frame.to_file(tmp_path / "sites.kml", driver="KML")
        return tmp_path / "sites.kml"
    rows = ["名称,类型,经度,纬度"] + [f"{n},{k},{x},{y}" for n, k, x, y in SITES]
    (tmp_path / "sites.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path / "sites.csv"


def positions(layer: layers.ImportedLayer) -> list[tuple[float, float]]:
    return [tuple(f["geometry"]["coordinates"]) for f in layer.collection["features"]]


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "zip", "kml", "csv"])
def test_every_format_reads_to_the_same_facilities(fmt: str, tmp_path: Path) -> None:
    layer = read_layer(write_format(fmt, tmp_path), kind=LayerKind.FACILITIES)
    features = layer.collection["features"]
    assert [f["properties"]["name"] for f in features] == [s[0] for s in SITES]
    assert [f["properties"]["kind"] for f in features] == [s[1] for s in SITES]
    for (x, y), site in zip(positions(layer), SITES, strict=True):
        assert haversine_m(y, x, site[3], site[2]) < 0.01
    assert layer.source_crs == "EPSG:4326"
    assert len({f["id"] for f in features}) == 3
    assert (layer.repaired, layer.dropped) == (0, 0)


def test_kml_styling_columns_are_left_out(tmp_path: Path) -> None:
    layer = read_layer(write_format("kml", tmp_path), kind=LayerKind.FACILITIES)
    props = layer.collection["features"][0]["properties"]
    assert props["beds"] == 800
    assert not {"tessellate", "extrude", "visibility", "altitudeMode"} & set(props)


@pytest.mark.parametrize("epsg", [3857, 4547])
def test_projected_files_are_reprojected_to_wgs84(epsg: int, tmp_path: Path) -> None:
    path = tmp_path / f"sites_{epsg}.gpkg"
    sites_frame().to_crs(epsg=epsg).to_file(path)
    layer = read_layer(path, kind=LayerKind.FACILITIES)
    assert layer.source_crs == f"EPSG:{epsg}"
    for (x, y), site in zip(positions(layer), SITES, strict=True):
        assert haversine_m(y, x, site[3], site[2]) < 0.01


def test_declared_gcj02_is_converted_to_wgs84(tmp_path: Path) -> None:
    # eviltransform's vector: WGS-84 (116.377817, 39.911954) is GCJ-02 (116.3840472, 39.9133455).
    gcj = (116.38404722455657, 39.91334545536069)
    square = [wgs84_to_gcj02(114.50 + dx, 37.07 + dy) for dx, dy in
              [(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01), (0, 0)]]
    path = write_geojson(tmp_path / "gcj.geojson", [
        {"type": "Feature", "properties": {"name": "天安门"},
         "geometry": {"type": "Point", "coordinates": list(gcj)}},
        {"type": "Feature", "properties": {"name": "square"},
         "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in square]]}},
    ])
    layer = read_layer(path, kind=LayerKind.OTHER, crs=Crs.GCJ02)
    assert layer.source_crs == "gcj02"
    x, y = positions(layer)[0]
    assert haversine_m(y, x, 39.911954, 116.377817) < 0.01
    corners = shapely.get_coordinates(shape(layer.collection["features"][1]["geometry"]))
    expected = [114.50, 37.07, 114.51, 37.07, 114.51, 37.08, 114.50, 37.08, 114.50, 37.07]
    assert corners.ravel().tolist() == pytest.approx(expected, abs=1e-8)


def test_declared_bd09_is_converted_to_wgs84(tmp_path: Path) -> None:
    # Hutool: BD-09 (116.404, 39.915) is WGS-84 (116.3913837, 39.9072532) to within a metre.
    path = tmp_path / "baidu.csv"
    lon, lat = wgs84_to_bd09(114.5, 37.07)
    path.write_text(f"name,lng,lat\nbaidu,116.404,39.915\nxingtai,{lon!r},{lat!r}\n",
                    encoding="utf-8")
    layer = read_layer(path, kind=LayerKind.OTHER, crs="bd09")
    (x1, y1), (x2, y2) = positions(layer)
    assert haversine_m(y1, x1, 39.907253214522164, 116.3913836995125) < 1.0
    assert haversine_m(y2, x2, 37.07, 114.5) < 0.001


def test_a_bow_tie_polygon_is_repaired_into_two_triangles(tmp_path: Path) -> None:
    bow_tie = [[114.50, 37.07], [114.52, 37.09], [114.52, 37.07], [114.50, 37.09],
               [114.50, 37.07]]
    path = write_geojson(tmp_path / "bow.geojson", [
        {"type": "Feature", "properties": {"name": "禁区"},
         "geometry": {"type": "Polygon", "coordinates": [bow_tie]}}])
    layer = read_layer(path, kind=LayerKind.SENSITIVE_AREAS)
    assert layer.repaired == 1
    assert any("repaired" in w for w in layer.warnings)
    geometry = shape(layer.collection["features"][0]["geometry"])
    assert geometry.is_valid and geometry.geom_type == "MultiPolygon"
    assert len(geometry.geoms) == 2
    assert geometry.area == pytest.approx(0.02 * 0.02 / 2)
    props = layer.collection["features"][0]["properties"]
    assert geometry.contains(Point(props["label_lon"], props["label_lat"]))


def test_empty_geometries_are_dropped_and_counted(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "holes.geojson", [
        {"type": "Feature", "properties": {"name": "a"},
         "geometry": {"type": "Point", "coordinates": [114.5, 37.07]}},
        {"type": "Feature", "properties": {"name": "b"}, "geometry": None},
        {"type": "Feature", "properties": {"name": "c"},
         "geometry": {"type": "Polygon", "coordinates": []}},
    ])
    layer = read_layer(path, kind=LayerKind.OTHER)
    assert layer.feature_count == 1 and layer.dropped == 2
    assert any("2 features dropped" in w for w in layer.warnings)


def test_csv_in_gb18030_with_chinese_columns_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "hydrants.csv"
    path.write_bytes("编号,名称,类型,经度,纬度\nH1,消火栓一,消火栓,114.5,37.07\n"
                     "H2,消火栓二,消火栓,,37.08\n".encode("gb18030"))
    layer = read_layer(path, kind=LayerKind.FACILITIES)
    assert layer.feature_count == 1 and layer.dropped == 1
    feature = layer.collection["features"][0]
    assert feature["id"] == "H1"
    assert feature["properties"]["kind"] == "hydrant"
    assert feature["properties"]["name"] == "消火栓一"


def test_csv_named_columns_are_used(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("where,north,east\nsite,37.07,114.5\n", encoding="utf-8")
    layer = read_layer(path, kind=LayerKind.OTHER, lat_column="north", lon_column="east")
    assert positions(layer) == [(114.5, 37.07)]


def test_cameras_keep_direction_and_fov(tmp_path: Path) -> None:
    path = tmp_path / "cams.csv"
    path.write_text("name,lon,lat,heading,fov\nc1,114.5,37.07,450,60\nc2,114.5,37.08,x,0\n",
                    encoding="utf-8")
    layer = read_layer(path, kind=LayerKind.CAMERAS)
    first, second = (f["properties"] for f in layer.collection["features"])
    assert first["kind"] == "camera" and first["direction"] == 90.0 and first["fov"] == 60.0
    assert "direction" not in second and "fov" not in second
    assert any("invalid direction" in w for w in layer.warnings)


def test_population_layer_needs_a_population(tmp_path: Path) -> None:
    cell = {"type": "Polygon", "coordinates": [[[114.5, 37.0], [114.51, 37.0], [114.51, 37.01],
                                                 [114.5, 37.0]]]}
    path = write_geojson(tmp_path / "pop.geojson",
                         [{"type": "Feature", "properties": {"人口": 1200}, "geometry": cell}])
    layer = read_layer(path, kind=LayerKind.POPULATION)
    assert layer.collection["features"][0]["properties"]["population"] == 1200
    write_geojson(path, [{"type": "Feature", "properties": {"name": "x"}, "geometry": cell}])
    with pytest.raises(LayerError, match="population"):
        read_layer(path, kind=LayerKind.POPULATION)


def test_progress_is_reported_per_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "CHUNK", 100)
    frame = gpd.GeoDataFrame({"n": list(range(1000))},
                             geometry=[Point(114.4 + i * 1e-4, 37.0) for i in range(1000)],
                             crs="EPSG:4326")
    frame.to_file(tmp_path / "many.gpkg")
    calls: list[tuple[int, int]] = []
    layer = read_layer(tmp_path / "many.gpkg", kind=LayerKind.OTHER,
                       progress=lambda done, total: calls.append((done, total)))
    assert layer.feature_count == 1000
    assert calls == [(n, 1000) for n in range(100, 1001, 100)]


def test_progress_of_a_geojson_is_reported_as_it_is_processed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "CHUNK", 40)
    features = [{"type": "Feature", "properties": {"n": i},
                 "geometry": {"type": "Point", "coordinates": [114.4 + i * 1e-4, 37.0]}}
                for i in range(100)]
    calls: list[tuple[int, int]] = []
    read_layer(write_geojson(tmp_path / "many.geojson", features), kind=LayerKind.OTHER,
               progress=lambda done, total: calls.append((done, total)))
    assert calls == [(40, 100), (80, 100), (100, 100)]


def test_a_declared_crs_overrides_the_file_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "wrong.geojson"
    sites_frame().to_crs(epsg=4547).set_crs(epsg=3857, allow_override=True).to_file(path)
    layer = read_layer(path, kind=LayerKind.FACILITIES, crs="EPSG:4547")
    assert layer.source_crs == "EPSG:4547"
    assert any("overridden" in w for w in layer.warnings)
    x, y = positions(layer)[0]
    assert haversine_m(y, x, SITES[0][3], SITES[0][2]) < 0.01


def test_a_file_without_crs_in_metres_asks_for_one(tmp_path: Path) -> None:
    path = tmp_path / "metres.csv"
    path.write_text("name,x,y\na,500000.0,4103000.0\n", encoding="utf-8")
    with pytest.raises(LayerError, match="--crs EPSG"):
        read_layer(path, kind=LayerKind.OTHER)
    layer = read_layer(path, kind=LayerKind.OTHER, crs="EPSG:4547")
    x, y = positions(layer)[0]
    assert 114.0 < x < 115.5 and 36.5 < y < 37.5


@pytest.mark.parametrize(("name", "content", "message"), [
    ("garbage.geojson", b"\x00\x01 not json at all", "cannot read"),
    ("table.csv", b"name,colour\na,red\n", "no coordinate columns"),
    ("broken.zip", b"PK not really a zip", "not a valid zip"),
])
def test_unreadable_files_raise_layer_error_saying_what_to_do(
        tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LayerError, match=message):
        read_layer(path, kind=LayerKind.OTHER)


def test_a_shapefile_zip_without_its_parts_is_refused(tmp_path: Path) -> None:
    sites_frame().to_file(tmp_path / "sites.shp")
    with zipfile.ZipFile(tmp_path / "only.zip", "w") as z:
        z.write(tmp_path / "sites.shp", "sites.shp")
    with pytest.raises(LayerError, match=r"\.shx"):
        read_layer(tmp_path / "only.zip", kind=LayerKind.OTHER)


def test_missing_file_and_empty_layer(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="file not found"):
        read_layer(tmp_path / "nope.gpkg", kind=LayerKind.OTHER)
    path = write_geojson(tmp_path / "empty.geojson", [
        {"type": "Feature", "properties": {}, "geometry": None}])
    with pytest.raises(LayerError, match="no usable feature"):
        read_layer(path, kind=LayerKind.OTHER)


def test_parse_crs_accepts_names_and_epsg_codes() -> None:
    assert parse_crs("GCJ02") is Crs.GCJ02
    parsed = parse_crs("EPSG:4547")
    assert not isinstance(parsed, Crs) and parsed.to_epsg() == 4547
    with pytest.raises(LayerError, match="unknown CRS"):
        parse_crs("no such crs")


def test_polygon_features_get_a_label_point_inside(tmp_path: Path) -> None:
    ring = Polygon([(114.50, 37.07), (114.52, 37.07), (114.52, 37.09), (114.51, 37.08),
                    (114.50, 37.09)])
    gpd.GeoDataFrame({"name": ["v"]}, geometry=[ring], crs="EPSG:4326").to_file(
        tmp_path / "v.gpkg")
    props = read_layer(tmp_path / "v.gpkg", kind=LayerKind.OTHER).collection["features"][0][
        "properties"]
    assert ring.contains(Point(props["label_lon"], props["label_lat"]))


def test_duplicate_ids_are_renumbered_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text("id,lon,lat\nA,114.5,37.07\nA,114.6,37.08\n", encoding="utf-8")
    layer = read_layer(path, kind=LayerKind.OTHER)
    assert [f["id"] for f in layer.collection["features"]] == ["A", "1"]
    assert any("duplicate ids" in w for w in layer.warnings)


def test_the_migration_accepts_exactly_the_layer_kinds() -> None:
    sql = (Path(__file__).resolve().parents[3] / "incidents" / "migrations"
           / "0007_layers.sql").read_text(encoding="utf-8")
    listed = sql.split("kind IN (", 1)[1].split(")", 1)[0]
    assert {k.strip().strip("'") for k in listed.replace("\n", " ").split(",")} == {
        k.value for k in LayerKind}
