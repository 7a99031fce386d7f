"""``onemap reports import FILE``: reports exported from other channels (CSV, GeoJSON, …).

Every row goes through the intake's own checks (``onemap.reports.submission``: category,
text limits, markup, contact patterns, inside the city) plus what only an export has: its
id, when it was reported, its status and closing time. Columns are matched by the layer
file's field names and ``source_names`` (``kategori``, ``no_hp``, ``lon``/``bujur`` …).
All or nothing: with any refused row nothing is stored unless ``skip_invalid``; ids
already stored are skipped, so importing the same export twice stores it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
from psycopg import sql
from psycopg.types.json import Jsonb

from onemap.core.errors import UserError
from onemap.core.layers import Layer, get_layer, normalise_token
from onemap.core.settings import DbSettings
from onemap.db.connect import connect_owner
from onemap.db.models import DATA_SCHEMA
from onemap.reports import LAYER_ID
from onemap.reports.config import ReportsConfig, load_config
from onemap.reports.intake import store
from onemap.reports.private import private_of
from onemap.reports.submission import Invalid, Submission, coded, point, properties
from onemap.reports.workflow import FINAL

# GDAL's CSV driver: a WKT column or lon/lat columns (https://gdal.org/drivers/vector/csv.html)
CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geometry,geom,the_geom",
    "X_POSSIBLE_NAMES": "lon,longitude,lng,long,x,bujur",
    "Y_POSSIBLE_NAMES": "lat,latitude,y,lintang",
    "KEEP_GEOM_COLUMNS": "NO",
}
TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y")


@dataclass
class ImportResult:
    """What an import did."""

    rows: int = 0
    stored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)


def read_rows(path: Path) -> gpd.GeoDataFrame:
    """Read the file (anything GDAL reads) in WGS 84; CSV coordinates are WGS 84."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    options = CSV_OPTIONS if path.suffix.lower() == ".csv" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pyogrio.read_dataframe(path, datetime_as_string=True, **options)
    except Exception as exc:  # pyogrio raises several error types for unreadable input
        raise UserError(f"{path}: not a file GDAL can read ({exc})") from exc
    if frame.crs is None:
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def column_map(layer: Layer, columns: list[str]) -> dict[str, str]:
    """Field name -> file column, by name or the layer file's ``source_names``."""
    by_norm = {normalise_token(c): c for c in columns}
    private = private_of(layer)
    fields = list(layer.fields) + list(private.fields if private else ())
    out = {}
    for f in fields:
        for candidate in (f.name, *f.source_names):
            if normalise_token(candidate) in by_norm:
                out[f.name] = by_norm[normalise_token(candidate)]
                break
    return out


