"""Load modes, the history of every published version, rollback, and the history API."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import MetaData

from onemap.core.errors import LoadError, UserError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo, reader_conninfo
from onemap.db.models import layer_table
from onemap.load import history
from onemap.load.loader import load_layer
from onemap.load.rollback import rollback
from tests.test_load import road_frame

ROADS = get_layer("road_condition")
COLS = [f.name for f in ROADS.fields] + ["source", "load_id", "geom"]


def digest(settings, relation: sql.Composable) -> tuple[int, str]:
    """Row count and a digest of a relation with the layer's columns (any column order)."""
    cols = sql.SQL(", ").join(map(sql.Identifier, COLS))
    with psycopg.connect(owner_conninfo(settings)) as conn:
        n, md5 = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(string_agg(r::text, '|' ORDER BY r::text)) "
                "FROM (SELECT {} FROM {} AS src) r"
            ).format(cols, relation)
        ).fetchone()
    return n, md5 or ""


LIVE = sql.Identifier("onemap", "road_condition")


def load(settings, tmp_path, frame, mode="replace", name="v.gpkg", **kwargs):
    path = tmp_path / name
    frame.to_file(path)
    res = load_layer(ROADS, path, mode=mode, settings=settings, **kwargs)
    return res, digest(settings, LIVE)


def published(settings) -> dict[str, tuple[str, int]]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute("SELECT segment_id, condition, load_id FROM onemap.road_condition")
        return {r[0]: (r[1], r[2]) for r in rows}


def test_every_version_is_kept_and_readable_as_of_its_run(scratch_settings, tmp_path) -> None:
    versions = {}
    r1, versions[1] = load(scratch_settings, tmp_path, road_frame(4), name="v1.gpkg")
    changed = road_frame(3, condition=["rusak_berat", "baik", "sedang"])
    r2, versions[2] = load(scratch_settings, tmp_path, changed, name="v2.gpkg")
    upsert = road_frame(3, condition=["rusak_berat", "rusak_ringan", "sedang"])
    upsert.loc[2, "segment_id"] = "t-9"
    r3, versions[3] = load(scratch_settings, tmp_path, upsert, "upsert", "v3.gpkg")
    r4, versions[4] = load(
        scratch_settings, tmp_path, road_frame(1, segment_id=["t-20"]), "append", "v4.gpkg"
    )
    assert (r3.rows_loaded, r3.details["unchanged"], r3.details["archived"]) == (2, 1, 1)
    assert r4.rows_loaded == 1
    now = published(scratch_settings)
    assert now["t-0"] == ("rusak_berat", r2.load_id), "unchanged by the upsert: keeps its run"
    assert now["t-1"] == ("rusak_ringan", r3.load_id)
    assert now["t-9"] == ("sedang", r3.load_id) and now["t-2"] == ("sedang", r2.load_id)
    assert now["t-20"][1] == r4.load_id and len(now) == 5
    for i, run in enumerate((r1, r2, r3, r4), start=1):
        as_of = digest(scratch_settings, history.relation_as_of(ROADS, run.load_id))
        assert as_of == versions[i], f"version after run {run.load_id}"
    by_id = history.relation_as_of("road_condition", r1.load_id)  # a layer id works too
    assert digest(scratch_settings, by_id) == versions[1]


def test_run_at_names_the_version_published_then(scratch_settings, tmp_path) -> None:
    r0, _ = load(scratch_settings, tmp_path, road_frame(1), name="0.gpkg")
    time.sleep(0.05)
    before = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    r1, _ = load(scratch_settings, tmp_path, road_frame(2), name="a.gpkg")
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    r2, _ = load(scratch_settings, tmp_path, road_frame(3), name="b.gpkg")
    assert history.run_at(ROADS, between, scratch_settings) == r1.load_id
    with psycopg.connect(reader_conninfo(scratch_settings)) as conn:  # the reader may ask
        assert history.run_at("road_condition", dt.datetime.now(dt.UTC), conn=conn) == r2.load_id
    assert history.run_at(ROADS, before, scratch_settings) == r0.load_id
    with pytest.raises(ValueError, match="aware"):
        history.run_at(ROADS, dt.datetime.now(), scratch_settings)  # noqa: DTZ005


def test_append_refuses_keys_already_published(scratch_settings, tmp_path) -> None:
    r1, before = load(scratch_settings, tmp_path, road_frame(3))
    again = road_frame(3)
    again.loc[2, "segment_id"] = "t-7"
    with pytest.raises(
        LoadError,
        match=rf"row 1: key 't-0' is already published \(run {r1.load_id}\); --mode append "
        r"only adds new keys, use --mode upsert",
    ):
        load(scratch_settings, tmp_path, again, "append", "again.gpkg")
    assert digest(scratch_settings, LIVE) == before


