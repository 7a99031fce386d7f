"""A deployment of two kabupaten/kota: layer tables LIST-partitioned by region, a load
replacing one region's partition, history per region, partition pruning."""

from __future__ import annotations

import json
import urllib.request

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from shapely.geometry import LineString
from sqlalchemy import MetaData

from onemap.core import regions
from onemap.core.errors import LoadError, UserError
from onemap.core.layers import get_layer
from onemap.core.settings import DbSettings, RegionSettings, env_name
from onemap.db import schema
from onemap.db.connect import owner_conninfo
from onemap.load import history
from onemap.load.loader import load_layer
from onemap.load.rollback import rollback
from tests.conftest import OUTPUT, TEST_DB
from tests.served import api_on
from tests.test_load import road_frame

ROADS = get_layer("road_condition")
KOTA, KAB = "33.74", "33.22"
REGIONS = f"""
- {{code: "{KOTA}", name: Kota Semarang, bbox: [110.26971, -7.11546, 110.50523, -6.93375]}}
- {{code: "{KAB}", name: Kabupaten Semarang, bbox: [110.24, -7.42, 110.64, -7.03]}}
"""


@pytest.fixture(scope="module")
def two_regions():
    """Its own database, built by `onemap db up`'s code with a two-region regions file
    (in the test output, which the server's system user can read)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / "regions.yaml"
    path.write_text(REGIONS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env_name(RegionSettings, "regions_file"), str(path))
        regions.regions.cache_clear()
        settings = DbSettings(name=f"{TEST_DB}_regions")
        schema.up(settings)
        schema.rebuild_table(ROADS, owner_conninfo(settings))  # empty, whatever ran before
        yield settings
    regions.regions.cache_clear()


def kab_frame(n: int, prefix: str = "k") -> object:
    """Roads south of Ungaran: inside Kabupaten Semarang, outside Kota Semarang."""
    frame = road_frame(n, segment_id=[f"{prefix}-{i}" for i in range(n)])
    frame["geometry"] = [
        LineString([(110.40 + i * 0.001, -7.25), (110.4005 + i * 0.001, -7.2505)]) for i in range(n)
    ]
    return frame


def load(settings, tmp_path, frame, region, name, **kwargs):
    path = tmp_path / name
    frame.to_file(path)
    return load_layer(ROADS, path, settings=settings, region=region, **kwargs)


def rows(settings, region: str) -> dict[str, int]:
    """segment_id -> load_id of the region's published rows, read through the parent."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        cur = conn.execute(
            "SELECT segment_id, load_id FROM onemap.road_condition WHERE region = %s", (region,)
        )
        return dict(cur.fetchall())


def test_a_region_load_replaces_only_its_partition(two_regions, tmp_path) -> None:
    k1 = load(two_regions, tmp_path, road_frame(4), KOTA, "kota.gpkg")
    b1 = load(two_regions, tmp_path, kab_frame(3), KAB, "kab1.gpkg")
    kota_before = rows(two_regions, KOTA)
    assert kota_before == {f"t-{i}": k1.load_id for i in range(4)}
    assert rows(two_regions, KAB) == {f"k-{i}": b1.load_id for i in range(3)}

    b2 = load(two_regions, tmp_path, kab_frame(2, "m"), KAB, "kab2.gpkg")
    assert rows(two_regions, KOTA) == kota_before, "the other region is untouched"
    assert rows(two_regions, KAB) == {"m-0": b2.load_id, "m-1": b2.load_id}
    assert b2.details["archived"] == 3

    with psycopg.connect(owner_conninfo(two_regions)) as conn:
        parts = conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'onemap.road_condition'::regclass ORDER BY 1"
        ).fetchall()
        assert parts == [
            ("road_condition__r33_22", "FOR VALUES IN ('33.22')"),
            ("road_condition__r33_74", "FOR VALUES IN ('33.74')"),
        ]
        # history per region: the replaced partition became run b2's history
        hist = conn.execute(
            "SELECT region, valid_from, valid_to, count(*) FROM onemap_hist.road_condition "
            "GROUP BY 1, 2, 3"
        ).fetchall()
        assert hist == [(KAB, b1.load_id, b2.load_id, 3)]
        runs = conn.execute(
            "SELECT load_id, region FROM onemap_meta.loads WHERE layer = 'road_condition' "
            "AND status = 'succeeded' AND load_id >= %s ORDER BY load_id",
            (k1.load_id,),
        ).fetchall()
        assert runs == [(k1.load_id, KOTA), (b1.load_id, KAB), (b2.load_id, KAB)]
        # every index of the partitions is attached to the parent's (none built at ATTACH)
        loose = conn.execute(
            "SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "JOIN pg_inherits i ON i.inhrelid = x.indrelid "
            "WHERE i.inhparent = 'onemap.road_condition'::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits p WHERE p.inhrelid = x.indexrelid)"
        ).fetchone()[0]
        assert loose == 0

    # the layer as of b1 is the union of both regions as they were then
    as_of = history.relation_as_of(ROADS, b1.load_id)
    with psycopg.connect(owner_conninfo(two_regions)) as conn:
        keys = conn.execute(sql.SQL("SELECT segment_id FROM {} AS src").format(as_of)).fetchall()
    assert sorted(k for (k,) in keys) == [
        *(f"k-{i}" for i in range(3)),
        *(f"t-{i}" for i in range(4)),
    ]


