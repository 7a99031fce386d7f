"""Read the published layers (as the read-only role) and write the public map site.

The site's indicators (choropleths and CSV/JSON downloads) come from one computation of
``onemap.indicators`` (``compute_all``), shared by ``write_exports`` and
``district_choropleths``. If it fails (an empty layer, a missing table), the maps are
written all the same and the index says why the indicators are missing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import psycopg
from psycopg import sql
from sqlalchemy import create_engine

from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers
from onemap.core.settings import DbSettings
from onemap.db.connect import reader_conninfo
from onemap.db.models import DATA_SCHEMA
from onemap.publish.maps import SiteIndicators, build_site
from onemap.publish.maps.site import loaded_layers

log = logging.getLogger(__name__)

# Folder of the indicator downloads inside the site.
INDICATORS_DIR = "indicators"


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
            frame = gpd.read_postgis(text, conn, geom_col="geom").rename_geometry("geometry")
    finally:
        engine.dispose()
    # The query transforms to 4326; an empty result carries no SRID to read the CRS from.
    return frame.set_crs(4326, allow_override=True)


def site_indicators(
    output: Path, layers: dict[str, Layer], settings: DbSettings | None = None
) -> SiteIndicators:
    """Compute the indicators once, write their downloads into ``output/indicators/``.

    Any failure becomes ``SiteIndicators(error=…)``: the site is built without them.
    """
    from onemap.indicators import district_choropleths, write_exports
    from onemap.indicators.export import compute_all

    try:
        results = compute_all(settings)
        exports = write_exports(output / INDICATORS_DIR, results=results)
        choropleths = district_choropleths(results=results)
    except Exception as exc:  # noqa: BLE001 - any failure: the maps are still published
        log.warning("indicators not computed, the site is built without them: %s", exc)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SiteIndicators(error=f"{type(exc).__name__}: {reason}")
    read = results[0].version.get("load_ids", {}) if results and results[0].version else {}
    synthetic = [layers[lid].title for lid in read if lid in layers and layers[lid].synthetic]
    rel = [p.relative_to(output) for p in exports]
    hrefs = {p.name: p.as_posix() for p in rel}
    return SiteIndicators(
        choropleths=choropleths,
        exports=rel,
        synthetic_inputs=synthetic,
        city_name=get_city().name,
        hrefs=hrefs,
    )


def write_site(
    output: Path,
    basemap: str = "osm",
    settings: DbSettings | None = None,
    *,
    tiles_url: str | None = None,
    tile_above_bytes: int | None = None,
) -> list[Path]:
    """Build site/ from what is published now: layer maps, One Map, choropleths, downloads.

    ``tiles_url``: the OGC API root the big layers (over ``tile_above_bytes`` embedded,
    default ``onemap.publish.maps.site.TILE_ABOVE_BYTES``) are drawn from as vector tiles.
    """
    output = Path(output)
    conninfo = reader_conninfo(settings)
    layers = load_layers()
    frames = {lid: read_layer_frame(layer, conninfo) for lid, layer in layers.items()}
    layers = loaded_layers(layers, frames)  # the indicators' synthetic note follows the data
    output.mkdir(parents=True, exist_ok=True)
    indicators = site_indicators(output, layers, settings)
    extra = {} if tile_above_bytes is None else {"tile_above_bytes": tile_above_bytes}
    return build_site(
        layers,
        frames,
        output,
        basemap=basemap,
        indicators=indicators,
        tiles_url=tiles_url,
        **extra,
    )
