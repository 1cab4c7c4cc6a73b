"""Geofences: enter, dwell and exit in order; fences at a point; agreement with a full test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely

from maps.analysis.geofence import (
    Fence,
    GeofenceEvent,
    GeofenceEventKind,
    GeofenceTracker,
    fences_from_collection,
)

T0 = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
SCHOOL = Fence(id="school", name="示范中学", kind="school", dwell_s=300.0,
               geometry=shapely.box(114.5043, 37.0641, 114.5077, 37.0669))
PARK = Fence(id="park", name="示范化工园区", kind="chemical_park",
             geometry=shapely.box(114.50, 37.06, 114.52, 37.08))  # holds the school; no dwell
INSIDE_BOTH = (37.0655, 114.5060)
PARK_ONLY = (37.0750, 114.5150)
OUTSIDE = (37.1000, 114.6000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(events: list[GeofenceEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.fence) for e in events]


def test_enter_dwell_exit_sequence() -> None:
    tracker = GeofenceTracker([SCHOOL, PARK])
    assert tracker.update("u1", *OUTSIDE, at(0)) == []
    assert kinds(tracker.update("u1", *INSIDE_BOTH, at(10))) == [("enter", "school"),
                                                                  ("enter", "park")]
    assert tracker.update("u1", *INSIDE_BOTH, at(200)) == []
    dwell = tracker.update("u1", *INSIDE_BOTH, at(310))
    assert kinds(dwell) == [("dwell", "school")]
    assert dwell[0].entered_at == at(10) and dwell[0].ts == at(310)
    assert tracker.update("u1", *INSIDE_BOTH, at(900)) == []  # dwell is raised once per stay
    assert tracker.inside("u1") == ["school", "park"]
    leave_school = tracker.update("u1", *PARK_ONLY, at(1000))
    assert kinds(leave_school) == [("exit", "school")]
    assert leave_school[0].entered_at == at(10)
    assert kinds(tracker.update("u1", *OUTSIDE, at(1100))) == [("exit", "park")]
    assert tracker.inside("u1") == []


def test_a_new_stay_dwells_again_and_units_are_independent() -> None:
    tracker = GeofenceTracker([SCHOOL])
    tracker.update("u1", *INSIDE_BOTH, at(0))
    assert kinds(tracker.update("u1", *INSIDE_BOTH, at(300))) == [("dwell", "school")]
    tracker.update("u1", *OUTSIDE, at(400))
    assert kinds(tracker.update("u2", *INSIDE_BOTH, at(400))) == [("enter", "school")]
    assert kinds(tracker.update("u1", *INSIDE_BOTH, at(500))) == [("enter", "school")]
    assert kinds(tracker.update("u1", *INSIDE_BOTH, at(800))) == [("dwell", "school")]


def test_a_late_position_is_ignored() -> None:
    tracker = GeofenceTracker([SCHOOL])
    tracker.update("u1", *INSIDE_BOTH, at(100))
    assert tracker.update("u1", *OUTSIDE, at(50)) == []
    assert tracker.inside("u1") == ["school"]


def test_forget_drops_the_state_without_events() -> None:
    tracker = GeofenceTracker([SCHOOL])
    tracker.update("u1", *INSIDE_BOTH, at(0))
    tracker.forget("u1")
    assert tracker.inside("u1") == []
    assert kinds(tracker.update("u1", *INSIDE_BOTH, at(10))) == [("enter", "school")]


def test_fences_containing_a_point() -> None:
    tracker = GeofenceTracker([SCHOOL, PARK])
    assert [f.id for f in tracker.fences_containing(*INSIDE_BOTH)] == ["school", "park"]
    assert [f.id for f in tracker.fences_containing(*PARK_ONLY)] == ["park"]
    assert tracker.fences_containing(*OUTSIDE) == []
    # The boundary counts as inside.
    assert [f.id for f in tracker.fences_containing(37.0641, 114.5060)] == ["school", "park"]


def test_events_carry_the_position_and_names() -> None:
    tracker = GeofenceTracker([SCHOOL])
    (event,) = tracker.update("u9", *INSIDE_BOTH, at(0))
    assert event.kind is GeofenceEventKind.ENTER
    assert (event.unit, event.fence_name, event.lat, event.lon) == ("u9", "示范中学",
                                                                    *INSIDE_BOTH)


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
        GeofenceTracker([fence, fence])


def test_grid_answers_agree_with_testing_every_fence() -> None:
    rng = np.random.default_rng(11)
    fences = []
    for i in range(300):
        lat, lon = float(rng.normal(37.07, 0.05)), float(rng.normal(114.5, 0.06))
        size = float(rng.uniform(0.001, 0.03))
        geometry = (shapely.Point(lon, lat).buffer(size) if i % 3 else
                    shapely.box(lon, lat, lon + size, lat + size / 2))
        fences.append(Fence(id=str(i), name=str(i), geometry=geometry))
    tracker = GeofenceTracker(fences)
    geometries = np.array([f.geometry for f in fences], dtype=object)
    ids = np.array([f.id for f in fences])
    lats = rng.normal(37.07, 0.06, 3000)
    lons = rng.normal(114.5, 0.07, 3000)
    for lat, lon in zip(lats.tolist(), lons.tolist(), strict=True):
        expected = ids[shapely.intersects_xy(geometries, lon, lat)].tolist()
        assert [f.id for f in tracker.fences_containing(lat, lon)] == expected


def test_a_late_position_outside_every_fence_does_not_enter() -> None:
    tracker = GeofenceTracker([SCHOOL])
    tracker.update("u1", *OUTSIDE, at(100))
    assert tracker.update("u1", *INSIDE_BOTH, at(50)) == []
    assert tracker.inside("u1") == []


def test_a_corner_on_a_grid_line_is_inside() -> None:
    # 114.1 / 0.005 floors to column 22820, whose exact box starts at 114.10000000000001.
    fence = Fence(id="dam", name="水库", geometry=shapely.box(114.0, 37.0, 114.1, 37.1))
    tracker = GeofenceTracker([fence], cell_deg=0.005)
    for lat, lon in ((37.0, 114.1), (37.1, 114.1), (37.05, 114.1), (37.1, 114.05)):
        assert [f.id for f in tracker.fences_containing(lat, lon)] == ["dam"], (lat, lon)
