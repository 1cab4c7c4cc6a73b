"""Raster map tiles from a local MBTiles or PMTiles file: a basemap that needs no internet.

MBTiles 1.3 is an SQLite file: ``tiles(zoom_level, tile_column, tile_row, tile_data)`` whose rows
count from the south (the TMS scheme), and ``metadata(name, value)``. PMTiles v3 is one file: a
127-byte header, gzip'd directories of tile ids along a Hilbert curve, then the tile data; its
header and directories are decoded with the ``pmtiles`` package and the directories are cached.

Both readers answer (z, x, y) in the XYZ scheme Leaflet asks for (rows from the north), return
None for a tile the file does not hold, and may be shared by the dashboard's request threads.
Only raster tiles (PNG, JPEG, WebP) are served: Leaflet cannot draw vector tiles by itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mmap
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self

from pmtiles.tile import (
    Compression,
    Entry,
    HeaderDict,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)

MAX_ZOOM: Final = 24
"""Deepest zoom a request may ask for (a few centimetres a pixel)."""
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_PMTILES_MAGIC: Final = b"PMTiles"
_PMTILES_HEADER_BYTES: Final = 127
_PMTILES_MAX_DEPTH: Final = 4
"""Root plus three levels of leaf directories: what the PMTiles v3 spec allows."""
_DIRECTORY_CACHE: Final = 64
"""Leaf directories kept decoded (each a few kB to a few hundred kB)."""


class TileFormat(StrEnum):
    """Image format of the tiles of a file; the value is the URL extension."""

    PNG = "png"
    """Portable Network Graphics."""
    JPEG = "jpg"
    """JPEG."""
    WEBP = "webp"
    """WebP."""

    @property
    def media_type(self) -> str:
        """The Content-Type of a tile of this format."""
        return {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[self.value]

    @classmethod
    def parse(cls, name: str) -> TileFormat | None:
        """The format an MBTiles ``format`` value or a URL extension names, or None."""
        text = name.strip().lower()
        return cls.JPEG if text == "jpeg" else next((f for f in cls if f.value == text), None)


class TileError(Exception):
    """A tiles file cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TileSetInfo:
    """What a tiles file holds."""

    format: TileFormat
    """Image format of every tile."""
    min_zoom: int
    """Lowest zoom level with tiles."""
    max_zoom: int
    """Highest zoom level with tiles."""
    bounds: tuple[float, float, float, float] | None
    """(west, south, east, north) in degrees, when the file says."""
    name: str
    """The tile set's name from its metadata (may be empty)."""
    attribution: str
    """Credits from the file's metadata, as plain text (may be empty)."""


class TileReader(Protocol):
    """A source of raster tiles in the XYZ scheme."""

    @property
    def info(self) -> TileSetInfo:
        """What the source holds."""
        ...

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The image of tile (z, x, y), rows from the north; None when there is none."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


def in_grid(z: int, x: int, y: int) -> bool:
    """True when (z, x, y) names a tile of the Web Mercator grid (up to MAX_ZOOM)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def tms_row(z: int, y: int) -> int:
    """The TMS row (from the south, as MBTiles stores it) of XYZ row ``y`` (from the north)."""
    return (1 << z) - 1 - y


def sniff_format(data: bytes) -> TileFormat | None:
    """The image format of tile bytes, from their signature."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return TileFormat.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return TileFormat.JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return TileFormat.WEBP
    return None


