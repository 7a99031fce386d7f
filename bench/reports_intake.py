"""Intake benchmark: ``python -m bench.reports_intake [--rate 50] [--seconds 60]``.

The citizen-report intake (``POST /collections/reports/items``) under a bounded open-loop
load on loopback: report i is sent at i / rate seconds, tagged with a unique id in its
description, from 500 simulated client addresses (X-Forwarded-For from the trusted
loopback proxy, so no address exceeds the rate limit). Afterwards the database is
counted: every report must be stored exactly once. The server is the test server of the
reports tests (gunicorn, 2 workers, its own database ``<ONEMAP_TEST_DB>_intake``).
Writes bench/results/reports_intake.json and bench/REPORTS.md. Not a test: the suite runs
the same load for 20 s (tests/test_reports_load.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from tests.reports_live import drive, live_server, stored_once

RESULTS = Path(__file__).parent / "results" / "reports_intake.json"
REPORT = Path(__file__).parent / "REPORTS.md"


def main(argv: list[str] | None = None) -> None:
    """Run the load, count what was stored, write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.reports_intake", description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="reports per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration")
    args = parser.parse_args(argv)
    base, settings = live_server()
    run = drive(base, args.rate, args.seconds)
    rows, distinct = stored_once(settings, run)
    lateness = sorted(run.lateness_ms)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.platform()}",
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "sent": run.sent,
        "elapsed_s": round(run.elapsed_s, 2),
        "achieved_per_s": round(run.sent / run.elapsed_s, 2),
        "statuses": {str(k): v for k, v in run.statuses.items()},
        "errors": run.errors[:20],
        "stored_rows": rows,
        "stored_distinct": distinct,
        "latency_ms": {
            q: round(run.percentile(p), 1) for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        }
        | {"max": round(max(run.latencies_ms), 1)},
        "schedule_lateness_ms_p99": round(lateness[int(0.99 * (len(lateness) - 1))], 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = run.statuses.get(201, 0) == run.sent and rows == distinct == run.sent
    REPORT.write_text(
        "# Citizen-report intake under load\n\n"
        "`python -m bench.reports_intake` (bench/reports_intake.py): POST "
        "/collections/reports/items at a fixed rate on loopback (open loop), each report "
        "tagged uniquely, from 500 client addresses; then the stored rows are counted. "
        "Server: onemap under gunicorn, 2 sync workers, on the same 2 cores as PostgreSQL "
        "and the load generator.\n\n"
        "| rate /s | seconds | sent | 201 | errors | stored | distinct | p50 ms | p95 ms | "
        "p99 ms | max ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {args.rate:g} | {args.seconds:g} | {run.sent} | {run.statuses.get(201, 0)} | "
        f"{run.sent - run.statuses.get(201, 0)} | {rows} | {distinct} | "
        f"{result['latency_ms']['p50']} | {result['latency_ms']['p95']} | "
        f"{result['latency_ms']['p99']} | {result['latency_ms']['max']} |\n\n"
        f"Achieved {result['achieved_per_s']} requests/s; every report stored exactly once: "
        f"{'yes' if ok else 'NO'}. Machine: {result['machine']}. Date: {result['date']}.\n",
        encoding="utf-8",
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
