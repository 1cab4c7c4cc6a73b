"""Maps benchmark: district lookup, nearest units, the rules' fences — each beside a naive loop.

Both sides run in the same process on the same data; each fast answer is checked against the
naive one, so a speed-up never hides a wrong result. Everything is in memory: no servers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point

from incidents.spatial import UnitPoint
from maps.analysis.districts import DistrictGrid
from maps.analysis.geodesy import haversine_m
from maps.analysis.geofence import Fence, FenceIndex
from maps.analysis.units import GridUnitIndex
from maps.basemap import DistrictIndex, bounds

SEED = 20240705
AGENCIES = {"police": ("patrol_car", "motorbike"), "fire": ("fire_engine", "ladder", "tanker"),
            "health": ("ambulance",), "water": ("pump_truck",), "safety": ("inspection_car",)}


@dataclass(frozen=True)
class Pair:
    """One measure for sitroom's code and for the naive loop, in the same unit."""

    name: str
    unit: str
    fast: float
    naive: float
    higher_is_better: bool
    goal: str

    @property
    def ratio(self) -> float:
        """How many times better the fast side is."""
        return self.fast / self.naive if self.higher_is_better else self.naive / self.fast


@dataclass(frozen=True)
class Result:
    """The pairs and the sizes they were measured at."""

    pairs: list[Pair]
    notes: list[str]


def _city_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    min_lon, min_lat, max_lon, max_lat = bounds()
    return rng.uniform(min_lat, max_lat, n), rng.uniform(min_lon, max_lon, n)


def bench_districts(quick: bool) -> tuple[Pair, str]:
    """District of 100,000 random points in the city's bounds, points/s."""
    rng = np.random.default_rng(SEED)
    lats, lons = _city_points(rng, 100_000)
    index = DistrictIndex.from_package()
    started = time.perf_counter()
    grid = DistrictGrid(index)
    build_s = time.perf_counter() - started
    grid.indices_of(lons[:1000], lats[:1000])  # warm caches
    runs = []
    for _ in range(3 if quick else 7):
        started = time.perf_counter()
        found = grid.indices_of(lons, lats)
        runs.append(time.perf_counter() - started)
    fast = len(lats) / min(runs)
    sample = 1_000 if quick else 3_000
    polygons = index.polygons
    started = time.perf_counter()
    naive = []
    for lon, lat in zip(lons[:sample], lats[:sample], strict=True):
        p = Point(lon, lat)
        naive.append(next((i for i, poly in enumerate(polygons) if poly.contains(p)), -1))
    naive_rate = sample / (time.perf_counter() - started)
    # The naive loop uses contains (border points excluded); the grid counts borders in.
    assert np.array_equal(found[:sample], np.array(naive)), "district answers differ"
    return (Pair("district of a point (100,000 random points)", "points/s", fast, naive_rate,
                 True, "goal >= 1,000,000"),
            f"district grid: built in {build_s:.2f} s, {grid.boundary_share:.1%} of cells on a "
            f"boundary; naive measured on {sample:,} points")


def _units(rng: np.random.Generator, n: int) -> list[UnitPoint]:
    lats, lons = _city_points(rng, n)
    # Two thirds of the units crowd the urban centre, as patrols and stations do.
    urban = rng.uniform(size=n) < 0.66
    lats[urban] = rng.normal(37.07, 0.05, int(urban.sum()))
    lons[urban] = rng.normal(114.50, 0.06, int(urban.sum()))
    agencies = list(AGENCIES)
    units = []
    for i in range(n):
        agency = agencies[int(rng.integers(len(agencies)))]
        kinds = AGENCIES[agency]
        units.append(UnitPoint(unit=f"u{i:05d}", agency=agency,
                               unit_kind=kinds[int(rng.integers(len(kinds)))],
                               lat=float(lats[i]), lon=float(lons[i]),
                               available=bool(rng.uniform() < 0.8)))
    return units


def _naive_nearest(units: dict[str, UnitPoint], lat: float, lon: float, agency: str | None,
                   kind: str | None, k: int) -> list[tuple[float, str]]:
    found = [(haversine_m(lat, lon, u.lat, u.lon), u.unit) for u in units.values()
             if u.available and (agency is None or u.agency == agency)
             and (kind is None or u.unit_kind == kind)]
    found.sort()
    return found[:k]


