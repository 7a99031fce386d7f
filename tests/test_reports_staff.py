"""Staff access over real HTTP: tokens, office scope, If-Match/ETag, deletes, CLI, imports."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest
import requests

from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.reports import staff as staff_ops
from tests.reports_live import auth, database_env, live_server, report_feature, staff_tokens
from tests.test_reports_api import PRIVATE, count, post

STAFF = "/collections/reports_staff/items"
PATCH_TYPE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def live():
    return live_server()


@pytest.fixture(scope="module")
def tokens(live):
    return staff_tokens(live[1], "op")


def new_report(base: str, **props) -> str:
    r = post(base, report_feature(uuid.uuid4().hex, reporter_name="Siti Aminah", **props))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def read(base: str, rid: str, token: str) -> requests.Response:
    return requests.get(
        f"{base}{STAFF}/{rid}", params={"f": "json"}, headers=auth(token), timeout=30
    )


def patch(base, rid, token, props, etag=None, method="PATCH"):
    headers = auth(token, **PATCH_TYPE)
    if etag is not None:
        headers["If-Match"] = etag
    return requests.request(
        method, f"{base}{STAFF}/{rid}", json={"properties": props}, headers=headers, timeout=30
    )


def test_anonymous_and_bad_tokens_cannot_change_anything(live, tokens) -> None:
    base, settings = live
    rid = new_report(base)
    public = f"{base}/collections/reports/items/{rid}"
    attempts = [
        ("PATCH", public, {}),
        ("PUT", public, {}),
        ("DELETE", public, {}),
        ("PATCH", f"{base}{STAFF}/{rid}", {}),
        ("PUT", f"{base}{STAFF}/{rid}", {}),
        ("DELETE", f"{base}{STAFF}/{rid}", {}),
        ("GET", f"{base}{STAFF}/{rid}", {}),
        ("PATCH", f"{base}{STAFF}/{rid}", {"Authorization": "Bearer omr_" + "x" * 43}),
        ("PATCH", f"{base}{STAFF}/{rid}", {"Authorization": f"Basic {tokens['admin']}"}),
        ("PATCH", f"{base}{STAFF}/{rid}", {"Authorization": f"Bearer {tokens['admin']}x"}),
    ]
    for method, url, headers in attempts:
        r = requests.request(
            method, url, json={"properties": {"status": "selesai"}}, headers=headers, timeout=30
        )
        assert r.status_code == 401, f"{method} {url} {headers}: {r.status_code}"
    r = requests.patch(public, json={}, headers=auth(tokens["admin"]), timeout=30)
    assert r.status_code == 405 and "reports_staff" in r.json()["description"]
    assert count(settings, "report_id = %s AND status = 'baru'", (rid,)) == 1


def test_staff_read_personal_data_privately_with_an_etag(live, tokens) -> None:
    base, _ = live
    rid = new_report(base, reporter_phone="081298765432")
    r = read(base, rid, tokens["dpu"])
    assert r.status_code == 200
    props = r.json()["properties"]
    assert props["reporter_name"] == "Siti Aminah" and props["reporter_phone"] == "081298765432"
    assert set(PRIVATE) <= set(props)
    assert r.json()["geometry"]["coordinates"] == [110.42, -6.99]  # the exact point
    assert r.headers["Cache-Control"] == "private, no-store"
    assert r.headers["ETag"] == staff_ops.etag_of_iso(props["updated_at"])
    listing = requests.get(
        f"{base}{STAFF}",
        params={"f": "json", "limit": 10000},
        headers=auth(tokens["dpu"]),
        timeout=30,
    )
    assert listing.status_code == 200
    offices = {f["properties"]["office"] for f in listing.json()["features"]}
    assert offices == {"dpu"}  # an operator sees their office only
    csv = requests.get(
        f"{base}{STAFF}",
        params={"f": "csv", "filter": f"report_id = '{rid}'"},
        headers=auth(tokens["admin"]),
        timeout=30,
    )
    assert csv.status_code == 200 and "Siti Aminah" in csv.text


def test_status_moves_forward_with_if_match(live, tokens) -> None:
    base, settings = live
    rid = new_report(base)
    etag = read(base, rid, tokens["dpu"]).headers["ETag"]
    assert patch(base, rid, tokens["dpu"], {"status": "diverifikasi"}).status_code == 428
    r = patch(base, rid, tokens["dpu"], {"status": "diverifikasi", "note": "sudah dicek"}, etag)
    assert r.status_code == 200, r.text
    new_etag = r.headers["ETag"]
    assert new_etag != etag and read(base, rid, tokens["dpu"]).headers["ETag"] == new_etag
    stale = patch(base, rid, tokens["dpu"], {"status": "dikerjakan"}, etag)
    assert stale.status_code == 412
    back = patch(base, rid, tokens["dpu"], {"status": "baru"}, new_etag)
    assert back.status_code == 409
    for bad in ({"status": "dibakar"}, {"reporter_name": "x"}, {"sla_due": "2030-01-01"}, {}):
        assert patch(base, rid, tokens["dpu"], bad, new_etag).status_code == 400, bad
    r = requests.put(
        f"{base}{STAFF}/{rid}",
        json={
            "type": "Feature",
            "geometry": None,
            "properties": {"status": "selesai", "note": "beres"},
        },
        headers=auth(
            tokens["dpu"], **{"If-Match": new_etag, "Content-Type": "application/geo+json"}
        ),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    done = requests.get(f"{base}/collections/reports/items/{rid}?f=json", timeout=30).json()
    assert done["properties"]["status"] == "selesai" and done["properties"]["closed_at"]
    final = patch(base, rid, tokens["dpu"], {"status": "ditolak"}, r.headers["ETag"])
    assert final.status_code == 409  # selesai is final
    with psycopg.connect(owner_conninfo(settings)) as conn:
        hist = staff_ops.history(conn, rid)
    assert [h["status"] for h in hist] == ["baru", "diverifikasi", "selesai"]
    assert hist[1]["changed_by"].startswith("op-dpu-") and hist[1]["note"] == "sudah dicek"
    assert hist[0]["changed_at"] < hist[1]["changed_at"] < hist[2]["changed_at"]


def test_two_operators_cannot_overwrite_each_other(live, tokens) -> None:
    base, _ = live
    rid = new_report(base)
    etag = read(base, rid, tokens["admin"]).headers["ETag"]
    results: list[int] = []

    def change(status: str, token: str) -> None:
        results.append(patch(base, rid, token, {"status": status}, etag).status_code)

    threads = [
        threading.Thread(target=change, args=("diverifikasi", tokens["dpu"])),
        threading.Thread(target=change, args=("ditolak", tokens["admin"])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412]


def test_operators_touch_only_their_office(live, tokens) -> None:
    base, _ = live
    rid = new_report(base)  # jalan_rusak: routed to dpu
    etag = read(base, rid, tokens["admin"]).headers["ETag"]
    assert read(base, rid, tokens["dlh"]).status_code == 404
    assert patch(base, rid, tokens["dlh"], {"status": "diverifikasi"}, etag).status_code == 403
    # re-routing to another office hands the report over
    r = patch(base, rid, tokens["dpu"], {"office": "dlh", "note": "bukan wewenang DPU"}, etag)
    assert r.status_code == 200
    assert read(base, rid, tokens["dlh"]).status_code == 200
    assert read(base, rid, tokens["dpu"]).status_code == 404


def test_only_admins_delete(live, tokens) -> None:
    base, settings = live
    rid = new_report(base)
    url = f"{base}{STAFF}/{rid}"
    assert requests.delete(url, headers=auth(tokens["dpu"]), timeout=30).status_code == 403
    stale = requests.delete(url, headers=auth(tokens["admin"], **{"If-Match": '"0"'}), timeout=30)
    assert stale.status_code == 412
    missing = requests.delete(url, headers=auth(tokens["admin"]), timeout=30)
    assert missing.status_code == 428  # If-Match required, as for changes
    etag = read(base, rid, tokens["admin"]).headers["ETag"]
    marked = requests.delete(
        url + "?note=<b>duplikat</b>",
        headers=auth(tokens["admin"], **{"If-Match": etag}),
        timeout=30,
    )
    assert marked.status_code == 400  # the note is cleaned like every other text
    r = requests.delete(
        url + "?note=duplikat", headers=auth(tokens["admin"], **{"If-Match": etag}), timeout=30
    )
    assert r.status_code == 204
    assert (
        requests.get(f"{base}/collections/reports/items/{rid}?f=json", timeout=30).status_code
        == 404
    )
    with psycopg.connect(owner_conninfo(settings)) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM onemap_private.reports WHERE report_id = %(id)s), "
            "(SELECT count(*) FROM onemap_private.reports_status WHERE report_id = %(id)s), "
            "(SELECT note FROM onemap_private.reports_deleted WHERE report_id = %(id)s)",
            {"id": rid},
        ).fetchone()
    assert left == (0, 0, "duplikat")


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    with database_env(settings):
        env = child_env()
    return subprocess.run(
        [sys.executable, "-m", "onemap.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_cli_stores_only_hashes_and_revokes(live) -> None:
    base, settings = live
    name = f"cli-{uuid.uuid4().hex[:6]}"
    res = _cli(settings, "users", "add", name, "--role", "operator", "--office", "dpu")
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert token.startswith("omr_") and len(token) > 40
    listing = _cli(settings, "users", "list")
    assert name in listing.stdout and token not in listing.stdout
    # printed to a pipe (80 columns): the creation time is whole, not cut to "2026-…"
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", listing.stdout), listing.stdout
    with psycopg.connect(owner_conninfo(settings)) as conn:
        stored = conn.execute(
            "SELECT token_sha256, row_to_json(u)::text FROM onemap_private.staff_users u "
            "WHERE name = %s",
            (name,),
        ).fetchone()
    assert bytes(stored[0]) == hashlib.sha256(token.encode()).digest() and token not in stored[1]
    rid = new_report(base)
    assert read(base, rid, token).status_code == 200
    assert _cli(settings, "users", "revoke", name).returncode == 0
    assert read(base, rid, token).status_code == 401
    assert _cli(settings, "users", "add", "x", "--role", "operator").returncode == 1  # no office


CSV_ROWS = [  # an export as a channel might write it: Indonesian headers, mixed date styles
    "no_laporan,kategori,uraian,tanggal,status,tanggal_selesai,lon,lat,nama,no_hp",
    "9001,Jalan Rusak,Jalan berlubang di depan SD Negeri,2025-06-02 09:00,selesai,"
    "2025-06-05 10:00,110.4201,-6.9902,Ani,081211112222",
    "9002,banjir,Genangan setinggi lutut setelah hujan,03/06/2025 14:30,baru,,110.4150,-6.9850,,",
    "9003,sampah,<script>alert(1)</script> sampah menumpuk,2025-06-04T08:00:00+07:00,baru,,"
    "110.41,-6.98,,",
]


def test_import_cli_validates_like_intake_and_is_idempotent(live, tmp_path) -> None:
    _, settings = live
    path = tmp_path / "lapor_export.csv"
    path.write_text("\n".join(CSV_ROWS) + "\n", encoding="utf-8")
    before = count(settings)
    res = _cli(settings, "reports", "import", str(path))
    assert res.returncode == 1 and "markup" in res.stdout and count(settings) == before
    res = _cli(settings, "reports", "import", str(path), "--skip-invalid")
    assert res.returncode == 0, res.stderr
    assert "2 stored" in res.stdout and "1 refused" in res.stdout
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            "SELECT r.report_id, r.status, r.office, r.kode_kec, r.closed_at IS NOT NULL, "
            "p.reporter_name, p.reporter_phone FROM onemap.reports r "
            "JOIN onemap_private.reports p USING (report_id) "
            "WHERE r.report_id IN ('IMP-9001', 'IMP-9002') ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("IMP-9001", "selesai", "dpu", "33.74.07", True, "Ani", "081211112222"),
        ("IMP-9002", "baru", "bpbd", "33.74.01", False, None, None),
    ]
    again = _cli(settings, "reports", "import", str(path), "--skip-invalid")
    assert "0 stored, 2 already stored" in again.stdout
    geojson = tmp_path / "wa_export.geojson"
    geojson.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [110.4201, -6.9902]},
                        "properties": {
                            "id": "WA-77", "kategori": "PJU", "kanal": "wa",
                            "uraian": "Lampu jalan mati sejak kemarin malam",
                            "tanggal": "2025-06-10T19:00:00+07:00",
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    res = _cli(settings, "reports", "import", str(geojson))
    assert res.returncode == 0 and "1 stored" in res.stdout, res.stdout + res.stderr
    assert count(settings, "report_id = 'WA-77' AND category = 'penerangan_jalan' "
                 "AND channel = 'whatsapp' AND office = 'disperkim'") == 1  # fmt: skip
