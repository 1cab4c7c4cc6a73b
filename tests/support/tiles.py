"""Small raster tile files for tests: PNG tiles drawn with Pillow, written as MBTiles (SQLite,
TMS rows) or PMTiles v3 (with the `pmtiles` package's writer)."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

Xyz = tuple[int, int, int]
"""A tile address in the XYZ scheme: (zoom, column, row from the north)."""


def png_tile(colour: tuple[int, int, int], size: int = 256) -> bytes:
    """A plain square PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def write_mbtiles(path: Path, tiles: Mapping[Xyz, bytes], *, fmt: str | None = "png",
                  **metadata: str) -> Path:
    """An MBTiles 1.3 file holding `tiles` (keyed by XYZ address, stored by TMS row)."""
    meta = {"name": "test tiles", **({"format": fmt} if fmt else {}), **metadata}
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer,"
                   " tile_row integer, tile_data blob)")
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles"
                   " (zoom_level, tile_column, tile_row)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                       [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
    db.close()
    return path


def write_pmtiles(path: Path, tiles: Mapping[Xyz, bytes], *,
                  tile_type: TileType = TileType.PNG, **metadata: Any) -> Path:
    """A PMTiles v3 file holding `tiles` (keyed by XYZ address)."""
    by_id = sorted((zxy_to_tileid(z, x, y), data) for (z, x, y), data in tiles.items())
    with write(str(path)) as writer:
        for tile_id, data in by_id:
            writer.write_tile(tile_id, data)
        writer.finalize({
            "tile_type": tile_type, "tile_compression": Compression.NONE,
            "min_lon_e7": int(113.9 * 1e7), "min_lat_e7": int(36.7 * 1e7),
            "max_lon_e7": int(115.8 * 1e7), "max_lat_e7": int(37.8 * 1e7),
            "center_zoom": 9, "center_lon_e7": int(114.9 * 1e7),
            "center_lat_e7": int(37.2 * 1e7),
        }, {"name": "test tiles", **metadata})
    return path
