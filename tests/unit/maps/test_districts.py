"""The district raster agrees with the exact lookup, and knows the city's districts."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import shape

from incidents.spatial import DistrictRef
from maps.analysis.districts import DistrictGrid, district_ref
from maps.basemap import DistrictIndex, bounds, load_districts


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_package()


@pytest.fixture(scope="module")
def grid(index: DistrictIndex) -> DistrictGrid:
    return DistrictGrid(index)


@pytest.mark.parametrize(("lat", "lon", "code"), [
    (37.0700, 114.5000, "130502"),  # city centre, east of the Xiangdu/Xindu border: 襄都区
    (37.0700, 114.4500, "130503"),  # western city: 信都区
    (37.1760, 114.8000, "130505"),  # Renze's seat: 任泽区
    (36.9191, 114.1701, "130582"),  # Shahe's hub: 沙河市
])
def test_points_in_known_districts(grid: DistrictGrid, lat: float, lon: float,
                                   code: str) -> None:
    found = grid.district_of(lon, lat)
    assert found is not None and found.code == code


@pytest.mark.parametrize(("lat", "lon"), [
    (39.9073, 116.3913),  # Beijing
    (36.6100, 114.4900),  # Handan, south of the municipality
    (38.0400, 114.5100),  # Shijiazhuang, north of it
])
def test_points_outside_the_city_have_no_district(grid: DistrictGrid, lat: float,
                                                  lon: float) -> None:
    assert grid.district_of(lon, lat) is None


def test_grid_agrees_with_the_exact_index_everywhere(grid: DistrictGrid,
                                                     index: DistrictIndex) -> None:
    min_lon, min_lat, max_lon, max_lat = bounds()
    rng = np.random.default_rng(7)
    lons = rng.uniform(min_lon - 0.1, max_lon + 0.1, 50_000)
    lats = rng.uniform(min_lat - 0.1, max_lat + 0.1, 50_000)
    assert np.array_equal(grid.indices_of(lons, lats), index.indices_of(lons, lats))


def test_points_on_borders_and_vertices_agree(grid: DistrictGrid, index: DistrictIndex) -> None:
    # Every vertex of every district lies on a border: the hardest points for a raster.
    vertices = np.vstack([np.asarray(shape(f["geometry"]).exterior.coords)
                          if f["geometry"]["type"] == "Polygon" else
                          np.vstack([np.asarray(p.exterior.coords)
                                     for p in shape(f["geometry"]).geoms])
                          for f in load_districts()["features"]])
    found = grid.indices_of(vertices[:, 0], vertices[:, 1])
    assert np.array_equal(found, index.indices_of(vertices[:, 0], vertices[:, 1]))
    assert (found >= 0).all()


def test_nan_empty_and_shapes(grid: DistrictGrid) -> None:
    assert grid.districts_of(np.array([]), np.array([])) == []
    assert grid.districts_of([np.nan, 114.5, 200.0], [37.07, 37.07, 37.07]) == [
        None, "130502", None]
    assert grid.districts_of(np.full((2, 2), 114.5), np.full((2, 2), 37.07)) == ["130502"] * 4


def test_only_a_small_share_of_cells_needs_the_exact_test(grid: DistrictGrid) -> None:
    assert 0.0 < grid.boundary_share < 0.1
    assert len(grid.districts) == 18


def test_district_ref_carries_both_names(grid: DistrictGrid) -> None:
    found = grid.district_of(114.50, 37.07)
    assert found is not None
    assert district_ref(found) == DistrictRef(code="130502", name_zh="襄都区",
                                              name_en="Xiangdu District")


def test_cell_size_must_be_positive(index: DistrictIndex) -> None:
    with pytest.raises(ValueError, match="positive"):
        DistrictGrid(index, 0.0)
