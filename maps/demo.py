"""The shipped synthetic Xingtai demo layers: where they are, what they are called, who made them.

Storing them is not done here (``maps`` reaches no server): ``sitroom.layers_cli`` reads a file
with ``maps.layers`` and keeps it through ``incidents.store.layers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from maps.layers import LayerKind

DEMO_DIR: Final = Path(__file__).resolve().parent / "data" / "demo"
"""Where ``scripts/build_demo_layers.py`` writes the synthetic Xingtai layers."""
DEMO_ATTRIBUTION: Final = (
    "SYNTHETIC 合成演示数据，非真实设施 / synthetic demo data, not real facilities "
    "(sitroom scripts/build_demo_layers.py; see maps/data/ATTRIBUTION.md)"
)
_DEMO_LAYERS: Final = (
    ("demo_facilities", LayerKind.FACILITIES, "facilities.geojson"),
    ("demo_cameras", LayerKind.CAMERAS, "cameras.geojson"),
    ("demo_gauges", LayerKind.GAUGES, "gauges.geojson"),
    ("demo_sensitive_areas", LayerKind.SENSITIVE_AREAS, "sensitive_areas.geojson"),
    ("demo_roads", LayerKind.ROADS, "roads.geojson"),
    ("demo_rivers", LayerKind.RIVERS, "rivers.geojson"),
    ("demo_population", LayerKind.POPULATION, "population.geojson"),
)


def demo_layer_files() -> list[tuple[str, LayerKind, Path]]:
    """The shipped synthetic Xingtai layers as (layer name, kind, file), for ``sitroom demo``."""
    return [(name, kind, DEMO_DIR / filename) for name, kind, filename in _DEMO_LAYERS]
