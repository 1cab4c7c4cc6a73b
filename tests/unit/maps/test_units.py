"""Nearest units: filters, availability, moves, removal, and agreement with a full scan."""

from __future__ import annotations

import numpy as np
import pytest

from incidents.spatial import NearUnit, UnitIndex, UnitPoint
from maps.analysis.geodesy import METRES_PER_DEGREE, haversine_m
from maps.analysis.units import GridUnitIndex

SCENE = (37.07, 114.50)


def unit(name: str, north_m: float, *, agency: str = "fire", kind: str | None = "fire_engine",
         available: bool = True, east_deg: float = 0.0) -> UnitPoint:
    return UnitPoint(unit=name, agency=agency, unit_kind=kind,
                     lat=SCENE[0] + north_m / METRES_PER_DEGREE, lon=SCENE[1] + east_deg,
                     available=available)


def names(found: list[NearUnit]) -> list[str]:
    return [n.unit.unit for n in found]


@pytest.fixture
def index() -> GridUnitIndex:
    built = GridUnitIndex()
    built.update([
        unit("engine-1km", 1000.0),
        unit("engine-3km", 3000.0),
        unit("engine-busy-500m", 500.0, available=False),
        unit("ladder-2km", 2000.0, kind="ladder"),
        unit("police-200m", 200.0, agency="police", kind="patrol_car"),
        unit("ambulance-8km", -8000.0, agency="health", kind="ambulance"),
    ])
    return built


def test_it_is_a_unit_index() -> None:
    implementation: UnitIndex = GridUnitIndex()
    assert len(GridUnitIndex()) == 0 and implementation is not None


def test_nearest_available_of_a_kind(index: GridUnitIndex) -> None:
    found = index.nearest(*SCENE, agency="fire", unit_kind="fire_engine", k=5)
    assert names(found) == ["engine-1km", "engine-3km"]
    assert found[0].distance_m == pytest.approx(1000.0, abs=0.01)
    assert found[1].distance_m == pytest.approx(3000.0, abs=0.01)


def test_busy_units_only_when_asked(index: GridUnitIndex) -> None:
    found = index.nearest(*SCENE, agency="fire", unit_kind=None, k=2, available_only=False)
    assert names(found) == ["engine-busy-500m", "engine-1km"]
    assert names(index.nearest(*SCENE, agency="fire", unit_kind=None, k=2)) == [
        "engine-1km", "ladder-2km"]


def test_any_agency_and_k(index: GridUnitIndex) -> None:
    assert names(index.nearest(*SCENE, agency=None, unit_kind=None, k=3)) == [
        "police-200m", "engine-1km", "ladder-2km"]
    assert index.nearest(*SCENE, agency=None, unit_kind=None, k=0) == []
    assert len(index.nearest(*SCENE, agency=None, unit_kind=None, k=50)) == 5
    assert index.nearest(*SCENE, agency="water", unit_kind=None, k=3) == []


def test_moves_availability_changes_and_removal(index: GridUnitIndex) -> None:
    index.update([unit("engine-3km", 100.0), unit("engine-1km", 1000.0, available=False)])
    found = index.nearest(*SCENE, agency="fire", unit_kind="fire_engine", k=5)
    assert names(found) == ["engine-3km"]
    assert found[0].distance_m == pytest.approx(100.0, abs=0.01)
    assert found[0].unit.lat == pytest.approx(SCENE[0] + 100.0 / METRES_PER_DEGREE)
    index.remove(["engine-3km", "never-seen"])
    assert index.nearest(*SCENE, agency="fire", unit_kind="fire_engine", k=5) == []
    assert len(index) == 5


def test_a_small_move_within_one_cell_is_seen(index: GridUnitIndex) -> None:
    index.update([unit("police-200m", 210.0, agency="police", kind="patrol_car")])
    (found,) = index.nearest(*SCENE, agency="police", unit_kind=None, k=1)
    assert found.distance_m == pytest.approx(210.0, abs=0.01)


def brute_force(units: dict[str, UnitPoint], lat: float, lon: float, agency: str | None,
                kind: str | None, k: int, available_only: bool) -> list[tuple[float, str]]:
    found = sorted((haversine_m(lat, lon, u.lat, u.lon), u.unit) for u in units.values()
                   if (agency is None or u.agency == agency)
                   and (kind is None or u.unit_kind == kind)
                   and (u.available or not available_only))
    return found[:k]


def test_ring_search_agrees_with_a_full_scan_as_units_move() -> None:
    rng = np.random.default_rng(5)
    agencies: dict[str, list[str | None]] = {
        "police": ["patrol_car", None], "fire": ["fire_engine", "ladder"],
        "health": ["ambulance"]}
    units: dict[str, UnitPoint] = {}

    def random_unit(name: str) -> UnitPoint:
        agency = list(agencies)[int(rng.integers(3))]
        kinds = agencies[agency]
        return UnitPoint(unit=name, agency=agency, unit_kind=kinds[int(rng.integers(len(kinds)))],
                         lat=float(rng.normal(37.07, 0.1)), lon=float(rng.normal(114.5, 0.12)),
                         available=bool(rng.uniform() < 0.7))

    index = GridUnitIndex(cell_deg=0.01)
    for i in range(3000):
        units[f"u{i}"] = random_unit(f"u{i}")
    index.update(units.values())
    for q in range(300):
        moved = [random_unit(f"u{int(rng.integers(3000))}") for _ in range(30)]
        index.update(moved)
        units.update((m.unit, m) for m in moved)
        # Queries in the crowd, at its edge and far away (Beijing).
        lat, lon = ((39.9, 116.4) if q % 50 == 0 else
                    (float(rng.normal(37.07, 0.2)), float(rng.normal(114.5, 0.25))))
        agency = [None, "police", "fire", "health"][q % 4]
        kind = agencies[agency][0] if agency and q % 3 == 0 else None
        k = int(rng.integers(1, 8))
        available_only = q % 5 != 0
        got = index.nearest(lat, lon, agency=agency, unit_kind=kind, k=k,
                            available_only=available_only)
        expected = brute_force(units, lat, lon, agency, kind, k, available_only)
        assert [round(n.distance_m, 6) for n in got] == [round(d, 6) for d, _ in expected]
