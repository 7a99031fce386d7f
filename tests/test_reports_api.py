"""Citizen reports over real HTTP: intake, privacy by construction, hostile payloads, limits.

Against a live pygeoapi + onemap (gunicorn) on its own database (tests/reports_live.py).
"""

from __future__ import annotations

import json
import math
import uuid

import psycopg
import pytest
import requests

from onemap.db.connect import owner_conninfo, role_conninfo
from onemap.reports.config import load_config
from onemap.reports.sla import due_date
from tests.reports_live import live_server, report_feature
from tests.test_api_clients import tile_index as _tile

PRIVATE = ("reporter_name", "reporter_phone", "reporter_email", "description_original")


@pytest.fixture(scope="module")
def live():
    return live_server()


def _addr() -> str:
    """A fresh client address (X-Forwarded-For from loopback, the trusted proxy)."""
    n = uuid.uuid4().int
    return f"10.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"


def post(base: str, body, content_type="application/geo+json", addr=None, **kw):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Content-Type": content_type, "X-Forwarded-For": addr or _addr()}
    return requests.post(
        f"{base}/collections/reports/items", data=data, headers=headers, timeout=30, **kw
    )


def count(settings, where: str = "TRUE", params=()) -> int:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            f"SELECT count(*) FROM onemap.reports WHERE {where}",  # test-only, fixed text
            params,
        ).fetchone()[0]


def test_post_answers_201_with_location_and_the_public_view(live) -> None:
    base, settings = live
    tag = uuid.uuid4().hex
    r = post(base, report_feature(tag, reporter_name="Sri Rahayu", reporter_phone="081234567890"))
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/geo+json")
    feature = r.json()
    rid = feature["id"]
    assert r.headers["Location"].endswith(f"/collections/reports/items/{rid}")
    assert rid.startswith(f"{load_config().id_prefix}-")
    props = feature["properties"]
    assert not set(PRIVATE) & set(props)
    assert props["status"] == "baru" and props["office"] == "dpu"
    assert props["kode_kec"] == "33.74.07" and props["kode_kel"].startswith("33.74.07.")
    assert props["road_segment"] and 0 <= props["road_distance_m"] <= 100
    reported = __import__("datetime").datetime.fromisoformat(props["reported_at"])
    assert props["sla_due"] == due_date(reported, 5).isoformat()
    again = requests.get(r.headers["Location"], params={"f": "json"}, timeout=30)
    assert again.status_code == 200 and again.json()["id"] == rid
    assert count(settings, "report_id = %s AND description LIKE %s", (rid, f"%{tag}%")) == 1
    with psycopg.connect(owner_conninfo(settings)) as conn:
        hist = conn.execute(
            "SELECT status, changed_by FROM onemap_private.reports_status WHERE report_id = %s",
            (rid,),
        ).fetchall()
    assert hist == [("baru", "intake:web")]


