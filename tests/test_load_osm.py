"""An OpenStreetMap extract (.osm.pbf) becomes road_condition: tags mapped by the layer
file's osm: block, ways split at shared nodes, clipped to the region, footways skipped."""

from __future__ import annotations

import json
import math
import urllib.request

import osmium
import psycopg
import pytest
import shapely
from osmium.osm.mutable import Node, Way

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer
from onemap.db.connect import owner_conninfo
from onemap.indicators.compute import Request, compute
from onemap.load.loader import load_layer
from onemap.load.osm import check_pbf, split_at_shared_nodes
from tests.served import api_on

ROADS = get_layer("road_condition")
# The region is the city's bbox here (east edge 110.50523): the scratch database's
# admin_kecamatan depends on which tests ran before, so clip_to is left out.
BBOX_ROADS = ROADS.model_copy(update={"osm": ROADS.osm.model_copy(update={"clip_to": None})})
EAST = 110.50523

NODES = {
    1: (110.40, -6.99),
    2: (110.41, -6.99),
    3: (110.42, -6.99),  # shared by the primary (10) and the residential street (11)
    4: (110.44, -6.99),
    5: (110.42, -6.98),
    6: (110.42, -7.00),
    7: (110.41, -6.985),  # the footway's own node
    8: (110.45, -6.95),
    9: (110.60, -6.95),  # the trunk leaves the city eastwards
    11: (110.46, -6.94),
    12: (110.46, -6.96),  # the tertiary crosses the trunk on a bridge: no shared node
}
WAYS = {
    10: ([1, 2, 3, 4], {"highway": "primary", "name": "Jl. Pemuda", "surface": "asphalt",
                        "width": "7 m", "smoothness": "bad"}),
    11: ([5, 3, 6], {"highway": "residential", "surface": "paving_stones"}),
    12: ([7, 2], {"highway": "footway"}),
    13: ([8, 9], {"highway": "trunk", "name": "Jl. Kaligawe"}),
    14: ([11, 12], {"highway": "tertiary", "bridge": "yes", "layer": "1"}),
}  # fmt: skip


def write_pbf(path):
    """The extract above, written by libosmium as a real .osm.pbf."""
    with osmium.SimpleWriter(str(path)) as w:
        for i, (x, y) in NODES.items():
            w.add_node(Node(id=i, location=(x, y), version=1))
        for i, (nodes, tags) in WAYS.items():
            w.add_way(Way(id=i, nodes=nodes, tags=tags, version=1))
    return path


def rows(settings) -> dict[str, tuple]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        found = conn.execute(
            "SELECT segment_id, name, status, function, surface, width_m, condition, source, "
            "ST_AsText(geom) FROM onemap.road_condition"
        ).fetchall()
    return {r[0]: r[1:] for r in found}


def test_extract_becomes_road_segments(scratch_settings, tmp_path) -> None:
    pbf = write_pbf(tmp_path / "semarang.osm.pbf")
    notes: list[str] = []
    res = load_layer(
        BBOX_ROADS,
        pbf,
        settings=scratch_settings,
        constants={"condition": "sedang"},  # ways without smoothness=*
        notify=notes.append,
    )
    got = rows(scratch_settings)
    # split at node 3 (shared), not at the footway's node 2 nor at the bridge crossing
    assert sorted(got) == ["w10-1", "w10-2", "w11-1", "w11-2", "w13", "w14"]
    assert got["w10-1"][:7] == (
        "Jl. Pemuda", "provinsi", "arteri", "aspal", 7.0, "rusak_ringan", "osm"
    )  # fmt: skip
    assert got["w11-2"][1:6] == ("kota", "lingkungan", "paving", None, "sedang")
    assert got["w13"][1:3] == ("nasional", "arteri")
    assert got["w14"][1:3] == ("kota", "lokal")
    first = shapely.from_wkt(got["w10-1"][7])
    assert first.bounds == pytest.approx((110.40, -6.99, 110.42, -6.99))
    trunk = shapely.from_wkt(got["w13"][7])
    assert trunk.bounds[2] == pytest.approx(EAST)  # clipped at the region's edge
    assert res.rows_loaded == 6 and res.rows_rejected == 0
    assert res.details["osm_ways_skipped"] == 1
    assert res.details["osm_skipped_highway"] == {"footway": 1}
    assert res.details["osm_pieces_split"] == 2
    assert any("1 ways skipped" in n and "footway 1" in n for n in notes)


def test_ways_without_a_condition_are_refused_with_the_reason(scratch_settings, tmp_path):
    pbf = write_pbf(tmp_path / "no_condition.osm.pbf")
    with pytest.raises(LoadError, match="required field 'condition' is empty"):
        load_layer(BBOX_ROADS, pbf, settings=scratch_settings)


def test_truncated_pbf_is_refused_naming_the_file(scratch_settings, tmp_path) -> None:
    pbf = write_pbf(tmp_path / "full.osm.pbf")
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(pbf.read_bytes()[: pbf.stat().st_size - 40])
    with pytest.raises(LoadError, match=r"cut\.osm\.pbf: not a complete OSM PBF file"):
        load_layer(BBOX_ROADS, cut, settings=scratch_settings)
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"<html>rate limited</html>" * 4)
    with pytest.raises(LoadError, match=r"junk\.osm\.pbf: not a complete OSM PBF file"):
        check_pbf(junk)


def test_a_layer_without_an_osm_block_refuses_an_extract(scratch_settings, tmp_path) -> None:
    pbf = write_pbf(tmp_path / "x.osm.pbf")
    with pytest.raises(LoadError, match="has no osm: block"):
        load_layer(get_layer("drainage"), pbf, settings=scratch_settings)


