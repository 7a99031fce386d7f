"""Rendered vector tiles kept on disk, keyed by the layer's published version.

``<cache_dir>/<layer>/<version>/<tileset>/<z>/<y>/<x>.mvt`` (``ONEMAP_TILE_CACHE_DIR``),
where the version is the run that published the layer's current version and when it
finished (``onemap_meta.version_at(layer, now())``: a database dropped and built again
repeats run ids, never that pair) and a digest of the layer's tile rules. The
gunicorn workers are separate processes, so the cache is files, written atomically (a
temporary file renamed into place). A new load publishes a new run: from its commit on,
requests look under the new version, and the first worker to see it deletes the layer's
other versions (that layer's only). An empty tile is an empty file; a tile thinned to
stay under the size limit has a ``.thinned`` file beside it saying how many features
were kept of how many.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from onemap.core.settings import TileSettings

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tile:
    """A rendered tile: its bytes (empty: no feature) and, when thinned, kept/total."""

    data: bytes
    kept: int | None = None
    total: int | None = None

    @property
    def thinned(self) -> bool:
        """Whether features were left out to keep the tile under the size limit."""
        return self.kept is not None and self.total is not None and self.kept < self.total


class TileCache:
    """The disk cache of one server (all its workers)."""

    def __init__(self, root: Path | None, *, enabled: bool = True):
        self.root = root
        self.enabled = enabled and root is not None
        self._seen: dict[str, str] = {}  # layer -> the version this process last cleaned for

    @classmethod
    def from_settings(cls) -> TileCache:
        """The cache ``ONEMAP_TILE_CACHE``/``ONEMAP_TILE_CACHE_DIR`` describe."""
        settings = TileSettings()
        return cls(settings.cache_dir, enabled=settings.cache)

    def _path(self, layer: str, version: str, tileset: str, z: int, y: int, x: int) -> Path:
        assert self.root is not None
        return self.root / layer / version / tileset / str(z) / str(y) / f"{x}.mvt"

    def get(self, layer: str, version: str, tileset: str, z: int, y: int, x: int) -> Tile | None:
        """The cached tile, or None."""
        if not self.enabled:
            return None
        self._clean(layer, version)
        path = self._path(layer, version, tileset, z, y, x)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            kept, total = map(int, path.with_suffix(".thinned").read_text().split("/"))
        except (OSError, ValueError):
            return Tile(data)
        return Tile(data, kept, total)

    def put(
        self, layer: str, version: str, tileset: str, z: int, y: int, x: int, tile: Tile
    ) -> None:
        """Keep a rendered tile; a cache that cannot be written is turned off, once, logged."""
        if not self.enabled:
            return
        path = self._path(layer, version, tileset, z, y, x)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if tile.thinned:
                _write(path.with_suffix(".thinned"), f"{tile.kept}/{tile.total}".encode())
            _write(path, tile.data)
        except OSError as exc:
            LOGGER.warning("tile cache off: %s is not writable (%s)", self.root, exc)
            self.enabled = False

    def _clean(self, layer: str, version: str) -> None:
        """Delete the layer's other versions, when this process first sees ``version``."""
        if self._seen.get(layer) == version:
            return
        self._seen[layer] = version
        assert self.root is not None
        try:
            others = [p for p in (self.root / layer).iterdir() if p.name != version]
        except OSError:
            return
        for old in others:
            shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
