"""Load a file into a layer: read → validate → COPY to staging → checks → swap.

The published table changes only in the final statement of one transaction, so a
refused file, a failed check, a killed loader or a dropped connection leaves the
previous version exactly as it was (PostgreSQL discards the open transaction). The
run and its rejected rows are recorded on a separate autocommit connection, so they
survive the rollback.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psycopg
import shapely
from psycopg import sql

from onemap.city import get_city
from onemap.db.connect import connect_owner
from onemap.db.models import DATA_SCHEMA
from onemap.errors import LoadError
from onemap.etl.source import Source, iter_batches, open_source
from onemap.etl.validate import BatchValidator, Reject
from onemap.layers import Layer
from onemap.settings import DbSettings

LOCK_NAMESPACE = 0x6F6D  # "om": advisory locks of onemap loads
MAX_REJECTS_KEPT = 1000  # in memory for the summary; all of them go to onemap_meta.rejects


@dataclass
class LoadResult:
    """What a load did, for the CLI summary and the tests."""

    load_id: int
    layer: str
    source_file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_repaired: int = 0
    rejects: list[Reject] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    """Hash of the input file, recorded with the run."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def reap_stale_runs(conn: psycopg.Connection) -> int:
    """Mark as failed the runs whose loader died (its connection is gone)."""
    cur = conn.execute(
        "UPDATE onemap_meta.loads SET status = 'failed', finished_at = now(), "
        "message = 'the loader stopped before finishing (killed or disconnected); "
        "the published layer was not changed' "
        "WHERE status = 'running' AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)"
    )
    return cur.rowcount


def _start_run(meta: psycopg.Connection, layer: Layer, path: Path) -> int:
    row = meta.execute(
        "INSERT INTO onemap_meta.loads (layer, source_file, source_sha256, mode) "
        "VALUES (%s, %s, %s, 'replace') RETURNING load_id",
        (layer.id, str(path), file_sha256(path) if path.is_file() else None),
    ).fetchone()
    return int(row[0])


def _finish_run(
    meta: psycopg.Connection, res: LoadResult, status: str, message: str | None
) -> None:
    meta.execute(
        "UPDATE onemap_meta.loads SET status = %s, message = %s, rows_read = %s, "
        "rows_loaded = %s, rows_rejected = %s, rows_repaired = %s, finished_at = now() "
        "WHERE load_id = %s",
        (
            status,
            message,
            res.rows_read,
            res.rows_loaded,
            res.rows_rejected,
            res.rows_repaired,
            res.load_id,
        ),
    )


def _store_rejects(meta: psycopg.Connection, load_id: int, rejects: list[Reject]) -> None:
    if not rejects:
        return
    with meta.cursor().copy(
        "COPY onemap_meta.rejects (load_id, row_number, field, value, reason) FROM STDIN"
    ) as cp:
        for r in rejects:
            cp.write_row((load_id, r.row, r.field, r.value, r.reason))


def _lock(conn: psycopg.Connection, layer: Layer, notify: Callable[[str], None]) -> None:
    """Serialise loads of one layer (transaction-scoped advisory lock)."""
    key = int.from_bytes(hashlib.sha256(layer.id.encode()).digest()[:4], "big", signed=True)
    got = conn.execute(
        "SELECT pg_try_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, key)
    ).fetchone()[0]
    if not got:
        notify(f"another load of '{layer.id}' is running; waiting for it to finish…")
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, key))


