"""Build the generalised tables low-zoom vector tiles are drawn from, for a new version.

For each zoom below the layer's ``tiles.detail_zoom`` (``onemap.core.tile_rules``), one
table ``onemap_tiles.<layer>_z<zoom>`` in Web Mercator holding, as OpenMapTiles builds its
``osm_transportation_merge_linestring_gen_z*`` tables:

- only the classes drawn at that zoom, and only the attributes carried at it;
- lines merged (``ST_LineMerge``) per combination of those attributes within each
  tile-sized cell of the zoom (a merged line never spans more than a few tiles, so a tile
  never clips a city-long geometry), then without an id;
- polygons smaller than ``min_area_px`` square pixels at the zoom left out;
- every geometry simplified (``ST_Simplify``) to a quarter pixel of a 512-px tile at the
  zoom, the tolerance the tile provider uses from ``detail_zoom`` on.

A replace builds them from the indexed stage before the swap (outside the layer's lock),
the levels side by side on one connection per core (they are independent, and were 90%
of a 100,000-segment load when built one after the other); an upsert or append, whose new
version exists only inside the publishing transaction, builds them there, one after the
other. Both first project the source to Web Mercator once (an unlogged or temporary
``<layer>_3857``), not once per level; a replace also merges lines once for consecutive
levels whose groups are the same (``shared_merges``: z0–z7 of roads). Either way the tables become
``onemap_tiles.<layer>_z<zoom>`` by rename in the transaction that publishes the version:
a reader never gets tiles of one version and items of another.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from onemap.core.layers import Layer
from onemap.core.tile_rules import TileRules
from onemap.db.names import STAGE_SCHEMA
from onemap.db.tile_tables import drop_generalised, tile_ident, tile_table
from onemap.load.stage import run_parallel

WORLD_M = 40_075_016.686  # the width of Web Mercator (EPSG:3857)
TILE_PX = 512


def tile_metres(z: int) -> float:
    """The width of a WebMercatorQuad tile at zoom ``z``, metres of EPSG:3857."""
    return WORLD_M / 2**z


def tolerance(z: int) -> float:
    """A quarter display pixel at zoom ``z`` (what ``onemap.serve.tiles`` simplifies by)."""
    return tile_metres(z) / TILE_PX / 4


def _fields_where(layer: Layer, rules: TileRules, z: int) -> tuple[list, list]:
    """The attributes carried at zoom ``z``, and the condition on its classes."""
    fields = [
        sql.Identifier(f) for f in rules.fields_at(z, layer.field_names) if f != layer.primary_key
    ]
    where: list[sql.Composable] = []
    classes = (
        rules.classes_at(z, layer.field(rules.classes.field).allowed) if rules.classes else None
    )
    if classes is not None:
        where.append(
            sql.SQL("{} = ANY({})").format(
                sql.Identifier(rules.classes.field), sql.Literal(list(classes))
            )
        )
    return fields, where


def merged_query(
    layer: Layer, rules: TileRules, z: int, source: sql.Composable
) -> tuple[sql.Composable, sql.Composed]:
    """For merged lines: the attribute list (``a, b, ``) and the SELECT of the lines
    merged per attributes and tile-sized cell at zoom ``z``, before simplification."""
    fields, where = _fields_where(layer, rules, z)
    cell = sql.Literal(tile_metres(z))
    keys = sql.SQL("").join(sql.SQL("{}, ").format(f) for f in fields)
    inner = sql.SQL(
        "SELECT {keys}(ST_Dump(ST_Transform(geom, 3857))).geom AS g FROM {src} WHERE {where}"
    ).format(keys=keys, src=source, where=_all(where))
    return keys, sql.SQL(
        "SELECT {keys}(ST_Dump(ST_LineMerge(ST_Collect(g)))).geom AS geom FROM ({inner}) s "
        "GROUP BY {keys}floor(ST_XMin(g) / {cell}), floor(ST_YMin(g) / {cell})"
    ).format(keys=keys, inner=inner, cell=cell)


def simplified_query(
    keys: sql.Composable, tol: sql.Composable, merged: sql.Composable
) -> sql.Composed:
    """The merged lines of ``merged`` (a SELECT or a table) simplified by ``tol``."""
    if not isinstance(merged, sql.Identifier):
        merged = sql.SQL("({})").format(merged)
    return sql.SQL("SELECT {keys}ST_Simplify(m.geom, {tol}) AS geom FROM {merged} m").format(
        keys=keys, tol=tol, merged=merged
    )


def level_query(layer: Layer, rules: TileRules, z: int, source: sql.Composable) -> sql.Composed:
    """The SELECT of the generalised rows of ``layer`` at zoom ``z`` from ``source``."""
    fields, where = _fields_where(layer, rules, z)
    tol = sql.Literal(tolerance(z))
    if rules.merges(layer.geometry_family):
        keys, merged = merged_query(layer, rules, z, source)
        return simplified_query(keys, tol, merged)
    if layer.geometry_family == "polygon" and rules.min_area_px:
        min_area = rules.min_area_px * (tile_metres(z) / TILE_PX) ** 2
        where.append(
            sql.SQL("ST_Area(ST_Transform(geom, 3857)) >= {}").format(sql.Literal(min_area))
        )
    cols = sql.SQL("").join(sql.SQL("{}, ").format(f) for f in fields)
    return sql.SQL(
        "SELECT * FROM (SELECT {pk} AS id, {cols}ST_Simplify(ST_Transform(geom, 3857), {tol}) "
        "AS geom FROM {src} WHERE {where}) s WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)"
    ).format(
        pk=sql.Identifier(layer.primary_key), cols=cols, tol=tol, src=source, where=_all(where)
    )


def _all(conditions: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")


# Each level's build: no JIT (the generalisation's cost estimates are huge, so PostgreSQL
# compiles every level for seconds, more than the query saves) and memory enough for
# its sort of geometries (the default 4 MB spills it to disk).
_BUILD_SETTINGS = sql.SQL("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'; ")


def base_name(layer: Layer) -> sql.Identifier:
    """``onemap_stage.<layer>_3857``: the source in Web Mercator, read by every level."""
    return sql.Identifier(STAGE_SCHEMA, f"{layer.id}_3857")


def _base_query(layer: Layer, source: sql.Composable, *, temporary: bool) -> sql.Composed:
    """The source's rows with the geometry projected once, not once per level; where
    lines are merged, already split into their parts (one row per part).

    (``ST_Transform`` to the geometry's own SRID returns it unchanged, and ``ST_Dump`` of
    a single line returns that line, so ``level_query`` reads it as it would the source,
    and builds the same rows; lines that are merged carry no id, so one row per part
    changes nothing.)"""
    cols = sql.SQL(", ").join(sql.Identifier(f) for f in layer.field_names)
    geom = sql.SQL("ST_Transform(geom, 3857)")
    if layer.tiles.merges(layer.geometry_family):
        geom = sql.SQL("(ST_Dump({})).geom").format(geom)
    return sql.SQL("CREATE {kind} TABLE {base} AS SELECT {cols}, {geom} AS geom FROM {src}").format(
        kind=sql.SQL("TEMPORARY" if temporary else "UNLOGGED"),
        geom=geom,
        base=sql.Identifier(f"{layer.id}_3857") if temporary else base_name(layer),
        cols=cols,
        src=source,
    )


def level_jobs(layer: Layer, base: sql.Composable) -> list[sql.Composed]:
    """One statement per level: its ``_next`` table from ``base``, indexed, analysed."""
    rules = layer.tiles
    jobs = []
    for z in rules.levels:
        table = tile_ident(layer, z, next_version=True)
        jobs.append(
            sql.SQL("{settings}CREATE TABLE {t} AS {q}; CREATE INDEX ON {t} USING gist (geom); "
                    "ANALYZE {t}").format(
                settings=_BUILD_SETTINGS, t=table, q=level_query(layer, rules, z, base)
            )
        )  # fmt: skip
    return jobs


def build_generalised(cur: psycopg.Cursor, layer: Layer, source: sql.Composable) -> None:
    """Build the ``_next`` generalised tables of ``layer`` from ``source`` inside ``cur``'s
    transaction (an upsert's or append's version exists only there), one level after
    the other."""
    if not layer.tiles.levels:
        return
    drop_generalised(cur, layer, next_version=True)  # left by a load that failed later
    temp = sql.Identifier(f"{layer.id}_3857")
    cur.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(temp))
    cur.execute(_base_query(layer, source, temporary=True))
    for job in level_jobs(layer, temp):
        cur.execute(job)
    cur.execute(sql.SQL("DROP TABLE pg_temp.{}").format(temp))


def build_generalised_parallel(
    conn: psycopg.Connection, settings, layer: Layer, source: sql.Composable
) -> None:
    """The same for a committed source (a replace's stage), on one connection per core:
    the levels are independent, and each keeps one core busy (the profile of a 100k load:
    14 levels, ~2 s each, were 90% of its time). Where lines are merged, consecutive
    levels with the same classes, attributes and cells share one merge
    (``shared_merges``). Commits as it goes."""
    if not layer.tiles.levels:
        return
    base = base_name(layer)
    with conn.cursor() as cur:
        drop_generalised(cur, layer, next_version=True)  # left by a load that failed later
        _drop_work_tables(cur, layer)
        cur.execute(_BUILD_SETTINGS + _base_query(layer, source, temporary=False))
    conn.commit()
    try:
        if layer.tiles.merges(layer.geometry_family):
            jobs = _merged_level_jobs(conn, settings, layer, base)
        else:
            jobs = level_jobs(layer, base)
        # the longest first (the detailed levels hold the most rows): a shorter makespan
        run_parallel(settings, dict(enumerate(reversed(jobs))))
    finally:
        with conn.cursor() as cur:
            _drop_work_tables(cur, layer)
        conn.commit()


def _merge_name(layer: Layer, z: int) -> sql.Identifier:
    return sql.Identifier(STAGE_SCHEMA, f"{layer.id}_3857_m{z}")


def _drop_work_tables(cur: psycopg.Cursor, layer: Layer) -> None:
    """The projected source and the shared merges (left by a killed loader, or done)."""
    names = cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename ~ %s",
        (STAGE_SCHEMA, f"^{layer.id}_3857(_m[0-9]+)?$"),
    ).fetchall()
    for (name,) in names:
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(STAGE_SCHEMA, name)))


def shared_merges(conn: psycopg.Connection, layer: Layer, base: sql.Composable) -> dict[int, int]:
    """Each level -> the level whose merged lines it can take (itself, or a lower one).

    A level's lines are merged per attributes and per tile-sized cell. The cells of zoom
    z - 1 are unions of four cells of zoom z (floor(x / 2c) = floor(floor(x / c) / 2)),
    so when two consecutive levels carry the same classes and attributes and the rows
    fall into as many cells at both, the groups are the same and so are the merged lines:
    only the simplification differs. (At city scale the lowest zooms all put the city in
    one or two cells: z0–z8 of roads share one merge.) The cells are counted in one scan.
    """
    rules = layer.tiles
    levels = sorted(rules.levels)
    counts = []
    for z in levels:
        _fields, where = _fields_where(layer, rules, z)
        cell = sql.Literal(tile_metres(z))
        counts.append(
            sql.SQL(
                "count(DISTINCT (floor(ST_XMin(geom) / {c}), floor(ST_YMin(geom) / {c}))) "
                "FILTER (WHERE {w})"
            ).format(c=cell, w=_all(where))
        )
    row = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), base)
    ).fetchone()
    conn.commit()
    plan: dict[int, int] = {}
    for i, z in enumerate(levels):
        same = (
            i > 0
            and row[i] == row[i - 1]
            and _signature(layer, z) == _signature(layer, levels[i - 1])
        )
        plan[z] = plan[levels[i - 1]] if same else z
    return plan


def _signature(layer: Layer, z: int) -> tuple:
    rules = layer.tiles
    classes = (
        rules.classes_at(z, layer.field(rules.classes.field).allowed) if rules.classes else None
    )
    return classes, rules.fields_at(z, layer.field_names)


def _merged_level_jobs(conn, settings, layer: Layer, base: sql.Composable) -> list[sql.Composed]:
    """Build the shared merges (side by side), then return each level's job: its merged
    lines simplified, indexed, analysed."""
    rules = layer.tiles
    plan = shared_merges(conn, layer, base)
    merges = {}
    for z in sorted(set(plan.values())):
        _keys, merged = merged_query(layer, rules, z, base)
        merges[z] = sql.SQL("{s}CREATE UNLOGGED TABLE {t} AS {q}").format(
            s=_BUILD_SETTINGS, t=_merge_name(layer, z), q=merged
        )
    run_parallel(settings, dict(enumerate(reversed(list(merges.values())))))
    jobs = []
    for z in rules.levels:
        keys, _merged = merged_query(layer, rules, z, base)
        table = tile_ident(layer, z, next_version=True)
        query = simplified_query(keys, sql.Literal(tolerance(z)), _merge_name(layer, plan[z]))
        jobs.append(
            sql.SQL("{settings}CREATE TABLE {t} AS {q}; CREATE INDEX ON {t} USING gist (geom); "
                    "ANALYZE {t}").format(settings=_BUILD_SETTINGS, t=table, q=query)
        )  # fmt: skip
    return jobs


def swap_generalised(cur: psycopg.Cursor, layer: Layer) -> None:
    """Inside the publishing transaction: the ``_next`` tables replace the published ones."""
    if not layer.tiles.levels:
        return
    drop_generalised(cur, layer)
    for z in layer.tiles.levels:
        cur.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                tile_ident(layer, z, next_version=True), sql.Identifier(tile_table(layer, z))
            )
        )
