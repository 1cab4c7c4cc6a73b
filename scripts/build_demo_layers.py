"""Build the SYNTHETIC demo layers of Xingtai (邢台市) in maps/data/demo/, deterministically.

Everything written is invented for the demo and labelled so (``synthetic: true`` on every
feature and on each collection): facilities, cameras, roads, sensitive areas and a population
grid. The rivers carry the names of real rivers around Xingtai but their lines are schematic.
The hazardous sites, river gauges and sensitive areas reuse the invented ones of
``config/rules.toml``; the county hubs come from ``config/demo_city.toml``. Same seed, same
files::

    .venv/bin/python -m scripts.build_demo_layers
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import mapping, shape

from maps.analysis.geodesy import METRES_PER_DEGREE, area_m2
from maps.basemap import DistrictIndex, load_outline
from maps.demo import DEMO_ATTRIBUTION, DEMO_DIR

ROOT: Final = Path(__file__).resolve().parents[1]
SEED: Final = 130500
DECIMALS: Final = 5
CITY: Final = (37.0700, 114.5000)
"""(lat, lon) of the urban centre the demo city grows around."""
TOTAL_PEOPLE: Final = 7_100_000
"""The grid is scaled to this total, the order of Xingtai's census population."""
DWELL_S: Final = {"school": 300.0, "hospital": 600.0, "reservoir_dam": 120.0,
                  "chemical_park": 300.0}
# Schematic river lines through (lat, lon) control points, west/south to east/north; the
# gauges of config/rules.toml lie on them.
RIVERS: Final = (
    ("七里河", "Qili River", [(37.035, 114.28), (37.045, 114.40), (37.0466, 114.5301),
                              (37.0160, 114.6420), (37.060, 114.76), (37.105, 114.84)]),
    ("沙河", "Sha River", [(36.860, 113.96), (36.875, 114.20), (36.8720, 114.4300),
                          (36.920, 114.60), (36.985, 114.78)]),
    ("牛尾河", "Niuwei River", [(37.095, 114.41), (37.078, 114.47), (37.072, 114.53),
                              (37.085, 114.62), (37.125, 114.72)]),
    ("滏阳河", "Fuyang River", [(36.765, 114.62), (36.950, 114.70), (37.1800, 114.7700),
                              (37.400, 114.86), (37.6200, 114.9400), (37.800, 115.03)]),
    ("泜河", "Zhi River", [(37.430, 114.20), (37.445, 114.40), (37.455, 114.58),
                          (37.480, 114.76)]),
    ("卫运河", "Wei Canal", [(36.770, 115.45), (36.870, 115.58), (37.030, 115.72),
                            (37.160, 115.80)]),
)

Feature = dict[str, Any]


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def feature(fid: str, props: dict[str, Any], geometry: shapely.Geometry) -> Feature:
    """A GeoJSON feature marked synthetic, coordinates rounded to about 1 m."""
    geojson = mapping(geometry)
    return {"type": "Feature", "id": fid, "properties": {**props, "synthetic": True},
            "geometry": {"type": geojson["type"], "coordinates": _round(geojson["coordinates"])}}


def point(fid: str, props: dict[str, Any], lat: float, lon: float) -> Feature:
    """A point feature."""
    return feature(fid, props, shapely.Point(lon, lat))


class Placer:
    """Random points near a place, kept inside a chosen district (seeded)."""

    def __init__(self, rng: np.random.Generator, districts: DistrictIndex) -> None:
        self.rng = rng
        self.districts = districts

    def near(self, lat: float, lon: float, radius_km: float, code: str | None) -> tuple[float,
                                                                                         float]:
        """A uniform random point within ``radius_km``, in district ``code`` when given."""
        for _ in range(200):
            r = radius_km * 1000.0 * math.sqrt(self.rng.uniform())
            a = self.rng.uniform(0.0, 2.0 * math.pi)
            y = lat + r * math.cos(a) / METRES_PER_DEGREE
            x = lon + r * math.sin(a) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
            found = self.districts.district_of(x, y)
            if found is not None and (code is None or found.code == code):
                return round(y, DECIMALS), round(x, DECIMALS)
        raise RuntimeError(f"no point found near {lat}, {lon} in {code}")


