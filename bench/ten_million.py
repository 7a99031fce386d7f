"""10 million road segments: load, disk, items and tiles (`make bench-10m`).

    .venv/bin/python -m bench.ten_million [--segments N] [--seconds 5] [--no-serve]

Not part of `make bench` (21 min on a 2-core machine, and ~45 GB of disk at the full size). The size
is ``--segments`` or ``ONEMAP_BENCH_SEGMENTS`` (default 10,000,000), so the whole run can
be tried small first. In one run:

1. **Input**: ``bench.inputs.streamed_roads`` writes the segments to a GeoPackage chunk
   by chunk (a child process under /usr/bin/time: its peak RSS is recorded).
2. **Load** (bench/load.py's ``run_case``): onemap twice (the second load keeps the
   first as history), ogr2ogr and the COPY limit (bench/copy_limit.py) twice; to_postgis
   is not run (it would hold the whole file in memory). Peak RSS of each.
3. **Disk per version**: ``pg_total_relation_size`` of the published table (with its
   indexes and TOAST), of its generalised tile tables, of each version kept as history,
   and of ogr2ogr's and the limit's tables.
4. **Serve** (bench/serve.py's machinery, 2 workers each): the three item scenarios and
   tiles at z8, z10, z12, z14 and z16 over the centre, driven by wrk, for onemap with its
   tile cache off (every request renders: cold), onemap with its cache (the first request
   renders and is timed alone; wrk then measures cached tiles), and tipg (no cache; its
   cap of features per tile lifted, as in bench/serve.py).

Writes bench/results/10m.json and bench/TENM.md (bench/report.py puts it in
bench/RESULTS.md as "10 million segments").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time

from bench import copy_limit, load, serve
from bench.common import BENCH, RESULTS, ROOT, WORK, machine
from bench.inputs import streamed_roads
from onemap.core.settings import BenchSettings, DbSettings, child_env, export

RESULTS_FILE = RESULTS / "10m.json"
REPORT = BENCH / "TENM.md"
ZOOMS = (8, 10, 12, 14, 16)
ITEMS = [k for k in serve.SCENARIOS if k.startswith("items")]
PORT = 5710  # bench/serve.py uses 5600–5602: both may run on one machine
DB = "onemap_bench_10m"  # not bench/load.py's database: the two may run side by side
SERVERS = {  # name -> (server, tile cache on)
    "onemap (cold: no cache)": ("onemap", False),
    "onemap (cached)": ("onemap", True),
    "tipg": ("tipg", False),
}


def generate(n: int) -> dict:
    """The input, written by a child process (its time and peak RSS)."""
    done = (WORK / f"roads-streamed_{n}.gpkg.json").exists()  # then the child only checks
    cmd = [sys.executable, "-m", "bench.inputs", "roads", str(n), "--streamed"]
    got = load.spawn(cmd, child_env())
    path = streamed_roads(n)  # written above: returns at once
    return {
        "path": str(path.relative_to(ROOT)),
        "file_mb": round(path.stat().st_size / 1e6),
        "generated_now": not done,
    } | {f"generator_{k}": v for k, v in got.items()}


SIZES = """
SELECT 'published' AS what, pg_total_relation_size('onemap.road_condition') AS bytes
UNION ALL
SELECT 'generalised tile tables (' || count(*) || ')', coalesce(sum(pg_total_relation_size(c.oid)), 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'onemap_tiles' AND c.relname ~ '^road_condition_z[0-9]+$' AND c.relkind = 'r'
UNION ALL
SELECT 'history: ' || c.relname, pg_total_relation_size(c.oid)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'onemap_hist.road_condition'::regclass
"""  # noqa: E501 - fixed names of this benchmark's tables


def disk(conninfo: str) -> list[dict]:
    """Bytes per stored version of the layer, and its generalised tables."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return [{"what": w, "mb": round(int(b) / 1e6)} for w, b in conn.execute(SIZES).fetchall()]


def table_mb(conninfo: str, table: str) -> dict:
    """The total size of one table (a peer's), if it exists."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size(to_regclass(%s))", (table,)
        ).fetchone()  # fmt: skip
    return {"table_mb": round(row[0] / 1e6)} if row and row[0] is not None else {}


def run_load(n: int, path, repeat: int) -> tuple[dict, list[dict], dict]:
    """onemap, ogr2ogr and the COPY limit on the input; disk per version."""
    conninfo, password = load.prepare_db(DB)
    env = child_env(**{"ONEMAP_DB_NAME": DB, "PGPASSWORD": password})
    export(PGPASSWORD=password)
    peers = {"ogr2ogr": "bench.roads_ogr", "copy_limit": copy_limit.table("roads")}

    def measure(tool: str) -> dict:
        return table_mb(conninfo, peers[tool]) if tool in peers else {}

    only = ("onemap", "ogr2ogr", "copy_limit")
    res = load.run_case("roads", "gpkg", n, repeat, conninfo, env, path, only, measure)
    return res, disk(conninfo), load.versions(conninfo)


def serve_cells(seconds: int) -> list[dict]:
    """Items and tiles for onemap (cache off, cache on) and tipg on the loaded table."""
    settings = DbSettings(name=DB)
    serve.settle(settings)
    configs = serve.write_configs(settings)
    cache_dir = WORK / "tile-cache-10m"
    scenarios = {name: serve.SCENARIOS[name] for name in ITEMS}
    scenarios |= {f"tile z{z}": ("tile", {"z": z}) for z in ZOOMS}
    rows: list[dict] = []
    for label, (server, cached) in SERVERS.items():
        shutil.rmtree(cache_dir, ignore_errors=True)
        cache_dir.mkdir(parents=True)
        _own(cache_dir)
        export(
            ONEMAP_TILE_CACHE="true" if cached else "false", ONEMAP_TILE_CACHE_DIR=str(cache_dir)
        )
        proc = serve.start(server, PORT, configs, settings)
        try:
            for name, (kind, params) in scenarios.items():
                if kind == "items" and label == "onemap (cold: no cache)":
                    continue  # the cache holds tiles only: items once, with the cached server
                url = serve.url_for(server, f"http://127.0.0.1:{PORT}", kind, params)
                rows.append(_cell(label, name, url, seconds))
                print(json.dumps(rows[-1]), flush=True)
        finally:
            serve.stop(proc, settings)
    return rows


def _own(path) -> None:
    """As root the servers' workers run as the service user, who must write the cache."""
    from onemap.core.settings import ServeSettings
    from onemap.serve import service_user
    from onemap.serve.service_user import is_root

    if is_root():
        service_user.ensure(ServeSettings().run_as)
        service_user.own_dir(ServeSettings().run_as, path)


def _cell(label: str, scenario: str, url: str, seconds: int) -> dict:
    """One URL: the first request timed alone (cold), then wrk."""
    row: dict = {"server": label, "scenario": scenario, "url": url}
    t0 = time.perf_counter()
    try:
        row |= serve.check(url)
        row["first_ms"] = round((time.perf_counter() - t0) * 1000)
    except OSError as exc:
        if TimeoutError in (type(exc), type(getattr(exc, "reason", None))):
            row["timeout_s"] = serve.CHECK_TIMEOUT_S
        else:
            row["error"] = str(exc)[:200]
        return row
    try:
        row |= serve.wrk(url, seconds)
    except Exception as exc:  # wrk failed or printed no report: recorded, the run goes on
        row["error"] = str(exc)[:200]
    return row


def main() -> None:
    """Generate, load, measure disk, serve; write the JSON and the markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=int, default=None, help="default ONEMAP_BENCH_SEGMENTS")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per cell")
    ap.add_argument("--no-serve", action="store_true")
    ap.add_argument("--serve-only", action="store_true", help="serve the last run's table again")
    ap.add_argument("--report", action="store_true", help="only rewrite TENM.md from JSON")
    args = ap.parse_args()
    if args.report:
        REPORT.write_text(markdown(json.loads(RESULTS_FILE.read_text())))
        return
    if args.serve_only:  # the table of the last run is still loaded: serve it again
        report = json.loads(RESULTS_FILE.read_text())
        export(ONEMAP_DB_NAME=DB)
        report["serve"], report["seconds"] = serve_cells(args.seconds), args.seconds
        RESULTS_FILE.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        REPORT.write_text(markdown(report))
        return
    n = args.segments or BenchSettings().segments
    load_before = os.getloadavg()
    t0 = time.monotonic()
    report: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "segments": n}
    report["input"] = generate(n)
    print(f"input: {report['input']}", flush=True)
    report["load"], report["disk"], report["versions"] = run_load(
        n, ROOT / report["input"]["path"], args.repeat
    )
    report |= {"serve": [], "seconds": args.seconds, "machine": machine()}
    for step in ("load", "serve"):  # the load's results are kept if serving fails
        if step == "serve" and not args.no_serve:
            report["serve"] = serve_cells(args.seconds)
        report["load_average"] = [load_before, os.getloadavg()]
        report["duration_s"] = round(time.monotonic() - t0)
        RESULTS_FILE.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    REPORT.write_text(markdown(report))
    print(f"wrote {RESULTS_FILE.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")


TOOL_NAMES = {"onemap": "onemap load", "ogr2ogr": "ogr2ogr (COPY)", "copy_limit": "COPY limit"}


def markdown(report: dict) -> str:
    """bench/TENM.md from the results."""
    n, inp, res = report["segments"], report["input"], report["load"]
    la = report.get("load_average") or []
    lines = [
        "# 10 million segments",
        "",
        f"`make bench-10m` (bench/ten_million.py), {n:,} road segments "
        f"({res['vertices']:,} vertices, {inp['file_mb']:,} MB GeoPackage) "
        + (
            f"generated chunk by chunk in {inp['generator_wall_s']:.0f} s with a peak RSS "
            f"of {inp['generator_peak_rss_mb']:.0f} MB. "
            if inp.get("generated_now")
            else "generated by an earlier run (the stamp matched). "
        )
        + f"Date {report['date']}; whole run "
        f"{report['duration_s'] / 60:.0f} min. Load average (1/5/15 min) at the start and "
        "end: " + " → ".join("/".join(f"{x:.2f}" for x in a) for a in la) + " (other jobs "
        "shared the machine: compare the ratios within this run).",
        "",
        "**Load** (best of the runs; peak RSS of the loading process itself):",
        "",
        "| tool | runs (s) | best s | features/s | onemap ÷ tool | peak RSS MB | table MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tool, runs in res["runs"].items():
        best = res["best"][tool]
        ratio = res["onemap_speed_over"].get(tool)
        lines.append(
            f"| {TOOL_NAMES.get(tool, tool)} | {', '.join(f'{r["wall_s"]:.1f}' for r in runs)} "
            f"| {best['wall_s']:.1f} | {best['features_per_s']:,} "
            f"| {f'{ratio:.2f}×' if ratio else '–'} "
            f"| {max(r['peak_rss_mb'] for r in runs):.0f} "
            f"| {best.get('table_mb', '–')} |"
        )
    lines += [
        "",
        "onemap's table MB is below (disk per version): its table has the CHECK "
        "constraints, the primary key and the layer's indexes; ogr2ogr's and the limit's "
        "have a GiST index only.",
        "",
        "**Disk per version** (`pg_total_relation_size`: heap, TOAST and indexes):",
        "",
        "| what | MB |",
        "|---|---:|",
        *[f"| {d['what']} | {d['mb']:,} |" for d in report["disk"]],
        "",
    ]
    if report["serve"]:
        lines += _serve_lines(report["serve"], report)
    if n != BenchSettings.model_fields["segments"].default:
        size = "`--segments` or `ONEMAP_BENCH_SEGMENTS`"
        lines += [f"This run: {n:,} segments ({size}), not the default.", ""]
    if report.get("note"):  # written by hand into the JSON (then --report)
        lines += [report["note"], ""]
    return "\n".join(lines) + "\n"


def _serve_lines(rows: list[dict], report: dict) -> list[str]:
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["scenario"], {})[r["server"]] = r
    labels = list(SERVERS)
    out = [
        "**Serve** (wrk, 8 connections, 2 threads, "
        f"{report.get('seconds', 5)} s per cell, 2 server workers each): requests/s "
        "(p50 / p95 ms), then the first request alone in ms and the response kB. "
        "*cold*: onemap with its tile cache off, every tile rendered; *cached*: the first "
        "request renders the tile, wrk then gets it from the cache. tipg has no cache and "
        "its cap of features per tile is lifted (as in the serve benchmark). Items are "
        "measured once for onemap (the cache holds tiles only).",
        "",
        "| scenario | " + " | ".join(labels) + " | cached ÷ cold | onemap cached ÷ tipg |",
        "|---|" + "---:|" * (len(labels) + 2),
    ]
    for scenario, cells in by.items():
        parts = [_cell_text(cells.get(label), report.get("seconds", 5)) for label in labels]
        cold, cached, tipg = (cells.get(label) for label in labels)
        out.append(
            f"| {scenario} | "
            + " | ".join(parts)
            + f" | {_times(cached, cold)} | {_times(cached, tipg)} |"
        )
    return [*out, ""]


def _cell_text(r: dict | None, seconds: int = 5) -> str:
    if not r:
        return "–"
    if r.get("timeout_s"):
        return f"timeout (> {r['timeout_s']} s)"
    if r.get("error"):
        return "error"
    first = f"; first {r['first_ms']:,} ms, {r['bytes'] / 1e3:,.0f} kB"
    if not r.get("rps"):  # every request outlasted the cell: wrk counts none
        return f"none completed in {seconds} s" + first
    return f"{r['rps']:,.0f} ({r['p50_ms']:.0f} / {r['p95_ms']:.0f}){first}"


def _times(a: dict | None, b: dict | None) -> str:
    if not a or not a.get("rps") or not b:
        return "–"
    if b.get("timeout_s") or not b.get("rps"):
        return "∞ (the peer completed none)" if b.get("timeout_s") or "first_ms" in b else "–"
    return f"{a['rps'] / b['rps']:.1f}×"


if __name__ == "__main__":
    main()
