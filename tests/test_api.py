"""The OGC API Features endpoints, over loopback, with the clients analysts use."""

from __future__ import annotations

import json
import subprocess

import geopandas as gpd
import psycopg
import pytest
import requests
from psycopg import sql

from onemap.core.layers import load_layers
from onemap.db.connect import owner_conninfo

LAYERS = load_layers()


def table_count(settings, layer_id: str, where: sql.Composable | None = None, params=()) -> int:
    where = where if where is not None else sql.SQL("TRUE")
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                sql.Identifier("onemap", layer_id), where
            ),
            params,
        ).fetchone()[0]


def get_json(url: str, **params) -> dict:
    r = requests.get(url, params={"f": "json", **params}, timeout=60)
    assert r.status_code == 200, f"{r.url}: {r.status_code} {r.text[:300]}"
    return r.json()


def test_every_layer_is_a_collection_with_metadata(api) -> None:
    cols = {c["id"]: c for c in get_json(f"{api}/collections")["collections"]}
    english = {c["id"]: c for c in get_json(f"{api}/collections", lang="en")["collections"]}
    assert [c for c in cols if c in LAYERS] == list(LAYERS)
    coverages = {lyr.coverage.id for lyr in LAYERS.values() if lyr.coverage}
    assert set(cols) - set(LAYERS) == {"catalog"} | coverages  # records, rasters
    for lid, layer in LAYERS.items():
        c = cols[lid]
        # Indonesian by default, as on the site; English on request
        assert c["title"] == layer.title and english[lid]["title"] == layer.title_en
        assert set(layer.keywords) <= set(c["keywords"])
        x0, y0, x1, y1 = c["extent"]["spatial"]["bbox"][0]
        assert 110.2 < x0 < x1 < 110.6 and -7.2 < y0 < y1 < -6.9


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_items_reachable_and_counted(api, db_settings, layer_id) -> None:
    body = get_json(f"{api}/collections/{layer_id}/items", limit=5)
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == table_count(db_settings, layer_id) > 0
    assert body["numberReturned"] == len(body["features"]) == min(5, body["numberMatched"])
    layer = LAYERS[layer_id]
    props = body["features"][0]["properties"]
    assert {f.name for f in layer.fields} <= set(props) | {layer.primary_key}
    one = get_json(f"{api}/collections/{layer_id}/items/{body['features'][0]['id']}")
    assert one["id"] == body["features"][0]["id"]


def test_default_page_is_not_pygeoapis_ten(api) -> None:
    body = get_json(f"{api}/collections/admin_kelurahan/items")
    assert body["numberReturned"] == 100


def test_paging_with_next_links_returns_every_feature_once(api) -> None:
    url, params, seen = f"{api}/collections/admin_kelurahan/items", {"limit": 50}, []
    while url:
        body = get_json(url, **params)
        seen += [f["id"] for f in body["features"]]
        nxt = [lk["href"] for lk in body["links"] if lk["rel"] == "next"]
        url, params = (nxt[0], {}) if nxt and body["features"] else (None, {})
    assert len(seen) == len(set(seen)) == 177


def test_bbox_filter_matches_postgis(api, db_settings) -> None:
    bbox = (110.40, -7.00, 110.43, -6.97)
    body = get_json(
        f"{api}/collections/road_condition/items", bbox=",".join(map(str, bbox)), limit=1
    )
    expected = table_count(
        db_settings,
        "road_condition",
        sql.SQL("ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"),
        bbox,
    )
    assert body["numberMatched"] == expected > 0


def test_property_filter(api, db_settings) -> None:
    body = get_json(f"{api}/collections/road_condition/items", condition="rusak_berat", limit=3)
    assert (
        body["numberMatched"]
        == table_count(db_settings, "road_condition", sql.SQL("condition = %s"), ("rusak_berat",))
        > 0
    )
    assert {f["properties"]["condition"] for f in body["features"]} == {"rusak_berat"}


def test_gdal_reads_every_feature_of_a_collection(api, db_settings, tmp_path) -> None:
    out = tmp_path / "kel.geojson"
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(out),
            f"OAPIF:{api}",
            "admin_kelurahan",
            "-oo",
            "PAGE_SIZE=1000",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    features = json.loads(out.read_text())["features"]
    assert len(features) == table_count(db_settings, "admin_kelurahan") == 177
    assert {f["properties"]["kode_kel"][:5] for f in features} == {"33.74"}


def test_ogrinfo_counts_the_road_layer(api, db_settings) -> None:
    res = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{api}", "road_condition"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("Feature Count:"))
    assert int(line.split(":")[1]) == table_count(db_settings, "road_condition")


