"""Vector tiles generalised per zoom, kept under 500 KB, cached per published version.

The dense layer is 100,000 generated road segments (``bench.inputs.roads``: 5–50 vertices
each, in the city's extent) loaded into the scratch database; the tiles are drawn by the
provider pygeoapi runs (``onemap.serve.tiles.OnemapMVTProvider``), as the reader. The
demo server answers the metadata, ETag and revalidation tests.
"""

from __future__ import annotations

import psycopg
import pytest
import requests
from psycopg import sql
from shapely.geometry import LineString, MultiLineString

from bench.inputs import roads
from onemap.core.layers import Layer, get_layer, layers_dir, read_layer
from onemap.core.tile_rules import MAX_TILE_BYTES
from onemap.db.connect import owner_conninfo, role_params
from onemap.db.models import TILES_SCHEMA
from onemap.db.tile_tables import SIZE_COLUMN
from onemap.load.loader import load_layer
from onemap.serve import tiles
from tests.test_api_clients import tile_index
from tests.test_load import road_frame

ROADS = get_layer("road_condition")
WMQ = "WebMercatorQuad"
CENTRE = (110.39, -7.02)  # the middle of the generated roads' extent
DENSE = 100_000


def provider(settings, layer: Layer = ROADS) -> tiles.OnemapMVTProvider:
    """The tile provider as pygeoapi.yml configures it, on ``settings``' database."""
    params = role_params("reader", settings)
    return tiles.OnemapMVTProvider(
        {
            "name": "onemap.serve.tiles.OnemapMVTProvider",
            "type": "tile",
            "data": {**params, "search_path": ["onemap", "public"]},
            "id_field": layer.primary_key,
            "table": layer.id,
            "geom_field": "geom",
            "options": {"zoom": {"min": layer.tiles.min_zoom, "max": layer.tiles.max_zoom}},
            "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
        }
    )


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh tile cache for the test (the provider's per-process cache is rebuilt)."""
    root = tmp_path / "tile-cache"
    monkeypatch.setenv("ONEMAP_TILE_CACHE_DIR", str(root))
    tiles.tile_cache.cache_clear()
    yield root
    tiles.tile_cache.cache_clear()


@pytest.fixture(scope="module")
def dense_roads(scratch_settings, tmp_path_factory):
    """100,000 generated segments published as road_condition in the scratch database."""
    path = tmp_path_factory.mktemp("dense") / "roads.gpkg"
    roads(DENSE).to_file(path, driver="GPKG")
    res = load_layer(ROADS, path, settings=scratch_settings)
    assert res.rows_loaded > 0.95 * DENSE
    return res


def generalised_tables(settings, layer: Layer = ROADS) -> dict[str, int]:
    """The layer's tables in onemap_tiles, with their row counts."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                (TILES_SCHEMA, f"{layer.id}_z%"),
            )
        ]
        return {
            n: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(TILES_SCHEMA, n))
            ).fetchone()[0]
            for n in names
        }


def test_every_tile_of_a_dense_layer_is_under_500_kb(dense_roads, scratch_settings, cache_dir):
    """Every zoom 0–16: the tiles over the whole generated extent up to z12, then the
    3×3 block of tiles around its centre (the densest area); none over 500 KB."""
    p = provider(scratch_settings)
    sizes: dict[int, int] = {}
    thinned = []
    for z in range(17):
        x0, y0 = tile_index(110.30, -6.96, z)
        x1, y1 = tile_index(110.48, -7.08, z)
        if z > 12:
            cx, cy = tile_index(*CENTRE, z)
            x0, x1, y0, y1 = cx - 1, cx + 1, cy - 1, cy + 1
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = p.get_tiles(ROADS.id, WMQ, z, y, x) or b""
                assert len(data) <= MAX_TILE_BYTES, (z, x, y, len(data))
                sizes[z] = max(sizes.get(z, 0), len(data))
                tile = tiles.tile_cache().get(ROADS.id, key(scratch_settings), WMQ, z, y, x)
                assert tile is not None and tile.data == data
                if tile.thinned:
                    thinned.append((z, tile.kept, tile.total))
    # every zoom from 3 draws roads; below, the generated segments (unconnected, 25 m to
    # 1 km) are under a pixel and ST_AsMVTGeom leaves them out
    assert all(sizes[z] > 1000 for z in range(3, 17)), sizes
    # dense enough that the guarantee had work to do, and it kept most of each tile
    assert thinned, sizes
    assert all(kept >= total // 4 for _z, kept, total in thinned), thinned


def test_a_wrong_guess_draws_the_tile_whole(dense_roads, scratch_settings, monkeypatch) -> None:
    """A tile is sent straight to thinning when the bytes per row learnt at its zoom say
    it cannot fit; when its most important rows then draw to less than half the limit
    the guess was wrong, and the tile is drawn whole: never thinned without need."""
    monkeypatch.setenv("ONEMAP_TILE_CACHE", "false")
    tiles.tile_cache.cache_clear()
    p = provider(scratch_settings)
    x, y = tile_index(*CENTRE, 3)
    whole = p.get_tiles(ROADS.id, WMQ, 3, y, x)
    assert 0 < len(whole) < MAX_TILE_BYTES / 2
    slot = (ROADS.id, WMQ, 3)
    tiles._BYTES_PER_ROW[slot] = (key(scratch_settings), 400.0)  # as if rows were heavy
    guesses = []
    real_thin = tiles.thin
    monkeypatch.setattr(tiles, "thin", lambda *a, **kw: guesses.append(kw) or real_thin(*a, **kw))
    assert p.get_tiles(ROADS.id, WMQ, 3, y, x) == whole
    assert guesses == [{"guessed": True}]  # sent to thinning, then drawn whole
    assert tiles._BYTES_PER_ROW[slot][1] < 400  # learnt again from the whole tile
    tiles.tile_cache.cache_clear()


def test_the_first_oversized_tile_at_a_zoom_is_not_drawn_whole(
    dense_roads, scratch_settings, monkeypatch
) -> None:
    """Before a process has drawn a tile at a zoom, a sample of the tile's rows gives the
    bytes per row: an oversized tile goes straight to thinning, never drawn whole first."""
    from sqlalchemy.orm import Session

    monkeypatch.setattr(tiles, "_BYTES_PER_ROW", {})
    drawn: list[int] = []
    real_render = tiles._render

    def render(*args):
        data, rows = real_render(*args)
        drawn.append(rows)
        return data, rows

    monkeypatch.setattr(tiles, "_render", render)
    p = provider(scratch_settings)
    scheme = next(s for s in p.get_tiling_schemes() if s.tileMatrixSet == WMQ)
    version = key(scratch_settings)
    with Session(p._engine) as session:
        for z in range(8, 15):
            drawn.clear()
            x, y = tile_index(*CENTRE, z)
            tile = p.draw(session, ROADS, scheme, ROADS.id, z, y, x, key=version)
            if tile.thinned:
                break
    assert tile.thinned and len(tile.data) <= MAX_TILE_BYTES, z
    assert drawn == [tiles.SAMPLE_ROWS], (z, drawn)  # the sample only


def key(settings, layer: Layer = ROADS) -> str:
    """The version key the provider files tiles under."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        version = conn.execute(tiles.VERSION_SQL, (layer.id,)).fetchone()[0]
    return tiles.version_key(version, layer)


def test_a_rebuilt_database_does_not_meet_the_old_tiles(tmp_path) -> None:
    """Run ids restart at 1 in a database dropped and built again; the tiles' version key
    (cache folder, archive check, ETag) must not, or the old database's cached tiles
    would be served as the new one's."""
    from onemap.core.settings import DbSettings
    from onemap.db import cluster, schema
    from tests.conftest import TEST_DB

    settings = DbSettings(name=f"{TEST_DB}_rebuilt")
    path = tmp_path / "roads.gpkg"
    road_frame(3).to_file(path, driver="GPKG")
    seen = []
    for _ in range(2):
        with cluster.start(settings).superuser_connect(autocommit=True) as su:
            su.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(settings.name)
                )
            )
        schema.up(settings)
        run = load_layer(ROADS, path, settings=settings).load_id
        seen.append((run, key(settings)))
    (run1, key1), (run2, key2) = seen
    assert run1 == run2, "the run ids repeat (what this test is about)"
    assert key1 != key2 and key1.startswith(f"{run1}.") and key2.startswith(f"{run2}.")