def facilities(config: dict[str, Any], hubs: Sequence[dict[str, Any]],
               placer: Placer) -> list[Feature]:
    """Hazardous sites, hospitals, schools, shelters, fire stations, reservoirs, hydrants."""
    out = [point(s["id"], {"kind": "hazardous_site", "name": s["name"], "name_en": s["name_en"],
                           "radius_m": s["radius_m"]}, s["lat"], s["lon"])
           for s in config["site"]]
    for area in config["area"]:
        if area["kind"] in ("hospital", "school"):
            ring = shapely.Polygon([(lon, lat) for lat, lon in area["ring"]])
            c = ring.centroid
            props = {"kind": area["kind"], "name": area["name"], "name_en": area["name_en"]}
            props |= {"beds": 800} if area["kind"] == "hospital" else {"students": 1500}
            out.append(point(f"xt-fac-{area['id'][3:]}", props, c.y, c.x))
    rng = placer.rng
    for n, hub in enumerate(hubs, start=1):
        zh, en, code, weight = hub["name"], hub["name_en"], hub["code"], int(hub["weight"])
        where = (hub["lat"], hub["lon"], float(hub["radius_km"]), code)
        out.append(point(f"xt-fac-hospital-{n:02d}", {
            "kind": "hospital", "name": f"示范{zh}人民医院",
            "name_en": f"Demo {en} People's Hospital", "beds": int(rng.integers(150, 900))},
            *placer.near(*where)))
        out.append(point(f"xt-fac-fire-{n:02d}", {
            "kind": "fire_station", "name": f"示范{zh}消防救援站",
            "name_en": f"Demo {en} fire station"}, *placer.near(*where)))
        for i in range(1, 2 * weight + 1):
            out.append(point(f"xt-fac-school-{n:02d}{i:02d}", {
                "kind": "school", "name": f"示范{zh}第{i}中学",
                "name_en": f"Demo {en} Middle School No. {i}",
                "students": int(rng.integers(600, 3000))}, *placer.near(*where)))
        for i in range(1, weight + 2):
            out.append(point(f"xt-fac-shelter-{n:02d}{i:02d}", {
                "kind": "shelter", "name": f"示范{zh}应急避难场所{i}号",
                "name_en": f"Demo {en} emergency shelter {i}",
                "capacity": int(rng.integers(20, 300)) * 100}, *placer.near(*where)))
        for i in range(1, (30 if weight > 1 else 4) + 1):
            out.append(point(f"xt-fac-hydrant-{n:02d}{i:03d}", {
                "kind": "hydrant", "name": f"示范消火栓 {code}-{i:03d}",
                "name_en": f"Demo hydrant {code}-{i:03d}"}, *placer.near(*where)))
    for i, (lat, lon, zh, en, volume) in enumerate((
            (37.1260, 114.3050, "示范水库", "Demo reservoir", 120.0),
            (37.4300, 114.2400, "示范临城山区水库", "Demo Lincheng hill reservoir", 45.0),
            (36.9000, 114.0500, "示范沙河山区水库", "Demo Shahe hill reservoir", 30.0)), start=1):
        out.append(point(f"xt-fac-reservoir-{i:02d}", {
            "kind": "reservoir", "name": zh, "name_en": en, "capacity_million_m3": volume},
            lat, lon))
    return out


def cameras(config: dict[str, Any], hubs: Sequence[dict[str, Any]],
            placer: Placer) -> list[Feature]:
    """Cameras around the hubs, and two watching each hazardous site."""
    rng = placer.rng
    out: list[Feature] = []

    def camera(lat: float, lon: float, direction: float) -> None:
        n = len(out) + 1
        out.append(point(f"xt-cam-{n:04d}", {
            "kind": "camera", "name": f"示范摄像机 XT-CAM-{n:04d}",
            "name_en": f"Demo camera XT-CAM-{n:04d}", "direction": round(direction % 360.0, 1),
            "fov": float(rng.choice([60.0, 75.0, 90.0])), "ptz": bool(rng.uniform() < 0.3)},
            lat, lon))

    for hub in hubs:
        for _ in range(36 if int(hub["weight"]) > 1 else 5):
            lat, lon = placer.near(hub["lat"], hub["lon"], float(hub["radius_km"]), hub["code"])
            camera(lat, lon, float(rng.integers(0, 360)))
    for site in config["site"]:
        for _ in range(2):
            lat, lon = placer.near(site["lat"], site["lon"], 0.6, None)
            # Point the camera at the site: bearing from camera to site.
            dx = (site["lon"] - lon) * math.cos(math.radians(lat))
            camera(lat, lon, math.degrees(math.atan2(dx, site["lat"] - lat)))
    return out


