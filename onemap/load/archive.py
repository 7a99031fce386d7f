"""The write side of the history store: move superseded row versions into ``onemap_hist``.

The loader's publishing step (``onemap.load.modes``) calls these inside its transaction,
so a version reaches the history exactly when its successor is published. How the store
is laid out and read: ``onemap.load.history``. This module imports nothing of the
loader, so the loader can import it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.core.regions import layer_partitioned
from onemap.db.names import DATA_SCHEMA, HIST_SCHEMA


def content_columns(layer: Layer) -> list[str]:
    """The columns a row version carries in both stores (every column but ``load_id``;
    ``region`` in a deployment partitioned by region, ``onemap.core.regions``)."""
    cols = [f.name for f in layer.fields] + ["source", "geom"]
    return [*cols, "region"] if layer_partitioned(layer) else cols


def _child(layer: Layer, run_id: int) -> str:
    name = f"{layer.id}__{run_id}"
    if len(name) > 60:  # 63 with the index suffix
        raise UserError(f"layer id '{layer.id}' is too long for history table names")
    return name


def archive_table(
    cur: psycopg.Cursor, layer: Layer, run_id: int, rows: int, table: str | None = None
) -> None:
    """Turn the published table (or ``table``, a region's detached partition,
    ``onemap.load.regions``), as it is, into the history of ``run_id``.

    It becomes ``onemap_hist.<layer>__<run>``, a child of ``onemap_hist.<layer>``: its
    indexes are renamed (their names go to the incoming table's), ``load_id`` becomes
    ``valid_from`` and ``valid_to`` is added as a constant (catalog changes only: no row
    is read or written). An empty table is simply dropped.
    """
    table = table or layer.id
    live = sql.Identifier(DATA_SCHEMA, table)
    if rows == 0:
        cur.execute(sql.SQL("DROP TABLE {}").format(live))
        return
    part = _child(layer, run_id)
    indexes = cur.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass ORDER BY c.relname",
        (f"{DATA_SCHEMA}.{table}",),
    ).fetchall()
    for i, (index,) in enumerate(indexes):
        cur.execute(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(DATA_SCHEMA, index), sql.Identifier(f"{part}_{i}")
            )
        )
    archived = sql.Identifier(HIST_SCHEMA, part)
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(live, sql.Identifier(part)))
    cur.execute(
        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
            sql.Identifier(DATA_SCHEMA, part), sql.Identifier(HIST_SCHEMA)
        )
    )
    cur.execute(sql.SQL("ALTER TABLE {} RENAME COLUMN load_id TO valid_from").format(archived))
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD COLUMN valid_to bigint NOT NULL DEFAULT {}").format(
            archived, sql.Literal(run_id)
        )
    )
    cur.execute(
        sql.SQL("ALTER TABLE {} INHERIT {}").format(archived, sql.Identifier(HIST_SCHEMA, layer.id))
    )
    cur.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            archived,
            sql.Literal(f"{DATA_SCHEMA}.{table} as published before run {run_id}"),
        )
    )


def archive_rows(
    cur: psycopg.Cursor,
    layer: Layer,
    run_id: int,
    where: sql.Composable | None = None,
    using: sql.Composable | None = None,
) -> int:
    """Move published rows (alias ``t``; all of them by default) to history as closed by
    ``run_id``; returns how many. ``using`` joins another relation into the DELETE."""
    content = content_columns(layer)
    cols = sql.SQL(", ").join(map(sql.Identifier, content))
    t_cols = sql.SQL(", ").join(sql.Identifier("t", c) for c in content)
    cur.execute(
        sql.SQL(
            "WITH gone AS (DELETE FROM {live} t {using} WHERE {where} RETURNING {t_cols}, "
            "t.load_id) INSERT INTO {hist} ({cols}, valid_from, valid_to) "
            "SELECT {cols}, load_id, {run} FROM gone"
        ).format(
            live=sql.Identifier(DATA_SCHEMA, layer.id),
            using=sql.SQL("USING {}").format(using) if using is not None else sql.SQL(""),
            where=where if where is not None else sql.SQL("TRUE"),
            t_cols=t_cols,
            hist=sql.Identifier(HIST_SCHEMA, layer.id),
            cols=cols,
            run=sql.Literal(run_id),
        )
    )
    return cur.rowcount
