"""Read vector layers of any common format into clean WGS-84 GeoJSON (图层导入).

``read_layer`` reads whatever GeoPandas / pyogrio (GDAL) reads — GeoJSON, GeoPackage, a zipped
Shapefile, KML/KMZ — and CSV files with coordinate columns. It then, in chunks with progress:

1. drops features without geometry, counting them in a warning (never silently);
2. reprojects any EPSG CRS to WGS-84 (EPSG:4326), and converts GCJ-02 / BD-09 lon/lat (which
   have no EPSG code, so the caller declares them) with ``maps.crs``;
3. repairs invalid geometry with ``shapely.make_valid`` (polygons stay polygons), counting it;
4. normalises the attributes the analysis relies on (``kind``, ``name``, camera ``direction``
   and ``fov``, ``population``) and gives every non-point feature a label point.

The result is a plain GeoJSON FeatureCollection; no GeoDataFrame leaves this module.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from numpy.typing import NDArray

from maps.crs import Crs, to_wgs84_array
from maps.features import FeatureBuilder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (features done, features in all) as a layer is read."""

CHUNK: Final = 10_000
"""Features read and processed per step."""
_CHUNKED_DRIVERS: Final = frozenset({"GPKG", "ESRI Shapefile", "FlatGeobuf"})
"""Drivers read chunk by chunk; others (GeoJSON, KML) re-parse the whole file on every read."""
_WGS84: Final = pyproj.CRS.from_epsg(4326)
_KML_DRIVERS: Final = frozenset({"KML", "LIBKML"})
_KML_STYLING: Final = frozenset({
    "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude", "visibility",
    "draworder", "icon", "snippet",
})
"""Styling columns GDAL's KML drivers add to every placemark; not attributes of the data."""
_COORDINATE_PAIRS: Final = (
    ("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("long", "lat"),
    ("经度", "纬度"), ("x", "y"),
)
"""CSV (lon, lat) column names tried in order, compared case-insensitively."""
_CSV_ENCODINGS: Final = ("utf-8-sig", "gb18030")
"""UTF-8 (with or without BOM) first; Chinese spreadsheets often save GB 18030 / GBK."""


class LayerKind(StrEnum):
    """What a layer holds; decides which attributes are normalised."""

    DISTRICTS = "districts"
    """Administrative divisions."""
    FACILITIES = "facilities"
    """Hospitals, schools, shelters (避难场所), hazardous sites (重大危险源), hydrants …"""
    CAMERAS = "cameras"
    """Video cameras, with ``direction`` (degrees) and ``fov``."""
    SENSITIVE_AREAS = "sensitive_areas"
    """Geofences (敏感区域): polygons, optionally with ``dwell_s``."""
    POPULATION = "population"
    """Population cells with a ``population`` count."""
    ROADS = "roads"
    """Road centre lines."""
    RIVERS = "rivers"
    """River centre lines or water areas."""
    GAUGES = "gauges"
    """Hydrological and water-level stations."""
    OTHER = "other"
    """Anything else, kept as it is."""


class LayerError(Exception):
    """A layer file cannot be imported; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ImportedLayer:
    """A layer read, repaired and converted to WGS-84, ready for the store."""

    kind: LayerKind
    """What the layer holds."""
    source_crs: str
    """CRS the file was in: ``EPSG:xxxx``, ``gcj02`` or ``bd09``."""
    collection: dict[str, Any]
    """GeoJSON FeatureCollection in WGS-84, every feature with an ``id``."""
    repaired: int
    """Features whose geometry was invalid and was repaired."""
    dropped: int
    """Features dropped for an empty or missing geometry (or coordinates, in a CSV)."""
    warnings: tuple[str, ...]
    """Bilingual (zh-CN / en) notes on what was changed or assumed."""

    @property
    def feature_count(self) -> int:
        """Number of features kept."""
        return len(self.collection["features"])


def parse_crs(text: str) -> Crs | pyproj.CRS:
    """Parse a ``--crs`` value: ``wgs84``, ``gcj02``, ``bd09`` or anything pyproj reads."""
    try:
        return Crs(text.strip().lower())
    except ValueError:
        pass
    try:
        return pyproj.CRS.from_user_input(text.strip())
    except pyproj.exceptions.CRSError as exc:
        raise LayerError(f"未知坐标系 {text!r} / unknown CRS {text!r}: use wgs84, gcj02, bd09 "
                         "or an EPSG code such as EPSG:4547") from exc


def parse_kind(text: str) -> LayerKind:
    """Parse a ``--kind`` value into a LayerKind, or raise LayerError listing the kinds."""
    try:
        return LayerKind(text.strip().lower())
    except ValueError as exc:
        choices = ", ".join(k.value for k in LayerKind)
        raise LayerError(f"未知图层类型 {text!r} / unknown layer kind {text!r}; "
                         f"use one of {choices}") from exc


def read_layer(path: str | Path, *, kind: LayerKind | str,
               crs: Crs | str | pyproj.CRS | None = None, progress: Progress | None = None,
               lat_column: str | None = None, lon_column: str | None = None,
               layer: str | None = None) -> ImportedLayer:
    """Read a vector file into a WGS-84 FeatureCollection; raise LayerError if unusable.

    ``crs`` declares the source CRS: needed for GCJ-02 / BD-09 and for files without one
    (a CSV, a Shapefile without .prj); it overrides a CRS the file states, with a warning.
    ``layer`` picks one layer of a multi-layer file; by default all layers are read.
    """
    kind = parse_kind(kind)
    source = Path(path)
    if not source.is_file():
        raise LayerError(f"找不到文件 / file not found: {source}")
    declared = parse_crs(crs) if isinstance(crs, str) else crs
    if declared is Crs.WGS84:
        declared = _WGS84
    builder = FeatureBuilder(kind.value)
    warnings: list[str] = []
    if source.suffix.lower() == ".csv":
        frames = _csv_frames(source, lat_column, lon_column, builder)
    else:
        frames = _vector_frames(source, layer)
    total, chunks = frames
    done = 0
    file_crs: pyproj.CRS | None = None
    transformers: dict[str, pyproj.Transformer] = {}  # built once per source CRS, not per chunk
    for frame in chunks:
        file_crs = frame.crs if frame.crs is not None else file_crs
        geoms = _prepare(frame, declared, builder, transformers)
        builder.add(geoms, frame.drop(columns=frame.geometry.name))
        done += len(frame)
        total = max(total, done)
        if progress is not None:
            progress(done, total)
    source_crs = _describe_source(declared, file_crs, warnings)
    if builder.count == 0:
        raise LayerError(f"{source.name} 中没有可用要素 / has no usable feature "
                         f"({builder.dropped} dropped): check that the file holds geometries "
                         "(for a CSV, name the coordinate columns with --lat-column/--lon-column)")
    if kind is LayerKind.POPULATION and builder.populated == 0:
        raise LayerError(f"{source.name}: 人口图层没有人口字段 / a population layer needs a "
                         "numeric population (or pop, 人口) attribute on its cells")
    warnings.extend(builder.warnings())
    for note in warnings:
        log.warning("%s: %s", source.name, note)
    return ImportedLayer(kind=kind, source_crs=source_crs, collection=builder.collection(),
                         repaired=builder.repaired, dropped=builder.dropped,
                         warnings=tuple(warnings))


def _describe_source(declared: Crs | pyproj.CRS | None, file_crs: pyproj.CRS | None,
                     warnings: list[str]) -> str:
    if isinstance(declared, Crs):
        return declared.value
    if declared is not None:
        if file_crs is not None and not file_crs.equals(declared):
            warnings.append(f"文件坐标系 {_crs_name(file_crs)} 已被指定的 {_crs_name(declared)} "
                            f"覆盖 / the file's CRS {_crs_name(file_crs)} was overridden by the "
                            f"declared {_crs_name(declared)}")
        return _crs_name(declared)
    if file_crs is None:
        warnings.append("文件未声明坐标系，按 WGS-84 经纬度处理 / the file states no CRS; its "
                        "coordinates look like lon/lat and were taken as WGS-84")
        return "EPSG:4326"
    return _crs_name(file_crs)


def _crs_name(crs: pyproj.CRS) -> str:
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.name


def _vector_frames(source: Path, layer: str | None) -> tuple[int, Iterator[gpd.GeoDataFrame]]:
    """(feature count, chunks of at most CHUNK features) of a GDAL-readable file."""
    if source.suffix.lower() == ".zip":
        _check_zip(source)
    try:
        layers = [layer] if layer else [str(row[0]) for row in pyogrio.list_layers(source)]
        infos = [pyogrio.read_info(source, layer=name) for name in layers]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise LayerError(
            f"无法读取 {source.name} / cannot read {source.name}: {exc}. Supported: GeoJSON, "
            "GeoPackage (.gpkg), a zipped Shapefile (.zip with .shp, .shx, .dbf and .prj), "
            "KML/KMZ, and CSV with lon/lat columns; convert other formats first") from exc
    plan: list[tuple[str, str, int, gpd.GeoDataFrame | None]] = []
    for name, info in zip(layers, infos, strict=True):
        count, frame = int(info["features"]), None
        if count < 0:  # the driver (KML) cannot count without reading: read it now
            frame = _read(source, name, info["driver"], 0, None)
            count = len(frame)
        plan.append((name, info["driver"], count, frame))

    def chunks() -> Iterator[gpd.GeoDataFrame]:
        for name, driver, count, frame in plan:
            if frame is None and driver in _CHUNKED_DRIVERS:
                for skip in range(0, count, CHUNK):
                    yield _read(source, name, driver, skip, CHUNK)
                continue
            whole = frame if frame is not None else _read(source, name, driver, 0, None)
            # Read at once, processed (reprojected, repaired, converted) chunk by chunk.
            for start in range(0, len(whole), CHUNK):
                yield whole.iloc[start:start + CHUNK]

    return sum(count for _, _, count, _ in plan), chunks()


def _read(source: Path, layer: str, driver: str, skip: int,
          count: int | None) -> gpd.GeoDataFrame:
    try:
        frame: gpd.GeoDataFrame = pyogrio.read_dataframe(
            source, layer=layer, skip_features=skip, max_features=count)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldTypeError, pyogrio.errors.GeometryError) as exc:
        raise LayerError(f"读取 {source.name} 图层 {layer} 失败 / reading layer {layer} of "
                         f"{source.name} failed: {exc}. Check the file with ogrinfo or "
                         "QGIS") from exc
    if driver in _KML_DRIVERS:
        frame = frame.drop(columns=[c for c in frame.columns if c.lower() in _KML_STYLING])
    return frame


def _check_zip(source: Path) -> None:
    try:
        with zipfile.ZipFile(source) as archive:
            names = [n.lower() for n in archive.namelist()]
    except zipfile.BadZipFile as exc:
        raise LayerError(f"{source.name} 不是有效的 zip / is not a valid zip file") from exc
    shapefiles = [n for n in names if n.endswith(".shp")]
    for shp in shapefiles:
        stem = shp[:-4]
        missing = [ext for ext in (".shx", ".dbf") if stem + ext not in names]
        if missing:
            raise LayerError(f"{source.name}: {shp} 缺少 / lacks {', '.join(missing)}; zip the "
                             "Shapefile with all its parts (.shp, .shx, .dbf, .prj, .cpg)")


def _csv_frames(source: Path, lat_column: str | None, lon_column: str | None,
                builder: FeatureBuilder) -> tuple[int, Iterator[gpd.GeoDataFrame]]:
    table = _read_csv(source)
    lon_name, lat_name = _coordinate_columns(table, lat_column, lon_column, source)
    lons = pd.to_numeric(table[lon_name], errors="coerce").to_numpy(dtype=np.float64)
    lats = pd.to_numeric(table[lat_name], errors="coerce").to_numpy(dtype=np.float64)
    usable = np.isfinite(lons) & np.isfinite(lats)
    builder.drop(int((~usable).sum()), "坐标缺失或非数字 / missing or non-numeric coordinates")
    attributes = table.loc[usable].drop(columns=[lon_name, lat_name]).reset_index(drop=True)
    frame = gpd.GeoDataFrame(attributes, geometry=shapely.points(lons[usable], lats[usable]))

    def chunks() -> Iterator[gpd.GeoDataFrame]:
        for start in range(0, max(1, len(frame)), CHUNK):
            yield frame.iloc[start:start + CHUNK]

    return len(frame), chunks()


def _read_csv(source: Path) -> pd.DataFrame:
    last: Exception | None = None
    for encoding in _CSV_ENCODINGS:
        try:
            return pd.read_csv(source, encoding=encoding, dtype_backend="numpy_nullable")
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise LayerError(f"无法解析 CSV {source.name} / cannot parse the CSV: {exc}") from exc
    raise LayerError(f"{source.name}: 编码不是 UTF-8 或 GB18030 / not UTF-8 or GB 18030 text; "
                     "save it as UTF-8") from last


def _coordinate_columns(table: pd.DataFrame, lat_column: str | None, lon_column: str | None,
                        source: Path) -> tuple[str, str]:
    columns = {str(c).strip().lower(): str(c) for c in table.columns}
    if lat_column or lon_column:
        if lat_column not in table.columns or lon_column not in table.columns:
            raise LayerError(f"{source.name}: 没有列 / has no columns {lon_column!r}, "
                             f"{lat_column!r}; columns are {list(table.columns)}")
        return str(lon_column), str(lat_column)
    for lon_name, lat_name in _COORDINATE_PAIRS:
        if lon_name in columns and lat_name in columns:
            return columns[lon_name], columns[lat_name]
    raise LayerError(f"{source.name}: 找不到经纬度列 / no coordinate columns found among "
                     f"{list(table.columns)}; name them lon/lat, lng/lat, x/y or 经度/纬度, or "
                     "give --lon-column and --lat-column")


def _prepare(frame: gpd.GeoDataFrame, declared: Crs | pyproj.CRS | None,
             builder: FeatureBuilder,
             transformers: dict[str, pyproj.Transformer]) -> NDArray[np.object_]:
    """Geometries of a chunk in WGS-84, 2D and valid; dropped ones become None."""
    geoms: NDArray[np.object_] = shapely.force_2d(frame.geometry.to_numpy())
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    builder.drop(int(missing.sum()), "几何为空 / empty or missing geometry")
    geoms[missing] = None
    source = declared if isinstance(declared, pyproj.CRS) else frame.crs
    if isinstance(declared, Crs) and source is not None and not source.is_geographic:
        raise LayerError(f"声明为 {declared.value} 但文件是投影坐标系 {_crs_name(source)} / "
                         f"declared {declared.value} but the file is in projected "
                         f"{_crs_name(source)}; drop --crs or fix the file")
    if source is not None and not source.equals(_WGS84):
        key = source.to_wkt()
        transformer = transformers.get(key)
        if transformer is None:
            transformer = transformers[key] = pyproj.Transformer.from_crs(source, _WGS84,
                                                                         always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)))
    if isinstance(declared, Crs) and declared is not Crs.WGS84:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(
            to_wgs84_array(declared, xy[:, 0], xy[:, 1])))
    _check_lonlat(geoms, source)
    return builder.repair(geoms)


def _check_lonlat(geoms: NDArray[np.object_], source: pyproj.CRS | None) -> None:
    present = geoms[~shapely.is_missing(geoms)]
    if not present.size:
        return
    coords = shapely.get_coordinates(present)
    bad = ~np.isfinite(coords).all(axis=1)
    bad |= (np.abs(coords[:, 0]) > 180.0) | (np.abs(coords[:, 1]) > 90.0)
    if bad.any():
        where = "未声明坐标系 / no CRS" if source is None else _crs_name(source)
        raise LayerError(f"坐标不是经纬度 / coordinates are not lon/lat degrees ({where}), e.g. "
                         f"{coords[bad][0].tolist()}; declare the source CRS with --crs "
                         "EPSG:xxxx (e.g. EPSG:4547: CGCS2000 3-degree Gauss-Krüger, CM 114°E)")
