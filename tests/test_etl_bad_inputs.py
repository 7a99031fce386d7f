"""The bad-input corpus (tests/fixtures/bad/, written by tests/fixtures/make_bad.py).

Every refused file gets a message naming the file, the row when there is one, and the
reason, and leaves the published layer exactly as it was. The files that load anyway
(a Latin-1 DBF, 3D lines, repairable polygons) say what was done to them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from tests.test_load import road_frame, snapshot

BAD = Path(__file__).parent / "fixtures" / "bad"
ROADS = get_layer("road_condition")
FLOOD = get_layer("flood_zones")

# file, layer, what the error message must say (a regular expression)
REFUSED = [
    ("truncated_shp/roads.shp", ROADS, r"the \.shp is truncated \(\d+ of the \d+ bytes"),
    ("no_prj/roads.shp", ROADS, r"declares no coordinate reference system \(no \.prj"),
    (
        "wrong_crs/roads.shp",
        ROADS,
        r"row 1: outside Kota Semarang .* when read as EPSG:4326: wrong CRS or wrong coordinates",
    ),
    (
        "invalid_polygons.geojson",
        FLOOD,
        r"row 2: invalid geometry \(Self-intersection.*\) that cannot be repaired into a polygon",
    ),
    (
        "unknown_values.geojson",
        ROADS,
        r"row 2: unknown value for 'condition'; allowed: baik, sedang, rusak_ringan, "
        r"rusak_berat \(hancur\)",
    ),
    ("duplicate_keys.geojson", ROADS, r"row 3: duplicate key 'r-1' \(first at row 1\)"),
    ("empty.geojson", ROADS, r"the file is empty"),
    ("no_features.geojson", ROADS, r"holds no features"),
    ("swapped.geojson", ROADS, r"row 1: coordinates look swapped \(lat/lon instead of lon/lat\)"),
    (
        "mixed_types.geojson",
        ROADS,
        r"row 2: geometry type Point not allowed: layer 'road_condition' takes MultiLineString",
    ),
    (
        "degenerate_line.geojson",
        ROADS,
        r"row 2: invalid geometry \(Too few points.*\) that cannot be repaired into a line "
        r"\(LINESTRING \(110\.425 -6\.99, 110\.425 -6\.99\)\)",
    ),
    (
        "broken_wkt.csv",
        ROADS,
        r"row 4: unreadable geometry \(not valid WKB/WKT\) \(LINESTRING \(110\.44 -6\.99, 110\.4\)",
    ),
    ("notes.txt", ROADS, r"not a geodata file GDAL can read"),
]


@pytest.fixture()
def published(scratch_settings, tmp_path):
    """A known good version of road_condition and flood_zones in the scratch database."""
    path = tmp_path / "good.gpkg"
    road_frame(5).to_file(path)
    load_layer(ROADS, path, settings=scratch_settings)
    load_layer(FLOOD, BAD / "self_intersecting.geojson", settings=scratch_settings)
    return {lid: snapshot(scratch_settings, lid) for lid in ("road_condition", "flood_zones")}


@pytest.mark.parametrize(
    ("name", "layer", "expected"), REFUSED, ids=[c[0].split("/")[0] for c in REFUSED]
)
def test_bad_file_is_refused_with_its_reason(
    scratch_settings, published, name, layer, expected
) -> None:
    path = BAD / name
    with pytest.raises(LoadError, match=expected) as exc:
        load_layer(layer, path, settings=scratch_settings)
    assert str(exc.value).startswith(str(path)), "the message names the file first"
    for lid, before in published.items():
        assert snapshot(scratch_settings, lid) == before, f"{lid} changed"
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        status, message = conn.execute(
            "SELECT status, message FROM onemap_meta.loads WHERE layer = %s "
            "ORDER BY load_id DESC LIMIT 1",
            (layer.id,),
        ).fetchone()
        stages = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'onemap_stage' AND tablename = %s",
            (layer.id,),
        ).fetchone()[0]
    assert status == "failed" and message == str(exc.value)
    assert stages == 0, "a refused load leaves no staging table behind"


def test_latin1_dbf_reads_as_windows_text(scratch_settings, published) -> None:
    res = load_layer(ROADS, BAD / "latin1" / "jalan.shp", settings=scratch_settings)
    assert res.rows_loaded == 3 and res.details["encoding"] == "CP1252"
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM onemap.road_condition ORDER BY 1")]
    assert names == ["Café Tugu", "Jalan Pemuda – Kauman", "Kelurahan Bulustalan"]


def test_3d_lines_are_flattened_and_counted(scratch_settings, published) -> None:
    res = load_layer(ROADS, BAD / "roads_3d.geojson", settings=scratch_settings)
    assert (res.rows_loaded, res.details["z_dropped"]) == (3, 3)
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        dims = conn.execute("SELECT DISTINCT ST_NDims(geom) FROM onemap.road_condition").fetchall()
    assert dims == [(2,)]


def test_self_intersecting_polygons_are_repaired(scratch_settings, published) -> None:
    res = load_layer(FLOOD, BAD / "self_intersecting.geojson", settings=scratch_settings)
    assert (res.rows_loaded, res.rows_repaired) == (2, 2)
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        valid, kind, parts = conn.execute(
            "SELECT bool_and(ST_IsValid(geom)), min(GeometryType(geom)), "
            "sum(ST_NumGeometries(geom)) FROM onemap.flood_zones"
        ).fetchone()
    assert valid and kind == "MULTIPOLYGON" and parts == 4  # each bow-tie: two triangles


def test_rejects_file_lists_every_problem(scratch_settings, published, tmp_path) -> None:
    out = tmp_path / "rejects.csv"
    with pytest.raises(LoadError):
        load_layer(ROADS, BAD / "mixed_types.geojson", settings=scratch_settings, rejects_file=out)
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,field,value,reason"
    assert lines[1] == (
        "2,geometry,POINT (110.425 -6.99),geometry type Point not allowed: "
        "layer 'road_condition' takes MultiLineString"
    )


def test_max_reject_ratio_lets_a_partly_bad_file_through(scratch_settings, published) -> None:
    res = load_layer(
        ROADS, BAD / "unknown_values.geojson", settings=scratch_settings, max_reject_ratio=0.5
    )
    assert (res.rows_loaded, res.rows_rejected) == (2, 1)
    with pytest.raises(LoadError, match=r"above the limit of 10\.0% \(--max-reject-ratio\)"):
        load_layer(
            ROADS, BAD / "unknown_values.geojson", settings=scratch_settings, max_reject_ratio=0.1
        )


@pytest.mark.parametrize("name", ["truncated_shp/roads.shp", "notes.txt", "swapped.geojson"])
def test_cli_prints_the_reason_without_a_traceback(scratch_settings, published, name) -> None:
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name, "COLUMNS": "200"})
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "load", "road_condition", str(BAD / name)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and str(BAD / name) in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert snapshot(scratch_settings, "road_condition") == published["road_condition"]