def tile_etag(data: bytes) -> str:
    """A strong validator of tile bytes (the same bytes always give the same tag)."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _bounds(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        return None
    return west, south, east, north


class _Closing:
    """Context-manager support shared by the readers."""

    def close(self) -> None:
        """Release the file."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class MBTilesReader(_Closing):
    """Tiles of an MBTiles file, opened read-only; queries are serialised on one connection."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` read-only; raise TileError when it is not a raster MBTiles file."""
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise TileError(f"cannot open MBTiles file {path}: {exc}") from exc
        self._lock = threading.Lock()
        try:
            self._info = self._read_info(path)
        except (sqlite3.Error, TileError) as exc:
            self._db.close()
            if isinstance(exc, TileError):
                raise
            raise TileError(f"{path} is not a usable MBTiles file: {exc}") from exc

    def _read_info(self, path: Path) -> TileSetInfo:
        meta: Mapping[str, str] = dict(self._db.execute("SELECT name, value FROM metadata"))
        low, high = self._db.execute(
            "SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        if low is None:
            raise TileError(f"MBTiles file {path} holds no tile")
        declared = meta.get("format")
        found = TileFormat.parse(declared) if declared else None
        if found is None:
            sample = self._db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()[0]
            found = sniff_format(bytes(sample))
        if found is None:
            raise TileError(f"MBTiles file {path} holds {declared or 'unknown'} tiles; sitroom"
                            " serves raster tiles only (png, jpg, webp)")
        return TileSetInfo(format=found, min_zoom=int(meta.get("minzoom", low)),
                           max_zoom=int(meta.get("maxzoom", high)),
                           bounds=_bounds(meta.get("bounds")), name=meta.get("name", ""),
                           attribution=meta.get("attribution", ""))

    @property
    def info(self) -> TileSetInfo:
        """What the file holds."""
        return self._info

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The image of XYZ tile (z, x, y), looked up by its TMS row; None when absent."""
        if not in_grid(z, x, y):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                " AND tile_row = ?", (z, x, tms_row(z, y))).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()


_RASTER_TYPES: Final = {TileType.PNG: TileFormat.PNG, TileType.JPEG: TileFormat.JPEG,
                        TileType.WEBP: TileFormat.WEBP}


class PMTilesReader(_Closing):
    """Tiles of a PMTiles v3 file, memory-mapped; decoded leaf directories are cached."""

    def __init__(self, path: Path) -> None:
        """Map ``path``; raise TileError when it is not a raster PMTiles v3 file."""
        try:
            with path.open("rb") as file:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise TileError(f"cannot read PMTiles file {path}: {exc}") from exc
        try:
            self._header = self._read_header(path)
            self._info = self._read_info(path)
            self._root = self._decode(self._header["root_offset"], self._header["root_length"])
        except TileError:
            self._map.close()
            raise
        self._lock = threading.Lock()
        self._leaves: OrderedDict[tuple[int, int], list[Entry]] = OrderedDict()

    def _read_header(self, path: Path) -> HeaderDict:
        try:
            header = deserialize_header(self._map[:_PMTILES_HEADER_BYTES])
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, IndexError) as exc:
            raise TileError(f"{path} is not a PMTiles v3 file ({type(exc).__name__})") from exc
        if header["internal_compression"] is not Compression.GZIP:
            raise TileError(f"PMTiles file {path} compresses its directories with"
                            f" {header['internal_compression'].name}; sitroom reads gzip"
                            " (what pmtiles, go-pmtiles and tippecanoe write)")
        if header["tile_type"] not in _RASTER_TYPES:
            raise TileError(f"PMTiles file {path} holds {header['tile_type'].name} tiles;"
                            " sitroom serves raster tiles only (png, jpg, webp)")
        if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
            raise TileError(f"PMTiles file {path} compresses its images with"
                            f" {header['tile_compression'].name}; raster tiles must be stored"
                            " as they are")
        return header

    def _read_info(self, path: Path) -> TileSetInfo:
        header = self._header
        start, length = header["metadata_offset"], header["metadata_length"]
        try:
            raw = gzip.decompress(self._map[start:start + length]) if length else b"{}"
            meta = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise TileError(f"PMTiles file {path} has unreadable metadata: {exc}") from exc
        if not isinstance(meta, dict):
            meta = {}
        bounds = tuple(header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7",
                                                  "max_lat_e7"))
        return TileSetInfo(format=_RASTER_TYPES[header["tile_type"]],
                           min_zoom=header["min_zoom"], max_zoom=header["max_zoom"],
                           bounds=(bounds[0], bounds[1], bounds[2], bounds[3]),
                           name=str(meta.get("name", "")),
                           attribution=str(meta.get("attribution", "")))

    def _decode(self, offset: int, length: int) -> list[Entry]:
        try:
            return deserialize_directory(self._map[offset:offset + length])
        except (OSError, EOFError, ValueError, IndexError) as exc:
            raise TileError(f"a PMTiles directory at byte {offset} is damaged: {exc}") from exc

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        key = (offset, length)
        with self._lock:
            found = self._leaves.get(key)
            if found is not None:
                self._leaves.move_to_end(key)
                return found
        entries = self._decode(offset, length)  # outside the lock: decoding takes a while
        with self._lock:
            self._leaves[key] = entries
            while len(self._leaves) > _DIRECTORY_CACHE:
                self._leaves.popitem(last=False)
        return entries

    @property
    def info(self) -> TileSetInfo:
        """What the file holds."""
        return self._info

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The image of XYZ tile (z, x, y); None when absent. Raises TileError on a damaged
        directory."""
        if not in_grid(z, x, y):
            return None
        tile_id = zxy_to_tileid(z, x, y)
        header = self._header
        entries = self._root
        for _ in range(_PMTILES_MAX_DEPTH):
            entry = find_tile(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                start = header["tile_data_offset"] + entry.offset
                return self._map[start:start + entry.length]
            entries = self._leaf(header["leaf_directory_offset"] + entry.offset, entry.length)
        return None

    def close(self) -> None:
        """Unmap the file."""
        self._map.close()


def open_tiles(path: Path) -> MBTilesReader | PMTilesReader:
    """Open an MBTiles or PMTiles file (told apart by content, not by name).

    Raises TileError when the file is missing or not a raster tiles file.
    """
    try:
        with path.open("rb") as file:
            magic = file.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise TileError(f"cannot read the tiles file {path}: {exc.strerror or exc}") from exc
    if magic.startswith(_SQLITE_MAGIC):
        return MBTilesReader(path)
    if magic.startswith(_PMTILES_MAGIC):
        return PMTilesReader(path)
    raise TileError(f"{path} is neither an MBTiles nor a PMTiles file")
