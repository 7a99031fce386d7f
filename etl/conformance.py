"""Check a generated frame against its layer file before it is written."""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.admin_boundaries import SOURCE as REAL_BOUNDARIES
from etl.common import CITY_BBOX, layer

SYSTEM = {"source", "geometry"}
REAL_BBOX_TOLERANCE = 1e-5  # degrees, ~1 m


def problems(layer_id: str, gdf: gpd.GeoDataFrame) -> list[str]:
    """Every way the frame breaks its layer's rules, as readable messages (empty: fine)."""
    lyr = layer(layer_id)
    out: list[str] = []
    names = {f.name: f.name for f in lyr.fields}
    names.update({alias: f.name for f in lyr.fields for alias in f.source_names})
    extra = set(gdf.columns) - set(names) - SYSTEM
    if extra:
        out.append(f"unknown columns {sorted(extra)}")
    cols = {names[c]: c for c in gdf.columns if c in names}
    for field in lyr.fields:
        if field.name not in cols:
            if field.required:
                out.append(f"{field.name}: required column missing")
            continue
        out.extend(f"{field.name}: {m}" for m in _field_problems(field, gdf[cols[field.name]]))
    pk = gdf[cols[lyr.primary_key]]
    if pk.duplicated().any():
        out.append(f"{lyr.primary_key}: {int(pk.duplicated().sum())} duplicate keys")
    out.extend(_geometry_problems(lyr, gdf))
    return out


def _field_problems(field, col: pd.Series) -> list[str]:
    msgs = []
    present = col.notna()
    if field.required and not present.all():
        msgs.append(f"{int((~present).sum())} empty values in a required field")
    vals = col[present]
    if field.values:
        bad = set(vals) - set(field.allowed)
        if bad:
            msgs.append(f"values not allowed: {sorted(map(str, bad))[:5]}")
    if field.type in ("integer", "real") and len(vals):
        msgs.extend(_numeric_problems(field, pd.to_numeric(vals, errors="coerce")))
    if field.type == "date" and len(vals):
        try:
            [dt.date.fromisoformat(str(v)) for v in vals]
        except ValueError as exc:
            msgs.append(f"not an ISO date ({exc})")
    if field.pattern:
        rx = re.compile(field.pattern)
        bad = [v for v in vals.astype(str) if not rx.fullmatch(v)]
        if bad:
            msgs.append(f"{len(bad)} values not matching {field.pattern}, e.g. {bad[0]!r}")
    return msgs


def _numeric_problems(field, num: pd.Series) -> list[str]:
    msgs = []
    if num.isna().any():
        msgs.append("non-numeric values")
    if field.type == "integer" and not np.all(np.mod(num.dropna(), 1) == 0):
        msgs.append("non-integer values")
    if field.minimum is not None and (num < field.minimum).any():
        msgs.append(f"values below {field.minimum}")
    if field.maximum is not None and (num > field.maximum).any():
        msgs.append(f"values above {field.maximum}")
    return msgs


def _geometry_problems(lyr, gdf: gpd.GeoDataFrame) -> list[str]:
    msgs = []
    if gdf.crs is None or gdf.crs.to_epsg() != lyr.geometry.srid:
        msgs.append(f"CRS {gdf.crs} is not EPSG:{lyr.geometry.srid}")
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    if any(g is None for g in geoms):
        return [*msgs, "missing geometries"]
    family = lyr.geometry.type.removeprefix("Multi")
    kinds = {g.geom_type.removeprefix("Multi") for g in geoms}
    if kinds - {family}:
        msgs.append(f"geometry types {sorted(kinds)} (expected {family})")
    for what, bad in (
        ("invalid", ~shapely.is_valid(geoms)),
        ("empty", shapely.is_empty(geoms)),
        ("3D", shapely.has_z(geoms)),
    ):
        if bad.any():
            msgs.append(f"{int(bad.sum())} {what} geometries")
    bounds = shapely.bounds(geoms)
    source = gdf["source"].to_numpy() if "source" in gdf else np.full(len(gdf), "")
    # The published bbox is rounded to 5 decimals: the real boundaries cross it by < 1 m.
    tol = np.where(source == REAL_BOUNDARIES, REAL_BBOX_TOLERANCE, 0.0)
    x0, y0, x1, y1 = CITY_BBOX
    outside = (
        (bounds[:, 0] < x0 - tol)
        | (bounds[:, 1] < y0 - tol)
        | (bounds[:, 2] > x1 + tol)
        | (bounds[:, 3] > y1 + tol)
    )
    # real OSM ways may poke out of the city (their attributes may be generated: osm+synthetic)
    outside &= ~np.char.startswith(source.astype(str), "osm")
    if outside.any():
        msgs.append(f"{int(outside.sum())} geometries outside the city bbox")
    return msgs
