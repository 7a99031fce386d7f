"""Open what agencies hand over and stream it in Arrow batches (pyogrio / GDAL).

Every failure here becomes a ``LoadError`` that names the file and the reason.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from onemap.errors import LoadError

# GDAL's CSV driver finds geometry in a WKT column or lon/lat columns by these names
# (https://gdal.org/en/stable/drivers/vector/csv.html, open options *_POSSIBLE_NAMES).
CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geometry,geom,the_geom,WKT",
    "X_POSSIBLE_NAMES": "lon,longitude,lng,long,x,bujur",
    "Y_POSSIBLE_NAMES": "lat,latitude,y,lintang",
    "KEEP_GEOM_COLUMNS": "NO",
}
# A CSV has no CRS; coordinates in lon/lat or WKT columns are taken as WGS 84, the
# convention of GeoJSON (RFC 7946) and of spreadsheets exported from GPS/phone apps.
CSV_DEFAULT_CRS = "EPSG:4326"
VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".geojsonl", ".csv", ".kml", ".gdb")


@dataclass
class Source:
    """An opened input: where it is, which layer, its CRS and columns."""

    path: Path
    gdal_path: str
    layer: str | None
    crs: CRS
    columns: list[str]
    feature_count: int
    open_options: dict[str, str] = field(default_factory=dict)

    @property
    def is_csv(self) -> bool:
        """Whether rows are lines of a CSV file (row numbers then count the header)."""
        return self.gdal_path.lower().endswith(".csv")


def _resolve_zip(path: Path) -> str:
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile as exc:
        raise LoadError(f"{path}: not a readable zip archive ({exc})") from exc
    data = [
        n for n in names if n.lower().endswith(VECTOR_SUFFIXES) and not n.startswith("__MACOSX")
    ]
    if not data:
        raise LoadError(f"{path}: the zip archive holds no geodata file ({', '.join(names[:10])})")
    if len(data) > 1:
        raise LoadError(
            f"{path}: the zip archive holds several geodata files ({', '.join(data)}); "
            "unzip it and load one of them"
        )
    return f"/vsizip/{path}/{data[0]}"


def open_source(path: Path, layer: str | None = None, source_crs: str | None = None) -> Source:
    """Open a vector file, choose its layer, determine its CRS; refuse with a reason."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    gdal_path = _resolve_zip(path) if path.suffix.lower() == ".zip" else str(path)
    options = dict(CSV_OPTIONS) if gdal_path.lower().endswith(".csv") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = pyogrio.list_layers(gdal_path)
    except (DataSourceError, DataLayerError) as exc:
        raise LoadError(f"{path}: not a geodata file GDAL can read ({_first_line(exc)})") from exc
    layer = _choose_layer(path, [str(n) for n in layers[:, 0]], layer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = pyogrio.read_info(gdal_path, layer=layer, **options)
    except (DataSourceError, DataLayerError) as exc:
        raise LoadError(f"{path}: cannot read layer '{layer}' ({_first_line(exc)})") from exc
    if info.get("geometry_type") is None:
        raise LoadError(
            f"{path}: layer '{layer}' has no geometry column "
            "(a CSV needs a WKT column or lon/lat columns)"
        )
    crs = _determine_crs(path, info.get("crs"), source_crs, gdal_path.lower().endswith(".csv"))
    count = int(info.get("features") or 0)
    if count == 0:
        raise LoadError(f"{path}: layer '{layer}' holds no features")
    return Source(path, gdal_path, layer, crs, [str(c) for c in info["fields"]], count, options)


def _choose_layer(path: Path, names: list[str], wanted: str | None) -> str:
    if wanted is not None and wanted not in names:
        raise LoadError(f"{path}: has no layer '{wanted}'; its layers are {', '.join(names)}")
    if wanted is None and len(names) > 1:
        raise LoadError(
            f"{path}: holds {len(names)} layers ({', '.join(names)}); choose one with --layer"
        )
    if not names:
        raise LoadError(f"{path}: holds no layers")
    return wanted or names[0]


def _determine_crs(path: Path, declared: str | None, override: str | None, is_csv: bool) -> CRS:
    text = override or declared or (CSV_DEFAULT_CRS if is_csv else None)
    if text is None:
        hint = " (no .prj beside the .shp?)" if path.suffix.lower() == ".shp" else ""
        raise LoadError(
            f"{path}: the file declares no coordinate reference system{hint}; "
            "give it with --source-crs, e.g. --source-crs EPSG:32749 for UTM 49S"
        )
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LoadError(f"{path}: unknown coordinate reference system '{text}' ({exc})") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def iter_batches(
    src: Source, batch_size: int = 50_000
) -> Iterator[tuple[int, pd.DataFrame, np.ndarray]]:
    """Yield (first row number, attributes, shapely geometries) per Arrow batch.

    Memory stays bounded by the batch size, whatever the file size.
    """
    row = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pyogrio.open_arrow(
                src.gdal_path,
                layer=src.layer,
                batch_size=batch_size,
                use_pyarrow=True,
                datetime_as_string=True,
                **src.open_options,
            ) as (meta, reader):
                geom_col = meta["geometry_name"] or "wkb_geometry"
                for batch in reader:
                    wkb = batch.column(geom_col).to_numpy(zero_copy_only=False)
                    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                    attrs = batch.drop_columns([geom_col]).to_pandas()
                    yield row, attrs, geoms
                    row += batch.num_rows
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise LoadError(f"{src.path}: reading stopped near row {row} ({_first_line(exc)})") from exc
