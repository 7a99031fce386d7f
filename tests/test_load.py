"""Loading files into layers: what succeeds, what is refused, and that nothing is lost.

These tests load into the scratch database so the served demo data stays stable.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
from psycopg import sql
from shapely.geometry import LineString, Polygon

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer, load_layers
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from onemap.load.progress import RichProgress

ROADS = get_layer("road_condition")
FLOOD = get_layer("flood_zones")


def road_frame(n: int = 3, **overrides) -> gpd.GeoDataFrame:
    rows = []
    for i in range(n):
        x = 110.42 + i * 0.001
        rows.append(
            {
                "segment_id": f"t-{i}",
                "name": f"Jalan Uji {i}",
                "status": "kota",
                "function": "lokal",
                "surface": "aspal",
                "width_m": 6.0,
                "condition": "baik",
                "iri": 3.1,
                "survey_date": "2025-06-01",
                "geometry": LineString([(x, -6.99), (x + 0.0005, -6.9905)]),
            }
        )
    frame = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    for col, values in overrides.items():
        frame[col] = values
    return frame


def snapshot(settings, layer_id: str) -> tuple[int, str]:
    """Row count and a digest of the whole published table."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)), count(*) FROM {} t"
            ).format(sql.Identifier("onemap", layer_id))
        ).fetchone()
    return rows[1], rows[0] or ""


def last_run(settings, layer_id: str) -> tuple:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT load_id, status, message, rows_read, rows_loaded, rows_rejected, source_sha256 "
            "FROM onemap_meta.loads WHERE layer = %s ORDER BY load_id DESC LIMIT 1",
            (layer_id,),
        ).fetchone()


@pytest.fixture()
def published_roads(scratch_settings, tmp_path):
    """A known good version of road_condition in the scratch database."""
    path = tmp_path / "good.gpkg"
    road_frame(5).to_file(path)
    load_layer(ROADS, path, settings=scratch_settings)
    before = snapshot(scratch_settings, "road_condition")
    assert before[0] == 5
    return before


def test_demo_layers_all_load(loaded, db_settings, demo_dir) -> None:
    # every layer, a live one (its demo_loader goes through its own intake) included
    assert set(loaded) == {lid for lid, lyr in load_layers().items() if lyr.demo_file}
    for lid, n in loaded.items():
        layer = get_layer(lid)
        src = gpd.read_file(demo_dir / layer.demo_file)
        assert n == len(src) > 0, lid
        assert snapshot(db_settings, lid)[0] == n
        run = last_run(db_settings, lid)
        assert run[1] == "succeeded" and run[4] == n and run[5] == 0
        sha = hashlib.sha256((demo_dir / layer.demo_file).read_bytes()).hexdigest()
        assert run[6] == sha


def test_admin_layers_carry_the_real_codes(loaded, db_settings) -> None:
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        codes = [
            r[0] for r in conn.execute("SELECT kode_kec FROM onemap.admin_kecamatan ORDER BY 1")
        ]
        pop = conn.execute("SELECT sum(penduduk_total) FROM onemap.admin_kecamatan").fetchone()[0]
        kel = conn.execute(
            "SELECT count(DISTINCT kode_kel) FROM onemap.admin_kelurahan"
        ).fetchone()[0]
    assert codes == [f"33.74.{i:02d}" for i in range(1, 17)]
    assert pop == 1_722_421  # BPS 2025 city total (data/real/PROVENANCE.md)
    assert kel == 177


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not geodata at all\n", "not a geodata file GDAL can read"),
        (b"", "the file is empty"),
        (b'{"type": "FeatureCollection", "features": [', "not a geodata file GDAL can read"),
    ],
    ids=["text", "empty", "truncated-geojson"],
)
def test_unreadable_file_is_refused_and_nothing_lost(
    scratch_settings, published_roads, tmp_path, content, expected
) -> None:
    bad = tmp_path / "roads.geojson"
    bad.write_bytes(content)
    with pytest.raises(LoadError, match=expected) as exc:
        load_layer(ROADS, bad, settings=scratch_settings)
    assert str(bad) in str(exc.value)
    assert snapshot(scratch_settings, "road_condition") == published_roads
    assert last_run(scratch_settings, "road_condition")[1] == "failed"


def test_missing_required_column_names_it(scratch_settings, published_roads, tmp_path) -> None:
    bad = tmp_path / "roads.gpkg"
    road_frame().drop(columns=["condition"]).to_file(bad)
    with pytest.raises(LoadError, match=r"no column for required field\(s\) condition .*kondisi"):
        load_layer(ROADS, bad, settings=scratch_settings)
    assert snapshot(scratch_settings, "road_condition") == published_roads


def test_unknown_values_are_rejected_with_row_and_reason(
    scratch_settings, published_roads, tmp_path
) -> None:
    bad = tmp_path / "roads.gpkg"
    road_frame(4, condition=["baik", "hancur", "sedang", "RB"]).to_file(bad)
    with pytest.raises(
        LoadError, match=r"1 of 4 rows rejected .*row 2: unknown value for 'condition'"
    ):
        load_layer(ROADS, bad, settings=scratch_settings)
    assert snapshot(scratch_settings, "road_condition") == published_roads
    run = last_run(scratch_settings, "road_condition")
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        rejects = conn.execute(
            "SELECT row_number, field, value, reason FROM onemap_meta.rejects WHERE load_id = %s",
            (run[0],),
        ).fetchall()
    assert rejects == [
        (
            2,
            "condition",
            "hancur",
            "unknown value for 'condition'; allowed: baik, sedang, rusak_ringan, rusak_berat",
        )
    ]


