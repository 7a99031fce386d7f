"""Retention: a layer file's ``history:`` policy applied after each load; rejects capped.

On a database of its own (the counts must not depend on other tests' loads).
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from pydantic import ValidationError

from onemap.core.layers import HistoryPolicy, Layer, get_layer
from onemap.db.connect import owner_conninfo
from onemap.load import history
from onemap.load.loader import load_layer
from onemap.load.runs import RejectStore
from onemap.load.validate import Reject
from tests.test_load import road_frame

ROADS = get_layer("road_condition")


@pytest.fixture(scope="module")
def settings():
    from onemap.core.settings import DbSettings
    from onemap.db import cluster, schema
    from tests.conftest import TEST_DB

    settings = DbSettings(name=f"{TEST_DB}_retention")
    with cluster.start(settings).superuser_connect(autocommit=True) as su:
        su.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(settings.name))
        )
    schema.up(settings)
    return settings


def _with(policy: dict | None) -> Layer:
    data = ROADS.model_dump() | {"history": policy}
    return Layer.model_validate(data)


def test_the_layer_file_validates_the_policy() -> None:
    assert _with({"keep": 3}).history == HistoryPolicy(keep=3)
    assert _with({"keep_days": 30}).history.keep_days == 30
    assert _with(None).history is None
    for bad in ({}, {"keep": 0}, {"keep_days": -1}, {"keep": 2, "forever": True}):
        with pytest.raises(ValidationError):
            _with(bad)


def _children(settings) -> int:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_inherits "
            "WHERE inhparent = 'onemap_hist.road_condition'::regclass"
        ).fetchone()[0]


def test_keep_n_is_applied_after_each_load(settings, tmp_path) -> None:
    layer = _with({"keep": 2})
    runs, notes = [], []
    for i in range(4):
        path = tmp_path / f"v{i}.gpkg"
        condition = ("baik", "sedang", "rusak_ringan", "rusak_berat")[i]
        road_frame(3, condition=[condition] * 3).to_file(path)
        runs.append(load_layer(layer, path, settings=settings, notify=notes.append).load_id)
    # the versions of the last two runs stay readable; the older ones are gone
    kept = [r for r in history.runs(layer, settings=settings) if not r.pruned]
    assert {r.load_id for r in kept} >= set(runs[-2:])
    assert not {r.load_id for r in kept} & set(runs[:2])
    assert _children(settings) == 1  # only the table the last run replaced
    assert any("history policy kept 2 versions" in n for n in notes)
    with psycopg.connect(owner_conninfo(settings)) as conn:
        conn.execute(
            sql.SQL("SELECT count(*) FROM {} AS src").format(
                history.relation_as_of(layer, runs[-2])
            )
        ).fetchone()


def test_keep_days_keeps_the_version_current_then(settings, tmp_path) -> None:
    layer = _with({"keep_days": 7})
    with psycopg.connect(owner_conninfo(settings)) as conn:
        # every run so far happened "long ago"
        conn.execute(
            "UPDATE onemap_meta.loads SET finished_at = now() - interval '30 days', "
            "started_at = now() - interval '30 days' WHERE layer = 'road_condition'"
        )
        before = history.published_runs(conn, layer)
        conn.commit()
    path = tmp_path / "recent.gpkg"
    road_frame(3).to_file(path)
    recent = load_layer(layer, path, settings=settings).load_id
    with psycopg.connect(owner_conninfo(settings)) as conn:
        assert history.versions_to_keep(conn, layer) == 2
    kept = {r.load_id for r in history.runs(layer, settings=settings) if not r.pruned}
    assert {recent, before[0]} <= kept  # the version current 7 days ago, and the new one
    assert not kept & set(before[1:])


def test_rejects_are_capped_per_kind_and_counted(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONEMAP_REJECTS_PER_REASON", "5")
    frame = road_frame(60)
    frame["iri"] = ["abc"] * 40 + [3.0] * 20  # 40 of one kind of problem
    frame.loc[:9, "condition"] = [f"kind{i}" for i in range(10)]  # 10 of another
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    res = load_layer(ROADS, path, mode="replace", settings=settings, max_reject_ratio=1.0)
    with psycopg.connect(owner_conninfo(settings)) as conn:
        stored, details = conn.execute(
            "SELECT (SELECT count(*) FROM onemap_meta.rejects WHERE load_id = %(id)s), details "
            "FROM onemap_meta.loads WHERE load_id = %(id)s",
            {"id": res.load_id},
        ).fetchone()
    counts = details["rejects_by_reason"]
    assert sum(counts.values()) == stored + details["rejects_not_stored"]
    assert all(v >= 1 for v in counts.values()) and max(counts.values()) >= 10
    assert stored <= 5 * len(counts)
    assert res.rows_rejected >= 40  # what the load counted is not capped


def test_reject_kinds_leave_values_out() -> None:
    a = Reject(3, "iri", "abc", "'abc' is not a number")
    b = Reject(9, "iri", "x1", "'x1' is not a number")
    assert RejectStore.kind(a) == RejectStore.kind(b) == "iri: … is not a number"
    c = Reject(4, "iri", "-1.5", "value -1.5 below the minimum 0")
    assert RejectStore.kind(c) == "iri: value … below the minimum …"
