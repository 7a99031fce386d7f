"""QGIS 3 (Debian's python3-qgis, headless) as a client of the live server and the database.

``tests/qgis_client.py`` runs once under ``/usr/bin/python3`` and reports what QGIS saw;
these tests compare it with PostGIS and with the server's access log (what QGIS really
requested). A missing QGIS fails the tests (``make system-deps`` installs it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
import requests
from psycopg import sql
from pyproj import Transformer

from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo, read_secrets
from onemap.publish.qgis_project import ADMIN_GROUP, THEMATIC_GROUP, grouped, layer_key
from onemap.publish.styles.rules import label_field
from onemap.serve.contract import styles_dir
from tests.conftest import OUTPUT

QGIS_PYTHON = "/usr/bin/python3"
CLIENT = Path(__file__).with_name("qgis_client.py")
LAYERS = load_layers()
ROADS = LAYERS["road_condition"]  # has a date field and a coded style field
BBOX = (110.40, -7.00, 110.43, -6.97)  # central Semarang: more roads than one page
# QGIS 3.32 added OGC API Features Part 3 to its OAPIF provider (it reads /conformance and
# sends CQL2 ``filter=``); 3.22 never reads /conformance, sends only date comparisons (as
# ``datetime=``) and evaluates every other expression itself on the downloaded features.
QGIS_CQL2_VERSION = 33200
ACCESS_LINE = re.compile(r'"GET (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) .*"(?P<ua>[^"]*)"$')


@dataclass
class QgisRun:
    """What QGIS reported, what it asked the server, and the inputs it was given."""

    report: dict
    requests: list[tuple[str, dict[str, list[str]]]]  # (path, query) of QGIS's requests
    projects: dict[str, Path]
    subsets: dict[str, str]  # name -> QGIS expression


def _pk_values(settings, layer: Layer, where: sql.Composable | None = None, params=()) -> set:
    where = where if where is not None else sql.SQL("TRUE")
    query = sql.SQL("SELECT {pk} FROM {t} WHERE {w}").format(
        pk=sql.Identifier(layer.primary_key), t=sql.Identifier("onemap", layer.id), w=where
    )
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return {row[0] for row in conn.execute(query, params)}


def _median_date(settings) -> str:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return str(
            conn.execute(
                "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY survey_date) "
                "FROM onemap.road_condition"
            ).fetchone()[0]
        )


def _require_qgis() -> None:
    res = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        pytest.fail(
            "QGIS is not installed for /usr/bin/python3: run `make system-deps` as root "
            f"(apt-get install python3-qgis qgis-providers)\n{res.stderr[-500:]}"
        )


def _qgis_requests(log: Path, offset: int) -> list[tuple[str, dict[str, list[str]]]]:
    with log.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(offset)
        lines = fh.read().splitlines()
    out = []
    for line in lines:
        m = ACCESS_LINE.search(line)
        if m and "QGIS" in m["ua"]:
            target = urlsplit(m["target"])
            out.append((target.path, parse_qs(target.query)))
    return out


def _write_projects(api: str, outdir: Path) -> dict[str, Path]:
    """`onemap qgis-project`, as a user runs it."""
    subprocess.run(
        [sys.executable, "-m", "onemap.cli", "qgis-project", "--output", str(outdir), "--url", api],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return {"oapif": outdir / "onemap.qgs", "postgis": outdir / "onemap-postgis.qgs"}


@pytest.fixture(scope="module")
def qgis(api, db_settings, tmp_path_factory) -> QgisRun:
    """Run the QGIS client once against the live server; collect its report and requests."""
    _require_qgis()
    work = tmp_path_factory.mktemp("qgis")
    projects = _write_projects(api, work / "site")
    value = ROADS.style_field.values[-1].value
    subsets = {
        "date": f"\"survey_date\" >= '{_median_date(db_settings)}'",
        "attribute": f"\"{ROADS.style.field}\" = '{value}'",
    }
    request = {
        "api": api,
        "collections": {
            lid: {
                "pk": lyr.primary_key,
                "qml": str(styles_dir() / f"{lid}.qml"),
                "sld": str(styles_dir() / f"{lid}.sld"),
            }
            for lid, lyr in LAYERS.items()
        },
        "bbox": {"collection": ROADS.id, "rect": list(BBOX)},
        "subsets": [{"collection": ROADS.id, "expression": e} for e in subsets.values()],
        "projects": [str(p) for p in projects.values()],
    }
    (work / "request.json").write_text(json.dumps(request))
    home = work / "home"
    env = child_env(
        **{
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(home / "run"),
            # libpq's own variable: the PostGIS project holds no password.
            "PGPASSWORD": read_secrets(db_settings)["ONEMAP_READER_PASSWORD"],
        }
    )
    (home / "run").mkdir(parents=True, mode=0o700)
    log = OUTPUT / "pygeoapi.log"
    offset = log.stat().st_size
    res = subprocess.run(
        [QGIS_PYTHON, str(CLIENT), str(work / "request.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert res.returncode == 0, f"QGIS client failed ({res.returncode}):\n{res.stderr[-3000:]}"
    report = json.loads(res.stdout.strip().splitlines()[-1])
    (work / "report.json").write_text(json.dumps(report, indent=1))
    return QgisRun(report, _qgis_requests(log, offset), projects, subsets)


def _items_requests(run: QgisRun, collection: str) -> list[dict[str, list[str]]]:
    return [q for path, q in run.requests if path == f"/collections/{collection}/items"]


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_qgis_reads_every_feature_of_every_collection(qgis, db_settings, layer_id) -> None:
    col = qgis.report["collections"][layer_id]
    assert col["valid"], f"QGIS could not open the OAPIF layer {layer_id}"
    expected = _pk_values(db_settings, LAYERS[layer_id])
    assert col["feature_count"] == len(expected) > 0
    assert len(col["ids"]) == len(expected) and set(col["ids"]) == expected


def test_qgis_bbox_request_matches_postgis(qgis, db_settings) -> None:
    got = qgis.report["bbox"]
    assert got["valid"]
    sent = [q for q in _items_requests(qgis, ROADS.id) if "bbox" in q]
    assert sent, "QGIS did not send the rectangle to the server as bbox="
    env = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
    intersects = _pk_values(
        db_settings, ROADS, sql.SQL("ST_Intersects(geom, {})").format(env), BBOX
    )
    envelopes = _pk_values(db_settings, ROADS, sql.SQL("geom && {}").format(env), BBOX)
    assert len(intersects) > 1000  # more than one page
    # Exact intersection is PostGIS's; QGIS's rectangle filter keeps what the server sent
    # (ST_Intersects) and may only ever add features whose envelopes meet the rectangle.
    assert set(got["exact_ids"]) == intersects
    assert intersects <= set(got["bbox_ids"]) <= envelopes
    assert len(got["bbox_ids"]) == len(set(got["bbox_ids"]))


def _declared_limit(api: str) -> tuple[int | None, int | None]:
    doc = requests.get(f"{api}/openapi", params={"f": "json"}, timeout=60).json()
    schema = doc.get("components", {}).get("parameters", {}).get("limit", {}).get("schema", {})
    return schema.get("default"), schema.get("maximum")


def test_qgis_pages_at_the_declared_page_size(qgis, api) -> None:
    default, maximum = _declared_limit(api)
    assert default and maximum, (
        "the API document declares no limit default/maximum in components.parameters.limit: "
        "QGIS falls back to pages of 100"
    )
    # QGIS's rule (OAPIF provider): the declared default, raised to 1000, capped at maximum.
    expected = min(max(1000, default), maximum)
    assert expected >= 1000
    pages = [
        int(q["limit"][0])
        for lid in LAYERS
        for q in _items_requests(qgis, lid)
        if "limit" in q and q != {"limit": ["10"]}  # QGIS probes each layer with limit=10
    ]
    assert pages and set(pages) == {expected}, f"QGIS sent limit={sorted(set(pages))}"


def test_qgis_sends_a_date_subset_to_the_server(qgis, db_settings) -> None:
    expression = qgis.subsets["date"]
    got = next(s for s in qgis.report["subsets"] if s["expression"] == expression)
    assert got["ok"]
    since = expression.split("'")[1]
    expected = _pk_values(db_settings, ROADS, sql.SQL("survey_date >= %s"), (since,))
    assert set(got["ids"]) == expected and len(got["ids"]) == len(expected)
    sent = [q for q in _items_requests(qgis, ROADS.id) if "datetime" in q]
    assert sent and all(q["datetime"][0].startswith(since) for q in sent)


def test_qgis_sends_an_attribute_subset_as_a_filter(qgis, db_settings) -> None:
    expression = qgis.subsets["attribute"]
    got = next(s for s in qgis.report["subsets"] if s["expression"] == expression)
    value = expression.split("'")[1]
    expected = _pk_values(
        db_settings, ROADS, sql.SQL("{} = %s").format(sql.Identifier(ROADS.style.field)), (value,)
    )
    assert got["ok"] and set(got["ids"]) == expected and len(got["ids"]) == len(expected)
    if qgis.report["qgis_version_int"] >= QGIS_CQL2_VERSION:
        sent = [q for q in _items_requests(qgis, ROADS.id) if "filter" in q]
        assert sent, "QGIS filtered client-side: /conformance must list the CQL2 filter classes"
        assert all(value in q["filter"][0] for q in sent)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_qgis_loads_the_generated_styles(qgis, layer_id) -> None:
    layer, col = LAYERS[layer_id], qgis.report["collections"][layer_id]
    qml, sld = col["qml"], col["sld"]
    assert qml["ok"], qml["message"]
    assert sld["ok"], sld["message"]
    labelled = label_field(layer)
    assert qml["labels"]["enabled"] == bool(labelled)
    assert qml["labels"]["field"] == labelled
    if layer.style_field is None:
        assert qml["renderer"] == sld["renderer"] == "singleSymbol"
        assert qml["color"] == layer.style.color.lower()
        return
    values = layer.style_field.values
    assert qml["renderer"] == "categorizedSymbol" and qml["attr"] == layer.style.field
    assert [c[0] for c in qml["categories"]] == [v.value for v in values]
    assert [c[2] for c in qml["categories"]] == [
        (v.color or layer.style.color).lower() for v in values
    ]
    assert qml["categories"][0][1].startswith(values[0].label)
    assert sld["renderer"] == "RuleRenderer" and sld["rules"] == len(values)


def _expected_groups() -> list[list]:
    return [
        [name, [layer_key(lyr) for lyr in members]] for name, members in grouped(LAYERS.values())
    ]


@pytest.mark.parametrize("variant", ["oapif", "postgis"])
def test_qgis_opens_the_generated_projects(qgis, db_settings, variant) -> None:
    project = qgis.report["projects"][str(qgis.projects[variant])]
    assert project["read"]
    assert project["crs"] == project["view_crs"] == f"EPSG:{get_city().metric_crs}"
    x0, y0, x1, y1 = project["view_extent"]
    to_utm = Transformer.from_crs(4326, get_city().metric_crs, always_xy=True)
    cx0, cy0, cx1, cy1 = to_utm.transform_bounds(*get_city().bbox)
    assert x0 <= cx0 < cx1 <= x1 and y0 <= cy0 < cy1 <= y1
    assert project["groups"] == _expected_groups()
    assert [g[0] for g in project["groups"]] == [ADMIN_GROUP, THEMATIC_GROUP]
    assert project["groups"][0][1][0] == layer_key(LAYERS["admin_kecamatan"])  # on top
    provider = {"oapif": "OAPIF", "postgis": "postgres"}[variant]
    assert set(project["layers"]) == {layer_key(lyr) for lyr in LAYERS.values()}
    for lid, layer in LAYERS.items():
        got = project["layers"][layer_key(layer)]
        assert got["valid"] and got["provider"] == provider, (lid, got)
        assert got["feature_count"] == len(_pk_values(db_settings, layer)), lid
        kind = "categorizedSymbol" if layer.style_field else "singleSymbol"
        assert got["renderer"] == kind, lid
        if layer.style_field:
            assert len(got["categories"]) == len(layer.style_field.values), lid


def test_postgis_project_holds_no_password(qgis, db_settings) -> None:
    text = qgis.projects["postgis"].read_text(encoding="utf-8")
    assert "user='onemap_reader'" in text and "password" not in text.lower()
    for secret in read_secrets(db_settings).values():
        assert secret not in text