def test_personal_data_never_appears_in_any_public_response(live) -> None:
    base, _ = live
    secret = uuid.uuid4().hex[:12]
    name, email = f"Quokka{secret}", f"q{secret}@example.org"
    phone = "+62 811 " + str(uuid.uuid4().int)[:8]
    body = report_feature(
        f"hubungi {phone} atau {email}, salam {name}",
        lon=110.4123,
        lat=-6.9834,
        reporter_name=name,
        reporter_phone=phone,
        reporter_email=email,
    )
    r = post(base, body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    x, y = _tile(110.4123, -6.9834, 15)
    paths = [
        "/",
        "/openapi?f=json",
        "/collections?f=json",
        "/collections?f=html",
        "/collections/reports?f=json",
        "/collections/reports?f=html",
        "/collections/reports/queryables?f=json",
        "/collections/reports/schema?f=json",
        "/collections/reports/items?f=json&limit=10000",
        "/collections/reports/items?f=html&limit=10000",
        "/collections/reports/items?f=csv&limit=10000",
        "/collections/reports/items?f=jsonld&limit=10000",
        f"/collections/reports/items/{rid}?f=json",
        f"/collections/reports/items/{rid}?f=html",
        f"/collections/reports/items/{rid}?f=jsonld",
        f"/collections/reports/items?f=json&filter=report_id='{rid}'",
        f"/collections/reports/tiles/WebMercatorQuad/15/{y}/{x}?f=mvt",
        "/collections/reports/tiles?f=json",
        "/processes/reports-evaluation?f=json",
    ]
    needles = [name, email, phone, phone.replace(" ", ""), secret, *PRIVATE]
    for path in paths:
        resp = requests.get(base + path, timeout=60)
        assert resp.status_code in (200, 204), f"{path}: {resp.status_code} {resp.text[:200]}"
        text = resp.content.decode("utf-8", errors="replace")
        for needle in needles:
            assert needle not in text, f"{needle!r} leaked in {path}"
    tile = requests.get(base + paths[-3], timeout=60)
    assert tile.status_code == 200 and len(tile.content) > 0  # the report is in that tile
    execute = requests.post(
        f"{base}/processes/reports-evaluation/execution",
        json={"inputs": {"month": "2026-11"}},
        timeout=60,
    )
    assert execute.status_code == 200
    assert all(n not in execute.text for n in needles)
    # asking for a private property is not a way in: as a parameter it is ignored (the
    # links echo the query, the features hold nothing), in a filter it is an error
    items = f"{base}/collections/reports/items"
    ignored = requests.get(items, params={"f": "json", "reporter_name": name}, timeout=30)
    assert ignored.status_code == 200 and ignored.json()["features"]
    assert name not in json.dumps(ignored.json()["features"])
    refused = requests.get(items, params={"filter": f"reporter_name = '{name}'"}, timeout=30)
    assert refused.status_code == 400 and name not in refused.text
    assert "unknown property 'reporter_name'" in refused.json()["description"]


def test_staff_collection_is_hidden_and_closed(live) -> None:
    base, _ = live
    ids = [
        c["id"]
        for c in requests.get(f"{base}/collections?f=json", timeout=30).json()["collections"]
    ]
    assert "reports" in ids and "reports_staff" not in ids
    paths = requests.get(f"{base}/openapi?f=json", timeout=30).json()["paths"]
    assert not [p for p in paths if "reports_staff" in p]
    for path in ("", "/items", "/items?f=csv", "/queryables", "/schema", "/items/LS-000001"):
        resp = requests.get(f"{base}/collections/reports_staff{path}", timeout=30)
        assert resp.status_code == 401, path
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_roles_cannot_read_what_they_must_not(live) -> None:
    base, settings = live
    layer_private = PRIVATE
    assert post(base, report_feature("dibaca pembaca")).status_code == 201
    with psycopg.connect(role_conninfo("reader", settings)) as conn:
        cols = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'onemap' AND table_name = 'reports'"
            )
        }
        assert cols and not cols & set(layer_private)
        # every public row, as the owner counts them
        assert conn.execute("SELECT count(*) FROM onemap.reports").fetchone()[0] == count(settings)
        for query in (
            "SELECT reporter_name FROM onemap_private.reports",
            "SELECT * FROM onemap_private.reports_staff",
            "SELECT * FROM onemap_private.reports_status",
            "SELECT * FROM onemap_private.staff_users",
            "INSERT INTO onemap.reports (report_id) VALUES ('X-1')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
            conn.rollback()
        granted = conn.execute(
            "SELECT count(*) FROM information_schema.column_privileges "
            "WHERE grantee = current_user AND column_name = ANY(%s)",
            (list(layer_private),),
        ).fetchone()[0]
        assert granted == 0
    with psycopg.connect(role_conninfo("intake", settings)) as conn:
        for query in (
            "SELECT * FROM onemap.reports",
            "SELECT * FROM onemap_private.reports",
            "UPDATE onemap.reports SET status = 'selesai'",
            "DELETE FROM onemap.reports",
            "INSERT INTO onemap.reports (report_id, status) VALUES ('X-1', 'selesai')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
            conn.rollback()


HOSTILE = {
    "not json": (b"{not json", "application/geo+json"),
    "a JSON array": (b"[]", "application/geo+json"),
    "empty body": (b"", "application/geo+json"),
    "invalid UTF-8": (b'{"type": "Feature", "x": "\xff\xfe"}', "application/geo+json"),
    "wrong media type": (json.dumps(report_feature("x")).encode(), "text/plain"),
    "form post": (b"category=sampah&description=aaaaaaaaaaaa", "application/x-www-form-urlencoded"),
    "duplicate keys": (
        b'{"type":"Feature","type":"Feature","geometry":{"type":"Point","coordinates":[110.42,-6.99]},'
        b'"properties":{"category":"sampah","description":"sampah menumpuk lama"}}',
        "application/geo+json",
    ),
    "NaN coordinate": (
        b'{"type":"Feature","geometry":{"type":"Point","coordinates":[NaN,-6.99]},'
        b'"properties":{"category":"sampah","description":"sampah menumpuk lama"}}',
        "application/geo+json",
    ),
    "deep nesting": (
        b'{"type":"Feature","properties":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "application/json",
    ),
}


def _feature(**changes) -> dict:
    body = report_feature("hostile")
    for key, value in changes.items():
        if key == "geometry":
            body["geometry"] = value
        elif key == "top":
            body |= value
        else:
            body["properties"][key] = value
    return body


HOSTILE_FEATURES = {
    "polygon geometry": _feature(
        geometry={
            "type": "Polygon",
            "coordinates": [[[110.4, -7], [110.41, -7], [110.41, -6.99], [110.4, -7]]],
        }
    ),
    "no geometry": _feature(geometry=None),
    "string coordinates": _feature(geometry={"type": "Point", "coordinates": ["110.42", "-6.99"]}),
    "boolean coordinates": _feature(geometry={"type": "Point", "coordinates": [True, False]}),
    "four coordinates": _feature(geometry={"type": "Point", "coordinates": [110.42, -6.99, 1, 2]}),
    "outside the city (Jakarta)": _feature(
        geometry={"type": "Point", "coordinates": [106.82, -6.18]}
    ),
    "lat/lon swapped": _feature(geometry={"type": "Point", "coordinates": [-6.99, 110.42]}),
    "in the bbox but in the sea": _feature(
        geometry={"type": "Point", "coordinates": [110.30, -6.90]}
    ),
    "script in description": _feature(description="Jalan rusak <script>alert(1)</script> parah"),
    "img onerror in name": _feature(reporter_name='<img src=x onerror="alert(1)">'),
    "javascript URL": _feature(description="lihat javascript:alert(document.cookie) sekarang"),
    "event handler": _feature(description='jalan rusak" onmouseover="alert(1)'),
    "NUL in description": _feature(description="jalan rusak\u0000 parah sekali"),
    "bidi override": _feature(description="jalan rusak \u202e parah sekali"),
    "SQL in category": _feature(category="jalan_rusak'; DROP TABLE onemap.reports; --"),
    "SQL in channel": _feature(channel="web' OR '1'='1"),
    "SQL in phone": _feature(reporter_phone="0812'; DELETE FROM onemap.reports; --"),
    "SQL in email": _feature(reporter_email="a@b.co'); DROP TABLE x; --"),
    "number as category": _feature(category=3),
    "read-only status": _feature(status="selesai"),
    "read-only office": _feature(office="bpbd"),
    "unknown property": _feature(is_admin=True),
    "client-chosen id": _feature(top={"id": "LS-999999"}),
    "extra member": _feature(top={"crs": {"type": "name"}}),
    "reserved channel": _feature(channel="import"),
    "description too short": _feature(description="rusak"),
    "description too long": _feature(description="a" * 2001),
    "name too long": _feature(reporter_name="N" * 101),
    "missing category": _feature(category=None),
}


@pytest.mark.parametrize("name", list(HOSTILE) + list(HOSTILE_FEATURES))
def test_hostile_payloads_are_refused_and_nothing_is_stored(live, name) -> None:
    base, settings = live
    before = count(settings)
    if name in HOSTILE:
        data, ctype = HOSTILE[name]
        r = post(base, data, content_type=ctype)
    else:
        r = post(base, HOSTILE_FEATURES[name])
    assert 400 <= r.status_code < 500, f"{name}: {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json")
    assert "code" in r.json()
    assert count(settings) == before


def test_oversized_payloads_are_refused_before_parsing(live) -> None:
    base, settings = live
    before = count(settings)
    limit = load_config().intake.max_body_bytes
    big = json.dumps(_feature(description="x" * (limit + 10)))
    assert post(base, big).status_code == 413
    chunks = (big[i : i + 1000].encode() for i in range(0, len(big), 1000))  # chunked, no length
    r = requests.post(
        f"{base}/collections/reports/items",
        data=chunks,
        headers={"Content-Type": "application/geo+json", "X-Forwarded-For": _addr()},
        timeout=30,
    )
    assert r.status_code == 413
    assert count(settings) == before


def test_sql_in_free_text_is_stored_as_text(live) -> None:
    """Free text may hold quotes and semicolons: it is a value, never SQL."""
    base, settings = live
    text = "Robert'); DROP TABLE onemap.reports; -- jalan rusak di depan sekolah"
    r = post(base, _feature(description=text))
    assert r.status_code == 201
    assert r.json()["properties"]["description"] == text
    assert count(settings, "description = %s", (text,)) == 1


def test_rate_limit_per_client_address(live) -> None:
    base, settings = live
    limit = load_config().intake.rate_limit
    addr, other = _addr(), _addr()
    codes = [post(base, b"{bad", addr=addr).status_code for _ in range(limit.requests)]
    assert codes == [400] * limit.requests  # refused payloads count too
    r = post(base, report_feature("over the limit"), addr=addr)
    assert r.status_code == 429 and r.headers["Retry-After"] == str(limit.per_seconds)
    assert count(settings, "description LIKE %s", ("%over the limit%",)) == 0
    assert post(base, report_feature("another client"), addr=other).status_code == 201


def test_options_and_search_post_still_reach_pygeoapi(live) -> None:
    base, settings = live
    r = requests.options(f"{base}/collections/reports/items", timeout=30)
    assert r.status_code == 200 and "POST" in r.headers["Allow"]
    assert post(base, report_feature("dicari lewat CQL2")).status_code == 201
    r = requests.post(
        f"{base}/collections/reports/items?f=json",
        data=json.dumps({"op": "=", "args": [{"property": "category"}, "jalan_rusak"]}),
        headers={"Content-Type": "application/query-cql-json"},
        timeout=30,
    )
    assert r.status_code == 200 and "Location" not in r.headers  # a search, not a report
    body = r.json()
    assert body["numberMatched"] == count(settings, "category = 'jalan_rusak'") > 0
    assert {f["properties"]["category"] for f in body["features"]} == {"jalan_rusak"}


def test_coarse_location_option_snaps_the_public_point(live) -> None:
    """With private.location_grid_m the published point is on that grid (metric CRS)."""
    from onemap.core.city import get_city
    from onemap.core.layers import get_layer
    from onemap.reports.intake import public_geometry
    from onemap.reports.private import KEY, private_of

    _, settings = live
    layer = get_layer("reports")
    coarse_private = private_of(layer).model_copy(update={"location_grid_m": 100.0})
    coarse = layer.model_copy(update={"blocks": {**layer.blocks, KEY: coarse_private}})
    utm = get_city().metric_crs
    with psycopg.connect(role_conninfo("reader", settings)) as conn:
        for geometry, grid in ((public_geometry(layer), 0), (public_geometry(coarse), 100)):
            x, y, dist = conn.execute(
                psycopg.sql.SQL(
                    "SELECT ST_X(g), ST_Y(g), ST_Distance(ST_Transform(g, {utm}), "
                    "ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), {utm})) "
                    "FROM (SELECT ST_Transform({g}, {utm}) AS g) s"
                ).format(g=geometry, utm=psycopg.sql.Literal(utm)),
                {"lon": 110.41234, "lat": -6.98765},
            ).fetchone()
            if grid:
                assert abs(x / grid - round(x / grid)) < 1e-6  # on the grid, to µm
                assert abs(y / grid - round(y / grid)) < 1e-6
                assert 0 < dist <= grid * math.sqrt(2) / 2 + 0.01
            else:
                assert dist == pytest.approx(0, abs=0.01)
