"""The fence index: fences at a point, boundaries inside, agreement with testing every fence."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from maps.analysis.geofence import Fence, FenceIndex, fences_from_collection

SCHOOL = Fence(id="school", name="示范中学", kind="school", dwell_s=300.0,
               geometry=shapely.box(114.5043, 37.0641, 114.5077, 37.0669))
PARK = Fence(id="park", name="示范化工园区", kind="chemical_park",
             geometry=shapely.box(114.50, 37.06, 114.52, 37.08))  # holds the school; no dwell
INSIDE_BOTH = (37.0655, 114.5060)
PARK_ONLY = (37.0750, 114.5150)
OUTSIDE = (37.1000, 114.6000)


def test_fences_containing_a_point() -> None:
    index = FenceIndex([SCHOOL, PARK])
    assert [f.id for f in index.fences_containing(*INSIDE_BOTH)] == ["school", "park"]
    assert [f.id for f in index.fences_containing(*PARK_ONLY)] == ["park"]
    assert index.fences_containing(*OUTSIDE) == []
    # The boundary counts as inside.
    assert [f.id for f in index.fences_containing(37.0641, 114.5060)] == ["school", "park"]


def test_fences_from_a_sensitive_areas_layer() -> None:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "properties": {"name": "A", "kind": "school",
                                                       "dwell_s": 120},
         "geometry": shapely.geometry.mapping(SCHOOL.geometry)},
        {"type": "Feature", "id": "p", "properties": {"name": "point"},
         "geometry": {"type": "Point", "coordinates": [114.5, 37.07]}},
    ]}
    (fence,) = fences_from_collection(collection, default_dwell_s=600.0)
    assert (fence.id, fence.name, fence.kind, fence.dwell_s) == ("a", "A", "school", 120.0)
    with pytest.raises(ValueError, match="unique"):
        FenceIndex([fence, fence])


def test_grid_answers_agree_with_testing_every_fence() -> None:
    rng = np.random.default_rng(11)
    fences = []
    for i in range(300):
        lat, lon = float(rng.normal(37.07, 0.05)), float(rng.normal(114.5, 0.06))
        size = float(rng.uniform(0.001, 0.03))
        geometry = (shapely.Point(lon, lat).buffer(size) if i % 3 else
                    shapely.box(lon, lat, lon + size, lat + size / 2))
        fences.append(Fence(id=str(i), name=str(i), geometry=geometry))
    index = FenceIndex(fences)
    geometries = np.array([f.geometry for f in fences], dtype=object)
    ids = np.array([f.id for f in fences])
    lats = rng.normal(37.07, 0.06, 3000)
    lons = rng.normal(114.5, 0.07, 3000)
    for lat, lon in zip(lats.tolist(), lons.tolist(), strict=True):
        expected = ids[shapely.intersects_xy(geometries, lon, lat)].tolist()
        assert [f.id for f in index.fences_containing(lat, lon)] == expected


def test_a_corner_on_a_grid_line_is_inside() -> None:
    # 114.1 / 0.005 floors to column 22820, whose exact box starts at 114.10000000000001.
    fence = Fence(id="dam", name="水库", geometry=shapely.box(114.0, 37.0, 114.1, 37.1))
    index = FenceIndex([fence], cell_deg=0.005)
    for lat, lon in ((37.0, 114.1), (37.1, 114.1), (37.05, 114.1), (37.1, 114.05)):
        assert [f.id for f in index.fences_containing(lat, lon)] == ["dam"], (lat, lon)
