"""Sensitive areas of the rules, looked up through the maps' fence index (maps.analysis)."""

from __future__ import annotations

import msgspec
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.model import Level
from ingest.rules.config import Area, RuleSet, area_polygon, load_rules, severity
from ingest.rules.index import RuleIndex

# A big reservoir area (level II) overlapping a small school inside it (level III), and a
# chemical park (level I) sharing an edge with the reservoir: a point picks the most severe.
EXTRA = (
    Area(id="t-reservoir", kind="reservoir_dam", name="水库", name_en="Reservoir",
         level=Level.II, ring=((37.0, 114.0), (37.0, 114.1), (37.1, 114.1), (37.1, 114.0),
                               (37.0, 114.0))),
    Area(id="t-school", kind="school", name="学校", name_en="School", level=Level.III,
         ring=((37.04, 114.04), (37.04, 114.06), (37.06, 114.06), (37.06, 114.04),
               (37.04, 114.04))),
    Area(id="t-park", kind="chemical_park", name="化工园区", name_en="Chemical park",
         level=Level.I, ring=((37.05, 114.1), (37.05, 114.15), (37.08, 114.15),
                              (37.08, 114.1), (37.05, 114.1))),
)
RULES: RuleSet = msgspec.structs.replace(load_rules(), areas=(*load_rules().areas, *EXTRA))
INDEX = RuleIndex(RULES)


def brute_force(lat: float, lon: float) -> Area | None:
    """The most severe area whose polygon holds the point, boundary included (config order
    breaks ties), by testing every polygon."""
    ranked = sorted(RULES.areas, key=lambda a: -severity(a.level))
    point = shapely.Point(lon, lat)
    return next((a for a in ranked if area_polygon(a.ring).intersects(point)), None)


def test_the_most_severe_containing_area_wins() -> None:
    assert INDEX.area_at(37.05, 114.05) == EXTRA[0], "the reservoir (II) over the school (III)"
    assert INDEX.area_at(37.02, 114.02) == EXTRA[0]
    assert INDEX.area_at(37.06, 114.1) == EXTRA[2], "on the shared edge: the park is level I"
    assert INDEX.area_at(36.5, 113.5) is None


def test_vertices_and_edges_count_as_inside() -> None:
    for area in RULES.areas:
        for (lat1, lon1), (lat2, lon2) in zip(area.ring, area.ring[1:], strict=False):
            assert INDEX.area_at(lat1, lon1) is not None
            # A computed midpoint may round off the edge: only agreement is certain there.
            lat, lon = (lat1 + lat2) / 2, (lon1 + lon2) / 2
            assert INDEX.area_at(lat, lon) == brute_force(lat, lon)


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(36.95, 37.15), lon=st.floats(113.95, 114.6))
def test_the_index_agrees_with_testing_every_polygon(lat: float, lon: float) -> None:
    assert INDEX.area_at(lat, lon) == brute_force(lat, lon)
