"""Private data stays private: the masking corpus, imported text, every public path.

The corpus (tests/fixtures/masking_corpus.yaml) is what residents write: telephone numbers
with any separators and prefixes, NIK numbers, e-mail addresses spelt out, the reporter's
name alone in any case, and what must survive (dates, amounts, addresses). The live test
posts such a report and searches every public answer of the server (items in every format,
tiles, records, processes, history) and what the read-only role can read for it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
import shapely
import yaml

from onemap.db.connect import role_conninfo
from onemap.reports.config import load_config
from onemap.reports.importer import row_submission
from onemap.reports.masking import mask_text
from onemap.reports.submission import Invalid, feature
from tests.reports_live import live_server, report_feature
from tests.test_api_clients import tile_index as _tile

CORPUS = yaml.safe_load(
    (Path(__file__).parent / "fixtures" / "masking_corpus.yaml").read_text(encoding="utf-8")
)
CASES = [(group, case) for group, cases in CORPUS.items() for case in cases]
MASK = load_config().intake.mask


@pytest.mark.parametrize(
    ("group", "case"), CASES, ids=[f"{g}-{i}" for i, (g, _) in enumerate(CASES)]
)
def test_masking_corpus(group: str, case: dict) -> None:
    out = mask_text(case["text"], MASK, case.get("name"), case.get("given", ()))
    for hidden in case.get("hidden", ()):
        assert hidden not in out, f"{group}: {hidden!r} survived in {out!r}"
    for kept in case.get("kept", ()):
        assert kept in out, f"{group}: {kept!r} was lost in {out!r}"
    if case.get("hidden"):
        assert MASK in out


def test_intake_masks_the_description_with_the_given_name_and_contacts() -> None:
    body = report_feature(
        "dari RAHAYU, hp 0812 / 3456 / 7890, surel sri at gmail dot com, NIK 3374012345678901",
        reporter_name="Sri Rahayu",
        reporter_phone="081234567890",
        reporter_email="sri@gmail.com",
    )
    sub = feature(json.dumps(body).encode())
    for secret in ("RAHAYU", "3456", "gmail", "3374012345678901"):
        assert secret not in sub.description
        assert secret in sub.description_original  # staff read the text as written
    assert sub.description.count(MASK) == 4


def _import_row(source: str, **props) -> dict:
    row = {
        "category": "sampah",
        "description": "Tumpukan sampah di pinggir jalan sejak 12/03/2026",
        "reported_at": "2026-03-12T08:00:00+07:00",
        "source": source,
    } | props
    return row


def test_imported_source_text_is_cleaned_like_posted_text() -> None:
    config = load_config()
    mapping = {k: k for k in ("category", "description", "reported_at", "reporter_name")}
    geom = shapely.Point(110.42, -6.99)
    row = _import_row("WA Pak Joko 0812-3456-7890", reporter_name="Joko Widodo")
    sub = row_submission(row, geom, mapping, config, row["source"])
    assert "Joko" not in sub.source and "3456" not in sub.source
    assert sub.source.startswith("WA Pak ") and MASK in sub.source
    with pytest.raises(Invalid, match="'source' contains markup"):
        row_submission(row, geom, mapping, config, "<script>alert(1)</script>")
    with pytest.raises(Invalid, match="'source' has"):
        row_submission(row, geom, mapping, config, "x" * 201)


# --- every public path of the live server -----------------------------------------


@pytest.fixture(scope="module")
def live():
    return live_server()


def test_what_stays_public_on_every_public_path(live) -> None:
    base, settings = live
    tag = uuid.uuid4().hex[:10]
    first, last = f"Wulan{tag}", f"Sasmita{tag}"
    digits = str(uuid.uuid4().int)[:8]
    phone = f"0812 / {digits[:4]} / {digits[4:]}"
    nik = "3374" + str(uuid.uuid4().int)[:12]
    local = f"w{tag}"
    text = (
        f"Saluran mampet sejak 12/03/2026. Hubungi {last.upper()} di {phone} atau "
        f"{local} at gmail dot com, NIK {nik}; salam {first.lower()}."
    )
    lon, lat = 110.4150, -6.9850
    body = report_feature(text, lon=lon, lat=lat, reporter_name=f"{first} {last}")
    body["properties"]["category"] = "drainase_tersumbat"
    r = requests.post(
        f"{base}/collections/reports/items",
        data=json.dumps(body),
        headers={"Content-Type": "application/geo+json", "X-Forwarded-For": f"10.9.{tag[:1]}.9"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    published = r.json()["properties"]["description"]
    assert "Saluran mampet sejak 12/03/2026" in published  # what stays public
    assert published.count(MASK) == 5  # name, phone, e-mail, NIK, first name
    # numbers are looked for as written, not as 4-digit pieces: a random 4-digit run turns
    # up in any page of coordinates or counts (a 50 kB catalogue page holds thousands)
    pieces = [phone, digits, f"{digits[:4]} / {digits[4:]}", f"/ {digits[4:]}"]
    needles = [tag, first, last, first.lower(), last.upper(), *pieces, nik, local]
    x, y = _tile(lon, lat, 15)
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    gets = [
        "/collections/reports/items?f=json&limit=10000",
        "/collections/reports/items?f=html&limit=10000",
        "/collections/reports/items?f=csv&limit=10000",
        "/collections/reports/items?f=jsonld&limit=10000",
        f"/collections/reports/items/{rid}?f=json",
        f"/collections/reports/items/{rid}?f=html",
        f"/collections/reports/items/{rid}?f=jsonld",
        f"/collections/reports/items?f=json&filter=report_id='{rid}'",
        f"/collections/reports/items?f=json&bbox={bbox}",
        f"/collections/reports/tiles/WebMercatorQuad/15/{y}/{x}?f=mvt",
        f"/collections/reports/tiles/WebMercatorQuad/12/{_tile(lon, lat, 12)[1]}/"
        f"{_tile(lon, lat, 12)[0]}?f=mvt",
        "/collections/reports?f=json",
        "/collections/catalog/items?f=json&limit=1000",
        "/collections/catalog/items/reports?f=json",
        "/processes/reports-evaluation?f=json",
        "/processes/indicators?f=json",
    ]
    for path in gets:
        resp = requests.get(base + path, timeout=60)
        assert resp.status_code in (200, 204), f"{path}: {resp.status_code} {resp.text[:200]}"
        blob = resp.content.decode("utf-8", errors="replace")
        for needle in needles:
            assert needle not in blob, f"{needle!r} leaked in {path}"
    tile = requests.get(base + gets[9], timeout=60)
    assert len(tile.content) > 0  # the report is in it: the absence above means something
    posts = [
        ("/processes/reports-evaluation/execution", {"inputs": {"month": "2026-03"}}),
        ("/processes/indicators/execution", {"inputs": {"indicator": "summary"}}),
        ("/processes/indicators/execution", {"inputs": {"indicator": "summary", "as_of": "1"}}),
    ]
    for path, doc in posts:
        resp = requests.post(base + path, json=doc, timeout=120)
        assert resp.status_code < 500, f"{path}: {resp.status_code} {resp.text[:200]}"
        assert all(n not in resp.text for n in needles), path
    # what the read-only role can read at all: the layer and its history (as-of queries)
    with psycopg.connect(role_conninfo("reader", settings)) as conn:
        rows = conn.execute(
            "SELECT to_jsonb(t)::text FROM onemap.reports t UNION ALL "
            "SELECT to_jsonb(h)::text FROM onemap_hist.reports h"
        ).fetchall()
    blob = "\n".join(r[0] for r in rows)
    assert rid in blob
    for needle in needles:
        assert needle not in blob, f"{needle!r} readable by the reader role"