def test_a_region_query_reads_only_its_partition(two_regions, tmp_path) -> None:
    if not rows(two_regions, KOTA):
        load(two_regions, tmp_path, road_frame(4), KOTA, "kota.gpkg")
    if not rows(two_regions, KAB):
        load(two_regions, tmp_path, kab_frame(3), KAB, "kab.gpkg")
    query = (
        "EXPLAIN (FORMAT JSON) SELECT segment_id FROM onemap.road_condition WHERE {}"
        "geom && ST_MakeEnvelope(110.3, -7.3, 110.5, -6.9, 4326)"
    )

    def scanned(where: str) -> set[str]:
        with psycopg.connect(owner_conninfo(two_regions)) as conn:
            plan = conn.execute(query.format(where)).fetchone()[0]
        found: set[str] = set()

        def walk(node: dict) -> None:
            if "Relation Name" in node:
                found.add(node["Relation Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        return found

    assert scanned(f"region = '{KOTA}' AND ") == {"road_condition__r33_74"}
    assert scanned("") == {"road_condition__r33_74", "road_condition__r33_22"}


def test_loads_that_do_not_fit_the_regions_are_refused(two_regions, tmp_path) -> None:
    frame = road_frame(2)
    with pytest.raises(UserError, match="--region"):
        load(two_regions, tmp_path, frame, None, "none.gpkg")
    with pytest.raises(UserError, match="not a region of this deployment"):
        load(two_regions, tmp_path, frame, "33.21", "demak.gpkg")
    with pytest.raises(UserError, match="partitioned by region"):
        rollback(ROADS, settings=two_regions)
    before = rows(two_regions, KOTA)
    with pytest.raises(LoadError, match="rejected"):  # Kabupaten roads are outside the city
        load(two_regions, tmp_path, kab_frame(3), KOTA, "wrong.gpkg")
    assert rows(two_regions, KOTA) == before


def test_one_region_deployment_is_not_partitioned(tmp_path, monkeypatch) -> None:
    from onemap.db.models import layer_table
    from onemap.load.regions import check_region

    monkeypatch.setenv(env_name(RegionSettings, "regions_file"), str(tmp_path / "none.yaml"))
    regions.regions.cache_clear()
    try:
        assert [r.code for r in regions.regions()] == ["33.74"]  # config/city.yaml's
        assert not regions.partitioned()
        assert "region" not in layer_table(ROADS, MetaData()).c
        with pytest.raises(UserError, match="not partitioned"):
            check_region(ROADS, KOTA, "replace")
        monkeypatch.setenv(env_name(RegionSettings, "partition_by_region"), "1")
        assert regions.partitioned(), "a setting partitions a one-region deployment too"
    finally:
        monkeypatch.undo()
        regions.regions.cache_clear()


def test_the_api_serves_the_union_and_filters_by_region(two_regions, tmp_path) -> None:
    """pygeoapi on the two-region database: the items of both regions, and ``region`` as
    a queryable and a property filter."""
    if not rows(two_regions, KOTA):
        load(two_regions, tmp_path, road_frame(4), KOTA, "kota.gpkg")
    if not rows(two_regions, KAB):
        load(two_regions, tmp_path, kab_frame(3), KAB, "kab.gpkg")
    expected = {KOTA: set(rows(two_regions, KOTA)), KAB: set(rows(two_regions, KAB))}
    with api_on(two_regions, tmp_path, "regions") as api:
        url = f"{api}/collections/road_condition"

        def items(query: str = "") -> dict[str, str]:
            with urllib.request.urlopen(f"{url}/items?f=json&limit=100{query}") as r:
                doc = json.load(r)
            return {
                f["properties"]["segment_id"]: f["properties"]["region"] for f in doc["features"]
            }

        union = items()
        assert set(union) == expected[KOTA] | expected[KAB]
        assert items(f"&region={KAB}") == dict.fromkeys(expected[KAB], KAB)
        assert set(items(f"&filter=region%3D%27{KOTA}%27")) == expected[KOTA]
        with urllib.request.urlopen(f"{url}/queryables?f=json") as r:
            assert "region" in json.load(r)["properties"]


def hist_children(settings) -> set[str]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'onemap_hist.road_condition'::regclass"
            )
        }


