"""Turn repaired geometries and attribute rows into GeoJSON features with normalised properties.

Used by ``maps.layers.read_layer``. Attribute names vary between sources (``name`` / ``名称``,
``type`` / ``类型``, ``heading`` / ``方向`` …); this module maps the common ones to the names the
analysis reads, keeps every other attribute as it is, and counts whatever it drops or repairs so
that the import can say so.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from incidents.facilities import FacilityKind as FacilityKind  # named in incidents, once

_CHINESE_KINDS: Final = {
    "医院": FacilityKind.HOSPITAL, "学校": FacilityKind.SCHOOL,
    "避难场所": FacilityKind.SHELTER, "应急避难场所": FacilityKind.SHELTER,
    "重大危险源": FacilityKind.HAZARDOUS_SITE, "危险源": FacilityKind.HAZARDOUS_SITE,
    "水库": FacilityKind.RESERVOIR, "消火栓": FacilityKind.HYDRANT,
    "消防栓": FacilityKind.HYDRANT, "消防站": FacilityKind.FIRE_STATION,
    "摄像机": FacilityKind.CAMERA, "摄像头": FacilityKind.CAMERA,
    "水位站": FacilityKind.RIVER_GAUGE, "水文站": FacilityKind.RIVER_GAUGE,
}
"""Chinese kind names met in registers, mapped to the codes."""

_DEFAULT_KIND: Final = {
    "districts": "district", "facilities": "other", "cameras": "camera",
    "sensitive_areas": "sensitive_area", "population": "population_cell", "roads": "road",
    "rivers": "river", "gauges": "river_gauge", "other": "other",
}
"""Feature kind when a feature names none, by layer kind."""

_ID_COLUMNS: Final = ("id", "fid", "编号")
_NAME_COLUMNS: Final = ("name", "名称", "title", "标题")
_KIND_COLUMNS: Final = ("kind", "type", "category", "类型", "类别")
_DIRECTION_COLUMNS: Final = ("direction", "heading", "azimuth", "方向", "朝向", "方位角")
_FOV_COLUMNS: Final = ("fov", "field_of_view", "视场角")
_POPULATION_COLUMNS: Final = ("population", "pop", "人口")
_DWELL_COLUMNS: Final = ("dwell_s", "dwell", "停留秒数")


def json_value(value: Any) -> Any:
    """A JSON-safe form of an attribute value; None for missing, NaN and binary values."""
    if isinstance(value, str):  # the common cases first: this runs for every attribute
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [json_value(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or isinstance(value, bytes):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


Roles = dict[str, tuple[str, ...]]
"""For each normalised attribute, the chunk's columns that may hold it, in priority order."""

_ROLES: Final = {"id": _ID_COLUMNS, "name": _NAME_COLUMNS, "kind": _KIND_COLUMNS,
                 "direction": _DIRECTION_COLUMNS, "fov": _FOV_COLUMNS,
                 "population": _POPULATION_COLUMNS, "dwell_s": _DWELL_COLUMNS}


def resolve_roles(columns: Sequence[str]) -> Roles:
    """Match a chunk's column names (case-insensitively) to the attributes normalised."""
    return {role: tuple(c for name in names for c in columns if c.lower() == name)
            for role, names in _ROLES.items()}


def _first(row: dict[str, Any], keys: Sequence[str]) -> tuple[str, Any] | None:
    for key in keys:
        value = row.get(key)
        if value is not None and value != "":
            return key, value
    return None