def bench_units(quick: bool) -> tuple[Pair, str]:
    """p95 ms of a nearest-available-units query among 10,000 moving units."""
    rng = np.random.default_rng(SEED + 1)
    units = _units(rng, 10_000)
    index = GridUnitIndex()
    index.update(units)
    naive = {u.unit: u for u in units}
    ids = list(naive)
    queries = 300 if quick else 2_000
    moves_per_query = 20
    fast_ms, naive_ms = [], []
    for q in range(queries):
        moved = []
        for _ in range(moves_per_query):
            u = naive[ids[int(rng.integers(len(ids)))]]
            moved.append(UnitPoint(unit=u.unit, agency=u.agency, unit_kind=u.unit_kind,
                                   lat=u.lat + float(rng.normal(0, 0.003)),
                                   lon=u.lon + float(rng.normal(0, 0.003)),
                                   available=bool(rng.uniform() < 0.8)))
        index.update(moved)
        naive.update((m.unit, m) for m in moved)
        lat, lon = float(rng.normal(37.07, 0.08)), float(rng.normal(114.50, 0.1))
        agency = list(AGENCIES)[q % len(AGENCIES)] if q % 3 else None
        kind = AGENCIES[agency][0] if agency and q % 2 else None
        started = time.perf_counter()
        got = index.nearest(lat, lon, agency=agency, unit_kind=kind, k=5)
        fast_ms.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        expected = _naive_nearest(naive, lat, lon, agency, kind, 5)
        naive_ms.append((time.perf_counter() - started) * 1e3)
        assert [round(n.distance_m, 6) for n in got] == [round(d, 6) for d, _ in expected]
    fast_p95 = float(np.percentile(fast_ms, 95))
    naive_p95 = float(np.percentile(naive_ms, 95))
    return (Pair("nearest 5 available units of 10,000 moving", "p95 ms", fast_p95, naive_p95,
                 False, "goal <= 5 ms"),
            f"units: {queries:,} queries, {moves_per_query} moves before each; p50 "
            f"{np.percentile(fast_ms, 50):.3f} ms vs naive {np.percentile(naive_ms, 50):.2f} ms")


def _fences(rng: np.random.Generator, n: int) -> list[Fence]:
    fences = []
    for i in range(n):
        lat, lon = float(rng.normal(37.07, 0.15)), float(rng.normal(114.55, 0.2))
        radius = float(rng.uniform(100, 1500))
        dlat = radius / 111_195.0
        dlon = dlat / math.cos(math.radians(lat))
        shape_ = (shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat) if i % 2
                  else Point(lon, lat).buffer(dlat, quad_segs=8))
        fences.append(Fence(id=f"f{i:04d}", name=f"fence {i}", geometry=shape_))
    return fences


def bench_fences(quick: bool) -> tuple[Pair, str]:
    """µs per point through the fence index of 1,000 fences (the rules' sensitive areas)."""
    rng = np.random.default_rng(SEED + 2)
    fences = _fences(rng, 1_000)
    started = time.perf_counter()
    index = FenceIndex(fences)
    build_s = time.perf_counter() - started
    count = 20_000 if quick else 100_000
    lats = rng.normal(37.07, 0.15, count).tolist()
    lons = rng.normal(114.55, 0.2, count).tolist()
    hits = 0
    started = time.perf_counter()
    for lat, lon in zip(lats, lons, strict=True):
        hits += len(index.fences_containing(lat, lon))
    fast_us = (time.perf_counter() - started) / count * 1e6
    sample = 200 if quick else 1_000
    points = [Point(x, y) for x, y in zip(lons[:sample], lats[:sample], strict=True)]
    started = time.perf_counter()
    naive = [[f.id for f in fences if f.geometry.intersects(p)] for p in points]
    naive_us = (time.perf_counter() - started) / sample * 1e6
    fast = [[f.id for f in index.fences_containing(float(p.y), float(p.x))] for p in points]
    assert fast == naive, "fence answers differ"
    return (Pair("fences at a point, 1,000 fences", "µs/point", fast_us, naive_us, False,
                 "goal <= 20 µs"),
            f"fences: grid built in {build_s:.2f} s; {count:,} points, {hits:,} inside a fence; "
            f"naive measured on {sample:,} points")


def run(quick: bool = False) -> Result:
    """Measure the pairs."""
    pairs, notes = [], []
    for measure in (bench_districts, bench_units, bench_fences):
        pair, note = measure(quick)
        pairs.append(pair)
        notes.append(note)
    return Result(pairs, notes)


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def report(result: Result) -> str:
    """The figures as a table, with the ratio to the naive loop."""
    lines = ["maps: spatial analysis in one process, beside naive loops on the same data",
             f"{'measure':<46} {'unit':>12} {'sitroom':>12} {'naive':>12} {'ratio':>8}"]
    for p in result.pairs:
        lines.append(f"{p.name:<46} {p.unit:>12} {_figure(p.fast):>12} {_figure(p.naive):>12}"
                     f" {'x' + format(p.ratio, ',.1f'):>8}  ({p.goal})")
    lines += [f"  {note}" for note in result.notes]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(quick=False)))
