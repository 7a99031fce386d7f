"""Vector tiles (MVT) for every layer: generalised per zoom, under 500 KB, cached per version.

pygeoapi's ``MVT-postgresql`` provider sends each intersecting geometry at full
resolution into ``ST_AsMVTGeom``. This subclass draws each tile by the layer's
``tiles:`` rules (``onemap.core.tile_rules``; docs/api.md, Tiles):

- below the layer's ``detail_zoom`` (WebMercatorQuad), from the generalised table of the
  zoom (``onemap_tiles.<layer>_z<z>``, built with the published version: only the classes
  and attributes of that zoom, lines merged, small polygons left out, simplified);
- otherwise from the published table, with the zoom's classes, simplified in Web Mercator
  to a quarter of a display pixel (a 512-px tile at zoom z covers 40,075,016 m / 2^z, so
  the tolerance is that / 2048) by ``ST_Simplify``, untouched from zoom 17 (< 0.3 m);
- never over ``MAX_TILE_BYTES`` (500 KB, tippecanoe's ``-M`` default) uncompressed: a tile
  that would be is drawn again from its most important features only (``thin``), and
  says so (``X-Onemap-Tile-Thinned``, the log);
- kept on disk per layer and published version (``onemap.serve.tile_cache``), and given
  that version as its ETag (``onemap.serve.extras``);
- read first from the layer's PMTiles archive when ``onemap tiles seed`` wrote one of the
  published version (``onemap.serve.tile_archive``).

Referenced by dotted path from pygeoapi.yml.
"""

from __future__ import annotations

import logging
import re
from functools import cache

from flask import g, has_request_context
from geoalchemy2.functions import ST_AsMVT, ST_AsMVTGeom, ST_Transform
from pygeoapi.crs import get_crs, get_srid
from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.mvt_postgresql import MVTPostgreSQLProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError
from sqlalchemy import any_, case, column, func, literal, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from onemap.core.layers import Layer, load_layers
from onemap.core.tile_rules import MAX_TILE_BYTES, TileRules
from onemap.db.models import TILES_SCHEMA
from onemap.db.tile_tables import SIZE_COLUMN, size_function, tile_table
from onemap.serve.provider import db_failure
from onemap.serve.tile_archive import TileArchives
from onemap.serve.tile_cache import Tile, TileCache

LOGGER = logging.getLogger(__name__)
# (version key, bytes per row) of the last tile this process drew, per (table, tiling
# scheme, zoom): how ``_fit`` tells a tile that cannot fit before drawing it whole.
_BYTES_PER_ROW: dict[tuple[str, str, int], tuple[str, float]] = {}
# Before a process has drawn a tile at a zoom, the first rows of the tile are drawn for
# their bytes per row (``_fit``); the rows thinning keeps weigh more than the average
# (1M roads, z12: 64 bytes a row kept, 52 on average), hence the margin.
SAMPLE_ROWS = 1000
SAMPLE_MARGIN = 1.3
# work_mem of a thinning pass (SET LOCAL: that transaction only)
THIN_WORK_MEM = "32MB"
EARTH_CIRCUMFERENCE_M = 40_075_016.686  # Web Mercator (EPSG:3857) world width
PIXELS_PER_TILE = 512
SIMPLIFY_BELOW_ZOOM = 17
WEBMERCATOR = TileMatrixSetEnum.WEBMERCATORQUAD.value.tileMatrixSet
# Bumped when the drawing changes, so cached tiles and ETags of the old drawing go stale.
RENDERER = "r1"
# The layer's published version: its run and when it finished (036_version_at.sql; the
# reader may call it), unique across databases and rebuilds, unlike the run id alone.
VERSION_SQL = "SELECT onemap_meta.version_at(%s, now())"
# A tile's path (``onemap.serve.extras`` answers revalidations before pygeoapi runs).
TILE_PATH = re.compile(
    r"^/collections/(?P<layer>[^/]+)/tiles/(?P<tms>[^/]+)/(?P<z>\d+)/(?P<y>\d+)/(?P<x>\d+)/?$"
)
THINNING_RULE = (
    "a tile over maxTileBytes is drawn again from its most important features only: "
    "classes drawn from lower zooms first, then the longest lines or largest polygons, "
    "until it fits; it then carries X-Onemap-Tile-Thinned: kept/total"
)


@cache
def _srid(crs: object) -> int:
    """EPSG code of a CRS (URI or pyproj CRS), cached: ``CRS.to_epsg()`` searches the
    PROJ database and took ~11 ms of a 16 ms tile request, called twice per request."""
    return get_srid(crs if not isinstance(crs, str) else get_crs(crs)) or 4326


@cache
def tile_cache() -> TileCache:
    """This process' view of the disk cache (one per worker: it remembers what it cleaned)."""
    return TileCache.from_settings()