def gauges(config: dict[str, Any]) -> list[Feature]:
    """The river gauges of config/rules.toml, with their warning and guarantee levels."""
    keys = ("river", "river_en", "station", "station_en", "warning_m", "guarantee_m")
    return [point(g["sensor"], {"kind": "river_gauge", "name": g["station"],
                                "name_en": g["station_en"], "sensor": g["sensor"],
                                **{k: g[k] for k in keys}}, g["lat"], g["lon"])
            for g in config["river"]["gauge"]]


def sensitive_areas(config: dict[str, Any]) -> list[Feature]:
    """The sensitive areas of config/rules.toml as fences with a dwell time."""
    return [feature(a["id"], {"kind": a["kind"], "name": a["name"], "name_en": a["name_en"],
                              "level": a["level"], "dwell_s": DWELL_S.get(a["kind"], 300.0)},
                    shapely.Polygon([(lon, lat) for lat, lon in a["ring"]]))
            for a in config["area"]]


def _wiggle(rng: np.random.Generator, points: Sequence[tuple[float, float]], per_leg: int,
            amplitude_deg: float) -> shapely.LineString:
    """A line through (lat, lon) points that meanders (seeded) between them."""
    coords: list[tuple[float, float]] = []
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:], strict=False):
        cos_lat = math.cos(math.radians(lat1))
        dx, dy = (lon2 - lon1) * cos_lat, lat2 - lat1
        length = math.hypot(dx, dy)
        normal_x, normal_y = -dy / length, dx / length  # unit normal, in degrees of latitude
        phase = rng.uniform(0, 2 * math.pi)
        for t in np.linspace(0.0, 1.0, per_leg, endpoint=False):
            # Zero at both ends of the leg, so the line passes through every control point.
            bend = amplitude_deg * math.sin(math.pi * t) * math.sin(3 * math.pi * t + phase)
            coords.append((lon1 + (lon2 - lon1) * t + bend * normal_x / cos_lat,
                           lat1 + dy * t + bend * normal_y))
    coords.append((points[-1][1], points[-1][0]))
    return shapely.LineString(coords)


def rivers(rng: np.random.Generator) -> list[Feature]:
    """Schematic lines of real rivers around Xingtai."""
    return [feature(f"xt-river-{n:02d}", {"kind": "river", "name": zh, "name_en": en,
                                          "schematic": True},
                    _wiggle(rng, pts, 12, 0.006))
            for n, (zh, en, pts) in enumerate(RIVERS, start=1)]


def roads(rng: np.random.Generator, hubs: Sequence[dict[str, Any]]) -> list[Feature]:
    """An urban ring, two cross avenues and a road from the city to each county seat."""
    lat0, lon0 = CITY
    angles = np.linspace(0, 2 * np.pi, 48)
    radius = 0.045 * (1.0 + 0.06 * np.sin(3 * angles + 1.0))
    ring = shapely.LineString(np.column_stack((lon0 + radius * np.sin(angles) / 0.8,
                                               lat0 + radius * np.cos(angles))))
    out = [feature("xt-road-ring", {"kind": "ring_road", "name": "示范环城路",
                                    "name_en": "Demo ring road", "lanes": 6}, ring),
           feature("xt-road-ew", {"kind": "arterial", "name": "示范东西大道",
                                  "name_en": "Demo East-West Avenue", "lanes": 6},
                   _wiggle(rng, [(lat0, lon0 - 0.09), (lat0 + 0.004, lon0 + 0.09)], 10, 0.002)),
           feature("xt-road-ns", {"kind": "arterial", "name": "示范南北大道",
                                  "name_en": "Demo North-South Avenue", "lanes": 6},
                   _wiggle(rng, [(lat0 - 0.07, lon0 + 0.01), (lat0 + 0.07, lon0)], 10, 0.002))]
    for hub in hubs:
        if int(hub["weight"]) > 1:
            continue
        out.append(feature(f"xt-road-{hub['code']}", {
            "kind": "county_road", "name": f"示范公路 邢台—{hub['name']}",
            "name_en": f"Demo road Xingtai - {hub['name_en']}", "lanes": 4},
            _wiggle(rng, [CITY, (hub["lat"], hub["lon"])], 16, 0.01)))
    return out


