"""Serving benchmark: onemap's deployment vs pygeoapi's stock providers vs tipg.

The same PostGIS table (``onemap.road_condition`` in the ``onemap_bench`` database,
built anew, loaded by `onemap load` from the bench/inputs.py road files the load
benchmark uses) is served three ways, each with 2 workers on loopback:

- onemap: ``onemap.serve.wsgi:app`` under gunicorn (PostGIS-built GeoJSON, simplified MVT);
- pygeoapi: ``pygeoapi.flask_app:APP`` under gunicorn with its stock ``PostgreSQL`` and
  ``MVT-postgresql`` providers, on the same generated config otherwise;
- tipg 1.6.1 under uvicorn (its own virtualenv in bench/work/venv-tipg), with its cap of
  10,000 features per tile lifted so that its tiles are complete like the others'.

After each load the table is vacuumed (``settle``) and the servers take turns going
first. Each scenario is a fixed URL driven by wrk (8 connections, 2 threads, fixed duration);
requests/s and latency p50/p95 come from wrk's Lua ``done`` hook. The servers are measured
in rounds (``ROUNDS``: each server started, driven through every scenario and stopped,
then the next; the order rotates each round) and a cell reports its median round: one
5-second run per cell had moved a scenario by a quarter between runs of the day, and
rounds keep each server's runs close in time to the others'. One request first
checks the URL (status, features); a server that takes over 30 s for it is recorded
as timed out and not driven (stock pygeoapi's low-zoom tiles at 1M segments). Benchmarks
are not tests: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench.common import BENCH, RESULTS, WORK, commit, fresh_database, machine
from bench.inputs import input_file
from onemap.core.layers import get_layer
from onemap.core.settings import DbSettings, ServeSettings, child_env
from onemap.db.connect import reader_conninfo
from onemap.load.loader import load_layer
from onemap.publish.pygeoapi_config import build_config, render
from onemap.serve.server import generate_openapi, gunicorn_cmd, server_env

DB = "onemap_bench"
TIPG_VENV = WORK / "venv-tipg"
LUA = BENCH / "wrk_report.lua"
CHECK_TIMEOUT_S = 30
SERVERS = ("onemap", "pygeoapi", "tipg")
ROUNDS = 3  # per cell; the median round is reported (see the module doc)
CENTRE = (110.42, -6.98)
SCENARIOS = {
    "items: bbox ~3 blocks, limit 100": (
        "items",
        {"bbox": (110.415, -6.985, 110.425, -6.975), "limit": 100},
    ),
    "items: bbox one kecamatan, limit 1000": (
        "items",
        {"bbox": (110.40, -7.00, 110.45, -6.96), "limit": 1000},
    ),
    "items: deep page (offset 5000), limit 100": ("items", {"offset": 5000, "limit": 100}),
    "tile z12": ("tile", {"z": 12}),
    "tile z14": ("tile", {"z": 14}),
    "tile z16": ("tile", {"z": 16}),
}


def tile_xy(z: int) -> tuple[int, int]:
    """WebMercatorQuad column and row of the city centre."""
    n = 2**z
    x = int((CENTRE[0] + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(CENTRE[1]))) / math.pi) / 2 * n)
    return x, y


def url_for(server: str, base: str, kind: str, params: dict) -> str:
    """The scenario's URL in each server's dialect."""
    coll = "onemap.road_condition" if server == "tipg" else "road_condition"
    if kind == "tile":
        z = params["z"]
        x, y = tile_xy(z)
        if server == "tipg":  # tipg: /tiles/{tms}/{z}/{x}/{y}
            return f"{base}/collections/{coll}/tiles/WebMercatorQuad/{z}/{x}/{y}"
        return f"{base}/collections/{coll}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"
    query = {k: (",".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in params.items()}
    query["f"] = "geojson" if server == "tipg" else "json"
    return f"{base}/collections/{coll}/items?" + "&".join(f"{k}={v}" for k, v in query.items())


def write_configs(settings: DbSettings) -> dict[str, Path]:
    """onemap's generated config (road_condition only) and the stock-provider variant."""
    cfg = build_config(settings)
    cfg["resources"] = {"road_condition": cfg["resources"]["road_condition"]}
    out = {"onemap": WORK / "pygeoapi-onemap.yml"}
    out["onemap"].write_text(render(cfg))
    stock = json.loads(json.dumps(cfg, default=str))
    for provider in stock["resources"]["road_condition"]["providers"]:
        provider["name"] = {"feature": "PostgreSQL", "tile": "MVT-postgresql"}[provider["type"]]
    out["pygeoapi"] = WORK / "pygeoapi-stock.yml"
    out["pygeoapi"].write_text(yaml.safe_dump(stock, sort_keys=False))
    return out


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Poll until the server answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}) before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no answer from {url}")


