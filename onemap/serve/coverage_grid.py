"""A raster's native grid, as the OGC API Coverages draft and GDAL's OGCAPI driver read it.

One place for the arithmetic both sides need: the collection description (``storageCrs``,
``extent.spatial.storageCrsBbox``, the CIS 1.1 ``domainset`` and ``rangetype``) and the
coverage request (``subset=``/``bbox=`` to a window of whole cells, ``scale-size`` /
``scale-factor`` to an output shape).

GDAL's OGCAPI driver (``frmts/ogcapi/gdalogcapidataset.cpp``, ``InitWithCoverageAPI``, 3.6
to current) sizes the raster from ``domainset.generalGrid.axis[].lowerBound/upperBound/
resolution``; without a domain set it falls back to an arbitrary 1e-8° over the CRS84 bbox
(the 26,328,705 × 20,974,600 raster of issue 18). It then reads windows with
``subset=x(minx:maxx),y(miny:maxy)&scaleSize=x(w),y(h)`` on the collection's GeoTIFF
coverage link, with edges on cell boundaries, and needs an image of exactly w × h back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pyproj import CRS as PyprojCRS
from rasterio.crs import CRS
from rasterio.windows import Window

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Cell edges GDAL sends are printed with %.18g from floating arithmetic: snap within this
# fraction of a cell so 430599.99999999994 is the edge at 430600.
SNAP = 1e-6
# CIS 1.1 / SWE Common data types (OGC 08-094r1), by numpy dtype.
DATA_TYPES = {
    "uint8": "unsignedByte",
    "int8": "signedByte",
    "int16": "signedShort",
    "uint16": "unsignedShort",
    "int32": "signedInt",
    "uint32": "unsignedInt",
    "float32": "float32",
    "float64": "float64",
}
SCALE_AXIS = re.compile(r"^\s*(\w+)\(\s*([0-9.eE+-]+)\s*\)\s*$")


class GridRequestError(ValueError):
    """A subset, bbox or scaling the grid cannot answer (the client's mistake: a 400)."""


def crs_uri(crs: CRS) -> str:
    """The OGC URI of a CRS: CRS84 for lon/lat WGS 84, else ``…/EPSG/0/<code>``.

    pygeoapi 0.24's rasterio provider writes ``…/OGC/1.3/<code>``, which names nothing.
    """
    epsg = crs.to_epsg()
    if epsg is None:
        raise ValueError(f"no EPSG code for {crs}")
    return CRS84 if epsg == 4326 else f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


def axes_of(crs: CRS) -> tuple[str, str]:
    """The subset axis names pygeoapi's rasterio provider gives a grid in this CRS."""
    return ("x", "y") if crs.is_projected else ("Long", "Lat")


def parse_bbox(bbox: list[float], value: object) -> tuple[list[float], CRS]:
    """A ``bbox`` and its ``bbox-crs`` (URI, CURIE, ``EPSG:n`` or pygeoapi's default int
    4326, meaning CRS84) as lon/lat- or x/y-ordered bounds and a CRS. A CRS whose first
    axis is latitude or northing (``…/EPSG/0/4326``) gives its bbox in that order
    (OGC API Features Part 2, bbox-crs)."""
    if value is None or value == 4326 or value in (CRS84, "OGC:CRS84", "[OGC:CRS84]"):
        return bbox, CRS.from_epsg(4326)  # CRS84: lon/lat order
    text = str(value).strip("[]")
    try:
        crs = CRS.from_user_input(text)
        first = PyprojCRS.from_user_input(text).axis_info[0].direction
    except Exception as exc:  # rasterio and pyproj raise CRSError subclasses of several kinds
        raise GridRequestError(f"unknown bbox-crs: {value}") from exc
    if first in ("north", "south"):
        bbox = [bbox[1], bbox[0], bbox[3], bbox[2]]
    return bbox, crs


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: origin at the top-left corner, square or not."""

    crs: CRS
    x0: float  # left edge
    y1: float  # top edge
    res_x: float  # > 0
    res_y: float  # > 0 (rows go south)
    width: int
    height: int
    dtype: str
    nodata: float | None

    @classmethod
    def of(cls, ds: Any) -> Grid:
        """The grid of an open rasterio dataset (rotated grids are refused)."""
        t = ds.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            raise ValueError(f"{ds.name}: only north-up grids are served as coverages")
        return cls(ds.crs, t.c, t.f, t.a, -t.e, ds.width, ds.height, ds.dtypes[0], ds.nodata)

    @property
    def x1(self) -> float:
        """Right edge."""
        return self.x0 + self.width * self.res_x

    @property
    def y0(self) -> float:
        """Bottom edge."""
        return self.y1 - self.height * self.res_y

    @property
    def bounds(self) -> list[float]:
        """Left, bottom, right, top in the grid's CRS."""
        return [self.x0, self.y0, self.x1, self.y1]

    def window(self, xmin: float, ymin: float, xmax: float, ymax: float) -> Window:
        """The whole cells a rectangle in grid coordinates touches, clipped to the grid.

        A rectangle of zero width (a slice, ``x(v)``) takes the one column containing it.
        Nothing in common with the grid is a ``GridRequestError``.
        """
        if xmin > xmax or ymin > ymax:
            raise GridRequestError("subset or bbox: the lower bound is above the upper bound")
        c0 = math.floor((xmin - self.x0) / self.res_x + SNAP)
        c1 = math.ceil((xmax - self.x0) / self.res_x - SNAP)
        r0 = math.floor((self.y1 - ymax) / self.res_y + SNAP)
        r1 = math.ceil((self.y1 - ymin) / self.res_y - SNAP)
        c1, r1 = max(c1, c0 + 1), max(r1, r0 + 1)  # a slice is one cell wide
        c0, r0 = max(c0, 0), max(r0, 0)
        c1, r1 = min(c1, self.width), min(r1, self.height)
        if c0 >= c1 or r0 >= r1:
            raise GridRequestError(
                f"subset or bbox outside the coverage (its extent in {crs_uri(self.crs)}: "
                f"{self.x0},{self.y0},{self.x1},{self.y1})"
            )
        return Window(c0, r0, c1 - c0, r1 - r0)

    def domainset(self, axes: tuple[str, str]) -> dict[str, Any]:
        """CIS 1.1 domain set (OGC 09-146r8 JSON), as ``/coverage/domainset`` gives it."""
        x, y = axes
        unit = self.crs.linear_units if self.crs.is_projected else "deg"
        return {
            "type": "DomainSet",
            "generalGrid": {
                "type": "GeneralGrid",
                "srsName": crs_uri(self.crs),
                "axisLabels": [x, y],
                "axis": [
                    _axis(x, self.x0, self.x1, self.res_x, unit),
                    _axis(y, self.y0, self.y1, -self.res_y, unit),
                ],
                "gridLimits": {
                    "type": "GridLimits",
                    "srsName": "http://www.opengis.net/def/crs/OGC/0/Index2D",
                    "axisLabels": ["i", "j"],
                    "axis": [
                        {"type": "IndexAxis", "axisLabel": "i", "lowerBound": 0,
                         "upperBound": self.width - 1},
                        {"type": "IndexAxis", "axisLabel": "j", "lowerBound": 0,
                         "upperBound": self.height - 1},
                    ],
                },
            },
        }  # fmt: skip

    def rangetype(self, field_id: str, title: str, unit: str) -> dict[str, Any]:
        """CIS 1.1 range type: one quantity field per band (this grid's one band)."""
        field: dict[str, Any] = {
            "type": "Quantity",
            "id": field_id,
            "name": title,
            "definition": f"http://www.opengis.net/def/dataType/OGC/0/{DATA_TYPES[self.dtype]}",
            "uom": {"type": "UnitReference", "code": unit},
        }
        if self.nodata is not None:
            field["nilValues"] = [
                {
                    "reason": "http://www.opengis.net/def/nil/OGC/0/missing",
                    "value": self.nodata,
                }
            ]
        return {"type": "DataRecord", "field": [field]}


def _axis(label: str, lower: float, upper: float, resolution: float, unit: str) -> dict:
    return {
        "type": "RegularAxis",
        "axisLabel": label,
        "lowerBound": lower,
        "upperBound": upper,
        "uomLabel": unit,
        "resolution": resolution,
    }


def scaled_shape(window: Window, args: dict[str, str], axes: tuple[str, str]) -> tuple[int, int]:
    """Output (height, width) for the scaling parameters of OGC API Coverages Part 1
    (``scale-size=x(w),y(h)``, ``scale-factor=f``, ``scale-axes=x(f),y(f)``) and GDAL's
    ``scaleSize=``; the window's own size when none is given."""
    width, height = int(window.width), int(window.height)
    given = [k for k in ("scale-size", "scaleSize", "scale-factor", "scale-axes") if args.get(k)]
    if len(given) > 1:
        raise GridRequestError(f"give one scaling parameter, not {', '.join(given)}")
    if not given:
        return height, width
    key, value = given[0], args[given[0]]
    if key == "scale-factor":
        factor = _number(key, value)
        return _shape(height / factor, width / factor)
    per_axis = {}
    for part in value.split(","):
        m = SCALE_AXIS.match(part)
        if not m or m.group(1) not in axes:
            raise GridRequestError(f"{key}: expected {axes[0]}(n),{axes[1]}(n), got {value!r}")
        per_axis[m.group(1)] = _number(key, m.group(2))
    if key == "scale-axes":
        return _shape(height / per_axis.get(axes[1], 1), width / per_axis.get(axes[0], 1))
    return _shape(per_axis.get(axes[1], height), per_axis.get(axes[0], width))


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GridRequestError(f"{key}: {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise GridRequestError(f"{key}: {text!r} must be a positive number")
    return value


# Output cells per axis at most: a scaled-up request is refused rather than built in memory.
MAX_CELLS = 8192


def _shape(height: float, width: float) -> tuple[int, int]:
    h, w = max(1, round(height)), max(1, round(width))
    if h > MAX_CELLS or w > MAX_CELLS:
        raise GridRequestError(f"scaling: at most {MAX_CELLS} cells per axis")
    return h, w
