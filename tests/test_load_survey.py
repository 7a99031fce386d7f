"""A road-condition survey by link and chainage becomes road_condition segments: cut out of
the network by linear referencing, classified by IRI/SDI, bad rows refused with the reason,
gaps and overlaps reported, and the road_condition indicator computed from surveyed lengths."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import psycopg
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, box, mapping

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.indicators.compute import Request, compute
from onemap.load.loader import load_layer
from onemap.load.survey import classify, fmt_sta, parse_sta

ROADS = get_layer("road_condition")
UTM = "EPSG:32749"  # the city's metric CRS: chainage is measured in it
X0, Y0 = 435000, 9226000  # central Semarang


def network(path):
    """R01: 1000 m, R02: 500 m (both straight, eastwards), R03: two separate pieces."""
    links = [
        ("R01", "Jl. Pandanaran", "kota", "kolektor",
         LineString([(X0, Y0), (X0 + 400, Y0), (X0 + 1000, Y0)])),
        ("R02", "Jl. Pahlawan", "provinsi", "arteri",
         LineString([(X0, Y0 - 1000), (X0 + 500, Y0 - 1000)])),
        ("R03", "Jl. Putus", "kota", "lokal",
         MultiLineString([[(X0, Y0 - 2000), (X0 + 100, Y0 - 2000)],
                          [(X0 + 200, Y0 - 2000), (X0 + 300, Y0 - 2000)]])),
    ]  # fmt: skip
    frame = gpd.GeoDataFrame(
        {
            "segment_id": [x[0] for x in links],
            "name": [x[1] for x in links],
            "status": [x[2] for x in links],
            "function": [x[3] for x in links],
            "surface": "aspal",
            "width_m": 7.0,
            "condition": "baik",  # the network's own, replaced by the survey
        },
        geometry=[x[4] for x in links],
        crs=UTM,
    )
    frame.to_file(path, driver="GPKG")
    return path


SURVEY = """\
no_ruas,sta_awal,sta_akhir,iri,sdi,kondisi,tanggal_survei
R01,0+000,0+100,3.0,40,,2026-03-01
R01,0+100,0+200,5.0,40,,2026-03-01
R01,0+200,0+400,9.0,120,,2026-03-01
R01,0+500,0+700,3.0,160,,2026-03-01
R01,0+650,0+800,13.0,,,2026-03-02
R01,0+800,1+000,,,B,2026-03-02
R02,0,500,4.0,,,2026-03-03
R99,0+000,0+100,3.0,,,2026-03-03
R02,0+400,0+560,3.0,,,2026-03-03
R01,0+300,0+250,3.0,,,2026-03-03
R03,0+000,0+050,3.0,,,2026-03-03
R01,abc,0+100,3.0,,,2026-03-03
R02,0+100,0+200,,,,2026-03-03
R02,0+505,0+515,3.0,,,2026-03-03
"""
# line -> (class, metres): rows 2-8 are good
GOOD = {
    "R01/0+000-0+100": ("baik", 100),
    "R01/0+100-0+200": ("sedang", 100),
    "R01/0+200-0+400": ("rusak_ringan", 200),
    "R01/0+500-0+700": ("rusak_berat", 200),  # IRI baik, SDI 160 rusak berat: the worse
    "R01/0+650-0+800": ("rusak_berat", 150),
    "R01/0+800-1+000": ("baik", 200),
    "R02/0+000-0+500": ("sedang", 500),  # IRI 4.0 sits on the bound: the worse class
}


@pytest.fixture(scope="module")
def surveyed(scratch_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    load_layer(ROADS, network(folder / "links.gpkg"), settings=scratch_settings)
    csv = folder / "survei_2026.csv"
    csv.write_text(SURVEY, encoding="utf-8")
    notes: list[str] = []
    res = load_layer(
        ROADS,
        csv,
        network="road_condition",
        settings=scratch_settings,
        max_reject_ratio=0.5,
        notify=notes.append,
    )
    return res, notes


def published(settings) -> dict[str, tuple]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        found = conn.execute(
            "SELECT segment_id, condition, ST_Length(ST_Transform(geom, 32749)), name, status, "
            "function, iri, survey_date::text, source FROM onemap.road_condition"
        ).fetchall()
    return {r[0]: r[1:] for r in found}


def test_survey_rows_become_segments_of_their_links(surveyed, scratch_settings) -> None:
    res, _ = surveyed
    got = published(scratch_settings)
    assert sorted(got) == sorted(GOOD)
    for key, (condition, metres) in GOOD.items():
        assert got[key][0] == condition, key
        assert got[key][1] == pytest.approx(metres, abs=0.01), key
    assert got["R01/0+200-0+400"][2:] == (
        "Jl. Pandanaran", "kota", "kolektor", 9.0, "2026-03-01", "survey:survei_2026.csv"
    )  # fmt: skip
    assert got["R02/0+000-0+500"][2:5] == ("Jl. Pahlawan", "provinsi", "arteri")
    assert res.rows_read == 14 and res.rows_loaded == 7 and res.rows_rejected == 7


def test_bad_rows_are_refused_with_the_reason(surveyed) -> None:
    res, _ = surveyed
    why = {r.row: r.reason for r in res.rejects}
    assert "unknown link 'R99'" in why[9]
    assert "STA to 0+560 is past the end of link 'R02' (500 m long; tolerance 20 m)" in why[10]
    assert "STA to 0+250 is not after STA from 0+300" in why[11]
    assert "'R03' is not one continuous line (2 parts)" in why[12]
    assert "STA from 'abc' is not a chainage" in why[13]
    assert "no condition class, and no IRI or SDI" in why[14]
    assert "STA from 0+505 is at or past the end of link 'R02' (500 m long)" in why[15]
    assert {r.field for r in res.rejects} == {"no_ruas", "sta_awal", "sta_akhir", "kondisi"}


def test_gaps_and_overlaps_are_reported(surveyed) -> None:
    res, notes = surveyed
    assert res.details["survey_gaps"] == 1 and res.details["survey_overlaps"] == 1
    assert res.details["survey_chainage"] == [
        "R01: gap 0+400–0+500 (100 m)",
        "R01: overlap 0+650–0+700 (50 m, row 6)",
    ]
    assert any("chainage R01: gap 0+400–0+500" in n for n in notes)


def test_indicator_comes_from_surveyed_lengths(surveyed, scratch_settings) -> None:
    to_wgs = Transformer.from_crs(32749, 4326, always_xy=True).transform
    square = box(X0 - 100, Y0 - 1500, X0 + 1100, Y0 + 100)
    area = mapping(shapely.transform(square, to_wgs, interleaved=False))
    result = compute(Request("road_condition", polygon=area), settings=scratch_settings)[0]
    (row,) = [r for r in result.rows if r["by"] == "all"]
    total = sum(m for _, m in GOOD.values())  # 1450 m, the overlap counted in both rows
    heavy = sum(m for c, m in GOOD.values() if c == "rusak_berat")
    mantap = sum(m for c, m in GOOD.values() if c in ("baik", "sedang"))
    assert row["length_km"] == pytest.approx(total / 1000, abs=1e-4)
    assert row["heavy_damage_pct"] == pytest.approx(100 * heavy / total, abs=0.01)
    assert row["mantap_pct"] == pytest.approx(100 * mantap / total, abs=0.01)


def test_a_survey_of_unknown_links_is_refused_naming_the_file(scratch_settings, tmp_path):
    load_layer(ROADS, network(tmp_path / "links.gpkg"), settings=scratch_settings)
    csv = tmp_path / "salah.csv"
    csv.write_text("no_ruas;sta_awal;sta_akhir;iri\nX1;0+000;0+100;3\nX2;0+000;0+100;3\n")
    with pytest.raises(LoadError, match=r"salah\.csv: 2 of 2 rows rejected.*unknown link 'X1'"):
        load_layer(ROADS, csv, network="road_condition", settings=scratch_settings)
    headless = tmp_path / "tanpa_sta.csv"
    headless.write_text("no_ruas,iri\nR01,3\n")
    with pytest.raises(LoadError, match=r"tanpa_sta\.csv: no column for the chainage"):
        load_layer(ROADS, headless, network="road_condition", settings=scratch_settings)


def test_chainage_and_classes() -> None:
    assert parse_sta("1+250") == 1250 and parse_sta("0+050,5") == 50.5
    assert parse_sta("1250") == 1250 and parse_sta("1+2+3") is None
    assert fmt_sta(1250) == "1+250" and fmt_sta(50) == "0+050"
    rules = ROADS.survey
    assert classify(rules, 3.9, None) == "baik" and classify(rules, 12.0, None) == "rusak_berat"
    assert classify(rules, 3.0, 120) == "rusak_ringan" and classify(rules, None, None) is None


def test_the_command_line_loads_a_survey(scratch_settings, tmp_path) -> None:
    """`onemap load road_condition survey.csv --network road_condition`, as a user types it:
    the summary names the gap; a missing network layer is a message, not a traceback."""
    load_layer(ROADS, network(tmp_path / "links.gpkg"), settings=scratch_settings)
    csv = tmp_path / "survei.csv"
    csv.write_text("no_ruas;sta_awal;sta_akhir;iri\nR01;0+000;0+400;3\nR01;0+500;1+000;9\n")
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name, "COLUMNS": "200"})
    cmd = [sys.executable, "-m", "onemap.cli", "load", "road_condition", str(csv)]
    res = subprocess.run(
        [*cmd, "--network", "road_condition"], capture_output=True, text=True, env=env, check=False
    )
    assert res.returncode == 0, res.stderr
    assert "2 of 2 rows published" in res.stdout
    assert "chainage R01: gap 0+400–0+500 (100 m)" in res.stderr
    res = subprocess.run(
        [*cmd, "--network", "jalan"], capture_output=True, text=True, env=env, check=False
    )
    assert res.returncode == 1 and "unknown layer 'jalan'" in res.stderr
    assert "Traceback" not in res.stderr
