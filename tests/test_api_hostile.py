"""Hostile and careless clients against the live server: a 4xx naming the parameter, never
a 5xx, and headers that tell the truth about the body (issue 13, item 1)."""

from __future__ import annotations

import gzip
import json

import psycopg2
import pytest
import requests
from flask import Flask, Response
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from onemap.db.connect import reader_conninfo
from onemap.serve import extras
from onemap.serve.provider import ProviderBusyError, db_failure
from onemap.serve.query_check import MAX_JSON_DEPTH

ITEMS = "/collections/road_condition/items"
TILES = "/collections/road_condition/tiles/WebMercatorQuad"

# (path, query parameters, a word the error message must contain)
BAD_QUERIES = [
    (ITEMS, {"iri": "abc"}, "iri"),
    (ITEMS, {"iri": "1e400"}, "iri"),
    (ITEMS, {"iri": "1_0"}, "iri"),
    (ITEMS, {"load_id": "1.5"}, "load_id"),
    (ITEMS, {"load_id": "99999999999999999999"}, "load_id"),
    (ITEMS, {"survey_date": "yesterday"}, "survey_date"),
    (ITEMS, {"filter": "iri > 'abc'"}, "iri"),
    (ITEMS, {"filter": "condition = 5"}, "condition"),
    (ITEMS, {"filter": "condition IN ('baik', 3)"}, "condition"),
    (ITEMS, {"filter": "iri BETWEEN 'a' AND 'z'"}, "iri"),
    (ITEMS, {"filter": "iri LIKE 'a%'"}, "LIKE"),
    (ITEMS, {"filter": "condition + 1 > 2"}, "condition"),
    (ITEMS, {"filter": "survey_date > 'not a date'"}, "survey_date"),
    (ITEMS, {"filter": "S_INTERSECTS(geom, POLYGON((0 0,1 1)))"}, "Polygon"),
    (ITEMS, {"filter": "S_INTERSECTS(geom, POLYGON((0 0,1 1,1 0,0 1,0 0)))"}, "Self-inter"),
    (ITEMS, {"filter": "S_INTERSECTS(iri, POINT(110 -7))"}, "iri"),
    (ITEMS, {"filter": "no_such_column = 1"}, "no_such_column"),
    (ITEMS, {"bbox": "nan,-7.1,110.5,-6.9"}, "bbox"),
    (ITEMS, {"bbox": "1,2,3"}, "bbox"),
    (ITEMS, {"offset": "-1"}, "offset"),
    (ITEMS, {"offset": "x"}, "offset"),
    (ITEMS, {"limit": "0"}, "limit"),
    (ITEMS, {"sortby": "nope"}, "sortby"),
    (ITEMS, {"datetime": "not-a-time"}, ""),
    ("/collections", {"f": "xyz"}, "format"),
    ("/processes/indicators", {"f": "xyz"}, "format"),
    # values pygeoapi itself answered with a 500 (onemap.serve.request_check)
    (f"{TILES}/NaN/0/0", {}, "tileMatrix"),
    (f"{TILES}/14/-1/0", {}, "tileRow"),
    (f"{TILES}/14/0/{'9' * 4000}", {}, "tileCol"),  # int() takes it; no tile has it
    (f"{TILES}/14/0/\u0663", {}, "tileCol"),  # an Arabic-Indic digit: int() reads it
    ("/collections/admin_kecamatan/tiles/WebMercatorQuad/x/1/1", {}, "tileMatrix"),
    ("/collections/flood_depth/coverage", {"bbox": "110.4,-6.9,110.5,-7.1"}, "miny"),
    ("/collections/flood_depth/coverage", {"bbox": "a,b,c,d"}, "bbox"),
    ("/collections/flood_depth/coverage", {"bbox": "110.4,-7.1,inf,-6.9"}, "bbox"),
    ("/collections/catalog/queryables", {"profile": "actual-domain", "properties": "q"}, "q"),
]


@pytest.mark.parametrize(("path", "params", "word"), BAD_QUERIES)
def test_bad_query_is_a_named_400(api, path, params, word) -> None:
    r = requests.get(f"{api}{path}", params=params, timeout=60)
    assert r.status_code == 400, f"{r.url}: {r.status_code} {r.text[:300]}"
    assert word.lower() in r.json()["description"].lower()


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "110.3,-7.1,0,110.5,-6.9,100"},  # 3-D bbox, valid in Part 1: x/y are used
        {"offset": str(2**70)},  # beyond bigint: past every row, an empty page
        {"iri": "3.5"},
        {"filter": "(" * 400 + "iri > 1" + ")" * 400},  # deep but bounded by the parser
        {"filter": "iri > '3'"},  # a quoted number PostgreSQL reads as one
        {"filter": "survey_date > DATE('2020-01-01') AND condition <> 'baik'"},
        {"filter": "S_INTERSECTS(geom, POLYGON((110 -7.2,110.6 -7.2,110.6 -6.9,110 -7.2)))"},
    ],
)
def test_unusual_but_valid_query_is_answered(api, params) -> None:
    r = requests.get(f"{api}{ITEMS}", params={"limit": 2, **params}, timeout=60)
    assert r.status_code == 200, f"{r.url}: {r.status_code} {r.text[:300]}"
    assert r.json()["type"] == "FeatureCollection"


