"""The map snapshot: one outline per district, markers by level and agency, true scale."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from incidents.cap import BoundingBox
from incidents.model import Level
from incidents.reports.mapsnap import (
    AGENCY_COLOURS,
    KM_PER_DEGREE,
    agency_colour,
    fit,
    layout_map,
    render_svg,
)
from incidents.reports.model import Lang, LocalText, MapDistrict, MapInput, MapPoint, PointKind
from tests.unit.incidents.reports_sample import XIANGDU, XINDU, sample_input

SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg(map_input: MapInput, lang: Lang = Lang.ZH) -> ET.Element:
    return ET.fromstring(render_svg(map_input, 800, 500, lang=lang, standalone=True))


def test_one_path_per_district_and_their_names() -> None:
    root = _svg(sample_input().map)
    districts = root.findall(f"{SVG_NS}path[@class='district']")
    assert len(districts) == 2
    # the MultiPolygon's two polygons are one path with two sub-paths
    assert [d.attrib["d"].count("M") for d in districts] == [1, 2]
    names = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "信都区" in names and "襄都区" in names
    english = [t.text for t in _svg(sample_input().map, Lang.EN).iter(f"{SVG_NS}text")]
    assert "Xindu District" in english and "N" in english


@pytest.mark.parametrize("level", list(Level))
def test_incident_marker_has_the_level_colour(level: Level) -> None:
    root = _svg(sample_input(level=level).map)
    (marker,) = root.findall(f"{SVG_NS}circle[@class='incident']")
    assert marker.attrib["fill"] == level.colour


def test_units_are_coloured_by_agency() -> None:
    root = _svg(sample_input().map)
    fills = sorted(c.attrib["fill"] for c in root.findall(f"{SVG_NS}circle[@class='unit']"))
    assert fills == sorted([AGENCY_COLOURS["fire"], AGENCY_COLOURS["police"]])
    assert agency_colour("mine_rescue") == agency_colour("mine_rescue")  # stable for others
    assert agency_colour("mine_rescue").startswith("#")


def test_scale_bar_and_radius_are_true_to_distance() -> None:
    data = sample_input().map
    layout = layout_map(data, 800, 500)
    box = data.bbox
    # The frame is 0.2° of longitude at 37.06°N, about 17.75 km: a fifth of it is ~3.5 km,
    # so the bar shows the largest round figure below it, 2 km.
    assert layout.scale_bar[2] == "2 公里"
    proj = fit(box.south, box.west, box.north, box.east, 800, 500, margin=layout.font)
    assert layout.scale_bar[1] == pytest.approx(2 * proj.units_per_km)
    ((_, _), radius), = layout.radii
    assert radius == pytest.approx(proj.units_per_km)  # 1000 m
    # cos(lat) correction: a km east is as long as a km north
    x0, y0 = proj.point(37.06, 114.47)
    x1, _ = proj.point(37.06, 114.47 + 1 / (KM_PER_DEGREE * math.cos(math.radians(37.06))))
    _, y1 = proj.point(37.06 + 1 / KM_PER_DEGREE, 114.47)
    assert x1 - x0 == pytest.approx(y0 - y1, rel=1e-3)


def test_frame_is_centred_with_its_aspect_kept() -> None:
    proj = fit(37.0, 114.4, 37.12, 114.6, 800, 500, margin=10)
    west_x, north_y = proj.point(37.12, 114.4)
    east_x, south_y = proj.point(37.0, 114.6)
    assert (west_x + east_x) / 2 == pytest.approx(400)
    assert (north_y + south_y) / 2 == pytest.approx(250)
    # 0.2° of longitude at 37°N is 0.16° of latitude long, wider than the frame is tall
    # (0.12°) but not enough to fill 780 units: the height fills the box inside the margin.
    assert north_y == pytest.approx(10) and south_y == pytest.approx(490)
    assert west_x > 10 and east_x < 790


def test_svg_is_deterministic_and_inline_svg_has_no_namespace() -> None:
    data = sample_input().map
    assert render_svg(data, 640, 400) == render_svg(data, 640, 400)
    assert "http" not in render_svg(data, 640, 400)
    assert 'xmlns="http://www.w3.org/2000/svg"' in render_svg(data, 640, 400, standalone=True)


def test_texts_in_the_svg_are_escaped() -> None:
    hostile = MapDistrict(name=LocalText(zh="<b>&区", en="<b>"), geometry=XINDU.geometry)
    data = MapInput(bbox=BoundingBox(south=37.0, west=114.4, north=37.12, east=114.6),
                    districts=(hostile, XIANGDU),
                    points=(MapPoint(kind=PointKind.UNIT, lat=37.05, lon=114.45,
                                     label='"><script>', agency="police"),))
    svg = render_svg(data, 640, 400, standalone=True)
    assert "<b>" not in svg and "<script>" not in svg
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG_NS}text")]
    assert "<b>&区" in texts and '"><script>' in texts


def test_a_label_outside_the_frame_is_left_out() -> None:
    far = MapDistrict(name=LocalText(zh="远方", en="Far"), geometry=XINDU.geometry,
                      label_at=(40.0, 120.0))
    data = MapInput(bbox=BoundingBox(south=37.0, west=114.4, north=37.12, east=114.6),
                    districts=(far,))
    layout = layout_map(data, 640, 400)
    assert layout.districts[0].label_at is None
    assert "远方" not in render_svg(data, 640, 400)


def test_a_single_point_frame_still_draws() -> None:
    point = MapPoint(kind=PointKind.INCIDENT, lat=37.06, lon=114.47, level=Level.II)
    data = MapInput(bbox=BoundingBox(south=37.06, west=114.47, north=37.06, east=114.47),
                    points=(point,))
    svg = render_svg(data, 400, 300)
    cx, cy = (float(v) for v in re.findall(r'class="incident" cx="([\d.]+)" cy="([\d.]+)"',
                                           svg)[0])
    assert (cx, cy) == (200.0, 150.0)
    assert "米" in svg  # a few hundred metres wide: the scale bar is in metres
