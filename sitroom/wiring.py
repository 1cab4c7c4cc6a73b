"""Implementations chosen at start-up and handed to the pieces that must not import each other."""

from __future__ import annotations

from config.settings import Settings
from incidents.model import CoordSystem
from ingest.codecs import CrsPolicy
from maps.crs import Crs, to_wgs84


def convert_to_wgs84(system: str, lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 / BD-09 → WGS-84 (maps.crs), for ingest's codecs."""
    return to_wgs84(Crs(system), lon, lat)


def crs_policy(settings: Settings) -> CrsPolicy:
    """How ingest reads feed coordinates: per message `crs`, else the agency's setting."""
    return CrsPolicy(convert=convert_to_wgs84, agency_default={
        agency: CoordSystem(system) for agency, system in settings.ingest.feed_crs.items()})