def test_synonyms_map_onto_the_vocabulary(scratch_settings, tmp_path) -> None:
    path = tmp_path / "roads.gpkg"
    road_frame(
        4,
        condition=["Rusak Berat", "RB", "rusak-ringan", "Baik"],
        status=["Kota", "NASIONAL", "prov", "kota"],
    ).to_file(path)
    res = load_layer(ROADS, path, settings=scratch_settings)
    assert res.rows_loaded == 4
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        got = conn.execute(
            "SELECT condition, status FROM onemap.road_condition ORDER BY segment_id"
        ).fetchall()
    assert got == [
        ("rusak_berat", "kota"),
        ("rusak_berat", "nasional"),
        ("rusak_ringan", "provinsi"),
        ("baik", "kota"),
    ]


def test_duplicate_keys_and_swapped_coordinates_are_rejected(scratch_settings, tmp_path) -> None:
    frame = road_frame(40)
    frame.loc[5, "segment_id"] = "t-0"
    frame.loc[7, "geometry"] = LineString([(-6.99, 110.42), (-6.991, 110.421)])
    path = tmp_path / "roads.geojson"
    frame.to_file(path)
    res = load_layer(ROADS, path, settings=scratch_settings)
    reasons = {r.row: r.reason for r in res.rejects}
    assert res.rows_loaded == 38
    assert reasons == {
        6: "duplicate key 't-0' (first at row 1)",
        8: "coordinates look swapped (lat/lon instead of lon/lat)",
    }


def test_utm_input_is_reprojected(scratch_settings, tmp_path) -> None:
    path = tmp_path / "roads_utm.gpkg"
    road_frame(2).to_crs(32749).to_file(path)
    load_layer(ROADS, path, settings=scratch_settings)
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        x, y = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_StartPoint(ST_GeometryN(geom, 1)) AS p "
            "FROM onemap.road_condition WHERE segment_id = 't-0') s"
        ).fetchone()
    assert x == pytest.approx(110.42, abs=1e-7) and y == pytest.approx(-6.99, abs=1e-7)


def test_shapefile_without_prj_needs_source_crs(
    scratch_settings, published_roads, tmp_path
) -> None:
    path = tmp_path / "roads.shp"
    road_frame(3).to_crs(32749).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(LoadError, match=r"declares no coordinate reference system \(no \.prj"):
        load_layer(ROADS, path, settings=scratch_settings)
    assert snapshot(scratch_settings, "road_condition") == published_roads
    res = load_layer(ROADS, path, source_crs="EPSG:32749", settings=scratch_settings)
    assert res.rows_loaded == 3


def test_wrong_crs_puts_features_outside_the_city(
    scratch_settings, published_roads, tmp_path
) -> None:
    path = tmp_path / "roads.shp"
    road_frame(3).to_crs(32749).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(LoadError, match=r"row 1: outside Kota Semarang"):
        load_layer(ROADS, path, source_crs="EPSG:23835", settings=scratch_settings)
    assert snapshot(scratch_settings, "road_condition") == published_roads


def test_invalid_polygon_is_repaired_and_counted(scratch_settings, tmp_path) -> None:
    bowtie = Polygon([(110.40, -6.96), (110.41, -6.95), (110.41, -6.96), (110.40, -6.95)])
    square = Polygon([(110.42, -6.96), (110.43, -6.96), (110.43, -6.95), (110.42, -6.95)])
    frame = gpd.GeoDataFrame(
        {
            "zone_id": ["a", "b"],
            "hazard": ["Tinggi", "low"],
            "flood_type": ["rob", "hujan"],
            "geometry": [bowtie, square],
        },
        crs="EPSG:4326",
    )
    path = tmp_path / "flood.geojson"
    frame.to_file(path)
    res = load_layer(FLOOD, path, settings=scratch_settings)
    assert (res.rows_loaded, res.rows_repaired) == (2, 1)
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        valid, gtype = conn.execute(
            "SELECT bool_and(ST_IsValid(geom)), min(GeometryType(geom)) FROM onemap.flood_zones"
        ).fetchone()
    assert valid and gtype == "MULTIPOLYGON"


def test_csv_with_wkt_and_with_lon_lat(scratch_settings, tmp_path) -> None:
    wkt = tmp_path / "roads_wkt.csv"
    wkt.write_text(
        "segment_id,status,fungsi,kondisi,wkt\n"
        's1,kota,lokal,baik,"LINESTRING (110.42 -6.99, 110.421 -6.991)"\n'
        's2,kota,lokal,sedang,"LINESTRING (110.43 -6.99, 110.431 -6.991)"\n'
    )
    assert load_layer(ROADS, wkt, settings=scratch_settings).rows_loaded == 2


def test_cli_prints_a_message_not_a_traceback(scratch_settings, tmp_path) -> None:
    bad = tmp_path / "laporan.txt"
    bad.write_text("hello")
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name})
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "load", "road_condition", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 1
    assert "error:" in res.stderr and str(bad.name) in res.stderr.replace("\n", "")
    assert "Traceback" not in res.stderr + res.stdout


def test_cli_unknown_layer_lists_the_known_ones(tmp_path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "load", "roads", str(Path(__file__))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1 and "unknown layer 'roads'" in res.stderr
    assert "road_condition" in res.stderr and "Traceback" not in res.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_shows_on_a_terminal_only(scratch_settings, tmp_path) -> None:
    path = tmp_path / "roads.gpkg"
    road_frame(30).to_file(path)
    term, pipe = _Terminal(), io.StringIO()
    load_layer(
        ROADS, path, settings=scratch_settings, progress=RichProgress(0, term), batch_size=10
    )
    load_layer(
        ROADS, path, settings=scratch_settings, progress=RichProgress(0, pipe), batch_size=10
    )
    assert "road_condition" in term.getvalue() and "30" in term.getvalue()
    assert pipe.getvalue() == ""
