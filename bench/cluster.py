"""Cluster benchmark: requests/s through HAProxy with 1 and 2 API nodes on 1 and 2 replicas,
and the replication lag of a large load (``onemap cluster``, docs/scale-out.md).

The bench database (``onemap_bench_cluster``, built anew) gets the demo data (the API's
other collections) and ``road_condition`` from the bench/inputs.py road file; then for
each topology the rehearsal is brought up on it (the replicas are copied once and kept
between topologies) and wrk drives the bbox and z14 tile scenarios of bench/serve.py
through HAProxy, and once straight at API node 1 (no HAProxy) for the proxy's own cost.
Every process shares one machine: on 2 cores this measures the overhead of the extra hops
and processes, not scaling, which needs a machine per node. The lag: a load of ``--lag-
rows`` segments is published on the primary, and the time until each replica has replayed
it is measured (``onemap load``'s wait, ``onemap.db.replication``), with the WAL the load
wrote. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from bench.common import BENCH, RESULTS, WORK, commit, fresh_database, machine
from bench.inputs import input_file
from bench.serve import SCENARIOS, check, url_for, wrk
from onemap.cluster import control, nodes
from onemap.cluster.layout import Layout
from onemap.core.layers import get_layer
from onemap.core.settings import ClusterSettings, DbSettings, env_name, export
from onemap.db.replication import current_lsn, wait_replayed
from onemap.load import demo
from onemap.load.loader import load_layer

DB = "onemap_bench_cluster"
# the rehearsal's ports for the benchmark (8 from here: HAProxy, replicas, PgBouncers, nodes)
PORT = 55650
TOPOLOGIES = ((1, 1), (2, 1), (1, 2), (2, 2))  # (API nodes, replicas)
MEASURED = ("items: bbox ~3 blocks, limit 100", "tile z14")


def _scenarios(base: str) -> dict[str, str]:
    return {name: url_for("onemap", base, *SCENARIOS[name]) for name in MEASURED}


def serve_runs(settings: DbSettings, seconds: int) -> list[dict]:
    """wrk through HAProxy per topology (and once straight at node 1)."""
    results = []
    for n_nodes, n_replicas in TOPOLOGIES:
        lay = Layout(settings, ClusterSettings(port=PORT, nodes=n_nodes, replicas=n_replicas))
        control.up(lay)
        try:
            targets = {"haproxy": f"http://{lay.host}:{lay.haproxy_port}"}
            if (n_nodes, n_replicas) == (1, 1):
                targets["node 1 direct"] = nodes.url(lay, 1)
            for via, base in targets.items():
                for name, url in _scenarios(base).items():
                    check(url)  # warms the node's tile cache and connections too
                    res = wrk(url, seconds)
                    row = {"nodes": n_nodes, "replicas": n_replicas, "via": via}
                    results.append({**row, "scenario": name, **res})
                    where = f"{n_nodes} node(s), {n_replicas} replica(s), {via}"
                    rate = f"{res['rps']:.0f} req/s, p95 {res['p95_ms']:.0f} ms"
                    print(f"{where}: {name}: {rate}", flush=True)
        finally:
            control.down(lay)  # the replicas' copies stay for the next topology
    return results


def lag_run(settings: DbSettings, rows: int) -> dict:
    """Replay lag of a ``rows``-segment load on two replicas."""
    lay = Layout(settings, ClusterSettings(port=PORT, nodes=1, replicas=2))
    control.up(lay)
    try:
        before = current_lsn(settings)
        t0 = time.monotonic()
        res = load_layer(get_layer("road_condition"), input_file("roads", rows), settings=settings)
        load_s = time.monotonic() - t0
        lsn = current_lsn(settings)
        replayed = [wait_replayed(dsn, lsn, 600, settings) for dsn in lay.replica_dsns]
    finally:
        control.down(lay, purge=True)
    return {
        "rows": res.rows_loaded,
        "load_s": round(load_s, 2),
        "wal_bytes": _lsn_bytes(lsn) - _lsn_bytes(before),
        "replica_wait_s": [round(r.seconds, 3) for r in replayed],
        "caught_up": [r.caught_up for r in replayed],
    }


def _lsn_bytes(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def markdown(out: dict) -> str:
    """bench/CLUSTER.md: the run's tables and what they say (bench/report.py adds it to
    RESULTS.md)."""
    w = out["wrk"]
    lines = [
        "# Cluster",
        "",
        f"`make bench-cluster` (bench/cluster.py), {out['when']}, commit {out['commit']}: "
        f"{out['rows_served']:,} road segments (plus the demo layers), wrk {w['connections']} "
        f"connections for {w['seconds']} s per cell; 1 gunicorn worker per API node. Every "
        "process — primary, replicas, PgBouncers, API nodes, HAProxy, wrk — shares the same "
        f"{out['machine']['cores']} cores, so this measures the overhead of the extra hops "
        "and processes, not scaling: more nodes or replicas on one machine only divide the "
        "same cores.",
        "",
        "| API nodes | replicas | via | scenario | req/s | p50 ms | p95 ms | errors |",
        "|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in out["serve"]:
        lines.append(
            f"| {r['nodes']} | {r['replicas']} | {r['via']} | {r['scenario']} | "
            f"{r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['errors'] + r['non2xx']} |"
        )
    lag = out["lag"]
    waits = ", ".join(f"{s:.2f} s" for s in lag["replica_wait_s"])
    lines += [
        "",
        f"Replication lag of a large load: {lag['rows']:,} segments published on the primary "
        f"in {lag['load_s']:.1f} s, writing {lag['wal_bytes'] / 2**20:,.0f} MB of WAL; the "
        f"two replicas had replayed the publish {waits} after its commit (the wait "
        "`onemap load` does by default). Streaming replication replays the WAL while the "
        "load is still writing its stage, so what is left at the commit is the end of it. "
        "The load's own time includes the two replicas replaying its WAL on the same cores "
        "(and whatever else the machine ran): the load benchmark above measures it alone.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run both parts, print, write bench/results/cluster.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="segments served")
    ap.add_argument("--lag-rows", type=int, default=1_000_000, help="segments of the lag load")
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per scenario")
    args = ap.parse_args()
    settings = fresh_database(DB)
    export(**{env_name(DbSettings, "name"): DB})  # the nodes serve the bench database
    # every layer and raster the committed pygeoapi.yml serves, then the bench's roads
    demo_dir = WORK / "demo"
    demo.prepare(demo_dir)
    demo.load_all(demo_dir, settings)
    load_layer(get_layer("road_condition"), input_file("roads", args.rows), settings=settings)
    serve = serve_runs(settings, args.seconds)
    lag = lag_run(settings, args.lag_rows)
    print(f"lag: {lag}", flush=True)
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "rows_served": args.rows,
        "wrk": {"connections": 8, "threads": 2, "seconds": args.seconds},
        "serve": serve,
        "lag": lag,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(out, indent=2) + "\n")
    (BENCH / "CLUSTER.md").write_text(markdown(out))


if __name__ == "__main__":
    main()