def test_low_zooms_draw_the_classes_of_their_zoom(dense_roads, scratch_settings) -> None:
    """One generalised table per zoom below detail_zoom, each with only its classes and
    attributes; merged lines (up to merge_max_zoom) carry no id, the segments above it do."""
    counts = generalised_tables(scratch_settings)
    assert set(counts) == {f"{ROADS.id}_z{z}" for z in ROADS.tiles.levels}
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        for z in (5, 10, 12):
            table = sql.Identifier(TILES_SCHEMA, f"{ROADS.id}_z{z}")
            cols = [
                c.name
                for c in conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(table)).description
            ]
            ids = set() if ROADS.tiles.merges(ROADS.geometry_family, z) else {"id"}
            assert ids == ({"id"} if z > ROADS.tiles.merge_max_zoom else set()), z
            fields = ROADS.tiles.fields_at(z, ROADS.field_names)
            assert set(cols) == {"geom", SIZE_COLUMN, *ids, *fields}, z
            # the size thinning keeps first: the simplified line's length (float4) in metres
            off = conn.execute(
                sql.SQL(
                    "SELECT count(*) FROM {} "
                    "WHERE abs(_size - ST_Length(geom)) > 1e-6 * ST_Length(geom) + 0.01"
                ).format(table)
            ).fetchone()[0]
            assert off == 0, z
            drawn = {r[0] for r in conn.execute(sql.SQL("SELECT function FROM {}").format(table))}
            assert drawn == set(ROADS.tiles.classes_at(z, ROADS.field("function").allowed)), z
            srid = conn.execute(sql.SQL("SELECT ST_SRID(geom) FROM {} LIMIT 1").format(table))
            assert srid.fetchone()[0] == 3857


