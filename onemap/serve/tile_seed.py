"""``onemap tiles seed``: a layer's tiles over its extent, drawn into a PMTiles archive.

The tiles are drawn by the provider the server runs (``OnemapMVTProvider.draw``, the
pygeoapi.yml block of ``onemap.serve.contract.tile_provider``, as the read-only role), so
an archived tile is byte for byte the one the server would draw. The archive records the
published version it was drawn from (``onemap.serve.tile_archive``); a load that publishes
another version while seeding makes the seed fail rather than mix two versions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.core.settings import DbSettings, TileSettings
from onemap.db.connect import role_params
from onemap.db.models import DATA_SCHEMA
from onemap.serve.contract import tile_provider
from onemap.serve.tile_archive import (
    TILESET,
    Seeded,
    archive_path,
    tiles_over,
    write_archive,
)
from onemap.serve.tile_metadata import JSON_TYPES
from onemap.serve.tiles import OnemapMVTProvider


def provider(layer: Layer, settings: DbSettings | None = None) -> OnemapMVTProvider:
    """The layer's tile provider as the server configures it, on ``settings``' database."""
    data = {**role_params("reader", settings), "search_path": [DATA_SCHEMA, "public"]}
    return OnemapMVTProvider(tile_provider(layer, data))


def _extent(session: Session, p: OnemapMVTProvider) -> tuple[float, float, float, float] | None:
    """The published table's CRS84 bounding box (None when it has no geometry)."""
    box = func.ST_Extent(func.ST_Transform(getattr(p.table_model, p.geom), 4326))
    row = session.execute(
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    ).one()
    return None if row[0] is None else tuple(row)


def _vector_layer(layer: Layer, name: str, min_zoom: int, max_zoom: int) -> dict:
    """The archive's ``vector_layers`` entry (PMTiles/TileJSON: field -> type name)."""
    kinds = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}
    fields = {"id": "String" if layer.field(layer.primary_key).type == "text" else "Number"}
    for f in layer.fields:
        if f.name != layer.primary_key:
            fields[f.name] = kinds[JSON_TYPES[f.type]["type"]]
    return {
        "id": name,
        "description": layer.title_en,
        "minzoom": min_zoom,
        "maxzoom": max_zoom,
        "fields": fields,
    }


def seed(
    layer: Layer,
    max_zoom: int,
    min_zoom: int = 0,
    output: Path | None = None,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _m: None,
) -> tuple[Path, Seeded]:
    """Draw the layer's tiles at zooms min_zoom..max_zoom over its extent into an archive
    (default: where the server reads it, ``ONEMAP_TILE_ARCHIVE_DIR/<layer>.pmtiles``)."""
    rules = layer.tiles
    if not rules.min_zoom <= min_zoom <= max_zoom <= rules.max_zoom:
        raise UserError(
            f"zooms {min_zoom}–{max_zoom}: {layer.id} has tiles at zooms "
            f"{rules.min_zoom}–{rules.max_zoom} (and --min-zoom ≤ --max-zoom)"
        )
    if layer.changes_between_loads:
        raise UserError(f"{layer.id} gets rows between loads: its tiles have no version to archive")
    p = provider(layer, settings)
    scheme = next(s for s in p.get_tiling_schemes() if s.tileMatrixSet == TILESET)
    name = p.get_layer()
    drawn = []
    with Session(p._engine) as session:
        version = p.version(session, layer)
        if version is None:
            raise UserError(f"{layer.id} has no published version: load it first")
        bounds = _extent(session, p)
        if bounds is None:
            raise UserError(f"{layer.id} has no features to draw")
        for z in range(min_zoom, max_zoom + 1):
            count = 0
            for x, y in tiles_over(bounds, z):
                tile = p.draw(session, layer, scheme, name, z, y, x)
                drawn.append((z, x, y, tile))
                count += 1
            notify(f"zoom {z}: {count} tiles")
        if p.version(session, layer) != version:
            raise UserError(
                f"a load published a new version of {layer.id} while its tiles were drawn; "
                "seed again"
            )
    stored = [t for _z, _x, _y, t in drawn if t.data]
    if not stored:
        raise UserError(f"{layer.id}: no tile at zooms {min_zoom}–{max_zoom} has a feature")
    seeded = Seeded(
        layer.id,
        version,
        min_zoom,
        max_zoom,
        tiles=len(stored),
        thinned=sum(t.thinned for t in stored),
    )
    path = output or archive_path(TileSettings().archive_dir, layer.id)
    write_archive(path, seeded, drawn, bounds, [_vector_layer(layer, name, min_zoom, max_zoom)])
    return path, seeded
