"""Nearest units: buckets of a square-degree grid, searched in growing rings (``UnitIndex``).

Units are split into partitions by (agency, unit kind, available), so a query touches only the
partitions its filters allow. Inside a partition, units sit in buckets keyed by grid cell; a move
is two dict operations. A query walks the rings of cells around the query point's cell and stops
as soon as it holds ``k`` units and no unit outside the rings walked can be nearer: the distance
from the point to the edge of the walked block, a lower bound on any great-circle distance beyond
it, has passed the k-th best. A partition of a few units is simply scanned.

Distances are great-circle (haversine) on the mean Earth sphere. Cells do not wrap at the
antimeridian (±180°), which is far from any Chinese city.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator
from typing import Final

from incidents.spatial import NearUnit, UnitPoint
from maps.analysis.geodesy import EARTH_RADIUS_M, METRES_PER_DEGREE, haversine_m

DEFAULT_CELL_DEG: Final = 0.01
"""Bucket size in degrees (≈ 1.1 km north-south, ≈ 0.9 km east-west at Xingtai)."""
SCAN_BELOW: Final = 48
"""Partitions with fewer units are scanned rather than searched ring by ring."""

Cell = tuple[int, int]
PartitionKey = tuple[str, str | None, bool]


class _Partition:
    """The units of one (agency, kind, availability), bucketed by cell."""

    __slots__ = ("buckets", "extent", "size")

    def __init__(self) -> None:
        self.buckets: dict[Cell, dict[str, UnitPoint]] = {}
        self.size = 0
        # (min row, min col, max row, max col) ever used: grows only, so it stays a safe bound.
        self.extent: tuple[int, int, int, int] | None = None

    def add(self, cell: Cell, point: UnitPoint) -> None:
        self.buckets.setdefault(cell, {})[point.unit] = point
        self.size += 1
        row, col = cell
        if self.extent is None:
            self.extent = (row, col, row, col)
        else:
            r0, c0, r1, c1 = self.extent
            if not (r0 <= row <= r1 and c0 <= col <= c1):
                self.extent = (min(r0, row), min(c0, col), max(r1, row), max(c1, col))

    def discard(self, cell: Cell, unit: str) -> None:
        bucket = self.buckets[cell]
        del bucket[unit]
        self.size -= 1
        if not bucket:
            del self.buckets[cell]

    def points(self) -> Iterator[UnitPoint]:
        for bucket in self.buckets.values():
            yield from bucket.values()


class GridUnitIndex:
    """``incidents.spatial.UnitIndex`` over a grid of buckets; see the module docstring."""

    __slots__ = ("_cell", "_parts", "_where")

    def __init__(self, cell_deg: float = DEFAULT_CELL_DEG) -> None:
        """An empty index with buckets of ``cell_deg`` degrees."""
        if cell_deg <= 0:
            raise ValueError(f"cell size must be positive, not {cell_deg}")
        self._cell = cell_deg
        self._parts: dict[PartitionKey, _Partition] = {}
        self._where: dict[str, tuple[PartitionKey, Cell]] = {}

    def __len__(self) -> int:
        """Number of units indexed."""
        return len(self._where)

    def _cell_of(self, lat: float, lon: float) -> Cell:
        return math.floor(lat / self._cell), math.floor(lon / self._cell)

    def update(self, points: Iterable[UnitPoint]) -> None:
        """Insert or move these units (a unit id seen before is replaced)."""
        for point in points:
            key: PartitionKey = (point.agency, point.unit_kind, point.available)
            cell = self._cell_of(point.lat, point.lon)
            old = self._where.get(point.unit)
            if old == (key, cell):
                self._parts[key].buckets[cell][point.unit] = point
                continue
            if old is not None:
                self._parts[old[0]].discard(old[1], point.unit)
            part = self._parts.get(key)
            if part is None:
                part = self._parts[key] = _Partition()
            part.add(cell, point)
            self._where[point.unit] = (key, cell)

    def remove(self, units: Iterable[str]) -> None:
        """Forget these unit ids; unknown ids are ignored."""
        for unit in units:
            old = self._where.pop(unit, None)
            if old is not None:
                self._parts[old[0]].discard(old[1], unit)

    def nearest(self, lat: float, lon: float, *, agency: str | None, unit_kind: str | None,
                k: int, available_only: bool = True) -> list[NearUnit]:
        """The ``k`` nearest matching units, nearest first (ties by unit id)."""
        if k <= 0:
            return []
        parts = [
            part for (a, kind, available), part in self._parts.items()
            if part.size and (agency is None or a == agency)
            and (unit_kind is None or kind == unit_kind) and (available or not available_only)
        ]
        best: list[tuple[float, str, UnitPoint]] = []  # a max-heap of the k best, by -distance
        searched: list[_Partition] = []
        for part in parts:
            if part.size < SCAN_BELOW:
                for point in part.points():
                    _offer(best, k, lat, lon, point)
            else:
                searched.append(part)
        if searched:
            self._ring_search(best, k, lat, lon, searched)
        ranked = sorted((-neg, unit, point) for neg, unit, point in best)
        return [NearUnit(unit=point, distance_m=distance) for distance, _, point in ranked]

    def _ring_search(self, best: list[tuple[float, str, UnitPoint]], k: int, lat: float,
                     lon: float, parts: list[_Partition]) -> None:
        row, col = self._cell_of(lat, lon)
        extents = [p.extent for p in parts if p.extent is not None]
        r0 = min(e[0] for e in extents)
        c0 = min(e[1] for e in extents)
        r1 = max(e[2] for e in extents)
        c1 = max(e[3] for e in extents)
        # Rings nearer than the occupied extent are empty: start at the first that reaches it.
        ring = max(0, r0 - row, row - r1, c0 - col, col - c1)
        last = max(row - r0, r1 - row, col - c0, c1 - col)
        while ring <= last:
            for cell in _ring_cells(row, col, ring, (r0, c0, r1, c1)):
                for part in parts:
                    bucket = part.buckets.get(cell)
                    if bucket:
                        for point in bucket.values():
                            _offer(best, k, lat, lon, point)
            if len(best) >= k and -best[0][0] <= self._beyond_m(lat, lon, row, col, ring):
                return
            ring += 1

    def _beyond_m(self, lat: float, lon: float, row: int, col: int, ring: int) -> float:
        """A lower bound on the distance from the point to anything outside the walked block."""
        south, north = (row - ring) * self._cell, (row + ring + 1) * self._cell
        west, east = (col - ring) * self._cell, (col + ring + 1) * self._cell
        across_lat = min(lat - south, north - lat) * METRES_PER_DEGREE
        dlon = math.radians(min(lon - west, east - lon))
        # Points beside the block lie within its latitudes; the most poleward bounds their cosine.
        cos_far = math.cos(math.radians(min(90.0, max(abs(south), abs(north)))))
        reach = math.sqrt(max(0.0, math.cos(math.radians(lat)) * cos_far)) * math.sin(dlon / 2.0)
        across_lon = 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, reach))
        return min(across_lat, across_lon)


def _offer(best: list[tuple[float, str, UnitPoint]], k: int, lat: float, lon: float,
           point: UnitPoint) -> None:
    """Keep ``point`` if it is among the k nearest seen so far."""
    distance = haversine_m(lat, lon, point.lat, point.lon)
    entry = (-distance, point.unit, point)
    if len(best) < k:
        heapq.heappush(best, entry)
    elif distance < -best[0][0]:
        heapq.heapreplace(best, entry)


def _ring_cells(row: int, col: int, ring: int,
                extent: tuple[int, int, int, int]) -> Iterator[Cell]:
    """Cells at Chebyshev distance ``ring`` from (row, col), clipped to ``extent``."""
    r0, c0, r1, c1 = extent
    if ring == 0:
        if r0 <= row <= r1 and c0 <= col <= c1:
            yield row, col
        return
    lo_c, hi_c = max(c0, col - ring), min(c1, col + ring)
    for r in (row - ring, row + ring):
        if r0 <= r <= r1:
            for c in range(lo_c, hi_c + 1):
                yield r, c
    lo_r, hi_r = max(r0, row - ring + 1), min(r1, row + ring - 1)
    for c in (col - ring, col + ring):
        if c0 <= c <= c1:
            for r in range(lo_r, hi_r + 1):
                yield r, c
