"""pygeoapi's rasterio coverage provider, answering on the raster's native grid.

A subclass (``pygeoapi.provider.rasterio_.RasterioProvider``), not a fork. It replaces the
public ``query`` and ``get_fields``; docs/pygeoapi-extensions.md lists what it relies on.

- ``subset=x(a:b),y(c:d)`` (storage CRS) and ``bbox=`` (``bbox-crs``, default CRS84) give
  the whole cells they touch: GDAL's OGCAPI driver asks for windows on cell edges and gets
  exactly those cells, where pygeoapi's ``rasterio.mask`` cut added a row and column at
  exact edges. A subset outside the coverage is a 400 (pygeoapi: an empty mask, 500).
- ``scale-size``/``scale-factor``/``scale-axes`` (and GDAL's ``scaleSize``) resample the
  window (nearest cell) to the requested shape; GDAL's driver needs the exact shape for its
  overviews. pygeoapi 0.24 passes providers no scaling arguments, so they are read from
  the request of the Flask app ``onemap serve`` runs.
- CoverageJSON names its CRS by its OGC URI (``…/def/crs/EPSG/0/32749``); pygeoapi writes
  ``…/def/crs/OGC/1.3/32749``, which does not resolve (the same bug in the xarray provider:
  https://github.com/geopython/pygeoapi/issues/1578). Axis coordinates are cell centres
  (CoverageJSON's regular axes), the parameter is named and has its unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeoapi.provider.rasterio_ import RasterioProvider
from pygeoapi.util import read_data
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from onemap.serve.coverage_grid import Grid, GridRequestError, crs_uri, parse_bbox, scaled_shape


def _request_args() -> dict[str, str]:
    """The query parameters of the Flask request being answered (none outside one)."""
    from flask import has_request_context, request

    return dict(request.args) if has_request_context() else {}


class OnemapRasterioProvider(RasterioProvider):
    """Native-grid subsetting and scaling, and CoverageJSON with a resolvable CRS."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        # ``parameter``: the band's id, title and unit (onemap.serve.coverages writes it);
        # set before pygeoapi's __init__, which calls get_fields().
        self.parameter = dict(provider_def.get("parameter") or {})
        super().__init__(provider_def)
        self.grid = Grid.of(self._data)

    def get_fields(self) -> dict[str, Any]:
        """The band as pygeoapi's field ``"1"``, titled and with its unit."""
        fields = super().get_fields()
        if self.parameter and "1" in fields:
            fields["1"]["title"] = self.parameter.get("title", fields["1"]["title"])
            fields["1"]["x-ogc-unit"] = self.parameter.get("unit")
        return fields

    def query(
        self,
        properties: list[str] | None = None,
        subsets: dict[str, list] | None = None,
        bbox: list[float] | None = None,
        bbox_crs: object = 4326,
        datetime_: str | None = None,
        format_: str = "json",
        **kwargs: Any,
    ) -> Any:
        """The coverage, or a window of it, as GeoTIFF bytes or a CoverageJSON dict."""
        subsets, bbox = subsets or {}, bbox or []
        args = _request_args()
        try:
            window = self._window(subsets, bbox, bbox_crs)
            shape = scaled_shape(window, args, tuple(self.axes))
        except GridRequestError as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from None  # a client error
        full = window == Window(0, 0, self.grid.width, self.grid.height)
        if format_ != "json" and not properties and full and shape == (window.height, window.width):
            return read_data(self.data)  # the published file itself
        indexes = [int(b) for b in properties] if properties else list(self._data.indexes)
        with rasterio.open(self.data) as ds:
            data = ds.read(
                indexes, window=window, out_shape=(len(indexes), *shape),
                resampling=Resampling.nearest,
            )  # fmt: skip
            transform = ds.window_transform(window) * Affine.scale(
                window.width / shape[1], window.height / shape[0]
            )
            if format_ == "json":
                return self._covjson(data[0], transform, ds.nodata)
            profile = {
                "driver": "GTiff", "width": shape[1], "height": shape[0],
                "count": len(indexes), "dtype": data.dtype.name, "crs": ds.crs,
                "transform": transform, "nodata": ds.nodata, "compress": "deflate",
            }  # fmt: skip
        with MemoryFile() as mem:
            with mem.open(**profile) as out:
                out.write(data)
            return mem.read()

    def _window(self, subsets: dict[str, list], bbox: list[float], bbox_crs: object) -> Window:
        x, y = self.axes
        if bbox and (x in subsets or y in subsets):
            raise GridRequestError("bbox and subset on the grid axes are exclusive")
        g = self.grid
        if bbox:
            if len(bbox) != 4:
                raise GridRequestError("bbox: four numbers (no height) for this coverage")
            bbox, src = parse_bbox(bbox, bbox_crs)
            rect = bbox if src == g.crs else transform_bounds(src, g.crs, *bbox, densify_pts=21)
            return g.window(*rect)
        xs = subsets.get(x, [g.x0, g.x1])
        ys = subsets.get(y, [g.y0, g.y1])
        try:
            lo_x, hi_x = float(xs[0]), float(xs[-1])
            lo_y, hi_y = float(ys[0]), float(ys[-1])
        except (TypeError, ValueError):
            raise GridRequestError("subset: numbers in the storage CRS expected") from None
        return g.window(lo_x, lo_y, hi_x, hi_y)

    def _covjson(self, values: np.ndarray, transform: Any, nodata: float | None) -> dict:
        """CoverageJSON (OGC 21-069r2) of one band on a regular grid."""
        h, w = values.shape
        rx, ry = transform.a, -transform.e
        left, top = transform.c, transform.f
        key = self.parameter.get("id", "band1")
        unit = self.parameter.get("unit")
        cells = values.astype("float64")
        if nodata is not None:
            cells[values == nodata] = np.nan
        flat = [None if np.isnan(v) else v for v in cells.ravel().tolist()]
        crs = self.grid.crs
        return {
            "type": "Coverage",
            "domain": {
                "type": "Domain",
                "domainType": "Grid",
                "axes": {
                    "x": {"start": left + rx / 2, "stop": left + rx * (w - 0.5), "num": w},
                    "y": {"start": top - ry / 2, "stop": top - ry * (h - 0.5), "num": h},
                },
                "referencing": [
                    {
                        "coordinates": ["x", "y"],
                        "system": {
                            "type": "ProjectedCRS" if crs.is_projected else "GeographicCRS",
                            "id": crs_uri(crs),
                        },
                    }
                ],
            },
            "parameters": {
                key: {
                    "type": "Parameter",
                    "description": {"en": self.parameter.get("title", key)},
                    "unit": {"symbol": unit} if unit else {},
                    "observedProperty": {"label": {"en": self.parameter.get("title", key)}},
                }
            },
            "ranges": {
                key: {
                    "type": "NdArray",
                    "dataType": "float",
                    "axisNames": ["y", "x"],
                    "shape": [h, w],
                    "values": flat,
                }
            },
        }