def test_generalised_tables_are_swapped_with_the_layer(scratch_settings, tmp_path) -> None:
    """A new version brings its own tables (whatever the mode); a refused one leaves them."""
    frame = road_frame(4, function=["arteri", "lokal", "lokal", "lingkungan"])
    frame.to_file(tmp_path / "a.gpkg", driver="GPKG")
    load_layer(ROADS, tmp_path / "a.gpkg", settings=scratch_settings)
    counts = generalised_tables(scratch_settings)
    assert counts[f"{ROADS.id}_z5"] == 1  # arteri only
    assert counts[f"{ROADS.id}_z13"] == 4
    assert not any(n.endswith("_next") for n in counts)

    more = road_frame(6, function="arteri")
    more["segment_id"] = [f"u-{i}" for i in range(6)]
    more.to_file(tmp_path / "b.gpkg", driver="GPKG")
    load_layer(ROADS, tmp_path / "b.gpkg", mode="append", settings=scratch_settings)
    counts = generalised_tables(scratch_settings)
    # the appended arterials touch end to end with their neighbours: merged per cell
    assert 1 <= counts[f"{ROADS.id}_z5"] <= 7
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        length = conn.execute(
            sql.SQL("SELECT sum(ST_Length(geom)) FROM {}").format(
                sql.Identifier(TILES_SCHEMA, f"{ROADS.id}_z13")
            )
        ).fetchone()[0]
        live = conn.execute(
            "SELECT sum(ST_Length(ST_Transform(geom, 3857))) FROM onemap.road_condition"
        ).fetchone()[0]
    assert length == pytest.approx(live, rel=0.01)

    before = generalised_tables(scratch_settings)
    (tmp_path / "bad.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(Exception):  # noqa: B017 - any refusal; what matters is what is left
        load_layer(ROADS, tmp_path / "bad.gpkg", settings=scratch_settings)
    assert generalised_tables(scratch_settings) == before


def test_lines_merge_up_to_merge_max_zoom_and_keep_their_ids_above(
    scratch_settings, tmp_path
) -> None:
    """A replace (levels built side by side): a chain of six arterials touching end to end
    becomes one line up to z11 (simplified per part first, still joined, its length
    kept); z12 and z13 draw the segments themselves with their ids, a two-part
    MultiLineString as one feature."""
    chain = road_frame(7, function=["arteri"] * 6 + ["lingkungan"])
    points = [(110.42 + i * 0.001, -6.99 - 0.0003 * (i % 2)) for i in range(7)]  # a zigzag
    chain["geometry"] = [
        *(LineString([points[i], points[i + 1]]) for i in range(6)),
        MultiLineString(
            [[(110.43, -6.99), (110.431, -6.99)], [(110.432, -6.99), (110.433, -6.99)]]
        ),
    ]
    chain.to_file(tmp_path / "chain.gpkg", driver="GPKG")
    load_layer(ROADS, tmp_path / "chain.gpkg", settings=scratch_settings)
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:

        def rows(z: int, what: str) -> list[tuple]:
            table = sql.Identifier(TILES_SCHEMA, f"{ROADS.id}_z{z}")
            return conn.execute(sql.SQL(f"SELECT {what} FROM {{}}").format(table)).fetchall()

        live = conn.execute(
            "SELECT sum(ST_Length(ST_Transform(geom, 3857))) FROM onemap.road_condition "
            "WHERE function = 'arteri'"
        ).fetchone()[0]
        for z in (5, 11):
            assert len(rows(z, "1")) == 1, z  # merged (the chain lies in one cell)
        # the zigzag's 33 m bends are over z11's tolerance (9.6 m): its length is kept
        assert rows(11, "ST_Length(geom)")[0][0] == pytest.approx(live, rel=0.01)
        assert sorted(r[0] for r in rows(12, "id")) == [f"t-{i}" for i in range(6)]
        assert sorted(r[0] for r in rows(13, "id")) == [f"t-{i}" for i in range(7)]
        parts = dict(rows(13, "id, ST_NumGeometries(geom)"))
        assert parts["t-6"] == 2 and parts["t-0"] == 1  # one feature per id, parts kept


def test_the_cache_is_dropped_for_the_new_version_only(
    scratch_settings, tmp_path, cache_dir
) -> None:
    road_frame(3).to_file(tmp_path / "a.gpkg", driver="GPKG")
    load_layer(ROADS, tmp_path / "a.gpkg", settings=scratch_settings)
    p = provider(scratch_settings)
    z = 15
    x, y = tile_index(110.4205, -6.9901, z)
    first = p.get_tiles(ROADS.id, WMQ, z, y, x)
    assert first
    old = key(scratch_settings)
    cached = cache_dir / ROADS.id / old / WMQ / str(z) / str(y) / f"{x}.mvt"
    assert cached.read_bytes() == first
    other = cache_dir / "drainage" / "7-x" / WMQ / "1"
    other.mkdir(parents=True)  # another layer's tiles are left alone
    cached.write_bytes(b"from the cache")
    assert provider(scratch_settings).get_tiles(ROADS.id, WMQ, z, y, x) == b"from the cache"

    road_frame(5).to_file(tmp_path / "b.gpkg", driver="GPKG")
    load_layer(ROADS, tmp_path / "b.gpkg", settings=scratch_settings)
    assert key(scratch_settings) != old
    fresh = provider(scratch_settings).get_tiles(ROADS.id, WMQ, z, y, x)
    assert fresh and fresh != b"from the cache" and fresh != first  # 5 roads, not 3
    assert not (cache_dir / ROADS.id / old).exists()
    assert other.is_dir()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("lingkungan: 13}", "lingkungan: 13, tol: 3}", "are not values of 'function'"),
        ("condition: 0,", "condition: 5,", "style field 'condition' must be carried"),
        ("name: 12,", "name: 14,", "must lie in min_zoom..detail_zoom-1"),
    ],
)
def test_rules_are_checked_against_the_layer(tmp_path, old, new, message) -> None:
    text = (layers_dir() / ROADS.id / f"{ROADS.id}.yaml").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / f"{ROADS.id}.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_layer(bad)


