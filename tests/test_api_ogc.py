"""OGC API Features Parts 2–3 behaviour, caching, and hostile parameters, over loopback."""

from __future__ import annotations

import psycopg
import pytest
import requests
from psycopg import sql

from onemap.core.city import get_city
from onemap.core.layers import load_layers
from onemap.db.connect import owner_conninfo
from tests.test_api import get_json, table_count

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
FILTER_CLASSES = {
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
}


def test_conformance_declares_the_filter_classes(api) -> None:
    assert FILTER_CLASSES <= set(get_json(f"{api}/conformance")["conformsTo"])


def test_api_document_declares_the_page_size(api) -> None:
    doc = get_json(f"{api}/openapi")
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 10000)
    items = doc["paths"]["/collections/road_condition/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in items


def test_cql2_filter_is_evaluated_in_postgis(api, db_settings) -> None:
    cql = "condition = 'rusak_berat' AND iri > 14 AND status <> 'nasional'"
    body = get_json(f"{api}/collections/road_condition/items", filter=cql, limit=5)
    expected = table_count(
        db_settings,
        "road_condition",
        sql.SQL("condition = 'rusak_berat' AND iri > 14 AND status <> 'nasional'"),
    )
    assert body["numberMatched"] == expected > 0
    assert all(f["properties"]["iri"] > 14 for f in body["features"])


@pytest.mark.parametrize("epsg", [32749, 9489, 23879])
def test_output_in_projected_crs_matches_postgis(api, db_settings, epsg) -> None:
    r = requests.get(
        f"{api}/collections/admin_kecamatan/items/33.74.01",
        params={"f": "json", "crs": f"{EPSG}{epsg}"},
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers["Content-Crs"] == f"<{EPSG}{epsg}>"
    x, y = r.json()["geometry"]["coordinates"][0][0][0]
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        px, py = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN("
            "ST_Transform(geom, %s), 1)), 1) AS p FROM onemap.admin_kecamatan "
            "WHERE kode_kec = '33.74.01') s",
            (epsg,),
        ).fetchone()
    assert (x, y) == pytest.approx((px, py), abs=0.01)
    assert 400_000 < x < 460_000 and 9_200_000 < y < 9_240_000  # metres, UTM 49S


def test_epsg_4326_output_is_latitude_first(api) -> None:
    crs84 = get_json(f"{api}/collections/admin_kecamatan/items/33.74.01")
    epsg4326 = get_json(f"{api}/collections/admin_kecamatan/items/33.74.01", crs=f"{EPSG}4326")
    lon, lat = crs84["geometry"]["coordinates"][0][0][0]
    assert epsg4326["geometry"]["coordinates"][0][0][0] == [lat, lon]


def test_bbox_in_utm_selects_the_same_features(api) -> None:
    lonlat = get_json(
        f"{api}/collections/road_condition/items", bbox="110.41,-6.99,110.42,-6.98", limit=1
    )["numberMatched"]
    utm = get_json(
        f"{api}/collections/road_condition/items",
        bbox="434431,9227315,435535,9228421",  # the same box in EPSG:32749, slightly larger
        **{"bbox-crs": f"{EPSG}32749"},
        limit=1,
    )["numberMatched"]
    assert utm >= lonlat > 0
    assert utm - lonlat < 0.1 * lonlat


def test_items_carry_etag_and_revalidate(api) -> None:
    url = f"{api}/collections/road_condition/items?f=json&limit=7"
    first = requests.get(url, timeout=30)
    assert first.headers["Cache-Control"].startswith("public")
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    other = requests.get(url + "&offset=7", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


HOSTILE = [
    ("filter", "condition = 'baik'; DROP TABLE onemap.road_condition; --"),
    ("filter", "nope = 1"),
    ("filter", "condition = "),
    ("filter", "1=1) OR (1=1"),
    ("sortby", "-nope"),
    ("sortby", "name; DROP TABLE x"),
    ("properties", "name,nope"),
    ("bbox", "1,2,3"),
    ("bbox", "a,b,c,d"),
    ("bbox", "110.5,-6.9,110.4,-7.0"),
    ("limit", "-5"),
    ("limit", "abc"),
    ("offset", "-1"),
    ("crs", "EPSG:666666"),
    ("crs", "http://www.opengis.net/def/crs/EPSG/0/3857'--"),
    ("bbox-crs", "http://evil.example/crs"),
    ("datetime", "yesterday"),
    ("condition", "baik' OR '1'='1"),
]


@pytest.mark.parametrize(("param", "value"), HOSTILE, ids=[f"{p}={v}" for p, v in HOSTILE])
def test_hostile_parameters_get_a_4xx_and_change_nothing(api, db_settings, param, value) -> None:
    before = table_count(db_settings, "road_condition")
    r = requests.get(
        f"{api}/collections/road_condition/items", params={"f": "json", param: value}, timeout=30
    )
    if param == "condition":  # a value that matches nothing is a valid query
        assert r.status_code == 200 and r.json()["numberMatched"] == 0, r.text[:200]
    else:
        assert r.status_code == 400, f"{param}={value}: {r.status_code} {r.text[:200]}"
    assert table_count(db_settings, "road_condition") == before


@pytest.mark.parametrize("fid", ["x' OR '1'='1", "../../etc/passwd", "%00", "a" * 300])
def test_hostile_ids_get_404(api, fid) -> None:
    r = requests.get(f"{api}/collections/road_condition/items/{fid}", params={"f": "json"})
    assert r.status_code == 404


def test_datetime_on_a_layer_without_dates_is_a_400(api) -> None:
    r = requests.get(
        f"{api}/collections/zoning/items", params={"f": "json", "datetime": "2025-01-01/.."}
    )
    assert r.status_code == 400 and "no time field" in r.json()["description"]


def test_datetime_interval_filters_by_survey_date(api, db_settings) -> None:
    body = get_json(f"{api}/collections/road_condition/items", datetime="2026-06-01/..", limit=1)
    assert body["numberMatched"] == table_count(
        db_settings, "road_condition", sql.SQL("survey_date >= '2026-06-01'")
    )


def test_cql2_json_filter_posted_is_evaluated_in_postgis(api, db_settings) -> None:
    """CQL2 JSON (OGC 21-065) POSTed to /items, as pygeoapi accepts it."""
    cql = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "condition"}, "rusak_berat"]},
            {"op": ">", "args": [{"property": "iri"}, 14]},
        ],
    }
    r = requests.post(
        f"{api}/collections/road_condition/items",
        params={"f": "json", "limit": 5},
        json=cql,
        headers={"Content-Type": "application/query-cql-json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    expected = table_count(
        db_settings, "road_condition", sql.SQL("condition = 'rusak_berat' AND iri > 14")
    )
    assert r.json()["numberMatched"] == expected > 0
    bad = requests.post(
        f"{api}/collections/road_condition/items",
        params={"f": "json"},
        data=b'{"op": "=", "args": [{"property": "no_such_column"}, 1]}',
        headers={"Content-Type": "application/query-cql-json"},
        timeout=30,
    )
    assert 400 <= bad.status_code < 500


def test_properties_selects_the_returned_columns(api) -> None:
    body = get_json(f"{api}/collections/road_condition/items", properties="condition,iri", limit=3)
    assert [set(f["properties"]) for f in body["features"]] == [{"condition", "iri"}] * 3


def test_collections_advertise_storage_crs_and_output_crs(api) -> None:
    wanted = {f"{EPSG}{c}" for c in get_city().output_crs}
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    collections = {c["id"]: c for c in get_json(f"{api}/collections")["collections"]}
    features = [cid for cid, c in collections.items() if c.get("itemType") == "feature"]
    assert features == list(load_layers())  # every layer, in the index's order
    for cid in features:
        assert collections[cid]["storageCrs"] == crs84, cid
        assert {crs84, *wanted} <= set(collections[cid]["crs"]), cid


def test_collection_extent_is_the_datas(api, db_settings) -> None:
    """The extent QGIS zooms to is the table's, rounded outwards to 1e-6°."""
    got = get_json(f"{api}/collections/road_condition")["extent"]["spatial"]["bbox"][0]
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        x0, y0, x1, y1 = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) AS e FROM onemap.road_condition) s"
        ).fetchone()
    assert got[0] <= x0 < got[0] + 1e-6 and got[1] <= y0 < got[1] + 1e-6
    assert got[2] - 1e-6 < x1 <= got[2] and got[3] - 1e-6 < y1 <= got[3]


def test_items_are_gzipped_for_clients_that_ask(api) -> None:
    url = f"{api}/collections/road_condition/items"
    params = {"f": "json", "limit": 200}
    plain = requests.get(url, params=params, headers={"Accept-Encoding": "identity"}, timeout=30)
    packed = requests.get(url, params=params, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) < len(plain.content) / 3
    assert packed.json()["features"] == plain.json()["features"]  # requests decompresses
