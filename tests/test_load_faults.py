"""A loader killed or disconnected mid-COPY leaves the published layer exactly as it was."""

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

from onemap.db.connect import owner_conninfo
from onemap.etl.load import load_layer
from onemap.layers import get_layer
from onemap.status import layer_counts
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


def wait_for_copy(settings, timeout: float = 60) -> int:
    """The pid of the backend COPYing into staging, once it is busy."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY \"stage_%%' "
                "AND state = 'active' AND datname = current_database() LIMIT 1"
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.01)
    raise AssertionError("the loader never reached COPY")


def start_loader(path, settings) -> subprocess.Popen:
    env = {**os.environ, "ONEMAP_DB_NAME": settings.name}
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
