"""Names of the generalised tables low-zoom vector tiles are drawn from.

``onemap_tiles.<layer>_z<zoom>``: one table per layer and zoom below the layer's
``tiles.detail_zoom``, geometry in Web Mercator, built by ``onemap.load.generalise`` for
each published version and swapped in with it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from onemap.core.layers import Layer
from onemap.db.names import TILES_SCHEMA

NEXT = "_next"  # suffix of the tables built for a version not yet published
# A row's size in a generalised table (``SIZE_COLUMN``), what a thinned tile keeps first:
# the length of a line, the area of a polygon (Web Mercator units), the points of others.
SIZE_COLUMN = "_size"
SIZE_FUNCTIONS = {"line": "ST_Length", "polygon": "ST_Area"}
SIZE_OTHER = "ST_NPoints"


def size_function(geometry_family: str) -> str:
    """The PostGIS function giving a feature's size for thinning (``SIZE_FUNCTIONS``)."""
    return SIZE_FUNCTIONS.get(geometry_family, SIZE_OTHER)


def tile_table(layer: Layer, z: int, *, next_version: bool = False) -> str:
    """The generalised table's name (in ``onemap_tiles``) of ``layer`` at zoom ``z``."""
    return f"{layer.id}_z{z}{NEXT if next_version else ''}"


def tile_ident(layer: Layer, z: int, *, next_version: bool = False) -> sql.Identifier:
    """``onemap_tiles.<layer>_z<z>`` (or its ``_next``) as an identifier."""
    return sql.Identifier(TILES_SCHEMA, tile_table(layer, z, next_version=next_version))


def drop_generalised(cur: psycopg.Cursor, layer: Layer, *, next_version: bool = False) -> None:
    """Drop the layer's generalised tables (the published ones or the ``_next`` ones),
    whatever zooms an earlier layer file declared."""
    suffix = NEXT if next_version else ""
    names = cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename ~ %s",
        (TILES_SCHEMA, f"^{layer.id}_z[0-9]+{suffix}$"),
    ).fetchall()
    for (name,) in names:
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(TILES_SCHEMA, name)))
