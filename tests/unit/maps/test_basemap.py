"""The shipped Xingtai basemap: its districts, outline, bounds and point lookup."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from maps.basemap import (
    DISTRICTS_FILE,
    OUTLINE_FILE,
    District,
    DistrictIndex,
    bounds,
    center,
    load_districts,
    load_outline,
)

XINGTAI_DIVISIONS = {
    "130502": "襄都区",
    "130503": "信都区",
    "130505": "任泽区",
    "130506": "南和区",
    "130522": "临城县",
    "130523": "内丘县",
    "130524": "柏乡县",
    "130525": "隆尧县",
    "130528": "宁晋县",
    "130529": "巨鹿县",
    "130530": "新河县",
    "130531": "广宗县",
    "130532": "平乡县",
    "130533": "威县",
    "130534": "清河县",
    "130535": "临西县",
    "130581": "南宫市",
    "130582": "沙河市",
}

URBAN_XINGTAI = (114.50, 37.07)
"""(lon, lat) in the city proper, about 1 km east of the Xiangdu/Xindu border."""


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_package()


def test_all_eighteen_county_level_divisions_with_chinese_names() -> None:
    features = load_districts()["features"]
    found = {f["properties"]["code"]: f["properties"]["name"] for f in features}
    assert found == XINGTAI_DIVISIONS


def test_every_feature_has_the_agreed_properties() -> None:
    for f in load_districts()["features"]:
        props = f["properties"]
        assert props["level"] == "county"
        assert props["name_en"].endswith((" District", " County", " City"))
        assert isinstance(props["label_lat"], float) and isinstance(props["label_lon"], float)
        assert f["geometry"]["type"] == "MultiPolygon"
    names_en = {
        f["properties"]["code"]: f["properties"]["name_en"] for f in load_districts()["features"]
    }
    assert names_en["130502"] == "Xiangdu District"
    assert names_en["130582"] == "Shahe City"
    assert names_en["130522"] == "Lincheng County"


def test_label_point_lies_in_its_own_district(index: DistrictIndex) -> None:
    for f in load_districts()["features"]:
        props = f["properties"]
        district = index.district_of(props["label_lon"], props["label_lat"])
        assert district is not None and district.code == props["code"]


def test_districts_tile_the_outline() -> None:
    districts = [shape(f["geometry"]) for f in load_districts()["features"]]
    outline_features = load_outline()["features"]
    assert len(outline_features) == 1
    assert outline_features[0]["properties"]["code"] == "130500"
    assert outline_features[0]["properties"]["name"] == "邢台市"
    assert outline_features[0]["properties"]["name_en"] == "Xingtai"
    outline = shape(outline_features[0]["geometry"])
    assert shapely.coverage_is_valid(np.array(districts, dtype=object))
    gap_or_overlap = shapely.union_all(districts).symmetric_difference(outline).area
    assert gap_or_overlap < 1e-6 * outline.area


def test_city_centre_is_in_xiangdu(index: DistrictIndex) -> None:
    assert index.district_of(*URBAN_XINGTAI) == District("130502", "襄都区", "Xiangdu District")


def test_western_city_is_in_xindu(index: DistrictIndex) -> None:
    district = index.district_of(114.45, 37.07)
    assert district is not None and district.name == "信都区"


def test_beijing_is_outside(index: DistrictIndex) -> None:
    assert index.district_of(116.3913, 39.9073) is None


def test_districts_of_agrees_with_district_of(index: DistrictIndex) -> None:
    min_lon, min_lat, max_lon, max_lat = bounds()
    rng = np.random.default_rng(130500)
    lons = rng.uniform(min_lon - 0.2, max_lon + 0.2, 400)
    lats = rng.uniform(min_lat - 0.2, max_lat + 0.2, 400)
    codes = index.districts_of(lons, lats)
    assert len(codes) == 400
    expected = [index.district_of(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]
    assert codes == [d.code if d is not None else None for d in expected]
    assert None in codes and set(codes) - {None} <= set(XINGTAI_DIVISIONS)


def test_districts_of_handles_empty_and_nan(index: DistrictIndex) -> None:
    assert index.districts_of(np.array([]), np.array([])) == []
    assert index.districts_of(np.array([np.nan, 114.5]), np.array([37.07, 37.07])) == [
        None,
        "130502",
    ]


def test_bounds_contain_the_city_and_center_is_lat_first() -> None:
    min_lon, min_lat, max_lon, max_lat = bounds()
    assert min_lon < URBAN_XINGTAI[0] < max_lon and min_lat < URBAN_XINGTAI[1] < max_lat
    assert 113.5 < min_lon < max_lon < 116.0 and 36.5 < min_lat < max_lat < 38.0
    lat, lon = center()
    assert min_lat < lat < max_lat and min_lon < lon < max_lon


def test_collections_are_loaded_once() -> None:
    assert load_districts() is load_districts()
    assert len(DistrictIndex.from_package()) == len(XINGTAI_DIVISIONS)


def test_shipped_files_are_small() -> None:
    data = files("maps.data")
    total = sum(len(data.joinpath(name).read_bytes()) for name in (DISTRICTS_FILE, OUTLINE_FILE))
    assert 100_000 < total < 400_000
