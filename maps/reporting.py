"""Map layers as the reports draw them (incidents.reports' own types, built from the basemap)."""

from __future__ import annotations

from functools import cache

from incidents.reports.model import LocalText, MapDistrict
from maps.basemap import load_districts


@cache
def report_districts() -> tuple[MapDistrict, ...]:
    """Xingtai's districts with their names and label points, for report maps."""
    return tuple(
        MapDistrict(name=LocalText(zh=p["name"], en=p["name_en"]), geometry=f["geometry"],
                    label_at=(p["label_lat"], p["label_lon"]) if "label_lat" in p else None)
        for f in load_districts()["features"] for p in [f["properties"]])
