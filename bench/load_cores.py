"""Before/after: one onemap load with an earlier commit's loader and with this one.

    git archive <commit> onemap layers config | tar -x -C /tmp/before
    .venv/bin/python -m bench.load_cores /tmp/before --sizes 100000,1000000 [--repeat 2]

Loads the same bench/inputs.py road files into the bench database with each tree in
turn (alternating, ``onemap load`` as a child under /usr/bin/time, as bench/load.py
does), best of ``--repeat``. Written for the change that builds the generalised tile
tables on both cores (onemap/load/generalise.py); writes bench/results/load_cores.json
and bench/LOADCORES.md (in bench/RESULTS.md as "Load on both cores").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from bench import load
from bench.common import BENCH, RESULTS, ROOT, byte_compile, commit, machine
from bench.inputs import input_file
from onemap.core.settings import DbSettings, child_env, export

OUT = RESULTS / "load_cores.json"
REPORT = BENCH / "LOADCORES.md"


def main() -> None:
    """Run both trees on each size; write the JSON and the markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="an exported tree of the earlier commit")
    ap.add_argument("--label", default="before", help="what the earlier tree is")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    byte_compile(args.before)
    conninfo, password = load.prepare_db()
    base = {"ONEMAP_DB_NAME": load.DB, "PGPASSWORD": password}
    state = str(DbSettings().state_dir)  # the earlier tree finds the cluster's secrets here
    trees = {
        args.label: child_env(**base, PYTHONPATH=str(args.before.resolve()),
                              ONEMAP_ROOT=str(args.before.resolve()),
                              ONEMAP_DB_STATE_DIR=state),
        "after": child_env(**base, PYTHONPATH=str(ROOT), ONEMAP_ROOT=str(ROOT)),
    }  # fmt: skip
    export(PGPASSWORD=password)
    before_la = os.getloadavg()
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        path = input_file("roads", n)
        # -P: the working directory (this checkout) must not shadow the tree on PYTHONPATH
        cmd = [sys.executable, "-P", "-m", "onemap.cli", "load", "road_condition", str(path)]
        runs: dict[str, list[dict]] = {}
        for r in range(args.repeat):
            order = list(trees.items())
            for name, env in order[r % 2 :] + order[: r % 2]:
                got = load.spawn(cmd, env)
                runs.setdefault(name, []).append(got)
                print(f"{n:>9,} {name:8} {got['wall_s']:7.2f} s {got['peak_rss_mb']:7.1f} MB",
                      flush=True)  # fmt: skip
        best = {k: min(v, key=lambda x: x["wall_s"]) for k, v in runs.items()}
        rows.append({"features": n, "runs": runs, "best": best})
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average": [before_la, os.getloadavg()],
        "label": args.label,
        "after_commit": commit(),
        "results": rows,
    }
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    REPORT.write_text(markdown(report))
    print(f"wrote {OUT.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")


def markdown(report: dict) -> str:
    """bench/LOADCORES.md."""
    label = report["label"]
    la = " → ".join("/".join(f"{x:.2f}" for x in a) for a in report["load_average"])
    lines = [
        "# Load on both cores",
        "",
        f"`python -m bench.load_cores` ({report['date']}): the same road files loaded by "
        f"`onemap load` from the earlier tree ({label}) and from {report['after_commit']} "
        "(after), alternating, best of "
        f"{len(report['results'][0]['runs'][label])}. Load average (1/5/15) at the start "
        f"and end: {la} — other jobs shared the 2 cores, so compare within a row.",
        "",
        f"| features | {label} s | after s | speed-up | peak RSS MB ({label} / after) |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        b, a = r["best"][label], r["best"]["after"]
        lines.append(
            f"| {r['features']:,} | {b['wall_s']:.1f} | {a['wall_s']:.1f} "
            f"| {b['wall_s'] / a['wall_s']:.2f}× "
            f"| {b['peak_rss_mb']:.0f} / {a['peak_rss_mb']:.0f} |"
        )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    main()
