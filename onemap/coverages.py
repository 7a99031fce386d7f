"""Rasters published beside layers (``coverage:`` in a layer file), served by pygeoapi.

A published raster is a copy in ``<state_dir>/coverages/<coverage id>.tif``, written to a
temporary name and renamed (atomic on one file system), so the server never reads a
half-written file. pygeoapi's ``rasterio`` provider serves it as OGC API Coverages.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds

from onemap.errors import LoadError
from onemap.layers import Layer
from onemap.settings import DbSettings

COVERAGES_ENV = "ONEMAP_COVERAGES"


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


def raster_bbox(path: Path) -> list[float]:
    """Lon/lat bounds of a raster, rounded outwards to 1e-6°."""
    with rasterio.open(path) as ds:
        x0, y0, x1, y1 = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    return [
        math.floor(x0 * 1e6) / 1e6,
        math.floor(y0 * 1e6) / 1e6,
        math.ceil(x1 * 1e6) / 1e6,
        math.ceil(y1 * 1e6) / 1e6,
    ]


def publish_raster(layer: Layer, src: Path, settings: DbSettings | None = None) -> Path:
    """Validate a GeoTIFF (readable, one band, a CRS) and publish it as the layer's coverage."""
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


def coverage_resource(layer: Layer, path: Path) -> dict[str, Any]:
    """The pygeoapi collection for a layer's published raster (rasterio provider)."""
    cov = layer.coverage
    assert cov is not None
    return {
        "type": "collection",
        "title": {"en": cov.title_en, "id": cov.title},
        "description": cov.description,
        "keywords": list(layer.keywords),
        "links": [],
        "extents": {
            "spatial": {
                "bbox": raster_bbox(path),
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "providers": [
            {
                "type": "coverage",
                "name": "rasterio",
                "data": f"${{{COVERAGES_ENV}}}/{cov.id}.tif",
                "options": {"DATA_ENCODING": "COMPRESSION=DEFLATE"},
                "format": {"name": "GTiff", "mimetype": "application/x-geotiff"},
            }
        ],
    }
