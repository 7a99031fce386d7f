"""The database's schema names and the names and DDL of a layer table's indexes.

Plain constants and ``psycopg.sql`` builders, so that a load (``onemap.load``) needs no
SQLAlchemy: importing it and GeoAlchemy2 took a quarter of a small load's time
(bench/QUICKSTART.md). ``onemap.db.models`` builds its table models from the same names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    from onemap.core.layers import Layer

DATA_SCHEMA = "onemap"
META_SCHEMA = "onemap_meta"
STAGE_SCHEMA = "onemap_stage"
HIST_SCHEMA = "onemap_hist"
# Personal data features keep beside a layer (reports' `private:`); the reader has no access.
PRIVATE_SCHEMA = "onemap_private"
# Generalised copies of the published layers for low-zoom vector tiles, one table per layer
# and zoom (onemap.load.generalise); the reader may read them.
TILES_SCHEMA = "onemap_tiles"


def table_comment(layer: Layer) -> str:
    """``COMMENT ON TABLE`` text of a layer's table."""
    return f"{layer.title} / {layer.title_en}. {layer.description}"


def layer_indexes(layer: Layer) -> list[tuple[str, str, str | None]]:
    """(name, column, access method or None for b-tree) of a layer table's indexes besides
    its primary key: a GiST index on ``geom`` and one on each field marked ``index``."""
    return [(f"{layer.id}_geom_gist", "geom", "gist")] + [
        (f"{layer.id}_{f.name}_idx", f.name, None)
        for f in layer.fields
        if f.index and f.name != layer.primary_key
    ]


def create_indexes(layer: Layer, schema: str) -> list[sql.Composed]:
    """``CREATE INDEX`` statements of ``layer_indexes`` on ``schema.<layer>``."""
    table = sql.Identifier(schema, layer.id)
    return [
        sql.SQL("CREATE INDEX {} ON {} {}({})").format(
            sql.Identifier(name),
            table,
            sql.SQL(f"USING {method} ") if method else sql.SQL(""),
            sql.Identifier(column),
        )
        for name, column, method in layer_indexes(layer)
    ]
