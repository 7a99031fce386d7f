"""Open what agencies hand over and stream it in Arrow batches (pyogrio / GDAL).

Reads anything GDAL's vector drivers read: Shapefile (plain or zipped, with its
encoding worked out by ``onemap.load.shapefile``), GeoPackage (``--layer`` picks one; the
layers are listed when the choice is ambiguous), GeoJSON and GeoJSON Sequence, CSV with a
WKT column or lon/lat columns, KML and KMZ, FileGDB (a ``.gdb`` folder, or zipped),
FlatGeobuf… Every failure here becomes a ``LoadError`` that names the file and the reason.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from onemap.core.city import get_city
from onemap.core.errors import LoadError
from onemap.load.shapefile import ShapefileParts

# GDAL's CSV driver finds geometry in a WKT column or lon/lat columns by these names
# (https://gdal.org/en/stable/drivers/vector/csv.html, open options *_POSSIBLE_NAMES).
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
X_NAMES = ("lon", "longitude", "lng", "long", "x", "bujur")
Y_NAMES = ("lat", "latitude", "y", "lintang")
CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": ",".join(WKT_NAMES),
    "X_POSSIBLE_NAMES": ",".join(X_NAMES),
    "Y_POSSIBLE_NAMES": ",".join(Y_NAMES),
    "KEEP_GEOM_COLUMNS": "YES",  # the WKT text stays readable for messages
}
# A CSV has no CRS; coordinates in lon/lat or WKT columns are taken as WGS 84, the
# convention of GeoJSON (RFC 7946) and of spreadsheets exported from GPS/phone apps.
CSV_DEFAULT_CRS = "EPSG:4326"
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".asc", ".img", ".nc")  # read by onemap.load.raster
VECTOR_SUFFIXES = (
    ".shp",
    ".gpkg",
    ".geojson",
    ".json",
    ".geojsonl",
    ".geojsons",
    ".csv",
    ".kml",
    ".fgb",
    ".gml",
    ".tab",
)


@dataclass
class Source:
    """An opened vector input: where it is, which layer, its CRS and columns."""

    path: Path
    gdal_path: str
    layer: str | None
    crs: CRS
    columns: list[str]
    feature_count: int
    open_options: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    geometry_columns: tuple[str, ...] = ()
    first_row: int = 1

    @property
    def is_csv(self) -> bool:
        """Whether rows are lines of a CSV file (row numbers then count the header)."""
        return self.gdal_path.lower().endswith(".csv")


def _zip_member(path: Path) -> str:
    """The GDAL path of the one dataset inside a zip (or KMZ) archive."""
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile as exc:
        raise LoadError(f"{path}: not a readable zip archive ({exc})") from exc
    names = [n for n in names if not n.startswith("__MACOSX") and not n.endswith("/")]
    gdbs = sorted({n[: n.lower().index(".gdb/") + 4] for n in names if ".gdb/" in n.lower()})
    data = gdbs + [n for n in names if n.lower().endswith(VECTOR_SUFFIXES) and ".gdb/" not in n]
    if not data:
        raise LoadError(f"{path}: the zip archive holds no geodata file ({', '.join(names[:10])})")
    if len(data) > 1:
        raise LoadError(
            f"{path}: the zip archive holds several geodata files ({', '.join(data)}); "
            "unzip it and load one of them"
        )
    return data[0]


def _gdal_path(path: Path) -> tuple[str, ShapefileParts | None]:
    suffix = path.suffix.lower()
    if suffix in (".zip", ".kmz"):
        member = _zip_member(path)
        parts = ShapefileParts(path, member) if member.lower().endswith(".shp") else None
        return f"/vsizip/{path}/{member}", parts
    if suffix == ".shp":
        return str(path), ShapefileParts(path)
    return str(path), None


def open_source(path: Path, layer: str | None = None, source_crs: str | None = None) -> Source:
    """Open a vector file, choose its layer, determine its CRS; refuse with a reason."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    gdal_path, shapefile = _gdal_path(path)
    encoding = None
    if shapefile is not None:
        shapefile.check_complete()
        encoding = shapefile.encoding()
    is_csv = gdal_path.lower().endswith(".csv")
    options = dict(CSV_OPTIONS) if is_csv else {}
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
            info = pyogrio.read_info(gdal_path, layer=layer, encoding=encoding, **options)
    except (DataSourceError, DataLayerError) as exc:
        raise LoadError(f"{path}: cannot read layer '{layer}' ({_first_line(exc)})") from exc
    if info.get("geometry_type") is None:
        raise LoadError(
            f"{path}: layer '{layer}' has no geometry column "
            "(a CSV needs a WKT column or lon/lat columns)"
        )
    crs = _determine_crs(path, info.get("crs"), source_crs, is_csv)
    count = int(info.get("features") or 0)
    if count == 0:
        raise LoadError(f"{path}: layer '{layer}' holds no features")
    columns = [str(c) for c in info["fields"]]
    return Source(
        path,
        gdal_path,
        layer,
        crs,
        columns,
        count,
        options,
        encoding,
        _csv_geometry_columns(columns) if is_csv else (),
        2 if is_csv else 1,
    )


def _csv_geometry_columns(columns: list[str]) -> tuple[str, ...]:
    """The CSV columns GDAL took the geometry from (first match, as GDAL does)."""
    lower = {c.lower(): c for c in reversed(columns)}
    for name in WKT_NAMES:
        if name in lower:
            return (lower[name],)
    x = next((lower[n] for n in X_NAMES if n in lower), None)
    y = next((lower[n] for n in Y_NAMES if n in lower), None)
    return (x, y) if x and y else ()


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
        hint = " (no .prj beside the .shp?)" if path.suffix.lower() in (".shp", ".zip") else ""
        raise LoadError(
            f"{path}: the file declares no coordinate reference system{hint}; "
            f"give it with --source-crs, e.g. --source-crs EPSG:{get_city().metric_crs} "
            "(the city's metric CRS)"
        )
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise LoadError(f"{path}: unknown coordinate reference system '{text}' ({exc})") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def iter_batches(
    src: Source, batch_size: int = 50_000
) -> Iterator[tuple[int, pa.RecordBatch, pa.Array]]:
    """Yield (row number of the first row, attributes, WKB geometry) per Arrow batch.

    Memory stays bounded by the batch size, whatever the file size.
    """
    row = src.first_row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pyogrio.open_arrow(
                src.gdal_path,
                layer=src.layer,
                batch_size=batch_size,
                use_pyarrow=True,
                datetime_as_string=True,
                encoding=src.encoding,
                **src.open_options,
            ) as (meta, reader):
                geom_col = meta["geometry_name"] or "wkb_geometry"
                for batch in reader:
                    attrs = batch.drop_columns([geom_col])
                    _check_text(src, attrs, row)
                    yield row, attrs, batch.column(geom_col)
                    row += batch.num_rows
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise LoadError(f"{src.path}: reading stopped near row {row} ({_first_line(exc)})") from exc


def _check_text(src: Source, attrs: pa.RecordBatch, row: int) -> None:
    """Refuse text that is not valid in the encoding the file declares (e.g. a wrong .cpg)."""
    for name, column in zip(attrs.schema.names, attrs.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as exc:
                declared = src.encoding or "UTF-8"
                raise LoadError(
                    f"{src.path}: text in column '{name}' (rows {row}–{row + len(column) - 1}) "
                    f"is not valid {declared}; if the file has a .cpg, it names the wrong "
                    "encoding (Windows software writes 1252)"
                ) from exc
