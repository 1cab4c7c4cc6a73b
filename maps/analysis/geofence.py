"""Geofences (电子围栏): which fences a point lies in.

The rules engine (ingest/rules) raises enter / dwell / leave itself; this is its index.
``FenceIndex`` lays a grid of ``cell_deg`` cells over the fences once. Each cell lists the
fences that wholly contain it (no geometry test needed for a point there) and the fences whose
boundary crosses it (tested exactly, with prepared geometries, in one vectorised call). A position
costs a dict lookup and, near a fence edge, one shapely call; cells far from every fence are
absent. A point on a fence's boundary counts as inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape

DEFAULT_CELL_DEG: Final = 0.005
"""Grid cell size in degrees (≈ 550 m north-south)."""

Cell = tuple[int, int]
_PAD: Final = 1e-6
"""Cell boxes are this fraction of a cell larger on every side (≈ 0.5 mm at 0.005°)."""
_NO_EDGES: Final[NDArray[np.intp]] = np.empty(0, dtype=np.intp)


@dataclass(frozen=True, slots=True)
class Fence:
    """A sensitive area watched for units going in, out, or staying."""

    id: str
    """Fence id, unique within one index."""
    name: str
    """Display name."""
    geometry: shapely.Geometry
    """WGS-84 polygon or multipolygon."""
    kind: str = "sensitive_area"
    """What the area is: school, hospital, reservoir_dam, chemical_park …"""
    dwell_s: float | None = None
    """Seconds inside after which a dwell event is raised once; None for no dwell events."""


def fences_from_collection(collection: Mapping[str, Any],
                           default_dwell_s: float | None = None) -> list[Fence]:
    """Fences from a sensitive-areas FeatureCollection (polygonal features; others skipped)."""
    fences: list[Fence] = []
    for number, feature in enumerate(collection["features"], start=1):
        geometry = feature.get("geometry")
        if not geometry or geometry["type"] not in ("Polygon", "MultiPolygon"):
            continue
        props = feature.get("properties") or {}
        dwell = props.get("dwell_s", default_dwell_s)
        fences.append(Fence(
            id=str(feature.get("id") or props.get("id") or number),
            name=str(props.get("name") or ""), geometry=shape(geometry),
            kind=str(props.get("kind") or "sensitive_area"),
            dwell_s=float(dwell) if isinstance(dwell, int | float) else None,
        ))
    return fences


class FenceIndex:
    """Which fences a point lies in, for a fixed set of fences (the rules' sensitive areas)."""

    __slots__ = ("_cell", "_cells", "_fences", "_geoms")

    def __init__(self, fences: Sequence[Fence], cell_deg: float = DEFAULT_CELL_DEG) -> None:
        """Index the fences on a grid of ``cell_deg`` degrees."""
        if cell_deg <= 0:
            raise ValueError(f"cell size must be positive, not {cell_deg}")
        ids = [f.id for f in fences]
        if len(set(ids)) != len(ids):
            raise ValueError("fence ids must be unique")
        self._cell = cell_deg
        self._fences = tuple(fences)
        self._geoms: NDArray[np.object_] = np.array([f.geometry for f in fences], dtype=object)
        shapely.prepare(self._geoms)
        self._cells = _build_cells(self._geoms, cell_deg)

    @property
    def fences(self) -> tuple[Fence, ...]:
        """The fences, in the order given."""
        return self._fences

    def _containing(self, lat: float, lon: float) -> list[int]:
        entry = self._cells.get((math.floor(lat / self._cell), math.floor(lon / self._cell)))
        if entry is None:
            return []
        inside, edges = entry
        if not edges.size:
            return list(inside)
        hit = shapely.intersects_xy(self._geoms[edges], lon, lat)
        return [*inside, *edges[hit].tolist()]

    def fences_containing(self, lat: float, lon: float) -> list[Fence]:
        """The fences a WGS-84 point lies in, in the order given (e.g. most severe first)."""
        return [self._fences[i] for i in sorted(self._containing(lat, lon))]


def _build_cells(geoms: NDArray[np.object_],
                 cell: float) -> dict[Cell, tuple[tuple[int, ...], NDArray[np.intp]]]:
    """Per cell: fences wholly containing it, and fences whose boundary crosses it."""
    inside: dict[Cell, list[int]] = {}
    edges: dict[Cell, list[int]] = {}
    for index, geometry in enumerate(geoms):
        if geometry is None or geometry.is_empty:
            continue
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        rows = np.arange(math.floor(min_lat / cell), math.floor(max_lat / cell) + 1)
        cols = np.arange(math.floor(min_lon / cell), math.floor(max_lon / cell) + 1)
        grid_rows, grid_cols = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
        # Boxes padded by a hair: floor(lon / cell) and col * cell round differently, so a
        # point on a grid line (114.1 / 0.005 = 22820, yet 22820 * 0.005 = 114.10000000000001)
        # may fall just outside its own cell's exact box and miss a fence it touches.
        pad = cell * _PAD
        boxes = shapely.box(grid_cols * cell - pad, grid_rows * cell - pad,
                            (grid_cols + 1) * cell + pad, (grid_rows + 1) * cell + pad)
        touches = shapely.intersects(geometry, boxes)
        within = shapely.contains_properly(geometry, boxes)
        for row, col, hit, whole in zip(grid_rows.tolist(), grid_cols.tolist(),
                                        touches.tolist(), within.tolist(), strict=True):
            if whole:
                inside.setdefault((row, col), []).append(index)
            elif hit:
                edges.setdefault((row, col), []).append(index)
    return {
        key: (tuple(inside.get(key, ())),
              np.array(edges[key], dtype=np.intp) if key in edges else _NO_EDGES)
        for key in inside.keys() | edges.keys()
    }
