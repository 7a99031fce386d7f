"""Vector tiles, the records catalogue and OWSLib, against the live server."""

from __future__ import annotations

import math

import pyogrio
import pytest
import requests
from owslib.ogcapi.features import Features
from psycopg import sql

from onemap.core.layers import load_layers
from tests.test_api import get_json, table_count

LAYERS = load_layers()


def tile_index(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Web Mercator tile column and row (OGC 17-083r4 WebMercatorQuad)."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def fetch_tile(api: str, layer: str, z: int, x: int, y: int, tmp_path) -> object:
    r = requests.get(
        f"{api}/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}", params={"f": "mvt"}
    )
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"].startswith("application/vnd.mapbox-vector-tile")
    # GDAL's MVT driver reads a tile file and takes z/x/y from its path
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(r.content)
    return pyogrio.read_dataframe(path, layer=layer)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_every_layer_has_vector_tiles(api, layer_id) -> None:
    meta = get_json(f"{api}/collections/{layer_id}/tiles")
    assert any(t["tileMatrixSetURI"].endswith("/WebMercatorQuad") for t in meta["tilesets"])
    assert any(lk["type"] == "application/vnd.mapbox-vector-tile" for lk in meta["links"])


def tile_count(settings, layer: str, z: int, x: int, y: int) -> int:
    """Features of ``layer`` that intersect tile z/x/y, counted by PostGIS."""
    size = 40_075_016.686 / 2**z
    x0, y1 = -20_037_508.343 + x * size, 20_037_508.343 - y * size
    return table_count(
        settings,
        layer,
        sql.SQL("ST_Intersects(ST_Transform(geom, 3857), ST_MakeEnvelope(%s, %s, %s, %s, 3857))"),
        (x0, y1 - size, x0 + size, y1),
    )


def test_a_tile_holds_the_features_of_its_area(api, db_settings, tmp_path) -> None:
    z = 15
    x, y = tile_index(110.42, -6.98, z)
    frame = fetch_tile(api, "road_condition", z, x, y, tmp_path)
    expected = tile_count(db_settings, "road_condition", z, x, y)
    # ST_AsMVTGeom drops a feature that only touches the tile edge (nothing left to draw)
    assert expected - 3 <= len(frame) <= expected
    assert expected > 50
    assert {"status", "condition"} <= set(frame.columns)


def test_low_zoom_tiles_are_simplified_but_complete(api, db_settings, tmp_path) -> None:
    z = 11
    x, y = tile_index(110.42, -6.98, z)
    frame = fetch_tile(api, "drainage", z, x, y, tmp_path)
    expected = tile_count(db_settings, "drainage", z, x, y)
    # a channel shorter than a quarter pixel may collapse, and one that only touches the
    # tile's edge is dropped: a handful at most, of hundreds
    assert expected > 100 and expected - 5 <= len(frame) <= expected
    assert frame["id"].is_unique


def test_catalogue_has_a_record_per_layer(api, db_settings) -> None:
    body = get_json(f"{api}/collections/catalog/items", limit=50)
    records = {f["id"]: f for f in body["features"]}
    assert set(records) == set(LAYERS)
    for lid, layer in LAYERS.items():
        props = records[lid]["properties"]
        assert props["title"].startswith(layer.title)
        assert props["license"] == layer.license
        assert props["contacts"][0]["organization"] == layer.office
        assert props["updateFrequency"] == layer.update_frequency
        assert props["history"], f"{lid}: lineage lists the published runs"
        assert props["history"][-1]["features"] == table_count(db_settings, lid)
        sni = props["sni8843"]
        assert sni["MD_DataIdentification.topicCategory"] == layer.topic_category
        assert sni["MD_ReferenceSystem"] == f"EPSG:{layer.geometry.srid}"
        assert props["synthetic"] == layer.synthetic


def test_catalogue_search(api) -> None:
    """``q`` searches each record's titles, description and keywords (any case)."""
    text = {
        lid: " ".join([lyr.title, lyr.title_en, lyr.description, *lyr.keywords]).lower()
        for lid, lyr in LAYERS.items()
    }
    for word in ("banjir", "JALAN", "rob"):
        expected = {lid for lid, t in text.items() if word.lower() in t}
        assert 0 < len(expected) < len(LAYERS), word  # a word that tells records apart
        body = get_json(f"{api}/collections/catalog/items", q=word)
        assert {f["id"] for f in body["features"]} == expected, word


def test_owslib_reads_collections_queryables_and_items(api, db_settings) -> None:
    w = Features(api)
    ids = {c["id"] for c in w.collections()["collections"]}
    assert set(LAYERS) <= ids
    queryables = w.collection_queryables("road_condition")["properties"]
    assert {"condition", "status", "iri"} <= set(queryables)
    items = w.collection_items("road_condition", limit=5, condition="rusak_berat")
    assert items["numberMatched"] == table_count(
        db_settings, "road_condition", sql.SQL("condition = 'rusak_berat'")
    )
    assert len(items["features"]) == 5


def test_flood_depth_coverage_is_the_published_raster(api, demo_dir, tmp_path) -> None:
    import numpy as np
    import rasterio

    r = requests.get(f"{api}/collections/flood_depth/coverage", params={"f": "GTiff"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-geotiff"
    served = tmp_path / "served.tif"
    served.write_bytes(r.content)
    with rasterio.open(served) as got, rasterio.open(demo_dir / "flood_depth.tif") as src:
        assert got.crs == src.crs and got.transform == src.transform
        assert np.array_equal(got.read(1), src.read(1))
        assert got.nodata == src.nodata


def test_flood_depth_coverage_subset_by_bbox(api, tmp_path) -> None:
    import rasterio

    r = requests.get(
        f"{api}/collections/flood_depth/coverage",
        params={"f": "GTiff", "bbox": "110.45,-6.97,110.48,-6.95"},
        timeout=60,
    )
    assert r.status_code == 200
    path = tmp_path / "subset.tif"
    path.write_bytes(r.content)
    with rasterio.open(path) as ds:
        depth = ds.read(1, masked=True)
        assert 0 < ds.width < 100 and 0 < ds.height < 100  # 50 m cells over ~3 km
        assert depth.count() > 0 and float(depth.max()) > 0.76  # rob near Kaligawe floods deep
