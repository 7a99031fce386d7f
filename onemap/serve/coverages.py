"""Rasters published beside layers, as pygeoapi collections (OGC API Coverages).

onemap's subclass of pygeoapi's ``rasterio`` provider (``onemap.serve.coverage_provider``)
serves the file ``onemap.load.coverage_files`` published. pygeoapi's collection
description of it gives the grid's cell counts and its resolution in metres beside a CRS84
bbox; ``describe_grid`` completes it as OGC API Coverages (draft, OGC 19-087) and Common
Part 2 describe a coverage whose storage CRS is not CRS84, and as GDAL's OGCAPI driver
reads it: ``storageCrs``, ``extent.spatial.storageCrsBbox``, the grid in the units of the
bbox's CRS, and the CIS 1.1 ``domainset`` and ``rangetype``
(``onemap.serve.coverage_grid``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import rasterio
from rasterio.warp import transform_bounds

from onemap.core.layers import Layer
from onemap.serve.coverage_grid import CRS84, Grid, axes_of, crs_uri

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
                "crs": CRS84,
            }
        },
        "providers": [
            {
                "type": "coverage",
                "name": "onemap.serve.coverage_provider.OnemapRasterioProvider",
                "data": f"${{{COVERAGES_ENV}}}/{cov.id}.tif",
                # the band as CoverageJSON, the schema and the range type name it
                "parameter": {"id": cov.id, "title": cov.title_en, "unit": cov.unit},
                "format": {"name": "GTiff", "mimetype": "application/x-geotiff"},
            }
        ],
    }


def describe_grid(collection: dict[str, Any], provider: dict[str, Any]) -> None:
    """Add the native grid to pygeoapi's description of a coverage collection (in place)."""
    with rasterio.open(provider["data"]) as ds:
        grid = Grid.of(ds)
    spatial = collection.setdefault("extent", {}).setdefault("spatial", {})
    collection["storageCrs"] = crs_uri(grid.crs)
    spatial["storageCrsBbox"] = [grid.bounds]
    bbox = spatial.get("bbox", [grid.bounds])[0]
    if spatial.get("crs", CRS84) != collection["storageCrs"]:
        # the grid beside a CRS84 bbox: the native cell counts over that bbox, in degrees
        spatial["grid"] = [
            {"cellsCount": grid.width, "resolution": (bbox[2] - bbox[0]) / grid.width},
            {"cellsCount": grid.height, "resolution": (bbox[3] - bbox[1]) / grid.height},
        ]
    param = provider.get("parameter") or {}
    collection["domainset"] = grid.domainset(axes_of(grid.crs))
    collection["rangetype"] = grid.rangetype(
        param.get("id", "1"), param.get("title", "band 1"), param.get("unit", "")
    )