def test_metadata_states_zooms_and_fields(api) -> None:
    meta = requests.get(
        f"{api}/collections/{ROADS.id}/tiles/{WMQ}/metadata", params={"f": "json"}, timeout=30
    ).json()
    (layer,) = meta["layers"]
    assert (layer["minTileMatrix"], layer["maxTileMatrix"]) == ("0", "20")
    assert layer["propertiesSchema"]["properties"]["name"]["x-onemap-minZoom"] == 12
    zooms = meta["onemap:zooms"]
    assert zooms[0]["minZoom"] == 0 and zooms[-1]["maxZoom"] == 20
    by_zoom = {z: r for r in zooms for z in range(r["minZoom"], r["maxZoom"] + 1)}
    assert by_zoom[5]["classes"] == {"function": ["arteri"]}
    assert "id" not in by_zoom[5]["fields"] and "condition" in by_zoom[5]["fields"]
    assert "id" in by_zoom[14]["fields"] and not by_zoom[14]["generalised"]
    # OpenMapTiles' rule: lines merged up to z11, the segments themselves (with id) above
    assert by_zoom[11]["linesMerged"] and "id" not in by_zoom[11]["fields"]
    assert not by_zoom[12]["linesMerged"] and "id" in by_zoom[12]["fields"]
    assert meta["onemap:maxTileBytes"] == MAX_TILE_BYTES


