"""Pre-rendered vector tiles in a PMTiles v3 archive, keyed by the layer's published version.

``onemap tiles seed LAYER`` (``onemap.serve.tile_seed``) writes
``<archive_dir>/<layer>.pmtiles`` (``ONEMAP_TILE_ARCHIVE_DIR``); the tile provider
(``onemap.serve.tiles``) answers from it before its disk cache and before drawing, while
the version the archive's metadata records is the one published. A new load publishes a
new version and the archive is stale from that commit on: tiles are drawn live again
until the layer is seeded anew (the file is left in place and logged, once per process).

Why PMTiles rather than MBTiles (docs/api.md, "Tile archives"): one file a static web
server or CDN serves as it is, read by HTTP range requests (the ``pmtiles`` JS client,
MapLibre's ``pmtiles://`` protocol), where an MBTiles SQLite file needs a tile server or
an export to a ``z/x/y`` tree. Spec: https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md.

Tiles are stored uncompressed (``tile_compression`` NONE): byte for byte what the server
draws, compressed by the HTTP layer like every response. Empty tiles are not stored (the
spec's convention); within the seeded zooms a tile the archive lacks has no feature: the
archive covers the layer's whole extent at each of them. The seeded zooms, the version
and the thinned tiles are in the metadata under ``onemap``.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import mmap
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    zxy_to_tileid,
)
from pmtiles.writer import Writer

from onemap.core.settings import TileSettings
from onemap.serve.tile_cache import Tile

LOGGER = logging.getLogger(__name__)
TILESET = "WebMercatorQuad"  # the only tiling scheme archived (what web maps request)
SUFFIX = ".pmtiles"
MAX_LAT = 85.0511287798  # Web Mercator's latitude limit


def archive_path(root: Path, layer: str) -> Path:
    """Where the server looks for a layer's archive."""
    return root / f"{layer}{SUFFIX}"


