"""Facilities and population near a point or inside a zone (an evacuation area, a plume).

``FacilityIndex`` holds the representative points of facility and camera features in numpy
arrays: a query cuts a degree box around the circle, then measures great-circle distances on the
few points left. ``PopulationGrid`` holds the cells of a population layer; a cell partly inside
a zone counts by the share of its area inside (shares are taken in degrees, where cells of a few
kilometres keep their proportions to within 0.1 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape

from incidents.spatial import Facility
from maps.analysis.geodesy import circle, degrees_for, haversine_array_m

Scalar = str | int | float | bool | None

_RESERVED = frozenset({"kind", "name", "label_lat", "label_lon"})


def representative_point(feature: Mapping[str, Any]) -> tuple[float, float]:
    """(lat, lon) of a point on the feature: the point itself, its label point, or on-surface."""
    geometry = feature["geometry"]
    if geometry["type"] == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lat), float(lon)
    props = feature.get("properties") or {}
    if isinstance(props.get("label_lat"), float | int) and isinstance(
        props.get("label_lon"), float | int
    ):
        return float(props["label_lat"]), float(props["label_lon"])
    point = shape(geometry).point_on_surface()
    return float(point.y), float(point.x)


def _scalar_properties(props: Mapping[str, Any]) -> dict[str, Scalar]:
    return {
        str(k): v
        for k, v in props.items()
        if k not in _RESERVED and (v is None or isinstance(v, str | int | float | bool))
    }


class FacilityIndex:
    """Points of facility-like layers (hospitals, shelters, cameras …), queried by distance."""

    __slots__ = ("_facilities", "_kinds", "_lats", "_lons")

    def __init__(self, facilities: Sequence[Facility]) -> None:
        """Index facilities given with their place (their ``distance_m`` is ignored)."""
        # Kept with distance 0 and copied with the real distance into each answer.
        self._facilities = tuple(facilities)
        self._lats: NDArray[np.float64] = np.array([f.lat for f in facilities], dtype=np.float64)
        self._lons: NDArray[np.float64] = np.array([f.lon for f in facilities], dtype=np.float64)
        self._kinds: NDArray[np.str_] = np.array([f.kind for f in facilities], dtype=np.str_)

    @classmethod
    def from_feature_collections(
        cls, layers: Iterable[tuple[str, Mapping[str, Any]]], default_kind: str = "other"
    ) -> FacilityIndex:
        """Index the features of (layer name, FeatureCollection) pairs."""
        facilities: list[Facility] = []
        for layer, collection in layers:
            for number, feature in enumerate(collection["features"], start=1):
                if not feature.get("geometry"):
                    continue
                props = feature.get("properties") or {}
                lat, lon = representative_point(feature)
                facilities.append(Facility(
                    id=str(feature.get("id", number)), layer=layer,
                    kind=str(props.get("kind") or default_kind),
                    name=str(props.get("name") or ""), lat=lat, lon=lon, distance_m=0.0,
                    properties=_scalar_properties(props),
                ))
        return cls(facilities)

    def __len__(self) -> int:
        """Number of indexed facilities."""
        return len(self._facilities)

    def _kind_mask(self, kinds: Iterable[str] | None) -> NDArray[np.bool_]:
        if kinds is None:
            return np.ones(len(self._facilities), dtype=np.bool_)
        return np.isin(self._kinds, np.array(list(kinds), dtype=np.str_))

    def _answer(self, lat: float, lon: float, candidates: NDArray[np.intp],
                limit_m: float | None) -> list[Facility]:
        distances = haversine_array_m(lat, lon, self._lats[candidates], self._lons[candidates])
        if limit_m is not None:
            keep = distances <= limit_m
            candidates, distances = candidates[keep], distances[keep]
        order = np.argsort(distances, kind="stable")
        return [
            msgspec.structs.replace(self._facilities[int(candidates[i])],
                                    distance_m=round(float(distances[i]), 1))
            for i in order
        ]

    def near(self, lat: float, lon: float, radius_m: float,
             kinds: Iterable[str] | None = None) -> list[Facility]:
        """Facilities within ``radius_m`` of the point, nearest first; all kinds when None."""
        if radius_m < 0 or not len(self._facilities):
            return []
        dlat, dlon = degrees_for(radius_m, lat)
        box = (np.abs(self._lats - lat) <= dlat) & (np.abs(self._lons - lon) <= dlon)
        candidates = np.flatnonzero(box & self._kind_mask(kinds))
        return self._answer(lat, lon, candidates, radius_m)

    def within(self, zone: shapely.Geometry, kinds: Iterable[str] | None = None, *,
               origin: tuple[float, float] | None = None) -> list[Facility]:
        """Facilities inside a WGS-84 zone, nearest to ``origin`` (lat, lon) first.

        Without an origin, distances are measured from the zone's centroid.
        """
        if zone.is_empty or not len(self._facilities):
            return []
        if origin is None:
            centre = zone.centroid
            origin = (float(centre.y), float(centre.x))
        shapely.prepare(zone)
        inside = shapely.contains_xy(zone, self._lons, self._lats)
        candidates = np.flatnonzero(inside & self._kind_mask(kinds))
        return self._answer(origin[0], origin[1], candidates, None)


class PopulationGrid:
    """People per cell of a population layer; counts a zone by the covered share of each cell."""

    __slots__ = ("_areas", "_cells", "_people", "_tree")

    def __init__(self, cells: Sequence[shapely.Geometry], people: Sequence[float]) -> None:
        """Index WGS-84 cells (polygons, or points counted whole) with their population."""
        if len(cells) != len(people):
            raise ValueError("cells and people must have the same length")
        self._cells: NDArray[np.object_] = np.array(cells, dtype=object)
        self._people: NDArray[np.float64] = np.array(people, dtype=np.float64)
        self._areas: NDArray[np.float64] = shapely.area(self._cells)
        self._tree = shapely.STRtree(self._cells)

    @classmethod
    def from_feature_collection(cls, collection: Mapping[str, Any],
                                field: str = "population") -> PopulationGrid:
        """Build from a population layer: features with a numeric ``population`` property."""
        cells: list[shapely.Geometry] = []
        people: list[float] = []
        for feature in collection["features"]:
            value = (feature.get("properties") or {}).get(field)
            if feature.get("geometry") and isinstance(value, int | float) and value > 0:
                cells.append(shape(feature["geometry"]))
                people.append(float(value))
        return cls(cells, people)

    @property
    def cells(self) -> list[shapely.Geometry]:
        """The cells, in the order given."""
        return list(self._cells)

    @property
    def people(self) -> list[float]:
        """People per cell, aligned with ``cells``."""
        people: list[float] = self._people.tolist()
        return people

    @property
    def total(self) -> int:
        """Everyone on the grid."""
        return int(round(float(self._people.sum())))

    def within(self, zone: shapely.Geometry) -> int:
        """Estimated people inside a WGS-84 zone (polygonal), rounded to a whole person."""
        if zone.is_empty or not len(self._cells):
            return 0
        hit = self._tree.query(zone, predicate="intersects")
        if hit.size == 0:
            return 0
        areas = self._areas[hit]
        shared = shapely.area(shapely.intersection(self._cells[hit], zone))
        # A cell without area (a point) counts whole once it intersects the zone.
        share = np.where(areas > 0, shared / np.where(areas > 0, areas, 1.0), 1.0)
        return int(round(float(np.dot(self._people[hit], np.clip(share, 0.0, 1.0)))))

    def within_radius(self, lat: float, lon: float, radius_m: float) -> int:
        """Estimated people within ``radius_m`` of the point (a 64-gon circle)."""
        if radius_m <= 0 or not math.isfinite(radius_m):
            return 0
        return self.within(circle(lat, lon, radius_m))