def _copy_batch(
    cur: psycopg.Cursor, stage: sql.Identifier, layer: Layer, good: pd.DataFrame, load_id: int
) -> None:
    """COPY validated rows as CSV text (geometry as hex EWKB, which PostGIS parses)."""
    frame = good.copy()
    frame["load_id"] = load_id
    geoms = shapely.set_srid(frame.pop("geom").to_numpy(), layer.geometry.srid)
    frame["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
    cols = [f.name for f in layer.fields] + ["source", "load_id", "geom"]
    buf = io.StringIO()
    frame[cols].to_csv(buf, header=False, index=False, na_rep="")
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        stage, sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    with cur.copy(stmt) as cp:
        cp.write(buf.getvalue())


def _checks(cur: psycopg.Cursor, layer: Layer, stage: sql.Identifier, res: LoadResult) -> None:
    c = layer.checks
    first = (
        f"; first problem: row {res.rejects[0].row}: {res.rejects[0].reason}" if res.rejects else ""
    )
    if res.rows_read and res.rows_rejected / res.rows_read > c.max_reject_ratio:
        raise LoadError(
            f"{res.source_file}: {res.rows_rejected} of {res.rows_read} rows rejected "
            f"({res.rows_rejected / res.rows_read:.1%}), above the layer's limit of "
            f"{c.max_reject_ratio:.1%}{first}"
        )
    n = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(stage)).fetchone()[0]
    if n < c.min_rows or (c.max_rows is not None and n > c.max_rows):
        want = f"{c.min_rows}" + (f"–{c.max_rows}" if c.max_rows is not None else " or more")
        raise LoadError(
            f"{res.source_file}: {n} valid rows, layer '{layer.id}' expects {want}{first}"
        )


def _swap(cur: psycopg.Cursor, layer: Layer, stage: sql.Identifier) -> int:
    target = sql.Identifier(DATA_SCHEMA, layer.id)
    cols = sql.SQL(", ").join(
        map(sql.Identifier, [f.name for f in layer.fields] + ["source", "load_id"])
    )
    geom = sql.SQL("ST_Multi(geom)" if layer.geometry.type.startswith("Multi") else "geom")
    cur.execute(sql.SQL("DELETE FROM {}").format(target))
    cur.execute(
        sql.SQL("INSERT INTO {} ({}, geom) SELECT {}, {} FROM {}").format(
            target, cols, cols, geom, stage
        )
    )
    return cur.rowcount


def load_layer(
    layer: Layer,
    path: Path,
    *,
    layer_name: str | None = None,
    source_crs: str | None = None,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _msg: None,
    batch_size: int = 50_000,
) -> LoadResult:
    """Replace the layer's published rows with the valid rows of ``path``.

    Raises ``LoadError`` (message names file, row and reason) and leaves the published
    table untouched when the file cannot be read, a check fails or too many rows are
    rejected.
    """
    path = Path(path)
    city = get_city()
    with connect_owner(settings, autocommit=True) as meta:
        res = LoadResult(_start_run(meta, layer, path), layer.id, str(path))
        try:
            src: Source = open_source(path, layer=layer_name, source_crs=source_crs)
            validator = BatchValidator(layer, src.columns, src.crs, city, str(path))
            with connect_owner(settings) as conn, conn.cursor() as cur:
                _lock(conn, layer, notify)
                reap_stale_runs(conn)
                stage = sql.Identifier(f"stage_{layer.id}")
                cur.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
                    ).format(stage, sql.Identifier(DATA_SCHEMA, layer.id))
                )
                cur.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN geom TYPE geometry(Geometry, {})").format(
                        stage, sql.Literal(layer.geometry.srid)
                    )
                )
                for first_row, attrs, geoms in iter_batches(src, batch_size):
                    good, rejects = validator.validate(first_row, attrs, geoms)
                    res.rows_read += len(attrs)
                    res.rows_rejected += len(attrs) - len(good)
                    res.rejects.extend(rejects[: max(0, MAX_REJECTS_KEPT - len(res.rejects))])
                    _store_rejects(meta, res.load_id, rejects)
                    if len(good):
                        _copy_batch(cur, stage, layer, good, res.load_id)
                res.rows_repaired = validator.repaired
                _checks(cur, layer, stage, res)
                res.rows_loaded = _swap(cur, layer, stage)
                conn.commit()
            with connect_owner(settings, autocommit=True) as c:
                c.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(DATA_SCHEMA, layer.id)))
        except LoadError as exc:
            _finish_run(meta, res, "failed", str(exc))
            raise
        except psycopg.Error as exc:
            msg = f"{path}: the database refused the load ({exc.diag.message_primary or exc})"
            _finish_run(meta, res, "failed", msg)
            raise LoadError(msg) from exc
        _finish_run(meta, res, "succeeded", None)
    return res
