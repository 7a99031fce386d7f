"""``onemap cluster up | down | status``: the whole rehearsal, in dependency order."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from onemap.cluster import haproxy, nodes, pgbouncer, replicas
from onemap.cluster.layout import Layout
from onemap.cluster.processes import listening, own_dir
from onemap.core.settings import ClusterSettings, DbSettings
from onemap.db import schema
from onemap.db.cluster import Cluster


def layout() -> Layout:
    """The rehearsal the settings describe."""
    return Layout(DbSettings(), ClusterSettings())


def up(lay: Layout | None = None, report: Callable[[str], None] = lambda _m: None) -> Layout:
    """Start what is not running: primary, replicas, PgBouncers, API nodes, HAProxy."""
    lay = lay or layout()
    report(schema.up())  # the primary: the project's cluster, roles, schema
    own_dir(lay.root)
    for i in lay.replicas:
        replicas.start(lay, i)
        report(f"replica {i}: {lay.dsn(lay.replica_port(i))} (hot standby)")
    for j in range(len(lay.replicas) + 1):
        pgbouncer.start(lay, j)
        report(f"pgbouncer {j}: {lay.dsn(lay.bouncer_port(j))} → port {lay.db_port(j)}")
    for k in lay.nodes:
        nodes.start(lay, k)
        report(f"API node {k}: {nodes.url(lay, k)} reads {lay.node_read_dsn(k)}")
    haproxy.start(lay)
    report(f"HAProxy: http://{lay.host}:{lay.haproxy_port}/ (health checks on /health)")
    return lay


def down(lay: Layout | None = None, purge: bool = False) -> None:
    """Stop everything but the primary (``onemap db down`` stops it); ``purge`` also deletes
    the replicas' copies and slots and the nodes' folders."""
    lay = lay or layout()
    haproxy.stop(lay)
    for k in lay.nodes:
        nodes.stop(lay, k)
    for j in range(len(lay.replicas) + 1):
        pgbouncer.stop(lay, j)
    for i in lay.replicas:
        if purge:
            replicas.remove(lay, i)
        else:
            replicas.stop(lay, i)
    if purge:
        shutil.rmtree(lay.nodes_dir, ignore_errors=True)


def status(lay: Layout | None = None) -> dict:
    """Each process: where it listens and whether it runs; per node its ``/health``."""
    lay = lay or layout()
    primary_up = Cluster(lay.db).is_running()
    streaming = replicas.streaming(lay) if primary_up else {}
    return {
        "primary": {"port": lay.db.port, "running": primary_up},
        "replicas": {
            i: {
                "port": lay.replica_port(i),
                "running": replicas.replica(lay, i).is_running(),
                **streaming.get(f"onemap-replica-{i}", {"state": "not streaming"}),
            }
            for i in lay.replicas
        },
        "pgbouncers": {
            j: {"port": lay.bouncer_port(j), "running": listening(lay.host, lay.bouncer_port(j))}
            for j in range(len(lay.replicas) + 1)
        },
        "nodes": {k: {"port": lay.node_port(k), "health": nodes.health(lay, k)} for k in lay.nodes},
        "haproxy": {
            "port": lay.haproxy_port,
            "running": listening(lay.host, lay.haproxy_port),
        },
    }
