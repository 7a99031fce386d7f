"""The one-machine rehearsal of a multi-machine deployment (``onemap cluster``): the
project cluster as primary, two hot-standby replicas, a PgBouncer per database, two API
nodes and HAProxy, on loopback ports, up for this module and always torn down.

Failure behaviour: a lost replica, a lost API node and a lagging replica are routed
around (no failed request once HAProxy's health check has seen it); a load while a
replica is down publishes, and the replica catches up when it returns.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import psycopg
import pytest

from onemap.cluster import control, nodes, replicas
from onemap.cluster.layout import Layout
from onemap.core.layers import get_layer
from onemap.core.settings import (
    ClusterSettings,
    DbSettings,
    TopologySettings,
    child_env,
    env_name,
    project_root,
)
from onemap.db.cluster import Cluster
from onemap.db.connect import dsn_conninfo
from tests.settings import SUITE

LAYER = "admin_kecamatan"
ITEMS = f"/collections/{LAYER}/items?f=json&limit=5&bbox=110.3,-7.1,110.5,-6.9"
MAX_LAG_S = 3  # the lag above which a node's /health says 503 (ONEMAP_MAX_REPLICA_LAG_S)


def _free_block(first: int = 25640, size: int = 8) -> int:
    """The first port of ``size`` free loopback ports, searched from ``first``: below
    32768, where Linux picks the local ports of outgoing connections
    (net.ipv4.ip_local_port_range), which took a fixed port above it while the suite ran."""
    for base in range(first, 32768 - size, size):
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free loopback ports below 32768")


CHECK = ClusterSettings(
    port=SUITE.cluster_port or _free_block(), check_interval_ms=500, check_fall=2
)
# a failure is noticed after fall × interval; a check may itself wait up to its timeout
GRACE_S = CHECK.check_fall * CHECK.check_interval_ms / 1000 + 3


def _tools() -> None:
    missing = [
        b for b in ("pgbouncer", "haproxy") if not shutil.which(b, path="/usr/sbin:/usr/bin")
    ]
    if missing and os.geteuid() == 0:
        subprocess.run([str(project_root() / "scripts" / "system-deps"), *missing], check=True)
    elif missing:  # a client the suite needs: fail, don't skip
        pytest.fail(f"{', '.join(missing)} not installed: run `make system-deps` as root")


@pytest.fixture(scope="module")
def rehearsal(loaded, demo_dir) -> Layout:
    _tools()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env_name(TopologySettings, "max_replica_lag_s"), str(MAX_LAG_S))
        lay = Layout(DbSettings(), CHECK)
        try:
            control.up(lay)
            yield lay
        finally:
            control.down(lay, purge=True)


def _get(lay: Layout, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{lay.host}:{lay.haproxy_port}{path}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


def _hammer(lay: Layout, seconds: float) -> list[tuple[float, int]]:
    """(time, status) of items requests through HAProxy for ``seconds``."""
    start = time.monotonic()
    seen = []
    while (now := time.monotonic()) - start < seconds:
        seen.append((now - start, _get(lay, ITEMS)[0]))
    return seen


def _wait(predicate: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def _healthy(lay: Layout, k: int) -> bool:
    health = nodes.health(lay, k)
    return bool(health and health.get("ok"))


def test_requests_through_haproxy_reach_both_nodes_on_replicas(rehearsal: Layout) -> None:
    lay = rehearsal
    status, body = _get(lay, ITEMS)
    assert status == 200 and json.loads(body)["features"]
    ports = set()
    for _ in range(4):  # round robin
        status, body = _get(lay, "/health")
        health = json.loads(body)
        assert status == 200 and health["role"] == "replica", health
        assert health["published_versions"][LAYER] is not None
        ports.add(health["database"]["port"])
    assert ports == {lay.bouncer_port(1), lay.bouncer_port(2)}
    streaming = replicas.streaming(lay)
    assert {r["state"] for r in streaming.values()} == {"streaming"}, streaming


def test_a_stopped_replica_is_routed_around(rehearsal: Layout) -> None:
    lay = rehearsal
    replicas.stop(lay, 1)
    try:
        seen = _hammer(lay, GRACE_S + 4)
        late_failures = [s for t, s in seen if t > GRACE_S and s != 200]
        assert late_failures == [], seen
        assert not _healthy(lay, 1)  # node 1's database is gone: out of rotation
    finally:
        replicas.start(lay, 1)
    _wait(lambda: _healthy(lay, 1), "node 1 healthy again")


def test_a_stopped_api_node_is_routed_around(rehearsal: Layout) -> None:
    lay = rehearsal
    nodes.stop(lay, 2)
    try:
        seen = _hammer(lay, GRACE_S + 3)
        assert [s for t, s in seen if t > GRACE_S and s != 200] == [], seen
    finally:
        nodes.start(lay, 2)
    assert _healthy(lay, 2)


def test_a_lagging_replica_is_taken_out_of_rotation(rehearsal: Layout) -> None:
    lay = rehearsal
    replica = Cluster(lay.replica_settings(1))
    with replica.superuser_connect(autocommit=True) as su:
        su.execute("SELECT pg_wal_replay_pause()")
        try:
            # a commit on the primary that replica 1 receives and does not replay
            with Cluster(lay.db).superuser_connect(autocommit=True) as primary:
                primary.execute("SELECT pg_current_xact_id()")
            _wait(lambda: not _healthy(lay, 1), "node 1 reports its lag", MAX_LAG_S + 30)
            health = nodes.health(lay, 1)
            assert health["replay_lag_s"] > MAX_LAG_S and not health["ok"]
            time.sleep(GRACE_S)
            for _ in range(6):  # only node 2 (replica 2) answers
                status, body = _get(lay, "/health")
                assert status == 200
                assert json.loads(body)["database"]["port"] == lay.bouncer_port(2)
            assert all(s == 200 for _, s in _hammer(lay, 2))
        finally:
            su.execute("SELECT pg_wal_replay_resume()")
    _wait(lambda: _healthy(lay, 1), "node 1 back after replaying")


def _run_at(conninfo: str) -> int | None:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT onemap_meta.run_at(%s, now())", (LAYER,)).fetchone()[0]


def test_a_load_while_a_replica_is_down_publishes_and_it_catches_up(
    rehearsal: Layout, scratch_settings: DbSettings, demo_dir
) -> None:
    lay = rehearsal
    scratch = scratch_settings.name
    read_dsns = [f"postgresql://{lay.host}:{lay.replica_port(i)}/{scratch}" for i in lay.replicas]
    replicas.stop(lay, 2)
    try:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "onemap.cli",
                "load",
                LAYER,
                str(demo_dir / get_layer(LAYER).demo_file),
            ],
            env=child_env(
                **{
                    env_name(DbSettings, "name"): scratch,
                    env_name(TopologySettings, "read_dsns"): json.dumps(read_dsns),
                }
            ),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr
        assert f"replica {read_dsns[0]}: replayed the publish" in res.stderr
        assert f"replica {read_dsns[1]}: not reached" in res.stderr
        primary = f"postgresql://{lay.host}:{lay.db.port}/{scratch}"
        published = _run_at(dsn_conninfo(primary, "reader"))
        assert published is not None
        assert _run_at(dsn_conninfo(read_dsns[0], "reader")) == published
    finally:
        replicas.start(lay, 2)
    _wait(
        lambda: _run_at(dsn_conninfo(read_dsns[1], "reader")) == published,
        "replica 2 replays the load it missed",
    )
