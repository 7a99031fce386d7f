"""Read the published layers (as the read-only role) and write the public map site."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import psycopg
from psycopg import sql
from sqlalchemy import create_engine

from onemap.db.connect import reader_conninfo
from onemap.db.models import DATA_SCHEMA
from onemap.layers import Layer, load_layers
from onemap.maps import build_site
from onemap.settings import DbSettings


def read_layer_frame(layer: Layer, conninfo: str) -> gpd.GeoDataFrame:
    """One layer's published features in EPSG:4326."""
    cols = [f.name for f in layer.fields] + ["source"]
    query = sql.SQL("SELECT {}, ST_Transform(geom, 4326) AS geom FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(DATA_SCHEMA, layer.id)
    )
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo))
    try:
        with engine.connect() as conn:
            text = query.as_string(conn.connection.driver_connection)
            return gpd.read_postgis(text, conn, geom_col="geom").rename_geometry("geometry")
    finally:
        engine.dispose()


def write_site(
    output: Path, basemap: str = "osm", settings: DbSettings | None = None
) -> list[Path]:
    """Build site/ from what is published now."""
    conninfo = reader_conninfo(settings)
    layers = load_layers()
    frames = {lid: read_layer_frame(layer, conninfo) for lid, layer in layers.items()}
    return build_site(layers, frames, Path(output), basemap=basemap)
