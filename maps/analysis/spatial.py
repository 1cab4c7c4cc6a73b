"""``incidents.spatial.Spatial`` built from layers: districts, facilities, cameras, population.

The command service builds one ``LayerSpatial`` at start-up from the layers in the store
(``LayerStore.feature_collections``), or from the shipped demo layers with ``demo_spatial()``
when there is no database (tests, the demo).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import shapely

from incidents.spatial import DistrictRef, DownwindZone, Facility
from maps.analysis.districts import DistrictGrid, district_ref
from maps.analysis.nearby import FacilityIndex, PopulationGrid
from maps.analysis.plume import HazardClass, ReleaseSize, hazard_zone_for
from maps.basemap import DistrictIndex, load_districts
from maps.demo import demo_layer_files
from maps.layers import LayerKind


class LayerSpatial:
    """Answers the command service's spatial questions from in-memory indexes of the layers."""

    __slots__ = ("_districts", "_facilities", "_population")

    def __init__(self, districts: DistrictGrid, facilities: FacilityIndex,
                 population: PopulationGrid) -> None:
        """Wrap ready-built indexes."""
        self._districts = districts
        self._facilities = facilities
        self._population = population

    @classmethod
    def from_feature_collections(
        cls, *, districts: Mapping[str, Any] | None = None,
        facilities: Iterable[Mapping[str, Any]] = (),
        cameras: Iterable[Mapping[str, Any]] = (),
        population: Iterable[Mapping[str, Any]] = (),
    ) -> LayerSpatial:
        """Build from GeoJSON layers (gauges layers may go with the facilities).

        A collection's ``name`` member (as ``LayerStore`` returns it) names the layer of each
        facility; without districts, the shipped Xingtai districts are used.
        """
        index = DistrictIndex(districts if districts is not None else load_districts())
        named = [(str(fc.get("name") or "facilities"), fc) for fc in facilities]
        named += [(str(fc.get("name") or "cameras"), fc) for fc in cameras]
        grids = [PopulationGrid.from_feature_collection(fc) for fc in population]
        cells = [c for grid in grids for c in grid.cells]
        people = [p for grid in grids for p in grid.people]
        return cls(DistrictGrid(index), FacilityIndex.from_feature_collections(named),
                   PopulationGrid(cells, people))

    @property
    def districts(self) -> DistrictGrid:
        """The district lookup, for many points at once."""
        return self._districts

    def district_of(self, lat: float, lon: float) -> DistrictRef | None:
        """The district containing the point, or None outside the city."""
        found = self._districts.district_of(lon, lat)
        return None if found is None else district_ref(found)

    def facilities_near(self, lat: float, lon: float, radius_m: float,
                        kinds: Iterable[str] | None = None) -> list[Facility]:
        """Facilities (and cameras) within ``radius_m``, nearest first; all kinds when None."""
        return self._facilities.near(lat, lon, radius_m, kinds)

    def population_within(self, lat: float, lon: float, radius_m: float) -> int:
        """Estimated people living within ``radius_m`` of the point."""
        return self._population.within_radius(lat, lon, radius_m)

    def downwind_zone(self, lat: float, lon: float, *, wind_from_deg: float,
                      wind_speed_ms: float, large: bool, night: bool) -> DownwindZone:
        """The hazard zone of a release of unknown substance (treated as moderately toxic by
        inhalation), and the people and facilities inside it."""
        zone = hazard_zone_for(lat, lon, wind_from_deg=wind_from_deg,
                               wind_speed_ms=wind_speed_ms, hazard=HazardClass.MODERATE,
                               size=ReleaseSize.LARGE if large else ReleaseSize.SMALL,
                               night=night)
        return DownwindZone(
            wind_from_deg=wind_from_deg, wind_speed_ms=wind_speed_ms,
            downwind_deg=zone.downwind_deg, isolation_m=zone.isolation_m,
            protective_m=zone.protective_m, geojson=zone.geojson(),
            population=self.population_in(zone.zone),
            facilities=self.facilities_in(zone.zone, origin=(lat, lon)))

    def facilities_in(self, zone: shapely.Geometry, kinds: Iterable[str] | None = None, *,
                      origin: tuple[float, float] | None = None) -> list[Facility]:
        """Facilities inside a zone (evacuation area, hazard zone), nearest ``origin`` first."""
        return self._facilities.within(zone, kinds, origin=origin)

    def population_in(self, zone: shapely.Geometry) -> int:
        """Estimated people inside a zone."""
        return self._population.within(zone)


def read_collection(path: Path) -> dict[str, Any]:
    """Read a GeoJSON FeatureCollection file as written by the demo script."""
    collection: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return collection


def demo_spatial() -> LayerSpatial:
    """A ``LayerSpatial`` over the shipped Xingtai districts and synthetic demo layers."""
    by_kind: dict[LayerKind, list[dict[str, Any]]] = {}
    for name, kind, path in demo_layer_files():
        by_kind.setdefault(kind, []).append({**read_collection(path), "name": name})
    return LayerSpatial.from_feature_collections(
        facilities=by_kind.get(LayerKind.FACILITIES, []) + by_kind.get(LayerKind.GAUGES, []),
        cameras=by_kind.get(LayerKind.CAMERAS, []),
        population=by_kind.get(LayerKind.POPULATION, []),
    )
