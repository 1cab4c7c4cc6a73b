"""Raster tile readers: MBTiles (TMS rows flipped to XYZ) and PMTiles (root and leaf
directories), told apart by content, refusing vector and broken files with a reason."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from pmtiles.tile import TileType, deserialize_header

from maps.tiles import (
    MBTilesReader,
    PMTilesReader,
    TileError,
    TileFormat,
    in_grid,
    open_tiles,
    sniff_format,
    tile_etag,
    tms_row,
)
from tests.support.tiles import png_tile, write_mbtiles, write_pmtiles

RED, BLUE, GREEN = png_tile((200, 0, 0)), png_tile((0, 0, 200)), png_tile((0, 160, 0))
# Xingtai at zoom 9: the top and bottom rows of the same column differ, so a missing TMS flip
# hands out the wrong tile.
TILES = {(9, 418, 196): RED, (9, 418, 197): BLUE, (8, 209, 98): GREEN}


def test_tms_row_counts_from_the_south() -> None:
    assert tms_row(0, 0) == 0
    assert tms_row(1, 0) == 1
    assert tms_row(9, 196) == 315
    assert tms_row(9, tms_row(9, 196)) == 196


@pytest.mark.parametrize(("z", "x", "y", "inside"), [
    (0, 0, 0, True), (9, 511, 511, True), (9, 512, 0, False), (9, 0, -1, False),
    (-1, 0, 0, False), (25, 0, 0, False),
])
def test_grid_bounds(z: int, x: int, y: int, inside: bool) -> None:
    assert in_grid(z, x, y) is inside


def test_formats_by_name_and_by_signature() -> None:
    assert TileFormat.parse("JPEG") is TileFormat.JPEG
    assert TileFormat.parse("webp") is TileFormat.WEBP
    assert TileFormat.parse("pbf") is None
    assert TileFormat.JPEG.media_type == "image/jpeg"
    assert sniff_format(RED) is TileFormat.PNG
    assert sniff_format(b"\xff\xd8\xff\xe0rest") is TileFormat.JPEG
    assert sniff_format(b"RIFF\x10\x00\x00\x00WEBPVP8 ") is TileFormat.WEBP
    assert sniff_format(b"\x1a\x45") is None
    assert tile_etag(RED) == tile_etag(bytes(RED)) != tile_etag(BLUE)


def test_mbtiles_flips_rows_and_reads_metadata(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "xt.mbtiles", TILES, attribution="测试底图 test basemap",
                         bounds="113.9,36.7,115.8,37.8", minzoom="8", maxzoom="9")
    with open_tiles(path) as reader:
        assert isinstance(reader, MBTilesReader)
        assert reader.tile(9, 418, 196) == RED
        assert reader.tile(9, 418, 197) == BLUE
        assert reader.tile(8, 209, 98) == GREEN
        assert reader.tile(9, 418, 198) is None
        assert reader.tile(9, 418, 512) is None  # outside the grid: no query at all
        info = reader.info
    assert (info.format, info.min_zoom, info.max_zoom) == (TileFormat.PNG, 8, 9)
    assert info.bounds == (113.9, 36.7, 115.8, 37.8)
    assert info.attribution == "测试底图 test basemap"


def test_mbtiles_without_format_metadata_is_sniffed(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "bare.mbtiles", TILES, fmt=None)
    with MBTilesReader(path) as reader:
        assert reader.info.format is TileFormat.PNG
        assert (reader.info.min_zoom, reader.info.max_zoom) == (8, 9)


def test_mbtiles_of_vector_tiles_is_refused(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "vector.mbtiles", {(0, 0, 0): b"\x1a\x02"}, fmt="pbf")
    with pytest.raises(TileError, match="raster tiles only"):
        open_tiles(path)


def test_sqlite_file_without_tiles_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a integer)")
    db.close()
    with pytest.raises(TileError, match="not a usable MBTiles file"):
        open_tiles(path)


def test_pmtiles_reads_tiles_and_metadata(tmp_path: Path) -> None:
    path = write_pmtiles(tmp_path / "xt.pmtiles", TILES, attribution="测试 PMTiles")
    with open_tiles(path) as reader:
        assert isinstance(reader, PMTilesReader)
        assert reader.tile(9, 418, 196) == RED
        assert reader.tile(9, 418, 197) == BLUE
        assert reader.tile(8, 209, 98) == GREEN
        assert reader.tile(9, 418, 198) is None
        assert reader.tile(3, 9, 0) is None
        info = reader.info
    assert (info.format, info.min_zoom, info.max_zoom) == (TileFormat.PNG, 8, 9)
    assert info.attribution == "测试 PMTiles"
    assert info.bounds == pytest.approx((113.9, 36.7, 115.8, 37.8))


def test_pmtiles_with_leaf_directories(tmp_path: Path) -> None:
    # Enough scattered tiles of distinct sizes that the root directory overflows its 16 kB and
    # the writer moves entries into leaf directories.
    rng = random.Random(5)
    addresses = {(12, rng.randrange(4096), rng.randrange(4096)) for _ in range(30_000)}
    tiles = {a: RED[:16] + rng.randbytes(rng.randrange(1, 40)) for a in addresses}
    path = write_pmtiles(tmp_path / "big.pmtiles", tiles)
    header = deserialize_header(path.read_bytes()[:127])
    assert header["leaf_directory_length"] > 0
    with PMTilesReader(path) as reader:
        for address in rng.sample(sorted(tiles), 300):
            assert reader.tile(*address) == tiles[address]
        missing = next((12, x, 7) for x in range(4096) if (12, x, 7) not in tiles)
        assert reader.tile(*missing) is None


def test_pmtiles_of_vector_tiles_is_refused(tmp_path: Path) -> None:
    path = write_pmtiles(tmp_path / "v.pmtiles", {(0, 0, 0): b"\x1a\x02"},
                         tile_type=TileType.MVT)
    with pytest.raises(TileError, match="MVT tiles"):
        open_tiles(path)


def test_other_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(TileError, match="cannot read the tiles file"):
        open_tiles(tmp_path / "missing.mbtiles")
    text = tmp_path / "notes.txt"
    text.write_text("not tiles")
    with pytest.raises(TileError, match="neither an MBTiles nor a PMTiles"):
        open_tiles(text)
    truncated = tmp_path / "cut.pmtiles"
    truncated.write_bytes(b"PMTiles\x03" + b"\x00" * 20)
    with pytest.raises(TileError, match="not a PMTiles v3 file"):
        open_tiles(truncated)