def test_rollback_restores_a_version_and_is_a_run(scratch_settings, tmp_path) -> None:
    r1, v1 = load(scratch_settings, tmp_path, road_frame(4), name="v1.gpkg")
    r2, v2 = load(scratch_settings, tmp_path, road_frame(2), name="v2.gpkg")
    back = rollback(ROADS, settings=scratch_settings)
    assert (back.restored_from, back.rows) == (r1.load_id, 4) and back.load_id > r2.load_id
    n, _ = digest(scratch_settings, LIVE)
    restored = {k: v[0] for k, v in published(scratch_settings).items()}
    assert n == 4 and restored == {f"t-{i}": "baik" for i in range(4)}
    assert {v[1] for v in published(scratch_settings).values()} == {back.load_id}
    again = rollback(ROADS, to=r2.load_id, settings=scratch_settings)
    assert digest(scratch_settings, LIVE)[0] == 2 and again.restored_from == r2.load_id
    runs = history.runs(ROADS, scratch_settings, limit=4)
    assert [r.mode for r in runs[:2]] == ["rollback", "rollback"]
    assert runs[0].current and runs[0].restored_from == r2.load_id
    assert runs[1].restored_from == r1.load_id and runs[1].status == "succeeded"
    with pytest.raises(UserError, match="is the version of 'road_condition' published now"):
        rollback(ROADS, to=again.load_id, settings=scratch_settings)
    with pytest.raises(UserError, match=r"run 999999 did not publish a version of 'road_co"):
        rollback(ROADS, to=999999, settings=scratch_settings)


def test_a_rollback_refused_midway_changes_nothing_and_is_a_failed_run(
    scratch_settings, tmp_path
) -> None:
    """The database refuses the version being staged (a row the layer's CHECK refuses):
    the layer is as it was, the stage is gone, the run is recorded as failed; once the
    history is sound again, the same rollback goes through."""
    r1, _ = load(scratch_settings, tmp_path, road_frame(3), name="a.gpkg")
    changed = road_frame(1, condition=["rusak_berat"])
    load(scratch_settings, tmp_path, changed, "upsert", "b.gpkg")  # t-0 of r1 -> history
    _, now = load(scratch_settings, tmp_path, road_frame(2), name="c.gpkg")
    archived = sql.SQL("UPDATE ONLY onemap_hist.road_condition SET condition = %s "
                       "WHERE valid_from = %s AND segment_id = 't-0'")  # fmt: skip
    with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
        assert conn.execute(archived, ("bogus", r1.load_id)).rowcount == 1
    try:
        with pytest.raises(
            LoadError, match=r"^the database refused the rollback \(new row .*check"
        ):
            rollback(ROADS, to=r1.load_id, settings=scratch_settings)
        assert digest(scratch_settings, LIVE) == now
        with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
            run = conn.execute(
                "SELECT mode, source_file, status, message, restored_from, rows_loaded "
                "FROM onemap_meta.loads WHERE layer = 'road_condition' "
                "ORDER BY load_id DESC LIMIT 1"
            ).fetchone()
            staged = conn.execute(
                "SELECT count(*) FROM pg_tables "
                "WHERE schemaname = 'onemap_stage' AND tablename = 'road_condition'"
            ).fetchone()[0]
        assert run[:3] == ("rollback", f"rollback to run {r1.load_id}", "failed")
        assert run[3].startswith("the database refused the rollback") and run[4:] == (r1.load_id, 0)
        assert staged == 0
    finally:
        with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
            conn.execute(archived, ("baik", r1.load_id))
    back = rollback(ROADS, to=r1.load_id, settings=scratch_settings)
    assert back.rows == 3 and digest(scratch_settings, LIVE) != now
    assert published(scratch_settings) == {f"t-{i}": ("baik", back.load_id) for i in range(3)}


def test_replace_keeps_grants_comments_constraints_and_indexes(scratch_settings, tmp_path) -> None:
    first, _ = load(scratch_settings, tmp_path, road_frame(3), name="a.gpkg")
    load(scratch_settings, tmp_path, road_frame(4), name="b.gpkg")
    model = layer_table(ROADS, MetaData())
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        comment = conn.execute(
            "SELECT obj_description('onemap.road_condition'::regclass, 'pg_class')"
        ).fetchone()[0]
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'onemap.road_condition'::regclass"
            )
        }
        checks = {
            r[0]
            for r in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = "
                "'onemap.road_condition'::regclass AND contype IN ('c', 'p') AND convalidated"
            )
        }
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = "
                "'onemap.road_condition'::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum"
            )
        ]
        children = conn.execute(
            "SELECT count(*) FROM pg_inherits "
            "WHERE inhparent = 'onemap_hist.road_condition'::regclass"
        ).fetchone()[0]
    assert comment == model.comment
    assert indexes == {f"onemap.{i.name}" for i in model.indexes} | {"onemap.road_condition_pkey"}
    assert {c.name for c in model.constraints if c.name} <= checks
    assert columns == COLS and children >= 1
    with psycopg.connect(reader_conninfo(scratch_settings)) as reader:
        assert reader.execute("SELECT count(*) FROM onemap.road_condition").fetchone()[0] == 4
        as_of = history.relation_as_of(ROADS, first.load_id)  # history is as public as the layer
        assert reader.execute(sql.SQL("SELECT count(*) FROM {} s").format(as_of)).fetchone()[0] == 3
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT count(*) FROM onemap_stage.road_condition")