def test_split_at_shared_nodes_keeps_each_piece_whole() -> None:
    a = shapely.linestrings([(0, 0), (1, 0), (2, 0), (3, 0)])
    b = shapely.linestrings([(1, 1), (1, 0), (1, -1)])
    c = shapely.linestrings([(2.5, 1), (2.5, -1)])  # crosses a between vertices: not a node
    pieces, owner, part = split_at_shared_nodes(shapely.from_wkb(shapely.to_wkb([a, b, c])))
    assert owner.tolist() == [0, 0, 1, 1, 2] and part.tolist() == [0, 1, 0, 1, 0]
    assert [p.length for p in pieces] == [1, 2, 1, 1, 2]


def test_ways_are_clipped_to_the_published_region(scratch_settings, tmp_path) -> None:
    """clip_to names a polygon layer: its union as published is the region (here one
    flood zone, west of 110.43, stands in for the kecamatan boundaries)."""
    region = tmp_path / "region.geojson"
    region.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"zone_id": "r", "hazard": "rendah", "flood_type": "rob"},
                        "geometry": shapely.geometry.mapping(
                            shapely.box(110.39, -7.01, 110.43, -6.97)
                        ),
                    }
                ],
            }
        )
    )
    load_layer(get_layer("flood_zones"), region, settings=scratch_settings)
    clip = ROADS.model_copy(update={"osm": ROADS.osm.model_copy(update={"clip_to": "flood_zones"})})
    pbf = write_pbf(tmp_path / "clip.osm.pbf")
    res = load_layer(clip, pbf, settings=scratch_settings, constants={"condition": "sedang"})
    got = rows(scratch_settings)
    assert sorted(got) == ["w10-1", "w10-2", "w11-1", "w11-2"]  # trunk and bridge: outside
    assert shapely.from_wkt(got["w10-2"][7]).bounds[2] == pytest.approx(110.43)
    assert res.details["osm_pieces_outside"] == 2


def test_road_indicator_over_an_extract(scratch_settings, tmp_path) -> None:
    """The loaded extract is an ordinary road_condition version: lengths by condition."""
    load_layer(
        BBOX_ROADS,
        write_pbf(tmp_path / "ind.osm.pbf"),
        settings=scratch_settings,
        constants={"condition": "sedang"},
    )
    area = shapely.geometry.mapping(shapely.box(110.395, -7.005, 110.445, -6.975))
    result = compute(Request("road_condition", polygon=area), settings=scratch_settings)[0]
    (row,) = [r for r in result.rows if r["by"] == "all"]
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        primary, total = conn.execute(
            "SELECT sum(ST_Length(ST_Transform(geom, 32749))) FILTER (WHERE segment_id LIKE "
            "'w10%'), sum(ST_Length(ST_Transform(geom, 32749))) FILTER (WHERE segment_id "
            "LIKE 'w1_-%') FROM onemap.road_condition"
        ).fetchone()
    assert row["length_km"] == pytest.approx(total / 1000, abs=1e-3)  # results are rounded
    assert row["rusak_ringan_km"] == pytest.approx(primary / 1000, abs=1e-3)  # smoothness=bad


def test_an_extract_with_no_roads_is_refused_with_what_it_has(scratch_settings, tmp_path):
    path = tmp_path / "paths.osm.pbf"
    with osmium.SimpleWriter(str(path)) as w:
        w.add_node(Node(id=1, location=NODES[1], version=1))
        w.add_node(Node(id=2, location=NODES[2], version=1))
        w.add_way(Way(id=5, nodes=[1, 2], tags={"highway": "footway"}, version=1))
    with pytest.raises(LoadError, match=r"paths\.osm\.pbf: none of its 1 ways .* footway 1"):
        load_layer(BBOX_ROADS, path, settings=scratch_settings)


def test_the_api_and_maps_serve_an_extract_like_any_load(scratch_settings, tmp_path) -> None:
    """pygeoapi on the scratch database after an OSM load: the items are the loaded
    segments with their mapped classes, and the vector tile over them is drawn; the maps
    site built from that database draws them on the layer's page."""
    load_layer(
        BBOX_ROADS,
        write_pbf(tmp_path / "api.osm.pbf"),
        settings=scratch_settings,
        constants={"condition": "sedang"},
    )
    loaded = rows(scratch_settings)
    with api_on(scratch_settings, tmp_path, "osm") as api:
        base = f"{api}/collections/road_condition"
        with urllib.request.urlopen(f"{base}/items?f=json&limit=100") as r:
            features = json.load(r)["features"]
        got = {f["properties"]["segment_id"]: f["properties"] for f in features}
        assert set(got) == set(loaded)
        assert got["w10-1"]["status"] == loaded["w10-1"][1]
        assert got["w10-1"]["condition"] == "rusak_ringan"  # smoothness=bad, as mapped
        # the z14 tile holding node 3 (110.42, -6.99), where the primary meets the street
        n = 2**14
        col = int((110.42 + 180) / 360 * n)
        lat = math.radians(-6.99)
        row = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
        with urllib.request.urlopen(f"{base}/tiles/WebMercatorQuad/14/{row}/{col}?f=mvt") as r:
            assert r.status == 200 and len(r.read()) > 50
    from onemap.publish.maps.write import write_site

    write_site(tmp_path / "site", basemap="none", settings=scratch_settings)
    page = (tmp_path / "site" / "road_condition.html").read_text(encoding="utf-8")
    assert all(segment in page for segment in loaded)
