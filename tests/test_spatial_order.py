"""A load stores a layer's rows in spatial order, so a bbox query reads few heap pages.

The file's rows lie in random order across the city (as the benchmark's roads do); after
the load the table's physical order follows the Hilbert key (``onemap.load.hilbert``), and a
bbox query touches far fewer heap blocks than the same rows kept in file order.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from pyproj import CRS

from onemap.core.city import get_city
from onemap.core.layers import get_layer
from onemap.db.connect import owner_conninfo
from onemap.load.geometry import GeometryChecker
from onemap.load.hilbert import hilbert_keys
from onemap.load.loader import load_layer

ROADS = get_layer("road_condition")
N = 4000
BBOX = (110.40, -7.03, 110.44, -7.00)  # about 1/18 of the generated extent


def scattered_roads(n: int, seed: int = 14) -> gpd.GeoDataFrame:
    """``n`` short segments at random places in the city, in random (file) order."""
    rng = np.random.default_rng(seed)
    start = np.column_stack([rng.uniform(110.30, 110.48, n), rng.uniform(-7.08, -6.96, n)])
    coords = np.stack([start, start + 3e-4, start + [6e-4, 1e-4]], axis=1)
    return gpd.GeoDataFrame(
        {
            "segment_id": [f"so-{i:05d}" for i in range(n)],  # the file's order
            "name": "Jalan Uji",
            "status": "kota",
            "function": "lokal",
            "surface": "aspal",
            "width_m": 6.0,
            "condition": "baik",
            "iri": 3.1,
            "survey_date": "2025-06-01",
        },
        geometry=shapely.linestrings(coords),
        crs="EPSG:4326",
    )


def heap_blocks(cur: psycopg.Cursor, table: str) -> tuple[int, int]:
    """(rows matched, heap blocks read) of a bbox query through the GiST index."""
    cur.execute("SET LOCAL enable_seqscan = off")
    cur.execute("SET LOCAL enable_indexscan = off")  # a bitmap scan: it counts heap blocks
    plan = cur.execute(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM {table} "  # noqa: S608 (constant)
        "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
        BBOX,
    ).fetchone()[0][0]["Plan"]
    assert plan["Node Type"] == "Bitmap Heap Scan", plan["Node Type"]
    return plan["Actual Rows"], plan["Exact Heap Blocks"] + plan.get("Lossy Heap Blocks", 0)


@pytest.fixture(scope="module")
def loaded_in_order(scratch_settings, tmp_path_factory):
    path = tmp_path_factory.mktemp("spatial") / "scattered.gpkg"
    scattered_roads(N).to_file(path)
    res = load_layer(ROADS, path, settings=scratch_settings)
    assert res.rows_loaded == N
    return scratch_settings


def test_physical_order_follows_the_hilbert_key(loaded_in_order) -> None:
    with psycopg.connect(owner_conninfo(loaded_in_order)) as conn:
        rows = conn.execute(
            "SELECT (ctid::text::point)[0], (ST_XMin(geom) + ST_XMax(geom)) / 2, "
            "(ST_YMin(geom) + ST_YMax(geom)) / 2, substr(segment_id, 4)::int "
            "FROM onemap.road_condition"
        ).fetchall()
    block, cx, cy, file_row = np.array(rows, dtype=np.float64).T
    keys = hilbert_keys(cx, cy, GeometryChecker(ROADS, CRS.from_epsg(4326), get_city()).grid)
    by_key = np.corrcoef(np.argsort(np.argsort(keys)), block)[0, 1]
    by_file = np.corrcoef(file_row, block)[0, 1]
    assert by_key > 0.99, by_key  # the block number rises with the key
    assert abs(by_file) < 0.2, by_file  # and not with the file's order


def test_bbox_reads_few_heap_blocks(loaded_in_order) -> None:
    with psycopg.connect(owner_conninfo(loaded_in_order)) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE file_order AS "
            "SELECT * FROM onemap.road_condition ORDER BY segment_id"
        )
        cur.execute("CREATE INDEX ON file_order USING gist (geom)")
        cur.execute("ANALYZE file_order")
        rows, blocks = heap_blocks(cur, "onemap.road_condition")
        rows_file, blocks_file = heap_blocks(cur, "file_order")
    assert rows == rows_file > 100
    # measured: 242 rows in 11 heap blocks, 92 in file order (of about 100)
    assert blocks * 4 < blocks_file, (blocks, blocks_file)
    assert blocks * 8 < rows, (blocks, rows)
