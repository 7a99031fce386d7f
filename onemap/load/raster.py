"""Turn a classified raster (e.g. a modelled flood depth) into the rows of a layer.

The layer file's ``raster:`` block says how (``onemap.core.layers.RasterClasses``): cells are
classified into ``classes`` by ``bins`` (BNPB depth bands for ``flood_zones``), block by
block into one byte per cell, so memory stays about one byte per cell; nodata cells and
cells at or below ``ignore_at_or_below`` belong to no class. The classes are polygonised
(rasterio), dissolved into one MultiPolygon per class, specks under ``min_area_m2``
dropped, and simplified by ``simplify_m`` metres with shapely's coverage simplification,
which keeps neighbouring classes edge-matched (no slivers or overlaps). The rows then go
through the same validation, staging and publishing as any vector file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.errors import RasterioIOError
from rasterio.features import shapes
from rasterio.windows import Window

from onemap.core.city import get_city
from onemap.core.errors import LoadError, UserError
from onemap.core.layers import Layer, RasterClasses

NO_CLASS = 255


@dataclass
class RasterSource:
    """A raster input, classified and polygonised into one row per class."""

    path: Path
    crs: CRS
    columns: list[str]
    feature_count: int
    attrs: pa.RecordBatch
    wkb: pa.Array
    cells: int
    first_row: int = 1
    geometry_columns: tuple[str, ...] = ()


def open_raster(
    layer: Layer,
    path: Path,
    constants: dict[str, str],
    source_crs: str | None = None,
    bins: tuple[float, ...] | None = None,
    bands: str | None = None,
) -> RasterSource:
    """Classify, polygonise, dissolve and simplify a raster into the layer's rows.

    ``bands``: which of the layer's band sets the values are in (``--bands index``);
    ``bins``: other class bounds for it (``--class-bounds``)."""
    path = Path(path)
    if layer.raster is None:
        raise LoadError(
            f"{path}: is a raster, and layer '{layer.id}' takes vector data only "
            "(its layer file has no raster: block)"
        )
    try:
        rules = layer.raster.with_bands(bands) if bands else layer.raster
    except KeyError as exc:
        raise UserError(f"--bands {bands}: {exc.args[0]}") from None
    rules = rules.with_bins(bins) if bins else rules
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = rasterio.open(path)
    except RasterioIOError as exc:
        raise LoadError(f"{path}: not a raster GDAL can read ({_first_line(exc)})") from exc
    with ds:
        crs = _crs(path, ds.crs, source_crs)
        classes, lo, hi = _classify(path, ds, rules)
        transform = ds.transform
    metric = _metric_crs(crs)
    geoms = _polygonise(classes, transform, len(rules.classes))
    if metric is not None:
        to_metric = Transformer.from_crs(crs, metric, always_xy=True)
        geoms = shapely.transform(geoms, _xy(to_metric))
    geoms = _clean(geoms, rules)
    if metric is not None:
        back = Transformer.from_crs(metric, crs, always_xy=True)
        geoms = np.array([shapely.transform(g, _xy(back)) if g else None for g in geoms])
    attrs = _attributes(layer, rules, constants, lo, hi, geoms)
    keep = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if not keep.any():
        raise LoadError(
            f"{path}: no cell falls in any class of '{rules.field}' "
            f"(bins {list(rules.bins)} {rules.unit or ''}, cells at or below "
            f"{rules.ignore_at_or_below} and nodata ignored)"
        )
    wkb = pa.array(shapely.to_wkb(geoms[keep]), pa.binary())
    attrs = attrs.filter(pa.array(keep))
    return RasterSource(path, crs, attrs.schema.names, len(attrs), attrs, wkb, classes.size)


def raster_batches(src: RasterSource) -> Iterator[tuple[int, pa.RecordBatch, pa.Array]]:
    """The rows as one batch, like ``onemap.load.source.iter_batches``."""
    yield src.first_row, src.attrs, src.wkb


def _crs(path: Path, declared, override: str | None) -> CRS:
    text = override or (declared.to_wkt() if declared else None)
    if not text:
        raise LoadError(
            f"{path}: the raster declares no coordinate reference system; "
            f"give it with --source-crs, e.g. --source-crs EPSG:{get_city().metric_crs} "
            "(the city's metric CRS)"
        )
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # pyproj raises CRSError, rasterio its own
        raise LoadError(f"{path}: unknown coordinate reference system ({exc})") from exc


def _metric_crs(crs: CRS) -> CRS | None:
    """Where to measure metres: the raster's own CRS if projected, else the city's."""
    return None if crs.is_projected else CRS.from_epsg(get_city().metric_crs)


def _classify(path: Path, ds, rules: RasterClasses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One byte per cell (class index, or NO_CLASS), and the value range of each class."""
    k = len(rules.classes)
    out = np.full((ds.height, ds.width), NO_CLASS, dtype=np.uint8)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    bins = np.asarray(rules.bins, dtype="float64")
    seen = [np.inf, -np.inf]  # the range of every value that is not nodata
    try:
        for _, window in ds.block_windows(1):
            values = ds.read(1, window=window, masked=True).astype("float64")
            cls, valid = _classes_of(values, bins, rules)
            data = values.compressed()
            data = data[np.isfinite(data)]
            if data.size:
                seen = [min(seen[0], data.min()), max(seen[1], data.max())]
            if not valid.any():
                continue
            _store(out, window, np.where(valid, cls, NO_CLASS).astype(np.uint8))
            v, c = values.data[valid], cls[valid]
            for i in np.unique(c):
                lo[i] = min(lo[i], v[c == i].min())
                hi[i] = max(hi[i], v[c == i].max())
    except RasterioIOError as exc:
        raise LoadError(f"{path}: reading the raster failed ({_first_line(exc)})") from exc
    _check_range(path, rules, seen)
    return out, lo, hi