@cache
def tile_archives() -> TileArchives:
    """This process' view of the seeded archives (``onemap tiles seed``)."""
    return TileArchives.from_settings()


def stored_tile(table: str, key: str | None, tileset: str, z: int, y: int, x: int) -> Tile | None:
    """The tile of version ``key`` from the seeded archive, else the disk cache."""
    if key is None:
        return None
    tile = tile_archives().get(table, key, tileset, z, y, x)
    if tile is None:
        tile = tile_cache().get(table, key, tileset, z, y, x)
    return tile


def simplify_tolerance(z: int) -> float:
    """Metres (Web Mercator) of a quarter display pixel at zoom z; 0 at high zooms."""
    if z >= SIMPLIFY_BELOW_ZOOM:
        return 0.0
    return EARTH_CIRCUMFERENCE_M / 2**z / PIXELS_PER_TILE / 4


def version_key(version: str | None, layer: Layer | None) -> str | None:
    """The cache key and ETag of a layer's tiles: the published version (``VERSION_SQL``),
    the rules' digest and the renderer; None for a layer whose rows change between loads
    (or never loaded)."""
    if version is None or layer is None or layer.changes_between_loads:
        return None
    return f"{version}-{layer.tiles.digest()}-{RENDERER}"


def layer_spec(table_name: str) -> Layer | None:
    """The layer file behind a tile provider's table (None for a table no file declares)."""
    return load_layers().get(table_name)