def test_history_and_retention_per_region(two_regions, tmp_path) -> None:
    k1 = load(two_regions, tmp_path, road_frame(4), KOTA, "k1.gpkg")
    k2 = load(two_regions, tmp_path, road_frame(3), KOTA, "k2.gpkg")
    b = [
        load(two_regions, tmp_path, kab_frame(3 - i, f"p{i}"), KAB, f"b{i}.gpkg") for i in range(3)
    ]
    kab_runs = history.runs(ROADS, two_regions, region=KAB)
    assert [r.load_id for r in kab_runs[:3]] == [b[2].load_id, b[1].load_id, b[0].load_id]
    assert kab_runs[0].current and not any(r.current for r in kab_runs[1:])
    assert {r.load_id for r in history.runs(ROADS, two_regions, region=KOTA)} >= {
        k1.load_id,
        k2.load_id,
    }
    kota_child = f"road_condition__{k2.load_id}"
    assert kota_child in hist_children(two_regions)

    done = history.prune(ROADS, 1, two_regions, region=KAB)  # keep Kabupaten's current only
    assert done.oldest_kept == b[2].load_id and done.versions >= 2
    children = hist_children(two_regions)
    assert kota_child in children, "Kota Semarang's history is untouched"
    assert not {f"road_condition__{r.load_id}" for r in b[1:]} & children
    assert rows(two_regions, KAB) == dict.fromkeys(["p2-0"], b[2].load_id)
    with psycopg.connect(owner_conninfo(two_regions)) as conn:
        assert history.oldest_kept(conn, ROADS, KAB) == b[2].load_id
        assert history.oldest_kept(conn, ROADS, KOTA) is None
        # a version of the whole layer needs every region's rows: before b2 it is gone
        assert history.oldest_kept(conn, ROADS) == b[2].load_id
        with pytest.raises(UserError, match="pruned"):
            history.ensure_kept(conn, ROADS, b[1].load_id)


def test_attach_reads_no_row(two_regions, tmp_path, monkeypatch) -> None:
    """The stage's CHECK constraint proves the partition bound: PostgreSQL says so (DEBUG1)
    instead of scanning the rows under the lock."""
    from onemap.load import regions as load_regions

    notices: list[str] = []
    original = load_regions.replace_partition

    def listening(cur, *args, **kwargs):
        cur.connection.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        cur.execute("SET LOCAL client_min_messages = debug1")
        return original(cur, *args, **kwargs)

    monkeypatch.setattr(load_regions, "replace_partition", listening)
    load(two_regions, tmp_path, road_frame(3), KOTA, "kota-attach.gpkg")
    implied = [n for n in notices if "is implied by existing constraints" in n]
    assert implied and "road_condition__r33_74" in implied[0], notices