def population(rng: np.random.Generator, hubs: Sequence[dict[str, Any]]) -> list[Feature]:
    """1 km cells over the city, 5 km cells elsewhere, clipped to the municipality."""
    outline = shape(load_outline()["features"][0]["geometry"])
    shapely.prepare(outline)
    lat0, lon0, coarse_lat, coarse_lon = 36.75, 113.75, 0.05, 0.0625
    fine_rows, fine_cols = range(4, 8), range(10, 14)  # 16 coarse cells around the city
    cells: list[tuple[shapely.Geometry, int]] = []
    for row in range(math.ceil((37.82 - lat0) / coarse_lat)):
        for col in range(math.ceil((115.85 - lon0) / coarse_lon)):
            south, west = lat0 + row * coarse_lat, lon0 + col * coarse_lon
            split = 5 if row in fine_rows and col in fine_cols else 1
            for i in range(split):
                for j in range(split):
                    box = shapely.box(west + j * coarse_lon / split, south + i * coarse_lat / split,
                                      west + (j + 1) * coarse_lon / split,
                                      south + (i + 1) * coarse_lat / split)
                    cells.append((box, 1 if split == 5 else 5))
    density = _density(hubs)
    kept: list[tuple[shapely.Geometry, int, float]] = []
    for box, km in cells:
        part = shapely.set_precision(box.intersection(outline), 10.0 ** -DECIMALS)
        if part.is_empty or part.area < 1e-7:
            continue
        west, south, east, north = (float(v) for v in box.bounds)
        xs, ys = np.meshgrid(np.linspace(west, east, 5), np.linspace(south, north, 5))
        inside = shapely.contains_xy(outline, xs.ravel(), ys.ravel())
        mean = float(np.mean(density(ys.ravel()[inside], xs.ravel()[inside]))) if inside.any() \
            else float(density(np.array([part.centroid.y]), np.array([part.centroid.x]))[0])
        people = mean * area_m2(part) / 1e6 * float(rng.lognormal(0.0, 0.15))
        kept.append((part, km, people))
    scale = TOTAL_PEOPLE / sum(p for _, _, p in kept)
    return [feature(f"xt-pop-{n:05d}", {"kind": "population_cell", "cell_km": km,
                                        "population": int(round(p * scale))}, part)
            for n, (part, km, p) in enumerate(kept, start=1)]


Density = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


def _density(hubs: Sequence[dict[str, Any]]) -> Density:
    """People per km² at (lats, lons): plain and hills, the city, and the county seats."""
    seats = [(h["lat"], h["lon"]) for h in hubs if int(h["weight"]) == 1]

    def at(lats: NDArray[np.float64], lons: NDArray[np.float64]) -> NDArray[np.float64]:
        def bump(lat: float, lon: float, peak: float, sigma_km: float) -> NDArray[np.float64]:
            dy = (lats - lat) * 111.2
            dx = (lons - lon) * 111.2 * math.cos(math.radians(lat))
            result: NDArray[np.float64] = peak * np.exp(-(dx * dx + dy * dy) / (2 * sigma_km**2))
            return result
        # Western Taihang foothills are thinly settled; the plain east of ~114.25° is farmland.
        total: NDArray[np.float64] = 90.0 + 330.0 / (1.0 + np.exp(-(lons - 114.25) / 0.05))
        total = total + bump(*CITY, 14_000.0, 3.5) + bump(*CITY, 2_500.0, 9.0)
        for lat, lon in seats:
            total = total + bump(lat, lon, 4_000.0, 2.0)
        return total

    return at


def write(path: Path, name: str, features: list[Feature]) -> int:
    """Write a compact collection, one feature a line; return its size in bytes."""
    head = json.dumps({"type": "FeatureCollection", "name": name, "synthetic": True,
                       "attribution": DEMO_ATTRIBUTION}, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = head + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def build(out_dir: Path) -> None:
    """Generate and write every demo layer."""
    rules = tomllib.loads((ROOT / "config" / "rules.toml").read_text(encoding="utf-8"))
    hubs = tomllib.loads((ROOT / "config" / "demo_city.toml").read_text(encoding="utf-8"))["hub"]
    rng = np.random.default_rng(SEED)
    placer = Placer(rng, DistrictIndex.from_package())
    layers = {
        "facilities": facilities(rules, hubs, placer),
        "cameras": cameras(rules, hubs, placer),
        "gauges": gauges(rules),
        "sensitive_areas": sensitive_areas(rules),
        "roads": roads(rng, hubs),
        "rivers": rivers(rng),
        "population": population(rng, hubs),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, features in layers.items():
        size = write(out_dir / f"{name}.geojson", f"demo_{name}", features)
        total += size
        print(f"{name}: {len(features)} features, {size / 1024:.1f} KiB")
    print(f"total {total / 1024:.1f} KiB in {out_dir}")


def main(argv: Sequence[str] | None = None) -> int:
    """Build the demo layers; return the exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEMO_DIR)
    build(parser.parse_args(argv).out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