class FeatureBuilder:
    """Accumulates the features of one layer, with counts of what was dropped or repaired."""

    def __init__(self, layer_kind: str) -> None:
        """Start an empty layer of the given ``LayerKind`` value."""
        self._kind = layer_kind
        self._features: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._next_id = 1
        self._dropped: Counter[str] = Counter()
        self._notes: Counter[str] = Counter()
        self.repaired = 0
        """Geometries repaired by make_valid."""
        self.populated = 0
        """Population cells that carried a population value."""

    @property
    def count(self) -> int:
        """Features kept so far."""
        return len(self._features)

    @property
    def dropped(self) -> int:
        """Features dropped so far, for any reason."""
        return sum(self._dropped.values())

    def drop(self, count: int, reason: str) -> None:
        """Record ``count`` features dropped for ``reason``."""
        if count:
            self._dropped[reason] += count

    def repair(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """Make invalid geometries valid (polygons stay polygonal); collapsed ones become None."""
        present = ~shapely.is_missing(geoms)
        invalid = present & ~shapely.is_valid(geoms)
        if not invalid.any():
            return geoms
        self.repaired += int(invalid.sum())
        fixed = geoms.copy()
        polygonal = invalid & np.isin(shapely.get_type_id(geoms), (3, 6))
        # "structure" rebuilds polygons from their rings (a bow-tie becomes two triangles)
        # and, with keep_collapsed=False, never turns an area into stray lines.
        fixed[polygonal] = shapely.make_valid(geoms[polygonal], method="structure",
                                              keep_collapsed=False)
        other = invalid & ~polygonal
        fixed[other] = shapely.make_valid(geoms[other])
        collapsed = invalid & (shapely.is_missing(fixed) | shapely.is_empty(fixed))
        self.drop(int(collapsed.sum()), "修复后几何退化为空 / geometry collapsed when repaired")
        fixed[collapsed] = None
        return fixed

    def add(self, geoms: NDArray[np.object_], attributes: pd.DataFrame) -> None:
        """Add one chunk: geometries (None = dropped) and their attribute rows, aligned."""
        rows = attributes.to_dict("records")
        roles = resolve_roles([str(c) for c in attributes.columns])
        keep = np.flatnonzero(~shapely.is_missing(geoms))
        kept = geoms[keep]
        non_point = shapely.get_type_id(kept) != 0
        # Points (most features) are written directly; other shapes go through GEOS's GeoJSON.
        texts = iter(shapely.to_geojson(kept[non_point]).tolist())
        xs, ys = shapely.get_x(kept).tolist(), shapely.get_y(kept).tolist()
        labels = shapely.point_on_surface(kept[non_point])
        label_iter = iter(zip(shapely.get_x(labels).tolist(), shapely.get_y(labels).tolist(),
                              strict=True))
        for position, is_shape, x, y in zip(keep.tolist(), non_point.tolist(), xs, ys,
                                            strict=True):
            raw = {str(k): json_value(v) for k, v in rows[position].items()}
            props = self._properties(raw, roles)
            if is_shape:
                geometry = json.loads(next(texts))
                lon, lat = next(label_iter)
                props.setdefault("label_lat", round(lat, 6))
                props.setdefault("label_lon", round(lon, 6))
            else:
                geometry = {"type": "Point", "coordinates": [x, y]}
            self._features.append({"type": "Feature", "id": self._feature_id(props, roles),
                                   "properties": props, "geometry": geometry})

    def _feature_id(self, props: dict[str, Any], roles: Roles) -> str:
        found = _first(props, roles["id"])
        if found is not None and str(found[1]) not in self._ids:
            fid = str(found[1])
        else:
            if found is not None:
                self._notes["重复编号已重新编号 / duplicate ids given new ones"] += 1
            while str(self._next_id) in self._ids:
                self._next_id += 1
            fid = str(self._next_id)
        self._ids.add(fid)
        return fid

    def _properties(self, raw: dict[str, Any], roles: Roles) -> dict[str, Any]:
        # Missing values are left out: a GeoJSON reader treats an absent property as null.
        props = {k: v for k, v in raw.items() if v is not None}
        name = _first(props, roles["name"])
        if name is not None and "name" not in props:
            props["name"] = str(props.pop(name[0]))
        kind = _first(props, roles["kind"])
        if kind is not None:
            text = str(kind[1]).strip()
            props["kind"] = str(_CHINESE_KINDS.get(text, text))
        else:
            props["kind"] = _DEFAULT_KIND[self._kind]
            if self._kind == "facilities":
                self._notes["设施缺少类型 / facilities without a kind (set to other)"] += 1
        if self._kind == "cameras":
            self._angle(props, "direction", roles["direction"])
            self._angle(props, "fov", roles["fov"])
        elif self._kind == "population":
            found = _first(props, roles["population"])
            value = _number(found[1]) if found is not None else None
            if value is None or value < 0:
                self._notes["人口缺失 / population cells without a population (counted 0)"] += 1
                value = 0.0
            else:
                self.populated += 1
            props["population"] = int(value) if value.is_integer() else value
        elif self._kind == "sensitive_areas":
            found = _first(props, roles["dwell_s"])
            dwell = _number(found[1]) if found is not None else None
            if dwell is not None and dwell >= 0:
                props["dwell_s"] = dwell
        return props

    def _angle(self, props: dict[str, Any], target: str, keys: Sequence[str]) -> None:
        """Normalise a camera angle: a direction is taken modulo 360, a fov must be 0–360."""
        found = _first(props, keys)
        if found is None:
            return
        value = _number(found[1])
        if value is not None and target == "direction":
            value %= 360.0
        if value is None or not 0.0 <= value <= 360.0 or (target == "fov" and value == 0.0):
            self._notes[f"{target} 无效已忽略 / invalid {target} ignored"] += 1
            props.pop(found[0])
            return
        props[target] = value

    def warnings(self) -> list[str]:
        """Bilingual notes: one per drop reason and per normalisation problem, with counts."""
        notes = [f"已丢弃 {n} 个要素：{reason} / {n} features dropped: {reason}"
                 for reason, n in self._dropped.items()]
        if self.repaired:
            notes.append(f"已修复 {self.repaired} 个无效几何 / {self.repaired} invalid "
                         "geometries repaired")
        notes.extend(f"{note}: {n}" for note, n in self._notes.items())
        return notes

    def collection(self) -> dict[str, Any]:
        """The features so far as a FeatureCollection."""
        return {"type": "FeatureCollection", "features": self._features}