def test_upsert_and_append_change_only_their_region(two_regions, tmp_path) -> None:
    k = load(two_regions, tmp_path, road_frame(3), KOTA, "kota-u.gpkg")
    b = load(two_regions, tmp_path, kab_frame(3), KAB, "kab-u.gpkg")
    kota = rows(two_regions, KOTA)
    changed = kab_frame(2)
    changed.loc[1, "condition"] = "rusak_berat"  # k-1 changes, k-0 stays, k-9 is new
    changed = pd.concat([changed, kab_frame(10).iloc[[9]]], ignore_index=True)
    u = load(two_regions, tmp_path, changed, KAB, "kab-up.gpkg", mode="upsert")
    assert (u.rows_loaded, u.details["unchanged"], u.details["archived"]) == (2, 1, 1)
    assert rows(two_regions, KAB) == {
        "k-0": b.load_id,
        "k-1": u.load_id,
        "k-2": b.load_id,
        "k-9": u.load_id,
    }
    assert rows(two_regions, KOTA) == kota == dict.fromkeys(kota, k.load_id)
    with psycopg.connect(owner_conninfo(two_regions)) as conn:
        hist = conn.execute(
            "SELECT segment_id, region, valid_to FROM ONLY onemap_hist.road_condition"
        ).fetchall()
    assert hist == [("k-1", KAB, u.load_id)]
    # a key of Kota Semarang is new in Kabupaten Semarang; one of Kabupaten is not
    extra = kab_frame(1, "t")
    a = load(two_regions, tmp_path, extra, KAB, "kab-app.gpkg", mode="append")
    assert a.rows_loaded == 1 and rows(two_regions, KAB)["t-0"] == a.load_id
    assert rows(two_regions, KOTA)["t-0"] == k.load_id
    with pytest.raises(LoadError):
        load(two_regions, tmp_path, kab_frame(1), KAB, "kab-dup.gpkg", mode="append")


def test_a_rollback_restores_one_region_and_leaves_the_others(two_regions, tmp_path) -> None:
    k1 = load(two_regions, tmp_path, road_frame(4), KOTA, "rb-k1.gpkg")
    load(two_regions, tmp_path, road_frame(2), KOTA, "rb-k2.gpkg")
    b1 = load(two_regions, tmp_path, kab_frame(3, "rb"), KAB, "rb-b1.gpkg")
    kab_before = rows(two_regions, KAB)
    with pytest.raises(UserError, match="name the region with --region"):
        rollback(ROADS, settings=two_regions)
    with pytest.raises(UserError, match=f"did not publish a version of '{ROADS.id}' in region"):
        rollback(ROADS, to=b1.load_id, settings=two_regions, region=KOTA)

    done = rollback(ROADS, settings=two_regions, region=KOTA)  # the version before now
    assert (done.restored_from, done.rows) == (k1.load_id, 4)
    assert rows(two_regions, KOTA) == {f"t-{i}": done.load_id for i in range(4)}
    assert rows(two_regions, KAB) == kab_before, "the other region is untouched"
    digest = (
        "SELECT md5(string_agg(segment_id || condition || ST_AsText(geom), ',' "
        "ORDER BY segment_id)) FROM {} AS r WHERE region = %s"
    )
    with psycopg.connect(owner_conninfo(two_regions)) as conn:
        then = conn.execute(
            sql.SQL(digest).format(history.relation_as_of(ROADS, k1.load_id)), (KOTA,)
        ).fetchone()
        now = conn.execute(
            sql.SQL(digest).format(sql.Identifier("onemap", "road_condition")), (KOTA,)
        ).fetchone()
        assert now == then and now[0] is not None
        run = conn.execute(
            "SELECT mode, region, restored_from, status FROM onemap_meta.loads WHERE load_id = %s",
            (done.load_id,),
        ).fetchone()
        assert run == ("rollback", KOTA, k1.load_id, "succeeded")