def _check_range(path: Path, rules: RasterClasses, seen: list[float]) -> None:
    """Values outside the band set's range mean the file is in other units (a depth
    raster loaded as an index): refused, naming the other band sets."""
    if rules.valid_range is None or not np.isfinite(seen[0]):
        return
    low, high = rules.valid_range
    if seen[0] < low or seen[1] > high:
        unit = f" ({rules.unit})" if rules.unit else ""
        raise LoadError(
            f"{path}: values run from {seen[0]:g} to {seen[1]:g}, outside {low:g}–{high:g}, "
            f"the range of the '{rules.default_bands}' band set{unit}; is it another kind "
            "of raster? Choose the band set with --bands"
        )


def _classes_of(values: np.ma.MaskedArray, bins: np.ndarray, rules: RasterClasses):
    data = values.filled(np.nan)
    valid = np.isfinite(data)
    if rules.ignore_at_or_below is not None:
        with np.errstate(invalid="ignore"):
            valid &= data > rules.ignore_at_or_below
    # class i holds bins[i-1] <= v < bins[i]: 0.76 m is already 'sedang' (BNPB band 0.76–1.5)
    cls = np.digitize(np.where(valid, data, 0), bins, right=False)
    return cls, valid


def _store(out: np.ndarray, window: Window, block: np.ndarray) -> None:
    r, c = int(window.row_off), int(window.col_off)
    out[r : r + block.shape[0], c : c + block.shape[1]] = block


def _polygonise(classes: np.ndarray, transform, k: int) -> np.ndarray:
    """One (Multi)Polygon per class index; None for a class with no cell."""
    parts: list[list] = [[] for _ in range(k)]
    for geom, value in shapes(classes, mask=classes != NO_CLASS, transform=transform):
        parts[int(value)].append(shapely.geometry.shape(geom))
    return np.array([shapely.coverage_union_all(p) if p else None for p in parts], dtype=object)


def _clean(geoms: np.ndarray, rules: RasterClasses) -> np.ndarray:
    """Drop specks smaller than min_area_m2, then simplify the classes as one coverage."""
    out = geoms.copy()
    for i, g in enumerate(out):
        if g is None:
            continue
        polys = shapely.get_parts(g)
        big = polys[shapely.area(polys) >= rules.min_area_m2] if rules.min_area_m2 else polys
        out[i] = shapely.multipolygons(big) if len(big) else None
    present = np.array([g is not None for g in out], dtype=bool)
    if rules.simplify_m and present.any():
        simplified = shapely.coverage_simplify(out[present], rules.simplify_m)
        out[present] = shapely.make_valid(simplified)
    return out


def _attributes(
    layer: Layer,
    rules: RasterClasses,
    constants: dict[str, str],
    lo: np.ndarray,
    hi: np.ndarray,
    geoms: np.ndarray,
) -> pa.RecordBatch:
    values = {**rules.attributes, **constants}
    cols: dict[str, list] = {f: [] for f in (layer.primary_key, rules.field, *values)}
    if rules.min_field:
        cols[rules.min_field] = []
    if rules.max_field:
        cols[rules.max_field] = []
    for i, name in enumerate(rules.classes):
        row = {**values, rules.field: name}
        cols[layer.primary_key].append(rules.key.format(**row))
        for f, v in row.items():
            if f != layer.primary_key:
                cols[f].append(v)
        found = np.isfinite(lo[i]) and geoms[i] is not None
        if rules.min_field:
            cols[rules.min_field].append(round(float(lo[i]), 2) if found else None)
        if rules.max_field:
            cols[rules.max_field].append(round(float(hi[i]), 2) if found else None)
    return pa.RecordBatch.from_pydict(cols)


def _xy(transformer: Transformer):
    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return fn


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
