"""Soak: ``python -m bench.soak [--duration 300] [--connections 8] [--load-every 30]``.

Issue 13, item 9: ``--connections`` clients, each a closed loop (one request at a time),
send a mix of feature pages (a random bbox in the city), vector tiles (a random tile of
the city at zoom 13-16) and citizen reports (``POST /collections/reports/items`` from 500
simulated addresses, as bench/reports_intake.py does) for ``--duration`` seconds, while a
replace load of ``road_condition`` (the demo file) runs every ``--load-every`` seconds.

Counted: requests per kind, errors (a 5xx, a status the kind never answers, or no
answer; there must be none), p50/p95 latency per kind, the loads (all must succeed), and
the server's resident memory (gunicorn master and workers, from /proc) at the start and the
end: flat within 10 % means no leak the soak can see.

The server is the reports tests' server (tests/reports_live.py: gunicorn, its own database
with the layers intake locates reports in, ``road_condition`` among them). Writes
bench/results/soak.json and bench/SOAK.md, and puts that section into bench/RESULTS.md.
Not a test: a short run (``--duration 60``) checks the setup; the figures are from 300 s.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.common import BENCH, RESULTS, commit, machine
from onemap.core.city import get_city
from onemap.core.layers import get_layer
from onemap.load.loader import load_layer
from tests.reports_live import live_server, output_dir, report_feature, server_process

LAYER = "road_condition"
OK = {"items": {200}, "tiles": {200, 204}, "reports": {201}}
MIX = ("items", "items", "tiles", "tiles", "tiles", "reports")  # reads outnumber reports
RESULT_FILE = RESULTS / "soak.json"
REPORT = BENCH / "SOAK.md"
SECTION = "## Soak"
# RSS "at the start" is taken this long into the run (at most a fifth of it): before the
# first requests the workers have not imported pygeoapi's providers or filled their caches.
WARMUP_S = 30.0


def _tile(rng: random.Random, bbox: tuple[float, ...]) -> str:
    z = rng.randint(13, 16)
    lon, lat = rng.uniform(bbox[0], bbox[2]), rng.uniform(bbox[1], bbox[3])
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"


def _items(rng: random.Random, bbox: tuple[float, ...]) -> str:
    lon, lat = rng.uniform(bbox[0], bbox[2] - 0.02), rng.uniform(bbox[1], bbox[3] - 0.02)
    box = f"{lon:.5f},{lat:.5f},{lon + 0.02:.5f},{lat + 0.02:.5f}"
    return f"/collections/{LAYER}/items?bbox={box}&limit=50&f=json"


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn master and workers), kB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue  # ended meanwhile (a worker restarted)
        total += next(int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line)
        stack += [int(c) for c in children]
    return total


class Soak:
    """The clients, the loader and what they saw."""

    def __init__(self, base: str, settings, duration: float, connections: int, every: float):
        self.base, self.settings = base, settings
        self.duration, self.connections, self.every = duration, connections, every
        self.bbox = get_city().bbox
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.errors: list[str] = []
        self.loads: list[dict] = []
        self.stop = threading.Event()

    def client(self, number: int) -> None:
        """One connection: a closed loop over the mix until the end."""
        rng = random.Random(number)
        session = requests.Session()
        i = 0
        while not self.stop.is_set():
            kind = rng.choice(MIX)
            t0 = time.perf_counter()
            try:
                if kind == "reports":
                    i += 1
                    body = report_feature(
                        f"soak-{number}-{i}", rng.uniform(110.38, 110.46), rng.uniform(-7.02, -6.97)
                    )
                    headers = {"X-Forwarded-For": f"10.88.{number}.{i % 250 + 1}"}
                    r = session.post(
                        f"{self.base}/collections/reports/items",
                        json=body,
                        headers={"Content-Type": "application/geo+json", **headers},
                        timeout=60,
                    )
                else:
                    path = _items(rng, self.bbox) if kind == "items" else _tile(rng, self.bbox)
                    r = session.get(f"{self.base}{path}", timeout=60)
                status, text = r.status_code, r.text[:200] if r.status_code not in OK[kind] else ""
            except requests.RequestException as exc:
                status, text = "exception", str(exc)[:200]
            ms = (time.perf_counter() - t0) * 1000
            with self.lock:
                self.latencies[kind].append(ms)
                self.statuses[kind][status] += 1
                if status not in OK[kind]:
                    self.errors.append(f"{kind} {status}: {text}")

    def loader(self) -> None:
        """A replace load of the layer every ``every`` seconds."""
        layer = get_layer(LAYER)
        source = output_dir() / "demo" / layer.demo_file
        start = time.monotonic()
        n = 0
        while not self.stop.wait(max(0.0, start + n * self.every - time.monotonic())):
            n += 1
            t0 = time.perf_counter()
            try:
                load_layer(layer, source, mode="replace", settings=self.settings)
                outcome = "succeeded"
            except Exception as exc:  # noqa: BLE001 - recorded, the soak goes on
                outcome = f"failed: {exc}"[:300]
            self.loads.append({"seconds": round(time.perf_counter() - t0, 2), "outcome": outcome})

    def run(self, pid: int) -> dict:
        """Drive the server for ``duration`` seconds; the figures."""
        rss_start = rss_kb(pid)
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(self.connections)]
        threads.append(threading.Thread(target=self.loader))
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        warmup = min(WARMUP_S, self.duration / 5)
        time.sleep(warmup)
        rss_warm = rss_kb(pid)  # the workers have imported and cached what they use
        time.sleep(self.duration - warmup)
        self.stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        rss_end = rss_kb(pid)
        kinds = sorted(self.latencies)
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": commit(),
            "machine": machine(),
            "duration_s": self.duration,
            "connections": self.connections,
            "load_every_s": self.every,
            "elapsed_s": round(elapsed, 1),
            "requests": sum(len(v) for v in self.latencies.values()),
            "errors": len(self.errors),
            "error_samples": self.errors[:20],
            "by_kind": {
                k: {
                    "requests": len(self.latencies[k]),
                    "statuses": {str(s): c for s, c in self.statuses[k].items()},
                    "p50_ms": round(_percentile(self.latencies[k], 0.5), 1),
                    "p95_ms": round(_percentile(self.latencies[k], 0.95), 1),
                }
                for k in kinds
            },
            "p50_ms": round(_percentile(_all(self.latencies), 0.5), 1),
            "p95_ms": round(_percentile(_all(self.latencies), 0.95), 1),
            "loads": self.loads,
            "rss_kb_cold": rss_start,
            "warmup_s": warmup,
            "rss_kb_start": rss_warm,
            "rss_kb_end": rss_end,
            "rss_change_pct": round(100 * (rss_end - rss_warm) / rss_warm, 1),
        }


def _all(latencies: dict[str, list[float]]) -> list[float]:
    return [ms for values in latencies.values() for ms in values]


def _percentile(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def markdown(r: dict) -> str:
    """The RESULTS.md section."""
    loads_ok = sum(1 for x in r["loads"] if x["outcome"] == "succeeded")
    rows = "".join(
        f"| {k} | {v['requests']} | {v['p50_ms']} | {v['p95_ms']} |\n"
        for k, v in r["by_kind"].items()
    )
    m = r["machine"]
    flat = abs(r["rss_change_pct"]) <= 10
    return (
        f"{SECTION}\n\n"
        "`make bench-soak` (bench/soak.py; issue 13, item 9): "
        f"{r['connections']} connections, each one request at a time, for "
        f"{r['duration_s']:g} s: feature pages (random bbox, 50 features), vector tiles "
        f"(zoom 13-16) and citizen reports, while `road_condition` is replaced every "
        f"{r['load_every_s']:g} s. Server: the reports tests' gunicorn (2 workers, threads) "
        f"on the same {m['cores']} cores as PostgreSQL and the clients.\n\n"
        f"**{r['requests']} requests, {r['errors']} errors**; p50 {r['p50_ms']} ms, "
        f"p95 {r['p95_ms']} ms. Loads: {loads_ok} of {len(r['loads'])} succeeded. "
        f"Server RSS (gunicorn master and workers) {r['rss_kb_cold'] // 1024} MB before the "
        f"first request, {r['rss_kb_start'] // 1024} MB after {r['warmup_s']:g} s (the start), "
        f"{r['rss_kb_end'] // 1024} MB at the end ({r['rss_change_pct']:+g} %: "
        f"{'flat' if flat else 'NOT flat'} within 10 %).\n\n"
        "| kind | requests | p50 ms | p95 ms |\n|---|---:|---:|---:|\n"
        f"{rows}\n"
        f"Measured {r['date']} at {r['commit']} on {m['cpu']}, {m['memory_mb']} MB.\n"
    )


def put_section(results_md: Path, section: str) -> None:
    """Replace the soak section of RESULTS.md (or add it at the end)."""
    text = results_md.read_text(encoding="utf-8") if results_md.exists() else "# Benchmarks\n"
    start = text.find(f"\n{SECTION}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results_md.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Run the soak and write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--connections", type=int, default=8, help="clients (default 8)")
    parser.add_argument("--load-every", type=float, default=30.0, help="seconds between loads")
    args = parser.parse_args(argv)
    base, settings = live_server()
    soak = Soak(base, settings, args.duration, args.connections, args.load_every)
    result = soak.run(server_process().pid)
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    section = markdown(result)
    REPORT.write_text(section, encoding="utf-8")
    put_section(BENCH / "RESULTS.md", section)
    print(section)  # noqa: T201
    if result["errors"] or any(x["outcome"] != "succeeded" for x in result["loads"]):
        raise SystemExit("soak: errors or failed loads (see bench/results/soak.json)")


if __name__ == "__main__":
    main()
