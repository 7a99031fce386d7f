"""Indicators on hand-computable fixtures, loaded into the scratch database by the loader.

The fixture is a 4 × 4 grid of 1 km squares in WGS 84 / UTM 49S (the metric CRS), one
square per kecamatan 33.74.01…16, numbered row by row from the south-west:

    13 14 15 16
    09 10 11 12
    05 06 07 08
    01 02 03 04        (x, y in metres from the grid's south-west corner)

Files are written in EPSG:32749 and go through ``load_layer`` (reprojected to the storage
CRS and back by the indicators), so every figure below is exact up to rounding.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import geopandas as gpd
import psycopg
import pytest
from psycopg import sql
from pyproj import Transformer
from shapely.geometry import LineString, box, mapping
from shapely.ops import transform

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.indicators import Request, compute, district_choropleths, document, write_exports
from onemap.indicators.config import load_config, load_treatments
from onemap.load.loader import load_layer

E0, N0 = 430_000.0, 9_222_000.0  # grid origin, EPSG:32749 (inside Kota Semarang's extent)
CITY = "33.74"
CFG = load_config()


def at(geom):
    """A geometry from grid metres to EPSG:32749 coordinates."""
    return transform(lambda x, y: (x + E0, y + N0), geom)


def district_code(i: int) -> str:
    return f"33.74.{i:02d}"


def fixture_frames() -> dict[str, gpd.GeoDataFrame]:
    kec = [
        {
            "kode_kec": district_code(row * 4 + col + 1),
            "nama_kec": f"Uji {row * 4 + col + 1:02d}",
            "geometry": at(box(col * 1000, row * 1000, (col + 1) * 1000, (row + 1) * 1000)),
        }
        for row in range(4)
        for col in range(4)
    ]
    flood = [
        # tinggi over exactly the southern half of district 01
        {"zone_id": "F1", "hazard": "tinggi", "flood_type": "rob", "g": box(0, 0, 1000, 500)},
        # sedang: half inside F1 (counts as tinggi there), 500 × 250 m in district 02
        {"zone_id": "F2", "hazard": "sedang", "flood_type": "hujan", "g": box(500, 0, 1500, 250)},
        # rendah entirely inside F1: adds nothing
        {"zone_id": "F3", "hazard": "rendah", "flood_type": "rob", "g": box(0, 250, 1000, 500)},
    ]
    roads = [
        # 1 km, 6 m, rusak berat: 900 m in 01 (inside F1), 100 m in 02 (inside F2)
        ("R1", "kota", "lokal", 6.0, "rusak_berat", [(100, 200), (1100, 200)]),
        # 1 km, baik: 500 m in 05, 500 m in 06
        ("R2", "nasional", "arteri", 7.0, "baik", [(500, 1500), (1500, 1500)]),
        # 800 m, sedang, in 03
        ("R3", "kota", "kolektor", 5.0, "sedang", [(2500, 100), (2500, 900)]),
        # 500 m, rusak ringan, in 01 inside F1
        ("R4", "provinsi", "kolektor", 8.0, "rusak_ringan", [(200, 100), (700, 100)]),
        # 400 m, baik, no width, in 16
        ("R5", "kota", "lingkungan", None, "baik", [(3500, 3500), (3500, 3900)]),
    ]
    drains = [
        # primer 50 m south of the grid: serves a strip of the flood zones
        ("D1", "primer", [(-500, -50), (1500, -50)]),
        # sekunder, 800 m in 06, far from any flood zone
        ("D2", "sekunder", [(1500, 1100), (1500, 1900)]),
        # tersier, 400 m in 01, 50 m from F1: tersier serves nothing
        ("D3", "tersier", [(500, 550), (500, 950)]),
    ]
    zoning = [
        {"zone_id": "Z1", "zone_code": "R-1", "g": box(0, 0, 1000, 1000)},
        {"zone_id": "Z2", "zone_code": "K-1", "g": box(1000, 0, 2000, 1000)},
    ]

    def frame(rows):
        return gpd.GeoDataFrame(rows, crs="EPSG:32749")

    return {
        "admin_kecamatan": frame(kec),
        "flood_zones": frame(
            [{**{k: v for k, v in z.items() if k != "g"}, "geometry": at(z["g"])} for z in flood]
        ),
        "road_condition": frame(
            [
                {
                    "segment_id": s,
                    "status": st,
                    "function": fn,
                    "width_m": w,
                    "condition": c,
                    "geometry": at(LineString(xy)),
                }
                for s, st, fn, w, c, xy in roads
            ]
        ),
        "drainage": frame(
            [
                {
                    "channel_id": c,
                    "hierarchy": h,
                    "channel_type": "terbuka",
                    "geometry": at(LineString(xy)),
                }
                for c, h, xy in drains
            ]
        ),
        "zoning": frame(
            [{**{k: v for k, v in z.items() if k != "g"}, "geometry": at(z["g"])} for z in zoning]
        ),
    }


@pytest.fixture(scope="module")
def grid(scratch_settings, tmp_path_factory):
    """The fixture layers, published in the scratch database through the production loader."""
    folder = tmp_path_factory.mktemp("indicators")
    for layer_id, frame in fixture_frames().items():
        path = folder / f"{layer_id}.gpkg"
        frame.to_file(path, driver="GPKG")
        res = load_layer(get_layer(layer_id), path, settings=scratch_settings)
        assert res.rows_rejected == 0, res.rejects
    return scratch_settings


def one(settings, indicator: str, **kwargs):
    request_keys = ("kecamatan", "polygon", "as_of")
    request = Request(indicator, **{k: kwargs.pop(k) for k in request_keys if k in kwargs})
    return compute(request, settings=settings, **kwargs)[0]


def row(result, code: str, **where) -> dict:
    matches = [
        r for r in result.rows if r["kode"] == code and all(r[k] == v for k, v in where.items())
    ]
    assert len(matches) == 1, (code, where, matches)
    return matches[0]


def lonlat_polygon(x0, y0, x1, y1) -> dict:
    to_wgs = Transformer.from_crs(32749, 4326, always_xy=True).transform
    return mapping(transform(to_wgs, at(box(x0, y0, x1, y1))))


def test_half_flooded_square_district_is_50_percent(grid) -> None:
    r = one(grid, "flood_area")
    d01 = row(r, "33.74.01")
    assert d01["area_km2"] == pytest.approx(1.0, abs=1e-6)
    assert d01["flooded_pct"] == 50.0
    # F2 and F3 overlap F1: the overlap counts once, in the most severe class.
    assert (d01["tinggi_pct"], d01["sedang_pct"], d01["rendah_pct"]) == (50.0, 0.0, 0.0)
    d02 = row(r, "33.74.02")
    assert (d02["flooded_pct"], d02["sedang_pct"]) == (12.5, 12.5)
    city = row(r, CITY)
    assert city["area_km2"] == pytest.approx(16.0, abs=1e-5)
    assert city["flooded_km2"] == pytest.approx(0.625, abs=1e-6)
    assert city["flooded_pct"] == pytest.approx(100 * 0.625 / 16, abs=1e-3)


def test_heavy_damage_road_costs_6000_times_unit_cost(grid) -> None:
    t = load_treatments()
    x = t.unit_cost_of("rusak_berat")
    treatment = t.condition_treatment["rusak_berat"]
    r = one(grid, "road_budget")
    city = row(r, CITY, by="all")
    assert city[f"{treatment}_rp"] == pytest.approx(6000 * x, abs=1)
    # Split where the road crosses from 01 into 02: 900 m and 100 m.
    assert row(r, "33.74.01", by="all")["area_m2"] == 900 * 6 + 500 * 8
    assert row(r, "33.74.02", by="all")[f"{treatment}_rp"] == pytest.approx(600 * x, abs=1)
    # With another unit cost X' the total follows: 6,000 · X'.
    other = t.model_copy(
        update={
            "treatments": {
                name: tr.model_copy(update={"unit_cost": 123_456.0 if name == treatment else 0.0})
                for name, tr in t.treatments.items()
            }
        }
    )
    r2 = one(grid, "road_budget", treatments=other)
    assert row(r2, CITY, by="all")["total_rp"] == 6000 * 123_456
    assert row(r2, CITY, by="status", group="kota")["total_rp"] == 6000 * 123_456
    assert row(r2, CITY, by="status", group="nasional")["total_rp"] == 0
    # The segment without a width is measured but not costed.
    assert row(r, "33.74.16", by="all")["no_width_km"] == pytest.approx(0.4, abs=1e-4)


def test_road_condition_heavy_damage_and_kemantapan(grid) -> None:
    r = one(grid, "road_condition")
    city = row(r, CITY, by="all")
    assert city["length_km"] == pytest.approx(3.7, abs=1e-4)
    assert city["heavy_damage_pct"] == pytest.approx(100 * 1.0 / 3.7, abs=1e-3)
    assert city["mantap_pct"] == pytest.approx(100 * (1.0 + 0.8 + 0.4) / 3.7, abs=1e-3)
    d01 = row(r, "33.74.01", by="all")
    assert (d01["rusak_berat_km"], d01["rusak_ringan_km"]) == (0.9, 0.5)
    assert d01["heavy_damage_pct"] == pytest.approx(100 * 0.9 / 1.4, abs=1e-3)
    assert d01["mantap_pct"] == 0.0
    assert row(r, CITY, by="function", group="kolektor")["length_km"] == pytest.approx(1.3)
    assert row(r, CITY, by="status", group="nasional")["mantap_pct"] == 100.0


def test_drainage_density_by_hierarchy(grid) -> None:
    r = one(grid, "drainage_density")
    assert row(r, CITY)["density"] == pytest.approx((0.8 + 0.4) / 16, abs=1e-4)
    assert row(r, CITY)["primer_km"] == 0.0  # D1 runs outside every district
    assert row(r, "33.74.06")["sekunder_density"] == pytest.approx(0.8, abs=1e-4)
    assert row(r, "33.74.01")["tersier_km"] == pytest.approx(0.4, abs=1e-4)


def test_flood_exposure_of_roads_and_zoning(grid) -> None:
    roads = one(grid, "flood_exposure_roads")
    assert row(roads, "33.74.01")["tinggi_km"] == pytest.approx(1.4, abs=1e-4)
    assert row(roads, "33.74.01")["exposed_pct"] == 100.0
    assert row(roads, "33.74.02")["sedang_km"] == pytest.approx(0.1, abs=1e-4)
    assert row(roads, CITY)["exposed_pct"] == pytest.approx(100 * 1.5 / 3.7, abs=1e-3)
    zoning = one(grid, "flood_exposure_zoning")
    r1 = row(zoning, "33.74.01", zone_code="R-1")
    assert (r1["zone_km2"], r1["tinggi_km2"], r1["exposed_pct"]) == (1.0, 0.5, 50.0)
    assert row(zoning, CITY, zone_code="K-1")["exposed_pct"] == 12.5
    assert row(zoning, CITY, zone_code=None)["exposed_km2"] == 0.625


def test_flood_unserved_within_a_configurable_distance(grid) -> None:
    near = CFG.model_copy(
        update={"drainage": CFG.drainage.model_copy(update={"service_distance_m": 100.0})}
    )
    r = one(grid, "flood_unserved", config=near)
    # D1 (primer, 50 m south) serves the strip y < 50 m; the tersier D3 serves nothing.
    assert row(r, "33.74.01")["unserved_pct"] == 90.0
    assert row(r, "33.74.02")["unserved_pct"] == 80.0
    assert row(r, CITY)["unserved_km2"] == pytest.approx(0.55, abs=1e-6)
    assert row(r, "33.74.05")["unserved_pct"] is None  # nothing flooded there
    far = CFG.model_copy(
        update={"drainage": CFG.drainage.model_copy(update={"service_distance_m": 600.0})}
    )
    assert row(one(grid, "flood_unserved", config=far), CITY)["unserved_km2"] == 0.0


ADDITIVE_UNITS = {"km", "km²", "m²", "Rp"}


def test_district_figures_add_up_to_the_city(grid) -> None:
    for result in compute(Request("all"), settings=grid)[1:]:
        keys = [c.name for c in result.columns if c.unit is None and c.name not in ("kode", "nama")]
        additive = [c for c in result.columns if c.unit in ADDITIVE_UNITS]
        city_rows = [r for r in result.rows if r["kode"] == CITY]
        for city in city_rows:
            parts = [
                r for r in result.rows if r["kode"] != CITY and all(r[k] == city[k] for k in keys)
            ]
            for c in additive:
                total = sum(p[c.name] for p in parts)
                tol = 1.0 if c.unit in ("m²", "Rp") else 1e-3
                assert total == pytest.approx(city[c.name], abs=tol), (result.indicator, c.name)


def test_a_polygon_over_the_whole_grid_equals_the_city(grid) -> None:
    poly = lonlat_polygon(-100, -10, 4100, 4100)
    whole = compute(Request("all", polygon=poly), settings=grid)
    city = compute(Request("all"), settings=grid)
    pairs = {
        "road_budget": ["length_km", "area_m2", "total_rp"],
        "road_condition": ["length_km", "rusak_berat_km"],
        "flood_area": ["flooded_km2", "tinggi_km2"],
        "flood_exposure_roads": ["exposed_km"],
    }
    for w, c in zip(whole, city, strict=True):
        for name in pairs.get(w.indicator, []):
            where = {"by": "all"} if w.indicator.startswith("road_") else {}
            assert row(w, "polygon", **where)[name] == pytest.approx(
                row(c, CITY, **where)[name], abs=1
            ), (w.indicator, name)


def test_a_polygon_equal_to_a_district_gives_its_figures(grid) -> None:
    poly = {"type": "Feature", "properties": {}, "geometry": lonlat_polygon(0, 0, 1000, 1000)}
    by_poly = one(grid, "flood_area", polygon=poly)
    assert row(by_poly, "polygon")["flooded_pct"] == pytest.approx(50.0, abs=1e-3)
    budget = one(grid, "road_budget", polygon=json.dumps(poly))
    district = one(grid, "road_budget", kecamatan="33.74.01")
    assert row(budget, "polygon", by="all")["total_rp"] == pytest.approx(
        row(district, "33.74.01", by="all")["total_rp"], abs=1
    )


def test_one_kecamatan_and_bad_requests(grid) -> None:
    r = one(grid, "flood_area", kecamatan="33.74.02")
    assert [x["kode"] for x in r.rows] == ["33.74.02"]
    with pytest.raises(UserError, match="no kecamatan"):
        one(grid, "flood_area", kecamatan="33.74.99")
    with pytest.raises(UserError, match="unknown indicator"):
        Request("flooded")
    with pytest.raises(UserError, match="does not reach"):
        one(grid, "flood_area", polygon=mapping(box(-7.1, 110.3, -7.0, 110.4)))  # lat/lon swapped


def test_relations_are_injected_per_layer(grid) -> None:
    """The injection point history uses: any subquery can stand for a layer's table."""
    only_good = sql.SQL("(SELECT * FROM {} WHERE condition = 'baik')").format(
        sql.Identifier("onemap", "road_condition")
    )
    r = one(grid, "road_condition", relations={"road_condition": only_good})
    city = row(r, CITY, by="all")
    assert city["length_km"] == pytest.approx(1.4, abs=1e-4)
    assert city["mantap_pct"] == 100.0


