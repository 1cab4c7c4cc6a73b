"""`sitroom layers import|list` and the demo's layers: map layers in the database.

Importing joins two layers that must not know each other: ``maps.layers`` reads and cleans a
file (pure, no server) and ``incidents.store.layers`` keeps it in PostgreSQL (the source of
truth for analysis). This composition root is where they meet.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pyproj

from config.settings import Settings
from incidents.layers import LayerExists
from incidents.store import StoreUnavailable
from incidents.store.layers import LayerStore
from incidents.store.session import open_pool
from maps.crs import Crs
from maps.demo import DEMO_ATTRIBUTION, demo_layer_files
from maps.layers import LayerError, LayerKind, Progress, parse_kind, read_layer


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
    # One connection and a long timeout: a big layer is one long COPY, not many queries.
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


async def import_layer(settings: Settings, path: Path, name: str, kind: str,
                       crs: str | None, lat_column: str | None, lon_column: str | None) -> int:
    """Import one file; print what was stored and changed; 0 on success, 2 when refused."""
    assert settings.database_url
    try:
        summary = await import_layer_file(settings.database_url, path, name=name, kind=kind,
                                          crs=crs, lat_column=lat_column,
                                          lon_column=lon_column)
    except (LayerError, LayerExists, StoreUnavailable) as exc:
        print(f"sitroom: {exc}", file=sys.stderr)
        return 2
    print(f"imported {summary.features} features into layer {summary.name!r}"
          f" ({summary.kind.value}, from {summary.source_crs}; {summary.repaired} repaired,"
          f" {summary.dropped} dropped)")
    for warning in summary.warnings:
        print(f"  note: {warning}")
    return 0


async def list_layers(settings: Settings) -> int:
    """Print every stored layer."""
    from incidents.store import Store

    assert settings.database_url
    store = await Store.connect(settings.database_url)
    try:
        layers = await LayerStore(store.pool).layers()
    finally:
        await store.close()
    for layer in layers:
        print(f"{layer.name:24} {layer.kind:16} {layer.feature_count:8} features"
              f"  from {layer.source_crs}")
    if not layers:
        print("no layers: import one with `sitroom layers import FILE --name N --kind K`")
    return 0