def test_tile_etag_is_the_version_and_revalidates(api) -> None:
    z = 13
    x, y = tile_index(110.42, -6.98, z)
    url = f"{api}/collections/{ROADS.id}/tiles/{WMQ}/{z}/{y}/{x}"
    first = requests.get(url, params={"f": "mvt"}, timeout=30)
    assert first.status_code == 200 and first.content
    etag = first.headers["ETag"]
    assert etag.strip('"').endswith(tiles.RENDERER)
    again = requests.get(url, params={"f": "mvt"}, headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert requests.get(url, params={"f": "mvt"}, timeout=30).content == first.content


def test_a_stored_tile_is_sent_as_pygeoapi_sends_a_drawn_one(api) -> None:
    """The second request of a tile is answered from the store before pygeoapi runs
    (onemap.serve.stored_tiles): same bytes, same headers but the cache note and Date."""
    z = 15
    x, y = tile_index(110.4211, -6.9789, z)  # a tile no other test asks for
    url = f"{api}/collections/{ROADS.id}/tiles/{WMQ}/{z}/{y}/{x}"
    drawn = requests.get(url, params={"f": "mvt"}, timeout=30)
    stored = requests.get(url, params={"f": "mvt"}, timeout=30)
    assert drawn.status_code == stored.status_code == 200 and drawn.content
    assert (drawn.headers["X-Onemap-Tile-Cache"], stored.headers["X-Onemap-Tile-Cache"]) == (
        "miss",
        "hit",
    )
    assert stored.content == drawn.content

    def same(headers) -> dict:
        return {k: v for k, v in headers.items() if k not in ("Date", "X-Onemap-Tile-Cache")}

    assert same(stored.headers) == same(drawn.headers)
    assert stored.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
