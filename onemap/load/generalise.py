"""Build the generalised tables low-zoom vector tiles are drawn from, for a new version.

For each zoom below the layer's ``tiles.detail_zoom`` (``onemap.core.tile_rules``), one
table ``onemap_tiles.<layer>_z<zoom>`` in Web Mercator holding, as OpenMapTiles builds its
``osm_transportation_merge_linestring_gen_z*`` tables:

- only the classes drawn at that zoom, and only the attributes carried at it;
- lines merged (``ST_LineMerge``) per combination of those attributes within each
  tile-sized cell of the zoom (a merged line never spans more than a few tiles, so a tile
  never clips a city-long geometry), then without an id — up to ``merge_max_zoom``
  (OpenMapTiles: z11); above it the rows themselves, with their id;
- polygons smaller than ``min_area_px`` square pixels at the zoom left out;
- every geometry simplified (``ST_Simplify``) to a quarter pixel of a 512-px tile at the
  zoom, the tolerance the tile provider uses from ``detail_zoom`` on.

A replace builds them from the indexed stage before the swap (outside the layer's lock),
the levels side by side on one connection per core (they are independent, and were 90%
of a 100,000-segment load when built one after the other); an upsert or append, whose new
version exists only inside the publishing transaction, builds them there, one after the
other. Both first project the source to Web Mercator once (an unlogged or temporary
``<layer>_3857``), not once per level; a replace also merges lines once for consecutive
levels whose groups are the same (``shared_merges``: z0–z7 of 1M generated roads) and builds the
unmerged levels side by side with the merges. Either way the tables become
``onemap_tiles.<layer>_z<zoom>`` by rename in the transaction that publishes the version:
a reader never gets tiles of one version and items of another.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from onemap.core.layers import Layer
from onemap.core.tile_rules import TileRules
from onemap.db.names import STAGE_SCHEMA
from onemap.db.tile_tables import (
    SIZE_COLUMN,
    drop_generalised,
    size_function,
    tile_ident,
    tile_table,
)
from onemap.load.stage import run_parallel

# Written once per version and analysed by the load (autovacuum on them would make the
# publishing rename wait deadlock_timeout, 1 s, before PostgreSQL cancels it; its
# anti-wraparound vacuum still runs: PostgreSQL manual, CREATE TABLE, autovacuum_enabled).
NO_AUTOVACUUM = sql.SQL("WITH (autovacuum_enabled = false)")
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
    layer: Layer, rules: TileRules, z: int, source: sql.Composable, drawn_to: int | None = None
) -> tuple[sql.Composable, sql.Composed]:
    """For merged lines: the attribute list (``a, b, ``) and the SELECT of the lines
    merged per attributes and tile-sized cell at zoom ``z``, before their simplification.

    Each part is first simplified to the tolerance of ``drawn_to`` (the highest zoom the
    merge is drawn at; default ``z``): Douglas–Peucker keeps a line's end points, so the
    parts still meet where they met and merge as before, with the vertices no level
    draws gone before the sort and the merge (a fifth of the vertices of generated roads
    at z11; the merge took 14 s of 1,000,000 segments with them, 9 s without). The merged
    line is simplified again at its level: a vertex where two parts met is kept by the
    first pass, so a level's line can differ from one simplified in one pass by less
    than its tolerance."""
    fields, where = _fields_where(layer, rules, z)
    cell = sql.Literal(tile_metres(z))
    tol = sql.Literal(tolerance(z if drawn_to is None else drawn_to))
    keys = sql.SQL("").join(sql.SQL("{}, ").format(f) for f in fields)
    parts = _parts(keys, source, where)
    # the cell of each part as it is (as ``shared_merges`` counts them), before simplifying
    inner = sql.SQL(
        "SELECT {keys}floor(ST_XMin(p) / {cell}) AS cx, floor(ST_YMin(p) / {cell}) AS cy, "
        "ST_Simplify(ST_Transform(p, 3857), {tol}) AS g FROM ({parts}) q OFFSET 0"
    ).format(keys=keys, cell=cell, tol=tol, parts=parts)
    return keys, sql.SQL(
        "SELECT {keys}(ST_Dump(ST_LineMerge(ST_Collect(g)))).geom AS geom FROM ({inner}) s "
        "WHERE g IS NOT NULL GROUP BY {keys}cx, cy"
    ).format(keys=keys, inner=inner)


def _parts(keys: sql.Composable, source: sql.Composable, where: list) -> sql.Composed:
    """``keys`` and each line of ``source`` as ``p``, one row per part. ``ST_Dump`` costs
    3.4 s per million rows on this machine, ``ST_GeometryN`` 0.4 s, so the single-part
    rows (nearly all of them: the loader makes every line a MultiLineString) take the
    latter."""
    return sql.SQL(
        "SELECT {keys}ST_GeometryN(geom, 1) AS p FROM {src} "
        "WHERE {where} AND ST_NumGeometries(geom) = 1 UNION ALL "
        "SELECT {keys}(ST_Dump(geom)).geom AS p FROM {src} "
        "WHERE {where} AND ST_NumGeometries(geom) <> 1"
    ).format(keys=keys, src=source, where=_all(where))


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
    if rules.merges(layer.geometry_family, z):
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
        "AS geom FROM {src} WHERE {where} OFFSET 0) s "
        "WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)"
    ).format(
        pk=sql.Identifier(layer.primary_key), cols=cols, tol=tol, src=source, where=_all(where)
    )


def _all(conditions: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")


# ``OFFSET 0`` below keeps PostgreSQL from pulling a subquery up into the query around it,
# which would evaluate its ST_Simplify once per reference (filter, cell keys, output):
# three to four times per row (EXPLAIN ANALYZE: the z11 merge 11.2 s → 7.3 s at 1M rows).

# Each level's build: no JIT (the generalisation's cost estimates are huge, so PostgreSQL
# compiles every level for seconds, more than the query saves) and memory enough for
# its sort of geometries (the default 4 MB spills it to disk), and no parallel workers
# (a replace already runs one level per core; workers on top of that oversubscribe them).
_BUILD_SETTINGS = sql.SQL(
    "SET LOCAL jit = off; SET LOCAL work_mem = '256MB'; "
    "SET LOCAL max_parallel_workers_per_gather = 0; "
)


def base_name(layer: Layer) -> sql.Identifier:
    """``onemap_stage.<layer>_3857``: the source in Web Mercator, read by every level."""
    return sql.Identifier(STAGE_SCHEMA, f"{layer.id}_3857")


def _base_query(layer: Layer, source: sql.Composable, *, temporary: bool) -> sql.Composed:
    """The source's rows with the geometry projected once, not once per level.

    (``ST_Transform`` to the geometry's own SRID returns it unchanged, so ``level_query``
    reads it as it would the source, and builds the same rows.)"""
    cols = sql.SQL(", ").join(sql.Identifier(f) for f in layer.field_names)
    return sql.SQL(
        "CREATE {kind} TABLE {base} {w} AS SELECT {cols}, ST_Transform(geom, 3857) AS geom "
        "FROM {src}"
    ).format(
        w=NO_AUTOVACUUM,
        kind=sql.SQL("TEMPORARY" if temporary else "UNLOGGED"),
        base=sql.Identifier(f"{layer.id}_3857") if temporary else base_name(layer),
        cols=cols,
        src=source,
    )


def level_jobs(layer: Layer, base: sql.Composable) -> list[sql.Composed]:
    """One statement per level: its ``_next`` table from ``base``, indexed, analysed."""
    rules = layer.tiles
    return [_level_job(layer, z, level_query(layer, rules, z, base)) for z in rules.levels]


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
        # alone on the server: parallel workers project it on both cores
        cur.execute(sql.SQL("SET LOCAL jit = off; ") + _base_query(layer, source, temporary=False))
    conn.commit()
    try:
        if any(layer.tiles.merges(layer.geometry_family, z) for z in layer.tiles.levels):
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
    """Each merged level -> the level whose merged lines it can take (itself, or a lower one).

    A level's lines are merged per attributes and per tile-sized cell. The cells of zoom
    z - 1 are unions of four cells of zoom z (floor(x / 2c) = floor(floor(x / c) / 2)),
    so when two consecutive levels carry the same classes and attributes and the rows
    fall into as many cells at both, the groups are the same and so are the merged lines:
    only the simplification differs. (At city scale the lowest zooms all put the city in
    one or two cells: z0–z8 of roads share one merge.) One scan lists the occupied cells
    of the highest merged zoom per class; the lower zooms' cells follow by halving.
    """
    rules = layer.tiles
    levels = sorted(z for z in rules.levels if rules.merges(layer.geometry_family, z))
    top = levels[-1]
    cell = sql.Literal(tile_metres(top))
    klass = sql.Identifier(rules.classes.field) if rules.classes else sql.SQL("NULL::text")
    conn.execute("SET LOCAL jit = off")  # its cost estimate is huge: JIT took 0.3 s at 10k
    rows = conn.execute(
        sql.SQL(
            "SELECT DISTINCT k, floor(ST_XMin(p) / {c})::bigint, floor(ST_YMin(p) / {c})::bigint "
            "FROM ({parts}) s"
        ).format(c=cell, parts=_parts(sql.SQL("{} AS k, ").format(klass), base, []))
    ).fetchall()
    conn.commit()
    plan: dict[int, int] = {}
    previous = None
    for z in levels:
        drawn = _signature(layer, z)[0]
        shift = top - z
        cells = {(x >> shift, y >> shift) for k, x, y in rows if drawn is None or k in drawn}
        same = previous is not None and previous[0] == z - 1 and previous[1] == len(cells)
        same = same and _signature(layer, z) == _signature(layer, z - 1)
        plan[z] = plan[z - 1] if same else z
        previous = (z, len(cells))
    return plan


def _signature(layer: Layer, z: int) -> tuple:
    rules = layer.tiles
    classes = (
        rules.classes_at(z, layer.field(rules.classes.field).allowed) if rules.classes else None
    )
    return classes, rules.fields_at(z, layer.field_names)


def _merged_level_jobs(conn, settings, layer: Layer, base: sql.Composable) -> list[sql.Composed]:
    """Build the shared merges and, side by side with them, the levels above
    ``merge_max_zoom`` (rows simplified, not merged); return the merged levels' jobs: their
    merged lines simplified, indexed, analysed."""
    rules = layer.tiles
    plan = shared_merges(conn, layer, base)
    first = {}
    for z in sorted(set(plan.values())):
        drawn_to = max(level for level, shared in plan.items() if shared == z)
        _keys, merged = merged_query(layer, rules, z, base, drawn_to)
        first[f"m{z}"] = sql.SQL("{s}CREATE UNLOGGED TABLE {t} {w} AS {q}").format(
            w=NO_AUTOVACUUM, s=_BUILD_SETTINGS, t=_merge_name(layer, z), q=merged
        )
    unmerged = [z for z in rules.levels if z not in plan]
    first.update(
        {f"z{z}": _level_job(layer, z, level_query(layer, rules, z, base)) for z in unmerged}
    )
    # the longest first (the detailed levels hold the most rows): a shorter makespan
    run_parallel(settings, dict(reversed(first.items())))
    jobs = []
    for z in sorted(plan):
        keys, _merged = merged_query(layer, rules, z, base)
        query = simplified_query(keys, sql.Literal(tolerance(z)), _merge_name(layer, plan[z]))
        jobs.append(_level_job(layer, z, query))
    return jobs


def _level_job(layer: Layer, z: int, query: sql.Composable) -> sql.Composed:
    """The level's ``_next`` table from ``query`` with each row's size (``SIZE_COLUMN``:
    a thinned tile sorted 170,000 rows by ``ST_Length`` for the 1M z12 centre, ~80 ms of
    its pass), indexed, analysed."""
    table = tile_ident(layer, z, next_version=True)
    sized = sql.SQL("SELECT q.*, {f}(q.geom)::real AS {size} FROM ({q} OFFSET 0) q").format(
        f=sql.SQL(size_function(layer.geometry_family)),
        size=sql.Identifier(SIZE_COLUMN),
        q=query,
    )
    return sql.SQL(
        "{settings}CREATE TABLE {t} {w} AS {q}; CREATE INDEX ON {t} USING gist (geom); ANALYZE {t}"
    ).format(settings=_BUILD_SETTINGS, t=table, w=NO_AUTOVACUUM, q=sized)


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