def test_as_of_uses_the_load_history(grid) -> None:
    """As of the last fixture load (a run id or today's date) equals the current data,
    read from the history: a run id names that run for every layer, a date each layer's
    run published then."""
    with psycopg.connect(owner_conninfo(grid)) as conn:
        runs = {
            lid: conn.execute(
                sql.SQL("SELECT max(load_id) FROM {}").format(sql.Identifier("onemap", lid))
            ).fetchone()[0]
            for lid in fixture_frames()
        }
    run = max(runs.values())
    current = compute(Request("all"), settings=grid)
    assert all(r.version == {"as_of": None, "load_ids": runs} for r in current)
    today = dt.datetime.now(get_city().tz).date().isoformat()
    for as_of, load_ids in ((str(run), dict.fromkeys(runs, run)), (today, runs)):
        then = compute(Request("all", as_of=as_of), settings=grid)
        assert [r.rows for r in then] == [r.rows for r in current], as_of
        assert all(r.version == {"as_of": as_of, "load_ids": load_ids} for r in then), as_of


def test_cli_json_equals_the_library(grid) -> None:
    env = child_env(**{"ONEMAP_DB_NAME": grid.name})
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "stats", "road_budget", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(res.stdout) == json.loads(
        json.dumps(document(compute(Request("road_budget"), settings=grid)))
    )
    csv = subprocess.run(
        [
            sys.executable,
            "-m",
            "onemap.cli",
            "stats",
            "flood_area",
            "--format",
            "csv",
            "--kecamatan",
            "33.74.01",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    header, line = csv.stdout.strip().splitlines()
    assert dict(zip(header.split(","), line.split(","), strict=True))["flooded_pct"] == "50.0"


def test_site_exports_and_choropleths_share_the_computation(grid, tmp_path) -> None:
    results = compute(Request("all"), settings=grid)
    paths = write_exports(tmp_path, results=results)
    assert sorted(p.name for p in paths) == sorted(
        [f"{r.indicator}.csv" for r in results] + ["indicators.json"]
    )
    exported = json.loads((tmp_path / "indicators.json").read_text(encoding="utf-8"))
    assert exported == json.loads(json.dumps(document(results)))
    maps = {c.name: c for c in district_choropleths(results=results)}
    flooded = maps["flooded_pct"]
    assert flooded.join_field == CFG.districts.code
    assert len(flooded.values) == 16 and flooded.values["33.74.01"] == 50.0
    assert flooded.city_value == pytest.approx(100 * 0.625 / 16, abs=1e-3)
    assert maps["heavy_damage_pct"].values["33.74.05"] == 0.0
    assert maps["heavy_damage_pct"].values["33.74.04"] is None  # no roads there
