"""Shared by recipes and generators: CRSs, the city bbox, layer rules, finishing, writing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers

# The city's metric CRS (config/city.yaml; docs/standards.md §1.4): every length and area
# is computed here.
UTM = f"EPSG:{get_city().metric_crs}"
WGS84 = "EPSG:4326"
# Bounding box of the real boundaries (config/city.yaml); synthetic output stays inside.
CITY_BBOX = get_city().bbox
# GeoPackages stamp the write time into gpkg_contents; a fixed stamp keeps runs byte-identical.
_GPKG_DATE = "2026-11-23T00:00:00Z"


def layer(layer_id: str) -> Layer:
    """The layer definition (the single source of vocabularies and ranges)."""
    return load_layers()[layer_id]


def allowed(layer_id: str, field: str) -> tuple[str, ...]:
    """Allowed values of a coded field, as declared in the layer file."""
    return layer(layer_id).field(field).allowed


def require_values(layer_id: str, field: str, values: Iterable[str]) -> None:
    """Fail early when a rule table names a value the layer file does not allow."""
    bad = sorted(set(values) - set(allowed(layer_id, field)))
    if bad:
        raise ValueError(f"{layer_id}.{field}: values {bad} are not in the layer file")


def single_parts(geoms: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Explode geometries (collections included) into single parts of one family.

    Returns the parts and, for each part, the index of the geometry it came from.
    """
    parts, index = shapely.get_parts(geoms, return_index=True)
    while True:
        multi = shapely.get_type_id(parts) >= 4  # Multi* and GeometryCollection
        if not multi.any():
            break
        sub, sub_idx = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        index = np.concatenate([index[~multi], index[multi][sub_idx]])
        order = np.argsort(index, kind="stable")
        parts, index = parts[order], index[order]
    keep = np.isin(shapely.get_type_id(parts), [1 if family == "line" else 3])
    keep &= ~shapely.is_empty(parts)
    return parts[keep], index[keep]


def finish(
    gdf: gpd.GeoDataFrame,
    family: str,
    clip: object | None = None,
    min_size: float = 0.0,
    explode: bool = True,
) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326, clip, snap to 1e-7°, keep valid parts of the family.

    ``clip`` is a geometry in EPSG:4326: clipping in the output CRS guarantees the result
    lies inside it after reprojection. Parts shorter (lines, m) or smaller (polygons, m²)
    than ``min_size``, measured in EPSG:32749, are dropped. With ``explode`` every part
    becomes a row; otherwise a row's parts are regrouped into one Multi geometry.
    """
    out = gdf.to_crs(WGS84)
    geoms = np.asarray(out.geometry.array, dtype=object)
    if clip is not None:
        shapely.prepare(clip)
        geoms = shapely.intersection(geoms, clip)
    geoms = shapely.set_precision(geoms, 1e-7)
    if family == "polygon":
        geoms = shapely.make_valid(geoms)
    parts, index = single_parts(geoms, family)
    ok = shapely.is_valid(parts)
    parts, index = parts[ok], index[ok]
    if min_size > 0:
        metric = gpd.GeoSeries(parts, crs=WGS84).to_crs(UTM)
        big = (metric.length if family == "line" else metric.area).to_numpy() >= min_size
        parts, index = parts[big], index[big]
    if not explode:
        rows = np.unique(index)
        make = shapely.multilinestrings if family == "line" else shapely.multipolygons
        grouped = make(parts, indices=np.searchsorted(rows, index))
        parts = np.asarray(grouped, dtype=object)
        index = rows
    res = gpd.GeoDataFrame(
        out.drop(columns=out.geometry.name).iloc[index].reset_index(drop=True),
        geometry=parts,
        crs=WGS84,
    )
    return res


def write_vector(gdf: gpd.GeoDataFrame, path: Path, layer_id: str) -> None:
    """Write one layer's demo file: GeoPackage (layer named by id) or RFC 7946 GeoJSON."""
    if path.suffix == ".gpkg":
        path.unlink(missing_ok=True)
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _GPKG_DATE})
        try:
            pyogrio.write_dataframe(gdf, path, layer=layer_id, driver="GPKG")
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    else:
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="GeoJSON",
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 7, "WRITE_NAME": "NO"},
        )