class OnemapMVTProvider(MVTPostgreSQLProvider):
    """MVT from PostGIS, generalised per zoom, size-limited and cached per version."""

    def get_tiles(self, layer="default", tileset=None, z=None, y=None, x=None, format_=None):  # noqa: D102
        z, y, x = map(int, [z, y, x])
        schemes = [s for s in self.get_tiling_schemes() if tileset == s.tileMatrixSet]
        if not schemes or not self.is_in_limits(schemes[0], z, x, y):
            raise ProviderTileNotFoundError
        spec = layer_spec(self.table)
        try:
            tile, key, stored = self._tile(spec, tileset, schemes[0], layer, z, y, x)
        except DBAPIError as exc:  # a timeout: 503 with Retry-After, not a 500
            raise db_failure(exc) from exc
        if has_request_context():  # the response's ETag, cache and thinning notes (extras)
            g.onemap_tile = (key, tile, stored)
        return tile.data or None

    def _tile(self, spec, tileset, scheme, layer, z, y, x) -> tuple[Tile, str | None, bool]:
        """The tile (stored, or drawn and cached), its version key, whether it was stored."""
        with Session(self._engine) as session:
            key = self.version(session, spec)
            tile = self._stored(key, tileset, z, y, x)
            if tile is not None:
                return tile, key, True
            tile = self.draw(session, spec, scheme, layer, z, y, x, key=key)
            if key:
                tile_cache().put(self.table, key, tileset, z, y, x, tile)
        return tile, key, False

    def version(self, session: Session, spec: Layer | None) -> str | None:
        """The version key of the layer's published tiles (``version_key``)."""
        if spec is None or spec.changes_between_loads:
            return None
        version = session.execute(select(func.onemap_meta.version_at(spec.id, func.now())))
        return version_key(version.scalar(), spec)

    def _stored(self, key: str | None, tileset: str, z: int, y: int, x: int) -> Tile | None:
        return stored_tile(self.table, key, tileset, z, y, x)

    def draw(self, session, spec, scheme, layer, z, y, x, key: str | None = None) -> Tile:
        """Render one tile (the server on a miss, ``onemap tiles seed`` for its archive)."""
        rules = spec.tiles if spec is not None else TileRules()
        envelope = self.get_envelope(z, y, x, scheme.tileMatrixSet)
        if spec is not None and scheme.tileMatrixSet == WEBMERCATOR and z in rules.levels:
            geom, cols, where, order = self._generalised(spec, rules, envelope, z)
            query = select(geom.label("mvtgeom"), *cols).filter(*where)
            try:
                return self._fit(session, query, order, layer, scheme, z, y, x, key)
            except ProgrammingError:  # loaded before the layer file had these rules
                session.rollback()
                LOGGER.warning("%s: no generalised tables; reload the layer", self.table)
                rules = rules.model_copy(update={"detail_zoom": 0})
        geom, cols, where, order = self._published(spec, rules, scheme, envelope, z)
        query = select(geom.label("mvtgeom"), *cols).filter(*where)
        return self._fit(session, query, order, layer, scheme, z, y, x, key)

    def _fit(self, session, query, order, layer, scheme, z, y, x, key) -> Tile:
        """The tile of ``query``'s rows, thinned when it would be over ``MAX_TILE_BYTES``.

        A tile far over the limit is not drawn whole first (at 1,000,000 roads the whole
        z12 centre tile took 1.6 s to draw, only to be thrown away): once this process
        has drawn a tile of the layer's published version at the zoom, its bytes per row
        say how many rows fit (before that, a sample of ``SAMPLE_ROWS``). A tile with 1.5
        times that many (a count that stops there) goes straight to ``thin``; if the most
        important rows it draws then come to less than half the limit, the guess was
        wrong for this tile, and it is drawn whole after all."""
        what = f"{self.table} {z}/{y}/{x}"
        slot = (self.table, scheme.tileMatrixSet, z)
        seen = _BYTES_PER_ROW.get(slot)
        if key and seen and seen[0] == key:
            per_row = seen[1]
        else:  # the first tile at this zoom: a sample of its rows tells
            sample, rows = _render(session, query.limit(SAMPLE_ROWS).cte("mvtrow"), layer)
            if rows < SAMPLE_ROWS:  # that was the whole tile
                if len(sample) <= MAX_TILE_BYTES:
                    return Tile(sample)
                per_row = len(sample) / rows
            else:  # the rows a thinned tile keeps are longer or larger than most
                per_row = len(sample) / rows * SAMPLE_MARGIN
        tile = None
        if per_row > 0:  # (0: the rows sampled all fell outside the tile; no guess)
            fits = MAX_TILE_BYTES / per_row
            cap = int(fits * 1.5) + 1
            capped = query.with_only_columns(literal(1), maintain_column_froms=True).limit(cap)
            if session.execute(select(func.count()).select_from(capped.subquery())).scalar() >= cap:
                tile = thin(session, query, order, layer, what, int(fits * 0.9), guessed=True)
        if tile is None:
            data, rows = _render(session, query.cte("mvtrow"), layer)
            if len(data) <= MAX_TILE_BYTES:
                tile = Tile(data)
            else:
                limit = int(rows * MAX_TILE_BYTES / len(data) * 0.9)
                tile = thin(session, query, order, layer, what, limit)
            if key and rows:  # an average: weighted as the sample's
                _BYTES_PER_ROW[slot] = (key, len(data) / rows * SAMPLE_MARGIN)
        elif key and tile.kept:  # the most important rows: heavier than most, a safe guess
            _BYTES_PER_ROW[slot] = (key, len(tile.data) / tile.kept)
        return tile

    def _generalised(self, spec: Layer, rules: TileRules, envelope, z: int):
        names = [f for f in rules.fields_at(z, spec.field_names) if f != spec.primary_key]
        ids = [] if rules.merges(spec.geometry_family, z) else ["id"]
        gen = table(
            tile_table(spec, z),
            *map(column, ["geom", SIZE_COLUMN, *ids, *names]),
            schema=TILES_SCHEMA,
        )
        geom = gen.c.geom
        cols = [gen.c[n] for n in [*ids, *names]]
        order = [*_class_rank(rules, spec, gen.c), gen.c[SIZE_COLUMN].desc()]
        return ST_AsMVTGeom(geom, envelope), cols, [geom.op("&&")(envelope)], order

    def _published(self, spec: Layer | None, rules: TileRules, scheme, envelope, z: int):
        geom_column = getattr(self.table_model, self.geom)
        # integer SRIDs: ST_Transform(geom, 'EPSG:…' text) builds a PROJ pipeline per row
        storage_srid = _srid(self.storage_crs)
        # bounding-box overlap only: ST_AsMVTGeom clips exactly and drops what falls outside
        where = [geom_column.op("&&")(ST_Transform(envelope, storage_srid))]
        out_srid = _srid(str(scheme.crs))
        geom = ST_Transform(geom_column, out_srid)
        tolerance = simplify_tolerance(z)
        if tolerance:
            # plain Douglas–Peucker: 40 % cheaper than the topology-preserving variant here,
            # and a polygon that collapses below a quarter pixel is not drawn anyway
            geom = func.ST_Simplify(geom, tolerance)
        cols = list(self.fields.values())
        order = [_size(spec, geom_column).desc()]
        if spec is not None:
            if z < rules.detail_zoom:  # WorldCRS84Quad below detail_zoom: the zoom's fields
                kept = {spec.primary_key, *rules.fields_at(z, spec.field_names)}
                cols = [c for name, c in self.fields.items() if name in kept]
            if rules.classes:
                field = getattr(self.table_model, rules.classes.field)
                allowed = spec.field(rules.classes.field).allowed
                where.append(field.in_(rules.classes_at(z, allowed)))
            columns = {c.name: c for c in self.table_model.__table__.columns}
            order = [*_class_rank(rules, spec, columns), *order]
        pk = getattr(self.table_model, self.id_field)
        return ST_AsMVTGeom(geom, ST_Transform(envelope, out_srid)), cols, where, [*order, pk]

    def get_default_metadata(  # noqa: D102
        self, dataset, server_url, layer, tileset, title, description, keywords, **kwargs
    ):
        meta = super().get_default_metadata(
            dataset, server_url, layer, tileset, title, description, keywords, **kwargs
        )
        spec = layer_spec(self.table)
        if spec is not None:
            from onemap.serve.tile_metadata import describe

            meta.update(describe(spec, layer, tileset == WEBMERCATOR, THINNING_RULE))
        return meta


