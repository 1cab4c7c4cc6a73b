"""Geofences (电子围栏): enter, exit and dwell events for moving units; fences at a point.

``GeofenceTracker`` lays a grid of ``cell_deg`` cells over the fences once. Each cell lists the
fences that wholly contain it (no geometry test needed for a point there) and the fences whose
boundary crosses it (tested exactly, with prepared geometries, in one vectorised call). A position
costs a dict lookup and, near a fence edge, one shapely call; cells far from every fence are
absent. A point on a fence's boundary counts as inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import msgspec
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
    """Fence id, unique among the tracker's fences."""
    name: str
    """Display name."""
    geometry: shapely.Geometry
    """WGS-84 polygon or multipolygon."""
    kind: str = "sensitive_area"
    """What the area is: school, hospital, reservoir_dam, chemical_park …"""
    dwell_s: float | None = None
    """Seconds inside after which a dwell event is raised once; None for no dwell events."""


class GeofenceEventKind(StrEnum):
    """What happened between a unit and a fence."""

    ENTER = "enter"
    """The unit was outside (or unseen) and is now inside."""
    EXIT = "exit"
    """The unit was inside and is now outside."""
    DWELL = "dwell"
    """The unit has stayed inside for the fence's dwell time (raised once per stay)."""


class GeofenceEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One enter, exit or dwell of one unit at one fence."""

    kind: GeofenceEventKind
    """Enter, exit or dwell."""
    unit: str
    """Unit id."""
    fence: str
    """Fence id."""
    fence_name: str
    """Fence display name."""
    ts: datetime
    """Time of the position that caused the event."""
    lat: float
    """WGS-84 latitude of that position."""
    lon: float
    """WGS-84 longitude of that position."""
    entered_at: datetime
    """Start of the stay this event belongs to."""


class _Stay:
    """A unit's current stay in one fence."""

    __slots__ = ("dwelled", "entered_at")

    def __init__(self, entered_at: datetime) -> None:
        self.entered_at = entered_at
        self.dwelled = False


class _UnitState:
    """The fences a unit is in and the time of its last position."""

    __slots__ = ("last_ts", "stays")

    def __init__(self, ts: datetime) -> None:
        self.last_ts = ts
        self.stays: dict[int, _Stay] = {}


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


class GeofenceTracker:
    """Turns unit positions into enter / exit / dwell events against a fixed set of fences."""

    __slots__ = ("_cell", "_cells", "_fences", "_geoms", "_units")

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
        self._units: dict[str, _UnitState] = {}

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
        """The fences a WGS-84 point lies in (e.g. an alarm inside a sensitive area)."""
        return [self._fences[i] for i in sorted(self._containing(lat, lon))]

    def inside(self, unit: str) -> list[str]:
        """Ids of the fences the unit is in now."""
        state = self._units.get(unit)
        return [] if state is None else [self._fences[i].id for i in sorted(state.stays)]

    def forget(self, unit: str) -> None:
        """Drop a unit's state (it went off duty or left the system); no events are raised."""
        self._units.pop(unit, None)

    def update(self, unit: str, lat: float, lon: float, ts: datetime) -> list[GeofenceEvent]:
        """Events caused by the unit's new position: exits first, then enters and dwells.

        A position older than the unit's last one is ignored: out-of-order delivery must not
        move a unit back out of (or into) a fence.
        """
        now = sorted(self._containing(lat, lon))  # events in fence order, whatever the grid's
        state = self._units.get(unit)
        if state is None:
            state = self._units[unit] = _UnitState(ts)
        elif ts < state.last_ts:
            return []
        state.last_ts = ts
        stays = state.stays
        events: list[GeofenceEvent] = []
        for index in [i for i in stays if i not in now]:
            events.append(self._event(GeofenceEventKind.EXIT, unit, index, lat, lon, ts,
                                      stays.pop(index).entered_at))
        for index in now:
            stay = stays.get(index)
            if stay is None:
                stay = stays[index] = _Stay(ts)
                events.append(self._event(GeofenceEventKind.ENTER, unit, index, lat, lon, ts, ts))
            dwell_s = self._fences[index].dwell_s
            if (not stay.dwelled and dwell_s is not None
                    and (ts - stay.entered_at).total_seconds() >= dwell_s):
                stay.dwelled = True
                events.append(self._event(GeofenceEventKind.DWELL, unit, index, lat, lon, ts,
                                          stay.entered_at))
        return events

    def _event(self, kind: GeofenceEventKind, unit: str, index: int, lat: float, lon: float,
               ts: datetime, entered_at: datetime) -> GeofenceEvent:
        fence = self._fences[index]
        return GeofenceEvent(kind=kind, unit=unit, fence=fence.id, fence_name=fence.name, ts=ts,
                             lat=lat, lon=lon, entered_at=entered_at)


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
