"""Rasters published beside layers, as pygeoapi collections (OGC API Coverages).

pygeoapi's ``rasterio`` provider serves the file ``onemap.load.coverage_files`` published.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import rasterio
from rasterio.warp import transform_bounds

from onemap.core.layers import Layer

COVERAGES_ENV = "ONEMAP_COVERAGES"


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