def start(
    server: str, port: int, configs: dict[str, Path], settings: DbSettings
) -> subprocess.Popen:
    """Start one server on 127.0.0.1:port with 2 workers."""
    serve = ServeSettings(port=port, workers=2)
    env = server_env(serve, settings)
    log = open(WORK / f"{server}.log", "w")  # noqa: SIM115 - handed to the child
    if server == "tipg":
        env = child_env(
            **{
                "DATABASE_URL": _pg_url(settings),
                "TIPG_DB_SCHEMAS": '["onemap"]',
                "TIPG_DB_TABLES": '["onemap.road_condition"]',
                "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]',
                "TIPG_MAX_FEATURES_PER_QUERY": "10000",
                # tipg cuts a tile at 10,000 features by default: low-zoom tiles of the 100k
                # and 1M tables would be incomplete, and not the tiles the other two send
                "TIPG_MAX_FEATURES_PER_TILE": "100000000",
            }
        )
        cmd = [
            str(TIPG_VENV / "bin/uvicorn"),
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_up(f"http://127.0.0.1:{port}/collections", proc)
        return proc
    env["PYGEOAPI_CONFIG"] = str(configs[server])
    env["PYGEOAPI_OPENAPI"] = str(WORK / f"openapi-{server}.yml")
    generate_openapi(env, onemap_extras=server == "onemap")
    app = "onemap.serve.wsgi:app" if server == "onemap" else "pygeoapi.flask_app:APP"
    proc = subprocess.Popen(gunicorn_cmd(serve, app), env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_up(f"http://127.0.0.1:{port}/conformance?f=json", proc)
    return proc


def _pg_url(settings: DbSettings) -> str:
    from onemap.db.connect import role_params

    p = role_params("reader", settings)
    return f"postgresql://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{p['dbname']}"


def stop(proc: subprocess.Popen, settings: DbSettings) -> None:
    """Stop a server, and end what its database sessions still run.

    PostgreSQL notices that a client has gone only when it next writes to it: a stopped
    server's slow query (stock pygeoapi's low-zoom tiles) went on using a core while the
    next server was measured (tipg's 10k figures halved).
    """
    from onemap.db import cluster

    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a worker stuck in a slow query
        proc.kill()
        proc.wait()
    with cluster.start(settings).superuser_connect(autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (settings.name,),
        )


def settle(settings: DbSettings) -> None:
    """VACUUM ANALYZE the freshly loaded table, as autovacuum soon would after a load.

    The first reader of new rows otherwise pays for setting their hint bits, and counts
    cannot use index-only scans until the visibility map is set: whichever server ran
    first would be measured on a colder table than the others.
    """
    import psycopg

    from onemap.db.connect import owner_conninfo

    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) onemap.road_condition")


def check(url: str) -> dict:
    """One request: status, bytes, and features returned (a sanity check across servers)."""
    with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT_S) as r:
        body = r.read()
    info = {"status": r.status, "bytes": len(body)}
    if body[:1] == b"{":
        info["features"] = len(json.loads(body).get("features", []))
    return info