def parse_time(value: Any, name: str, config: ReportsConfig) -> dt.datetime | None:
    """An RFC 3339 or dd/mm/yyyy time; naive times are local (config timezone)."""
    if _value(value) is None:
        return None
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2} ", text):
        text = text.replace(" ", "T", 1)
    parsed = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt).replace(tzinfo=config.tz)
                break
            except ValueError:
                continue
    if parsed is None:
        raise Invalid(f"'{name}' is not a time (use 2026-03-04T10:15:00+07:00)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=config.tz)


def _value(value: Any) -> Any:
    """A cell, with the empty ones (None, NaN, blank) as None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return None if isinstance(value, str) and not value.strip() else value


def _external_id(value: Any, layer: Layer) -> str | None:
    if _value(value) is None:
        return None
    text = str(value).strip()
    text = text[:-2] if re.fullmatch(r"\d+\.0", text) else text  # 123.0 from a spreadsheet
    pattern = layer.pk.pattern or ".*"
    for candidate in (text, f"IMP-{text}"):
        if re.fullmatch(pattern, candidate):
            return candidate
    raise Invalid(f"report id {text[:40]!r} cannot be used ({pattern})")


def row_submission(
    row: dict[str, Any], geom: Any, mapping: dict[str, str], config: ReportsConfig, source: str
) -> Submission:
    """One file row as a Submission, or Invalid with the reason."""
    layer = get_layer(LAYER_ID)
    if geom is None or geom.is_empty or geom.geom_type != "Point":
        raise Invalid("a report needs a point geometry (lon/lat or WKT POINT)")
    lon, lat = point({"type": "Point", "coordinates": [geom.x, geom.y]})
    props = {name: _value(row[col]) for name, col in mapping.items()}
    reported = parse_time(props.get("reported_at"), "reported_at", config)
    if reported is None:
        raise Invalid("'reported_at' is required in an import")
    if reported > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise Invalid("'reported_at' is in the future")
    status = coded(layer, "status", props["status"]) if props.get("status") else "baru"
    closed = parse_time(props.get("closed_at"), "closed_at", config)
    if status in FINAL and closed is None:
        raise Invalid(f"a report with status {status} needs 'closed_at'")
    if closed is not None and closed < reported:
        raise Invalid("'closed_at' is before 'reported_at'")
    for name in ("reporter_phone",):  # spreadsheets turn numbers into floats
        if isinstance(props.get(name), float):
            props[name] = f"{props[name]:.0f}"
    return properties(
        props,
        lon,
        lat,
        config,
        channels=tuple(layer.field("channel").allowed),
        channel=props.get("channel") or "import",
        report_id=_external_id(props.get("report_id"), layer),
        reported_at=reported,
        status=status,
        closed_at=closed if status in FINAL else None,
        source=source,
    )


def import_file(
    conn: psycopg.Connection, path: Path, *, actor: str, skip_invalid: bool = False
) -> ImportResult:
    """Validate every row, then store the valid new ones in one transaction."""
    config, layer = load_config(), get_layer(LAYER_ID)
    frame = read_rows(Path(path))
    mapping = column_map(layer, [c for c in frame.columns if c != "geometry"])
    missing = [n for n in ("category", "description", "reported_at") if n not in mapping]
    if missing:
        raise UserError(
            f"{path}: no column for {', '.join(missing)} (columns: {list(frame.columns)})"
        )
    result, good, seen = ImportResult(rows=len(frame)), [], set()
    default_source = f"import:{Path(path).name}"[:200]
    sources = frame["source"] if "source" in frame.columns else None
    for i, (record, geom) in enumerate(zip(frame.to_dict("records"), frame.geometry, strict=True)):
        try:
            source = _value(sources.iloc[i]) if sources is not None else None
            sub = row_submission(record, geom, mapping, config, str(source or default_source))
        except Invalid as exc:
            result.refused.append((i + 1, str(exc)))
            continue
        if sub.report_id and sub.report_id in seen:
            result.refused.append((i + 1, f"duplicate id {sub.report_id} in the file"))
            continue
        seen.add(sub.report_id)
        good.append((i + 1, sub))
    if result.refused and not skip_invalid:
        return result
    with conn.transaction():
        run_id = _start_run(conn, Path(path), actor, result.rows)
        for row_number, sub in good:
            if (
                sub.report_id
                and conn.execute(
                    "SELECT 1 FROM onemap.reports WHERE report_id = %s", (sub.report_id,)
                ).fetchone()
            ):
                result.already.append(sub.report_id)
                continue
            try:
                result.stored.append(store(conn, sub, actor=actor, config=config, load_id=run_id))
            except Invalid as exc:  # outside the city (no kecamatan near the point)
                if not skip_invalid:
                    raise UserError(f"{path}: row {row_number}: {exc}; nothing was stored") from exc
                result.refused.append((row_number, str(exc)))
        _finish_run(conn, run_id, result)
    return result


def _start_run(conn: psycopg.Connection, path: Path, actor: str, rows: int) -> int:
    """Record the import as a run of the layer (``onemap history reports`` lists it)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return conn.execute(
        "INSERT INTO onemap_meta.loads (layer, source_file, source_sha256, mode, rows_read, "
        "run_by, details) VALUES (%s, %s, %s, 'append', %s, %s, %s) RETURNING load_id",
        (LAYER_ID, str(path), digest, rows, actor, Jsonb({"by": "onemap reports import"})),
    ).fetchone()[0]


def _finish_run(conn: psycopg.Connection, run_id: int, result: ImportResult) -> None:
    conn.execute(
        "UPDATE onemap_meta.loads SET status = 'succeeded', finished_at = clock_timestamp(), "
        "rows_loaded = %s, rows_rejected = %s, rows_repaired = 0, "
        "details = details || %s WHERE load_id = %s",
        (
            len(result.stored),
            len(result.refused),
            Jsonb({"already_stored": len(result.already)}),
            run_id,
        ),
    )


def load_demo(layer: Layer, path: Path, settings: DbSettings | None = None) -> int:
    """The layer file's ``demo_loader``: replace the demo rows by the file's, via import.

    Demo rows are those with ``source = 'synthetic'``; reports received or imported for
    real are left alone. Runs as the owner; refuses the whole file if a row is invalid.
    """
    with connect_owner(settings) as conn:
        conn.autocommit = True
        with conn.transaction():
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE source = 'synthetic'").format(
                    sql.Identifier(DATA_SCHEMA, layer.id)
                )
            )
            res = import_file(conn, path, actor="demo")
            if res.refused:
                row, reason = res.refused[0]
                raise UserError(f"{path}: row {row}: {reason} ({len(res.refused)} refused)")
    return len(res.stored)