def test_a_view_on_the_layer_follows_the_new_version(scratch_settings, tmp_path) -> None:
    """Something refers to the table by OID: the replace happens in place, same result."""
    load(scratch_settings, tmp_path, road_frame(3), name="a.gpkg")
    with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
        conn.execute(
            "CREATE VIEW onemap.road_condition_bad AS "
            "SELECT segment_id FROM onemap.road_condition WHERE condition <> 'baik'"
        )
    try:
        frame = road_frame(5, condition=["baik", "rusak_berat", "baik", "sedang", "baik"])
        res, after = load(scratch_settings, tmp_path, frame, name="b.gpkg")
        assert res.details["in_place"] and res.details["archived"] == 3 and after[0] == 5
        with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
            bad = conn.execute("SELECT count(*) FROM onemap.road_condition_bad").fetchone()[0]
        assert bad == 2
        assert digest(scratch_settings, history.relation_as_of(ROADS, res.load_id - 1))[0] == 3
    finally:
        with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
            conn.execute("DROP VIEW onemap.road_condition_bad")


def test_history_and_rollback_on_the_command_line(scratch_settings, tmp_path) -> None:
    r1, _ = load(scratch_settings, tmp_path, road_frame(2), name="a.gpkg")
    r2, _ = load(scratch_settings, tmp_path, road_frame(3), name="b.gpkg")
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name, "COLUMNS": "250"})

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "onemap.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    listed = cli("history", "road_condition", "--limit", "3")
    assert listed.returncode == 0, listed.stderr
    assert f"{r2.load_id} " in listed.stdout and "b.gpkg" in listed.stdout
    assert "published now" in listed.stdout and "replace" in listed.stdout
    done = cli("rollback", "road_condition", "--to", str(r1.load_id))
    assert done.returncode == 0, done.stderr
    assert f"restored the version of run {r1.load_id} (2 rows)" in done.stdout
    wrong = cli("rollback", "road_condition", "--to", "999999")
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: run 999999 did not")
    assert "Traceback" not in wrong.stderr


@pytest.fixture(scope="module")
def prune_settings():
    """A new database of its own: pruning must not take versions other tests read, and
    the counts it reports must not depend on an earlier run of the suite."""
    from onemap.core.settings import DbSettings
    from onemap.db import cluster, schema
    from tests.conftest import TEST_DB

    settings = DbSettings(name=f"{TEST_DB}_prune")
    with cluster.start(settings).superuser_connect(autocommit=True) as su:
        su.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(settings.name))
        )
    schema.up(settings)
    return settings


def test_prune_keeps_the_latest_versions_exactly(prune_settings, tmp_path) -> None:
    from onemap.indicators.versions import resolve

    s = prune_settings
    r1, v1 = load(s, tmp_path, road_frame(4), name="p1.gpkg")
    r2, v2 = load(s, tmp_path, road_frame(3, condition=["baik", "sedang", "baik"]), name="p2.gpkg")
    upsert = road_frame(3, condition=["rusak_berat", "sedang", "sedang"])
    r3, v3 = load(s, tmp_path, upsert, "upsert", "p3.gpkg")
    r4, v4 = load(s, tmp_path, road_frame(2), name="p4.gpkg")

    done = history.prune(ROADS, keep=2, settings=s)
    assert (done.oldest_kept, done.versions) == (r3.load_id, 2) and done.row_versions > 0
    # the versions kept read exactly as before; the pruned ones are refused, not partial
    assert digest(s, history.relation_as_of(ROADS, r3.load_id)) == v3
    assert digest(s, history.relation_as_of(ROADS, r4.load_id)) == v4
    with psycopg.connect(owner_conninfo(s)) as conn:
        superseded_before_r3 = conn.execute(
            "SELECT count(*) FROM onemap_hist.road_condition WHERE valid_to <= %s",
            (r3.load_id,),
        ).fetchone()[0]
    assert superseded_before_r3 == 0
    with pytest.raises(UserError, match=f"run {r2.load_id} was pruned"):
        rollback(ROADS, to=r2.load_id, settings=s)
    with psycopg.connect(reader_conninfo(s)) as conn:  # the API's role sees it too
        with pytest.raises(UserError, match="pruned from the history"):
            resolve(str(r1.load_id), [ROADS], conn)
        assert resolve(str(r3.load_id), [ROADS], conn).load_ids == {ROADS.id: r3.load_id}
    marks = {r.load_id: r.pruned for r in history.runs(ROADS, settings=s)}
    assert marks[r1.load_id] and marks[r2.load_id]
    assert not marks[r3.load_id] and not marks[r4.load_id]
    again = history.prune(ROADS, keep=2, settings=s)
    assert (again.versions, again.row_versions) == (0, 0)
    assert v1 != v2  # the pruned versions did differ: the refusal matters

    env = child_env(**{"ONEMAP_DB_NAME": s.name, "COLUMNS": "250"})
    cli = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "prune-history", "road_condition", "--keep", "1"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "pruned 1 older versions" in cli.stdout and f"run {r4.load_id}" in cli.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "prune-history", "road_condition", "--keep", "0"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("error: --keep must be at least 1")
