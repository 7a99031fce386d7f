"""What the benchmarks share: paths, the bench database, the machine description."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / "work"
RESULTS = BENCH / "results"


def fresh_database(name: str):
    """Drop ``name`` and build it again with `onemap db up`'s code; its DbSettings.

    Every run starts empty: onemap keeps each replaced version of a layer as history, and
    a benchmark loading a million rows a dozen times would otherwise keep them all.
    """
    from psycopg import sql

    from onemap.core.settings import DbSettings
    from onemap.db import cluster, schema
    from onemap.db.connect import is_external

    settings = DbSettings(name=name)
    if is_external():
        raise SystemExit("benchmarks run on the project cluster (unset DATABASE_URL/PG*)")
    with cluster.start(settings).superuser_connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    schema.up(settings)
    return settings


def machine() -> dict[str, object]:
    """CPU, cores, memory and OS of the machine."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def commit() -> str:
    """The onemap commit measured (``-dirty`` when the tree has changes)."""
    return subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
