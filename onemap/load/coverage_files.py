"""Rasters published beside layers (``coverage:`` in a layer file): the files the server reads.

A published raster is a copy in ``<state_dir>/coverages/<database>/<coverage id>.tif``,
written to a temporary name and renamed (atomic on one file system), so the server never
reads a half-written file. ``onemap.serve.coverages`` describes it to pygeoapi.
"""

from __future__ import annotations

import os
from pathlib import Path

import rasterio
from rasterio.errors import RasterioIOError

from onemap.core.errors import LoadError
from onemap.core.layers import Layer
from onemap.core.settings import DbSettings


def coverage_dir(settings: DbSettings | None = None) -> Path:
    """Where the published rasters of one database live."""
    settings = settings or DbSettings()
    return settings.state_dir / "coverages" / settings.name


def published_path(layer: Layer, settings: DbSettings | None = None) -> Path | None:
    """The layer's published raster, if there is one."""
    if layer.coverage is None:
        return None
    path = coverage_dir(settings) / f"{layer.coverage.id}.tif"
    return path if path.exists() else None


def install_raster(layer: Layer, src: Path, settings: DbSettings | None = None) -> Path:
    """Validate a GeoTIFF (readable, one band, a CRS) and install it as the layer's coverage
    (the file the server reads, replaced atomically)."""
    if layer.coverage is None:
        raise LoadError(f"layer '{layer.id}' declares no coverage")
    try:
        with rasterio.open(src) as ds:
            if ds.crs is None:
                raise LoadError(f"{src}: the raster declares no coordinate reference system")
            if ds.count != 1:
                raise LoadError(
                    f"{src}: expected one band ({layer.coverage.unit}), found {ds.count}"
                )
            profile = ds.profile | {"driver": "GTiff", "compress": "deflate", "tiled": True}
            data = ds.read(1)
    except RasterioIOError as exc:
        raise LoadError(f"{src}: not a raster GDAL can read ({exc})") from exc
    out = coverage_dir(settings) / f"{layer.coverage.id}.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tif.tmp")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    os.replace(tmp, out)
    return out