def _class_rank(rules: TileRules, spec: Layer, columns) -> list:
    """Order by class importance (the zoom a class is first drawn at), when there are classes."""
    if rules.classes is None or rules.classes.field not in columns.keys():
        return []
    allowed = spec.field(rules.classes.field).allowed
    ranks = {v: rules.class_zoom(v) for v in allowed}
    return [case(ranks, value=columns[rules.classes.field], else_=99)]


def _size(spec: Layer | None, geom):
    """A feature's size, for thinning (``onemap.db.tile_tables.size_function``)."""
    family = spec.geometry_family if spec is not None else "point"
    return getattr(func, size_function(family))(geom)


def _render(session: Session, rows, layer: str) -> tuple[bytes, int]:
    """The MVT of ``rows`` and how many rows it was drawn from."""
    data, n = session.execute(select(ST_AsMVT(rows.table_valued(), layer), func.count())).one()
    return bytes(data or b""), n


DIRECTIONS = (operators.asc_op, operators.desc_op)  # an ORDER BY item's own direction


def _narrow(query, order: list):
    """The rows' ids and sort keys only, computed below an ``OFFSET 0`` fence, and the
    order over them.

    ORDER BY is evaluated after window functions: sorting ``query`` itself by
    ``ST_Length(geom)`` with ``count(*) OVER ()`` carried every geometry through the
    window's buffer, which spilled to disk (266 ms of the 1M z12 centre's thinning pass;
    on the keys alone, 88 ms)."""
    keys, exprs = [], []
    for i, clause in enumerate(order):
        modifier = getattr(clause, "modifier", None)
        if isinstance(clause, UnaryExpression) and modifier in DIRECTIONS:
            exprs.append(clause.element.label(f"o{i}"))
        else:
            modifier = None
            exprs.append(clause.label(f"o{i}"))
        keys.append((f"o{i}", modifier is operators.desc_op))
    cand = (
        query.with_only_columns(
            literal_column("ctid").label("t"), *exprs, maintain_column_froms=True
        )
        .offset(0)
        .subquery("cand")
    )
    return cand, [cand.c[name].desc() if desc else cand.c[name] for name, desc in keys]


def thin(
    session: Session, query, order: list, layer: str, what: str, limit: int, guessed=False
) -> Tile | None:
    """Draw an oversized tile from its ``limit`` most important rows, fewer each time,
    until it is under ``MAX_TILE_BYTES``; never a truncated tile. ``guessed``: the tile
    was not drawn whole first; None when the first pass comes to less than half the
    limit (draw it whole).

    Each pass sorts only the row ids (``ctid``) and their sort keys (``_narrow``) and
    draws the chosen rows by id: sorting the rows with their geometries spilled to disk
    (0.66 s → 0.33 s for the z12 centre at 1,000,000 roads)."""
    ctid = literal_column("ctid")
    # the window's buffer holds a key per row of the tile (~200,000 at the 1M z12 centre)
    session.execute(text(f"SET LOCAL work_mem = '{THIN_WORK_MEM}'"))
    cand, keys = _narrow(query, order)
    first = True
    while True:
        pick = (
            select(cand.c.t, func.count().over().label("n"))
            .order_by(*keys)
            .limit(max(limit, 0))
            .cte("pick")
        )
        # ctid = ANY(ARRAY(…)): a TID scan of the chosen rows
        chosen = func.array(select(pick.c.t).scalar_subquery())
        rows = query.filter(ctid == any_(chosen)).cte("mvtrow")
        data, kept, total = session.execute(
            select(
                ST_AsMVT(rows.table_valued(), layer),
                func.count(),
                select(func.max(pick.c.n)).scalar_subquery(),
            )
        ).one()
        data = bytes(data or b"")
        if guessed and first and len(data) < MAX_TILE_BYTES / 2:
            return None
        if len(data) <= MAX_TILE_BYTES or kept == 0:
            break
        # rows are about equally heavy: aim 10 % under the limit
        limit = min(kept - 1, int(kept * MAX_TILE_BYTES / len(data) * 0.9))
        first = False
    total = total or kept
    LOGGER.warning(
        "tile %s: %d of %d features kept to stay under %d bytes", what, kept, total, MAX_TILE_BYTES
    )
    return Tile(data, kept, total)