def test_geopandas_reads_items_and_oapif(api, db_settings) -> None:
    kec = gpd.read_file(f"{api}/collections/admin_kecamatan/items?f=json&limit=100")
    assert len(kec) == 16 and kec.crs.to_epsg() == 4326
    assert sorted(kec["kode_kec"]) == [f"33.74.{i:02d}" for i in range(1, 17)]
    flood = gpd.read_file(f"OAPIF:{api}", layer="flood_zones")
    assert len(flood) == table_count(db_settings, "flood_zones")
    assert set(flood["hazard"]) == set(LAYERS["flood_zones"].field("hazard").allowed)


def test_html_pages_render(api) -> None:
    for path in (
        "/",
        "/collections",
        "/collections/road_condition",
        "/collections/road_condition/items?limit=5",
    ):
        r = requests.get(api + path, headers={"Accept": "text/html"}, timeout=30)
        assert r.status_code == 200 and "<html" in r.text.lower(), path


def test_number_matched_on_short_full_and_past_the_end_pages(api, db_settings) -> None:
    """A short first page is its own count; other pages count; paging past the end is empty."""
    url = f"{api}/collections/admin_kelurahan/items"
    total = table_count(db_settings, "admin_kelurahan")
    short = get_json(url, limit=1000)
    assert short["numberMatched"] == short["numberReturned"] == total
    assert "next" not in {lk["rel"] for lk in short["links"]}
    deep = get_json(url, limit=20, offset=total - 7)
    assert deep["numberMatched"] == total and deep["numberReturned"] == 7
    past = get_json(url, limit=20, offset=total + 5)
    assert past["numberMatched"] == total and past["features"] == []


def test_deep_page_is_the_tables_slice_in_key_order(api, db_settings) -> None:
    body = get_json(f"{api}/collections/road_condition/items", limit=25, offset=5000)
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        rows = conn.execute(
            "SELECT segment_id, ST_AsGeoJSON(geom, 6)::json FROM onemap.road_condition "
            "ORDER BY segment_id OFFSET 5000 LIMIT 25"
        ).fetchall()
    assert [f["id"] for f in body["features"]] == [r[0] for r in rows]
    assert [f["geometry"]["coordinates"] for f in body["features"]] == [
        r[1]["coordinates"] for r in rows
    ]


def test_bbox_page_is_the_matches_slice_in_key_order_with_their_count(api, db_settings) -> None:
    """A filtered page and its count come from one statement (provider._counted_page_sql)."""
    bbox = "110.40,-7.00,110.45,-6.96"
    body = get_json(f"{api}/collections/road_condition/items", bbox=bbox, limit=30, offset=40)
    where = "ST_Intersects(ST_MakeEnvelope(110.40, -7.00, 110.45, -6.96, 4326), geom)"
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        keys = [r[0] for r in conn.execute(
            f"SELECT segment_id FROM onemap.road_condition WHERE {where} ORDER BY segment_id"
        )]  # fmt: skip
    assert 70 < len(keys) <= 10_000
    assert body["numberMatched"] == len(keys)
    assert [f["id"] for f in body["features"]] == keys[40:70]


def test_sort_with_ties_pages_disjointly(api) -> None:
    """sortby on a column with ties: the key breaks them, so pages neither repeat nor skip."""
    url = f"{api}/collections/road_condition/items"
    seen: list[str] = []
    for offset in range(0, 600, 200):
        body = get_json(url, sortby="condition", limit=200, offset=offset, skipGeometry="true")
        seen += [f["id"] for f in body["features"]]
    assert len(seen) == len(set(seen)) == 600


def test_number_matched_is_left_out_above_the_count_cap(api, db_settings) -> None:
    """A filter matching more than COUNT_CAP rows: no numberMatched, paging by next links."""
    from onemap.serve.provider import COUNT_CAP

    city = "110.2,-7.2,110.6,-6.9"
    assert table_count(db_settings, "road_condition") > COUNT_CAP  # the demo's 14,300
    body = get_json(f"{api}/collections/road_condition/items", bbox=city, limit=10)
    assert "numberMatched" not in body and body["numberReturned"] == 10
    assert "next" in {lk["rel"] for lk in body["links"]}
    few = get_json(
        f"{api}/collections/road_condition/items",
        bbox=city,
        limit=10,
        offset=10,
        condition="rusak_berat",
    )
    expected = table_count(db_settings, "road_condition", sql.SQL("condition = 'rusak_berat'"))
    assert few["numberMatched"] == expected <= COUNT_CAP
