"""Turn a layer's GeoDataFrame into the compact display data a map page embeds.

Display only: geometries are simplified per geometry family in metres (in the city's
metric CRS), then quantised to 5 decimals (about 1 m) and delta-encoded as in TopoJSON;
only the columns the popups show are kept. A page embeds::

    {"fields": [...], "scale": 100000, "rows": [[[type, coords], [values...]], ...]}

where ``coords`` nests like GeoJSON coordinates but each line or ring is a flat list of
integers: the first point absolute, the next ones as differences to the previous point.
A plain FeatureCollection repeats every property name in every feature and spells every
coordinate out; for the road layer (about 13,000 segments) that is over twice the size.
``onemap.js`` (``decodeGeometry``) turns the rows back into GeoJSON features.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from onemap.core.city import get_city
from onemap.core.layers import Layer

# Metric CRS for simplification: the city's (config/city.yaml metric_crs).
DISPLAY_METRIC_CRS = get_city().metric_crs
# Douglas-Peucker tolerance per geometry family, in metres.
TOLERANCE_M: dict[str, float] = {"point": 0.0, "line": 5.0, "polygon": 5.0}
COORD_DECIMALS = 5
SCALE = 10**COORD_DECIMALS
VALUE_DECIMALS = 3
# System column shown in popups besides the layer's fields (see onemap.core.layers.SYSTEM_COLUMNS).
SOURCE_COLUMN = "source"


def popup_columns(layer: Layer, frame: gpd.GeoDataFrame) -> list[str]:
    """The columns a page keeps: the layer's fields in declared order, then ``source``."""
    names = [f.name for f in layer.fields]
    if SOURCE_COLUMN in frame.columns:
        names.append(SOURCE_COLUMN)
    return names


def simplify_for_display(
    frame: gpd.GeoDataFrame, family: str, tolerance_m: dict[str, float] | None = None
) -> gpd.GeoSeries:
    """Geometries of ``frame`` simplified for ``family`` and rounded, in EPSG:4326.

    Lines are simplified without topology preservation (a line cannot become invalid in a
    way that matters for drawing); polygons keep their topology so none collapses.
    Empty and missing geometries become ``None``.
    """
    tolerance = (tolerance_m or TOLERANCE_M).get(family, 0.0)
    geoms = frame.geometry
    if geoms.crs is None:
        raise ValueError("frame has no CRS; the maps expect EPSG:4326")
    if tolerance > 0 and len(geoms):
        geoms = (
            geoms.to_crs(DISPLAY_METRIC_CRS)
            .simplify(tolerance, preserve_topology=family == "polygon")
            .to_crs(4326)
        )
    elif geoms.crs.to_epsg() != 4326:
        geoms = geoms.to_crs(4326)
    values = np.asarray(geoms.values, dtype=object)
    values = np.where(pd.isna(values) | shapely.is_empty(values), None, values)
    return gpd.GeoSeries(values, index=frame.index, crs=4326)


def _encode_part(coords: Any) -> list[int]:
    """A line or ring as flat integers: first point absolute, then deltas; repeats dropped."""
    q = np.round(np.asarray(coords)[:, :2] * SCALE).astype(np.int64)
    if len(q) > 1:
        moved = np.any(np.diff(q, axis=0) != 0, axis=1)
        keep = np.concatenate(([True], moved))
        keep[-1] |= not moved.any()  # a part shorter than the grid keeps two points
        q = q[keep]
    return np.vstack([q[:1], np.diff(q, axis=0)]).ravel().tolist()


def encode_geometry(geom: shapely.Geometry) -> list[Any]:
    """``[geometry type, coordinates]`` with quantised, delta-encoded lines and rings."""
    kind = geom.geom_type
    if kind == "Point":
        return [kind, np.round(np.asarray(geom.coords[0][:2]) * SCALE).astype(int).tolist()]
    if kind == "LineString":
        return [kind, _encode_part(geom.coords)]
    if kind == "Polygon":
        rings = (geom.exterior, *geom.interiors)
        return [kind, [_encode_part(ring.coords) for ring in rings]]
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        return [kind, [encode_geometry(part)[1] for part in geom.geoms]]
    raise ValueError(f"cannot draw a {kind} on the web maps")


def display_value(value: Any) -> Any:
    """A JSON-ready value: None for missing, rounded floats, ISO dates, plain ints/strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        rounded = round(float(value), VALUE_DECIMALS)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def display_rows(
    layer: Layer,
    frame: gpd.GeoDataFrame,
    *,
    columns: list[str] | None = None,
    tolerance_m: dict[str, float] | None = None,
) -> dict[str, Any]:
    """``{"fields": columns, "scale": SCALE, "rows": [[geometry, values], ...]}`` to embed.

    ``columns`` defaults to :func:`popup_columns`; pass ``[]`` for a geometry-only overlay.
    Columns the frame lacks are shown as missing values. Features without geometry are
    dropped.
    """
    columns = popup_columns(layer, frame) if columns is None else columns
    geoms = simplify_for_display(frame, layer.geometry_family, tolerance_m)
    records = frame.reindex(columns=columns).astype(object).itertuples(index=False, name=None)
    rows = [
        [encode_geometry(geom), [display_value(v) for v in values]]
        for geom, values in zip(geoms, records, strict=True)
        if geom is not None
    ]
    return {"fields": columns, "scale": SCALE, "rows": rows}


def to_script_json(data: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` element (no ``</script>`` breakout)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def display_bounds(frame: gpd.GeoDataFrame) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of ``frame`` in EPSG:4326, or None when empty."""
    geoms = frame.geometry.dropna()
    geoms = geoms[~geoms.is_empty]
    if geoms.empty:
        return None
    if geoms.crs is not None and geoms.crs.to_epsg() != 4326:
        geoms = geoms.to_crs(4326)
    west, south, east, north = geoms.total_bounds
    return [[float(south), float(west)], [float(north), float(east)]]