def test_3d_bbox_selects_like_its_2d_footprint(api) -> None:
    two = requests.get(f"{api}{ITEMS}", params={"bbox": "110.40,-7.0,110.42,-6.98"}, timeout=60)
    three = requests.get(
        f"{api}{ITEMS}", params={"bbox": "110.40,-7.0,-50,110.42,-6.98,9000"}, timeout=60
    )
    assert two.json()["numberMatched"] == three.json()["numberMatched"] > 0


def test_wrong_type_identifier_is_not_found(api) -> None:
    r = requests.get(f"{api}/collections/admin_kecamatan/items/not-a-number", timeout=60)
    assert r.status_code in (400, 404), r.text[:300]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/processes/indicators/execution", '{"inputs": ' + _nested(5000) + "}"),
        ("/processes/indicators/execution", '{"inputs": ' + _nested(MAX_JSON_DEPTH + 1) + "}"),
        (ITEMS, '{"op": "and", "args": ' + _nested(3000) + "}"),
    ],
)
def test_deep_json_body_is_a_400(api, path, body) -> None:
    headers = {"Content-Type": "application/json"}
    if path == ITEMS:
        headers = {"Content-Type": "application/query-cql-json"}
    r = requests.post(f"{api}{path}", data=body, headers=headers, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert "nested" in r.json()["description"]


@pytest.mark.parametrize(
    "body",
    ["not json", '{"inputs": {"indicator": 5}}', "[]", '{"inputs": null}', "\xff\xfe"],
)
def test_bad_process_body_is_not_a_server_error(api, body) -> None:
    r = requests.post(
        f"{api}/processes/indicators/execution",
        data=body.encode("utf-8", "surrogateescape"),
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code < 500, r.text[:300]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ('{"inputs": {}, "subscriber": "http://example.org/"}', "subscriber"),
        ('{"inputs": {}, "subscriber": {"successUri": "http://127.0.0.1:1/"}}', "subscriber"),
        ('{"inputs": {}, "subscriber": {"inProgressUri": "x"}}', "subscriber"),
        ('{"inputs": [1, 2]}', "inputs"),
        ('{"inputs": {}, "outputs": "all"}', "outputs"),
        ('{"inputs": {}, "response": 5}', "response"),
    ],
)
@pytest.mark.parametrize("process", ["indicators", "reports-evaluation"])
def test_bad_execution_member_is_a_named_400(api, process, body, word) -> None:
    r = requests.post(
        f"{api}/processes/{process}/execution",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 400, r.text[:300]
    assert word in r.json()["description"]


def test_catalogue_domains_without_q_are_answered(api) -> None:
    r = requests.get(
        f"{api}/collections/catalog/queryables",
        params={"profile": "actual-domain", "properties": "title,license", "f": "json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:300]
    assert set(r.json()["properties"]) == {"geometry", "title", "license"}


@pytest.mark.parametrize(
    "path",
    ["/collections?f=xyz", "/processes/indicators?f=xyz", f"{ITEMS}?iri=abc", "/collections"],
)
def test_content_encoding_matches_body(api, path) -> None:
    raw = requests.get(f"{api}{path}", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=60)
    body = raw.raw.read(decode_content=False)
    assert "Accept-Encoding" in raw.headers["Vary"]
    if raw.headers.get("Content-Encoding") == "gzip":
        json.loads(gzip.decompress(body))
    else:
        json.loads(body)
    assert int(raw.headers.get("Content-Length", len(body))) == len(body)


def test_gzip_refused_is_not_sent(api) -> None:
    for path in ("/collections?f=xyz", "/collections"):
        r = requests.get(
            f"{api}{path}", headers={"Accept-Encoding": "gzip;q=0"}, stream=True, timeout=60
        )
        assert "Content-Encoding" not in r.headers
        json.loads(r.raw.read(decode_content=False))


def test_statement_timeout_is_a_503(loaded, db_settings) -> None:
    """A query cut short by statement_timeout (PostgreSQL 57014) becomes ProviderBusyError."""
    engine = create_engine(
        "postgresql+psycopg2://",
        creator=lambda: psycopg2.connect(
            reader_conninfo(db_settings), options="-c statement_timeout=50"
        ),
    )
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(2)"))
    failure = db_failure(caught.value)
    assert isinstance(failure, ProviderBusyError) and failure.http_status_code == 503
    engine.dispose()


def test_503_says_when_to_retry() -> None:
    app = Flask(__name__)
    app.after_request(extras._honest_headers)
    app.get("/busy")(lambda: Response("{}", status=503, mimetype="application/json"))
    r = app.test_client().get("/busy")
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0
    assert "Accept-Encoding" in r.headers["Vary"]
