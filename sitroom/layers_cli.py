"""`sitroom layers import|list`: map layers in the database (the source of truth for analysis)."""

from __future__ import annotations

import sys
from pathlib import Path

from config.settings import Settings
from incidents.layers import LayerExists
from incidents.store import StoreUnavailable


async def import_layer(settings: Settings, path: Path, name: str, kind: str,
                       crs: str | None, lat_column: str | None, lon_column: str | None) -> int:
    """Import one file; print what was stored and changed; 0 on success, 2 when refused."""
    from maps.importer import import_layer_file
    from maps.layers import LayerError

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
    from incidents.store.layers import LayerStore

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