def wrk(url: str, seconds: int) -> dict:
    """Drive one URL with wrk (8 connections); requests/s and latency in ms."""
    res = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "60s", "-s", str(LUA), url],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("JSON "))
    return json.loads(line[5:])


def run(sizes: list[int], seconds: int, rounds: int = ROUNDS) -> dict:
    """Every scenario on every server at every size, in ``rounds`` rounds; each cell's
    figures are those of its median round (requests/s), with every round's kept."""
    settings = fresh_database(DB)
    layer = get_layer("road_condition")
    results: list[dict] = []
    for n in sizes:
        t0 = time.monotonic()
        load_layer(layer, input_file("roads", n), settings=settings)
        print(f"{n} segments loaded in {time.monotonic() - t0:.1f} s", flush=True)
        settle(settings)
        configs = write_configs(settings)
        cells: dict[tuple[str, str], dict] = {}
        for r in range(rounds):
            # rotate the order per size and round: no server always meets the table first
            k = (sizes.index(n) + r) % len(SERVERS)
            for server in SERVERS[k:] + SERVERS[:k]:
                port = 5600 + SERVERS.index(server)
                proc = start(server, port, configs, settings)
                try:
                    for name, (kind, params) in SCENARIOS.items():
                        url = url_for(server, f"http://127.0.0.1:{port}", kind, params)
                        row = cells.setdefault((server, name), _first_round(n, server, name, url))
                        if "timeout_s" in row or "error" in row:
                            continue  # not driven (see the module doc)
                        try:
                            row["runs"].append(wrk(url, seconds))
                        except (subprocess.CalledProcessError, StopIteration) as exc:
                            row["error"] = str(exc)[:200]
                finally:
                    stop(proc, settings)
        for row in cells.values():
            results.append(_median_round(row))
            print(json.dumps({k: row.get(k) for k in SHOWN}), flush=True)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "duration_s": seconds,
        "rounds": rounds,
        "results": results,
    }


SHOWN = ("size", "server", "scenario", "rps", "rps_rounds", "p50_ms", "p95_ms", "features",
         "timeout_s", "error")  # fmt: skip


def _first_round(n: int, server: str, name: str, url: str) -> dict:
    """A cell's row: one checking request first (status, features, or a timeout)."""
    row = {"size": n, "server": server, "scenario": name, "url": url, "runs": []}
    try:
        row |= check(url)
    except OSError as exc:  # urllib wraps a connect timeout in URLError
        if TimeoutError in (type(exc), type(getattr(exc, "reason", None))):
            row["timeout_s"] = CHECK_TIMEOUT_S  # not driven: see the module doc
        else:
            row["error"] = str(exc)[:200]
    return row


def _median_round(row: dict) -> dict:
    """The row with the figures of its median round by requests/s, and every round's."""
    runs = sorted(row.pop("runs"), key=lambda r: r.get("rps") or 0)
    if runs:
        row |= runs[len(runs) // 2]
        row["rps_rounds"] = [r.get("rps") for r in runs]
    return row


def versions() -> dict:
    """Versions of the servers and the database."""
    import pygeoapi

    return {
        "pygeoapi": pygeoapi.__version__,
        "tipg": "1.6.1",
        "postgis": _postgis_version(),
        "onemap_commit": commit(),
    }


def _postgis_version() -> str:
    import psycopg

    with psycopg.connect(reader_conninfo(DbSettings(name=DB))) as conn:
        return conn.execute("SELECT postgis_lib_version()").fetchone()[0]


def main() -> None:
    """CLI: python -m bench.serve [--sizes …] [--seconds …]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    report = run([int(s) for s in args.sizes.split(",")], args.seconds, args.rounds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {RESULTS / 'serve.json'}")


if __name__ == "__main__":
    main()
