"""A loader killed or disconnected mid-load leaves the published layer exactly as it was,
and two loads of one layer run one after the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psycopg
import pyogrio
import pytest
import shapely

from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from onemap.load.runs import LOCK_NAMESPACE, layer_lock_key
from onemap.load.status import layer_counts
from tests.test_load import last_run, road_frame, snapshot

ROADS = get_layer("road_condition")


@pytest.fixture(scope="module")
def big_roads(tmp_path_factory):
    """300,000 short road segments: a load that takes long enough to be interrupted."""
    n = 300_000
    rng = np.random.default_rng(7)
    x = rng.uniform(110.30, 110.48, n)
    y = rng.uniform(-7.10, -6.95, n)
    coords = np.stack([np.column_stack([x, y]), np.column_stack([x + 0.0005, y + 0.0004])], axis=1)
    geoms = shapely.linestrings(coords)
    path = tmp_path_factory.mktemp("big") / "roads.gpkg"
    pyogrio.write_dataframe(
        __import__("geopandas").GeoDataFrame(
            {
                "segment_id": [f"b{i}" for i in range(n)],
                "status": "kota",
                "function": "lokal",
                "condition": rng.choice(["baik", "sedang", "rusak_ringan", "rusak_berat"], n),
                "iri": rng.uniform(1, 15, n).round(1),
            },
            geometry=geoms,
            crs="EPSG:4326",
        ),
        path,
    )
    return path


def wait_for(settings, pattern: str, timeout: float = 60) -> int:
    """The pid of the backend (of this test database) running a statement LIKE pattern."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE %s AND state = 'active' LIMIT 1",
                (pattern,),
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.01)
    raise AssertionError(f"the loader never ran {pattern}")


def wait_for_copy(settings, timeout: float = 60) -> int:
    """The pid of the backend COPYing into staging, once it is busy."""
    return wait_for(settings, 'COPY "onemap_stage".%', timeout)


def start_loader(path, settings) -> subprocess.Popen:
    env = child_env(**{"ONEMAP_DB_NAME": settings.name, "COLUMNS": "200"})
    return subprocess.Popen(
        [sys.executable, "-m", "onemap.cli", "load", "road_condition", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture()
def published(scratch_settings, tmp_path):
    path = tmp_path / "good.gpkg"
    road_frame(7).to_file(path)
    load_layer(ROADS, path, settings=scratch_settings)
    return snapshot(scratch_settings, "road_condition")


def test_sigkill_mid_copy_changes_nothing(scratch_settings, big_roads, published) -> None:
    proc = start_loader(big_roads, scratch_settings)
    wait_for_copy(scratch_settings)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert snapshot(scratch_settings, "road_condition") == published
    # the server notices the dead connection; the run is then recorded as failed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        layer_counts(scratch_settings)
        run = last_run(scratch_settings, "road_condition")
        if run[1] != "running":
            break
        time.sleep(0.2)
    assert run[1] == "failed" and "killed or disconnected" in run[2]


def test_connection_dropped_mid_copy_changes_nothing(
    scratch_settings, big_roads, published
) -> None:
    proc = start_loader(big_roads, scratch_settings)
    pid = wait_for_copy(scratch_settings)
    with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "error:" in stderr and "Traceback" not in stderr
    assert snapshot(scratch_settings, "road_condition") == published
    run = last_run(scratch_settings, "road_condition")
    assert run[1] == "failed"


def test_a_big_file_loads_completely(scratch_settings, big_roads) -> None:
    res = load_layer(ROADS, big_roads, settings=scratch_settings)
    assert res.rows_loaded == res.rows_read == 300_000
    assert snapshot(scratch_settings, "road_condition")[0] == 300_000


def test_sigkill_while_indexing_changes_nothing(scratch_settings, big_roads, published) -> None:
    """Killed after the stage was committed: the layer is intact, the stage is cleared."""
    proc = start_loader(big_roads, scratch_settings)
    wait_for(scratch_settings, "CREATE %INDEX%onemap_stage%")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert snapshot(scratch_settings, "road_condition") == published
    path = big_roads.parent / "after.gpkg"
    road_frame(3).to_file(path)
    assert load_layer(ROADS, path, settings=scratch_settings).rows_loaded == 3
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_tables "
            "WHERE schemaname = 'onemap_stage' AND tablename = 'road_condition'"
        ).fetchone()[0]
        killed = conn.execute(
            "SELECT status, message FROM onemap_meta.loads WHERE layer = 'road_condition' "
            "ORDER BY load_id DESC OFFSET 1 LIMIT 1"
        ).fetchone()
    assert left == 0
    assert killed[0] == "failed" and "killed or disconnected" in killed[1]


def test_two_loads_of_one_layer_are_serialised(scratch_settings, big_roads, published) -> None:
    """A second load waits while the first loads, says so, and publishes after it.

    The test holds the layer's lock while both loaders start, so that neither can
    finish before the other has asked for the lock (no race with the machine's speed).
    """
    key = (LOCK_NAMESPACE, layer_lock_key("road_condition"))
    waiting = "SELECT pg_advisory_lock%"
    with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, %s)", key)
        first = start_loader(big_roads, scratch_settings)
        wait_for_lock_wait(scratch_settings, 1)
        small = big_roads.parent / "small.gpkg"
        road_frame(4).to_file(small)
        second = start_loader(small, scratch_settings)
        wait_for_lock_wait(scratch_settings, 2)
        holder.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    wait_for_copy(scratch_settings)  # the first loads…
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        still = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE %s AND wait_event_type = 'Lock'",
            (waiting,),
        ).fetchone()[0]
    assert still == 1, "…while the second waits"
    _, err1 = first.communicate(timeout=120)
    _, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    for err in (err1, err2):
        assert "another load of 'road_condition' is running" in err
        assert "waiting for it to finish" in err
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        runs = conn.execute(
            "SELECT source_file, status FROM onemap_meta.loads WHERE layer = 'road_condition' "
            "ORDER BY load_id DESC LIMIT 2"
        ).fetchall()
    assert runs == [(str(small), "succeeded"), (str(big_roads), "succeeded")]
    assert snapshot(scratch_settings, "road_condition")[0] == 4, "the later load is published"


def wait_for_lock_wait(settings, n: int, timeout: float = 60) -> None:
    """Until ``n`` loaders of this database wait for a layer lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        while time.monotonic() < deadline:
            got = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'SELECT pg_advisory_lock%%' AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if got >= n:
                return
            time.sleep(0.02)
    raise AssertionError(f"{n} loaders never waited for the lock")
