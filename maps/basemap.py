"""The offline basemap of Xingtai (邢台市): its 18 county-level divisions and its outline.

The GeoJSON ships in ``maps/data`` (WGS-84, built by ``scripts/build_xingtai_basemap.py``;
see ``maps/data/ATTRIBUTION.md``). The loaded collections are cached and shared: treat
them as read-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import shape

_DATA_PACKAGE: Final = "maps.data"
DISTRICTS_FILE: Final = "xingtai_districts.geojson"
OUTLINE_FILE: Final = "xingtai_outline.geojson"


@dataclass(frozen=True, slots=True)
class District:
    """A county-level division of Xingtai (区, 县 or 县级市)."""

    code: str
    """Six-digit GB/T 2260 administrative code, e.g. ``"130502"``."""
    name: str
    """Official Chinese name, e.g. ``"襄都区"``."""
    name_en: str
    """English name, e.g. ``"Xiangdu District"``."""


def _read_collection(filename: str) -> dict[str, Any]:
    text = files(_DATA_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
    collection: dict[str, Any] = json.loads(text)
    return collection


@cache
def load_districts() -> dict[str, Any]:
    """Return the FeatureCollection of Xingtai's county-level divisions (cached, read-only)."""
    return _read_collection(DISTRICTS_FILE)


@cache
def load_outline() -> dict[str, Any]:
    """Return the FeatureCollection holding Xingtai's municipal outline (cached, read-only)."""
    return _read_collection(OUTLINE_FILE)


@cache
def bounds() -> tuple[float, float, float, float]:
    """Return (min lon, min lat, max lon, max lat) of the municipality, WGS-84."""
    geometry = shape(load_outline()["features"][0]["geometry"])
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in geometry.bounds)
    return min_lon, min_lat, max_lon, max_lat


def center() -> tuple[float, float]:
    """Return (lat, lon) of the middle of the municipality's bounds, the order Leaflet wants."""
    min_lon, min_lat, max_lon, max_lat = bounds()
    return round((min_lat + max_lat) / 2.0, 5), round((min_lon + max_lon) / 2.0, 5)


class DistrictIndex:
    """Finds the district that contains a point, through an STRtree over the polygons."""

    __slots__ = ("_districts", "_polygons", "_tree")

    def __init__(self, collection: Mapping[str, Any]) -> None:
        """Index the features of a district FeatureCollection such as ``load_districts()``."""
        features: Sequence[Mapping[str, Any]] = collection["features"]
        self._districts: tuple[District, ...] = tuple(
            District(
                code=str(f["properties"]["code"]),
                name=str(f["properties"]["name"]),
                name_en=str(f["properties"]["name_en"]),
            )
            for f in features
        )
        self._polygons: NDArray[np.object_] = np.array(
            [shape(f["geometry"]) for f in features], dtype=object
        )
        self._tree = shapely.STRtree(self._polygons)

    @classmethod
    def from_package(cls) -> DistrictIndex:
        """Build the index of the shipped Xingtai districts."""
        return cls(load_districts())

    @property
    def districts(self) -> tuple[District, ...]:
        """All indexed districts, in file order (by code)."""
        return self._districts

    @property
    def polygons(self) -> NDArray[np.object_]:
        """The district (multi)polygons as shapely geometries, in the order of ``districts``."""
        return self._polygons

    def __len__(self) -> int:
        """Return the number of indexed districts."""
        return len(self._districts)

    def indices_of(self, lons: ArrayLike, lats: ArrayLike) -> NDArray[np.intp]:
        """Position in ``districts`` of the district containing each point (flattened), or -1."""
        return self._first_match(lons, lats)

    def _first_match(self, lons: ArrayLike, lats: ArrayLike) -> NDArray[np.intp]:
        """Index of the first district containing each point, or -1 for none."""
        points = shapely.points(
            np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        flat = np.atleast_1d(points).ravel()
        found = np.full(flat.shape[0], -1, dtype=np.intp)
        point_idx, district_idx = self._tree.query(flat, predicate="intersects")
        # A point on a shared border touches two districts: keep the first in file order.
        order = np.lexsort((district_idx, point_idx))
        point_idx, district_idx = point_idx[order], district_idx[order]
        _, first = np.unique(point_idx, return_index=True)
        found[point_idx[first]] = district_idx[first]
        return found

    def district_of(self, lon: float, lat: float) -> District | None:
        """Return the district containing the WGS-84 point, or None outside Xingtai."""
        match = int(self._first_match([lon], [lat])[0])
        return self._districts[match] if match >= 0 else None

    def districts_of(self, lons: ArrayLike, lats: ArrayLike) -> list[str | None]:
        """Return the code of the district containing each point, flattened (None outside)."""
        return [self._districts[m].code if m >= 0 else None for m in self._first_match(lons, lats)]
