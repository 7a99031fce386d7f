"""What the benchmarks share: paths, the bench database, the machine description."""

from __future__ import annotations

import compileall
import os
import platform
import subprocess
import sys
import sysconfig
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


def byte_compile(*trees: Path) -> None:
    """Byte-compile onemap and the venv's packages before anything is timed.

    A user's install has them compiled (pip compiles what it installs; Python writes the
    cache of an editable package at its first import). Where ``PYTHONDONTWRITEBYTECODE``
    is set, and in a venv whose installer skipped it, every ``onemap`` command compiled
    ~900 modules first: 2.4 s of a 3.3 s 1,000-feature load (bench/QUICKSTART.md).
    """
    for folder in (ROOT / "onemap", *(t / "onemap" for t in trees),
                   Path(sysconfig.get_path("purelib"))):  # fmt: skip
        compileall.compile_dir(folder, quiet=2, workers=0)
    print(f"byte-compiled onemap and {sys.prefix}'s packages", flush=True)
