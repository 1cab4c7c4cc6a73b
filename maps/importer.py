"""Import a layer file into PostgreSQL: ``sitroom layers import`` and ``sitroom demo`` use this.

The only place in ``maps/`` that reaches a server, and only through ``incidents.store.layers``:
reading and cleaning stay in ``maps.layers`` (pure), keeping stays in the store.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import pyproj

from incidents.store.layers import LayerStore
from incidents.store.session import open_pool
from maps.crs import Crs
from maps.layers import LayerKind, Progress, parse_kind, read_layer

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


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import stored, and what it had to change."""

    name: str
    """Layer name."""
    kind: LayerKind
    """Layer kind."""
    source_crs: str
    """CRS of the file (EPSG:xxxx, gcj02 or bd09); the stored geometry is WGS-84."""
    features: int
    """Features stored."""
    repaired: int
    """Invalid geometries repaired."""
    dropped: int
    """Features dropped (empty geometry, missing coordinates)."""
    warnings: tuple[str, ...]
    """Bilingual notes on what was changed or assumed."""


class StderrProgress:
    """Prints "importing NAME: 45% (4500/10000)" lines to a stream, one per 10 % step."""

    def __init__(self, name: str, stream: TextIO | None = None, step: int = 10) -> None:
        """Report on ``stream`` (stderr by default) every ``step`` percent."""
        self._name = name
        self._stream = stream
        self._step = step
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        """Print a line when the percentage reaches a new step (and always at 100 %)."""
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        if percent // self._step > self._shown // self._step or (
                percent == 100 and self._shown < 100):
            self._shown = percent
            print(f"导入 {self._name} / importing {self._name}: {percent}% ({done}/{total})",
                  file=self._stream if self._stream is not None else sys.stderr, flush=True)


def demo_layer_files() -> list[tuple[str, LayerKind, Path]]:
    """The shipped synthetic Xingtai layers as (layer name, kind, file), for ``sitroom demo``."""
    return [(name, kind, DEMO_DIR / filename) for name, kind, filename in _DEMO_LAYERS]


async def import_layer_file(dsn: str, path: str | Path, *, name: str, kind: LayerKind | str,
                            crs: Crs | str | pyproj.CRS | None = None,
                            progress: Progress | None = None, attribution: str = "",
                            synthetic: bool = False, replace: bool = True,
                            lat_column: str | None = None,
                            lon_column: str | None = None) -> ImportSummary:
    """Read, clean and store one layer file; progress goes to stderr unless given.

    Raises LayerError for an unusable file (nothing is stored then) and StoreUnavailable when
    PostgreSQL cannot be reached.
    """
    layer_kind = parse_kind(kind)
    report = progress if progress is not None else StderrProgress(name)
    layer = await asyncio.to_thread(
        read_layer, path, kind=layer_kind, crs=crs, progress=report,
        lat_column=lat_column, lon_column=lon_column)
    collection = layer.collection
    if synthetic:
        collection = {**collection, "synthetic": True}
    pool = await open_pool(dsn, min_size=1, max_size=1, command_timeout=120)
    try:
        stored = await LayerStore(pool).put_layer(name, layer_kind.value, layer.source_crs,
                                                  collection, attribution, replace=replace)
    finally:
        await pool.close()
    return ImportSummary(name=name, kind=layer_kind, source_crs=layer.source_crs,
                         features=stored, repaired=layer.repaired, dropped=layer.dropped,
                         warnings=layer.warnings)


async def import_demo_layers(dsn: str, progress: bool = False) -> list[ImportSummary]:
    """Import every shipped synthetic layer, replacing earlier imports of them."""
    return [
        await import_layer_file(dsn, path, name=name, kind=kind, attribution=DEMO_ATTRIBUTION,
                                synthetic=True,
                                progress=None if progress else _silent)
        for name, kind, path in demo_layer_files()
    ]


def _silent(done: int, total: int) -> None:
    """A progress callback that reports nothing."""