def tile_index(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad column and row (x, y) of the tile holding a CRS84 point."""
    n = 2**z
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_over(bounds: tuple[float, float, float, float], z: int) -> Iterable[tuple[int, int]]:
    """(x, y) of every tile at zoom z over a CRS84 box (west, south, east, north)."""
    west, south, east, north = bounds
    x0, y0 = tile_index(west, north, z)
    x1, y1 = tile_index(east, south, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            yield x, y


@dataclass(frozen=True)
class Seeded:
    """What an archive holds: whose tiles, of which version, at which zooms."""

    layer: str
    version: str
    min_zoom: int
    max_zoom: int
    tiles: int  # non-empty tiles stored
    thinned: int  # of which thinned to stay under the size limit


def write_archive(
    path: Path,
    seeded: Seeded,
    tiles: Iterable[tuple[int, int, int, Tile]],
    bounds: tuple[float, float, float, float],
    vector_layers: list[dict[str, Any]],
) -> None:
    """Write the archive atomically (a temporary file renamed into place): a server
    reading the old one keeps its mapping of the old file."""
    stored = sorted(
        ((zxy_to_tileid(z, x, y), z, x, y, t) for z, x, y, t in tiles if t.data),
        key=lambda row: row[0],  # tile-id (Hilbert) order: a clustered archive
    )
    if not stored:
        raise ValueError("no tile to store")
    thinned = {f"{z}/{x}/{y}": f"{t.kept}/{t.total}" for _i, z, x, y, t in stored if t.thinned}
    west, south, east, north = bounds
    header = {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.NONE,
        "min_lon_e7": int(west * 1e7),
        "min_lat_e7": int(south * 1e7),
        "max_lon_e7": int(east * 1e7),
        "max_lat_e7": int(north * 1e7),
        "center_zoom": seeded.min_zoom,
        "center_lon_e7": int((west + east) / 2 * 1e7),
        "center_lat_e7": int((south + north) / 2 * 1e7),
    }
    metadata = {
        "name": seeded.layer,
        "format": "pbf",
        "vector_layers": vector_layers,  # required for MVT archives by the spec
        "onemap": {
            "layer": seeded.layer,
            "version": seeded.version,
            "tileset": TILESET,
            "minZoom": seeded.min_zoom,
            "maxZoom": seeded.max_zoom,
            "thinned": thinned,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = Writer(fh)
            for tile_id, _z, _x, _y, tile in stored:
                writer.write_tile(tile_id, tile.data)
            writer.finalize(header, metadata)
        os.chmod(tmp, 0o644)  # the server may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArchiveReader:
    """One archive, memory-mapped; its header, root directory and metadata read once."""

    def __init__(self, path: Path):
        with path.open("rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.header = deserialize_header(self._map[0:127])
        h = self.header
        self._root = deserialize_directory(
            self._map[h["root_offset"] : h["root_offset"] + h["root_length"]]
        )
        raw = self._map[h["metadata_offset"] : h["metadata_offset"] + h["metadata_length"]]
        if h["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        self.metadata: dict[str, Any] = json.loads(raw)
        info = self.metadata.get("onemap") or {}
        self.version: str | None = info.get("version")
        self.zooms = range(int(info.get("minZoom", 0)), int(info.get("maxZoom", -1)) + 1)
        self._thinned: dict[str, str] = info.get("thinned") or {}

    def data(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of a tile, None when it is not stored."""
        h = self.header
        tile_id = zxy_to_tileid(z, x, y)
        entries = self._root
        for _depth in range(4):  # the spec's maximum directory depth
            entry = find_tile(entries, tile_id)
            if entry is None:
                return None
            if entry.run_length:
                start = h["tile_data_offset"] + entry.offset
                return self._map[start : start + entry.length]
            start = h["leaf_directory_offset"] + entry.offset
            entries = deserialize_directory(self._map[start : start + entry.length])
        return None

    def tile(self, z: int, x: int, y: int) -> Tile:
        """A tile of a seeded zoom: not stored means empty."""
        data = self.data(z, x, y) or b""
        note = self._thinned.get(f"{z}/{x}/{y}")
        if note:
            kept, total = map(int, note.split("/"))
            return Tile(data, kept, total)
        return Tile(data)


class TileArchives:
    """The server's view of the archive folder (one per worker process): each layer's
    archive opened once and again when its file is replaced."""

    def __init__(self, root: Path):
        self.root = root
        self._open: dict[str, tuple[tuple[int, int, int], ArchiveReader]] = {}
        self._said: set[tuple[str, str | None]] = set()

    @classmethod
    def from_settings(cls) -> TileArchives:
        """The folder ``ONEMAP_TILE_ARCHIVE_DIR`` names."""
        return cls(TileSettings().archive_dir)

    def _reader(self, layer: str) -> ArchiveReader | None:
        path = archive_path(self.root, layer)
        try:
            st = path.stat()
        except OSError:
            self._open.pop(layer, None)
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self._open.get(layer)
        if known and known[0] == stamp:
            return known[1]
        try:
            reader = ArchiveReader(path)
        except Exception as exc:  # a truncated or foreign file: whatever the parser raises
            if (layer, str(stamp)) not in self._said:
                self._said.add((layer, str(stamp)))
                LOGGER.warning("tile archive %s not read (%s): tiles are drawn", path, exc)
            return None
        self._open[layer] = (stamp, reader)
        return reader

    def get(self, layer: str, version: str, tileset: str, z: int, y: int, x: int) -> Tile | None:
        """The archived tile when the archive is of ``version`` and holds zoom z, else None."""
        if tileset != TILESET:
            return None
        reader = self._reader(layer)
        if reader is None or z not in reader.zooms:
            return None
        if reader.version != version:
            if (layer, reader.version) not in self._said:
                self._said.add((layer, reader.version))
                LOGGER.warning(
                    "tile archive of %s is of version %s, %s is published: tiles are drawn "
                    "until `onemap tiles seed %s` is run again",
                    layer,
                    reader.version,
                    version,
                    layer,
                )
            return None
        return reader.tile(z, x, y)
