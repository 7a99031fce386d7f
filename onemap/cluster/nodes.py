"""The API nodes: ``onemap serve`` processes, each reading from one replica's PgBouncer.

A node holds no state of its own: it reads the published versions from the database it
serves (the tile cache is keyed by them, ``onemap.serve.tile_cache``), so nodes can be
added or lost behind the load balancer. Each writes (report intake, staff) through the
primary's PgBouncer, and its links name HAProxy's address, which clients use.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from onemap.cluster.layout import Layout
from onemap.cluster.processes import read_pid, stop_pid
from onemap.core.errors import UserError
from onemap.core.settings import (
    ServeSettings,
    TileSettings,
    TopologySettings,
    child_env,
    env_name,
)

START_TIMEOUT_S = 120


def folder(layout: Layout, k: int) -> Path:
    """Node ``k``'s log, pid file and tile cache."""
    return layout.nodes_dir / f"api-{k}"


def url(layout: Layout, k: int) -> str:
    """Node ``k``'s own address (HAProxy's is what clients use)."""
    return f"http://{layout.host}:{layout.node_port(k)}"


def node_env(layout: Layout, k: int) -> dict[str, str]:
    """Node ``k``'s settings: its read and write DSNs, PgBouncer, HAProxy's URL."""
    return child_env(
        **{
            env_name(TopologySettings, "read_dsns"): json.dumps([layout.node_read_dsn(k)]),
            env_name(TopologySettings, "write_dsn"): layout.write_dsn,
            env_name(TopologySettings, "db_pooled"): "true",
            env_name(ServeSettings, "public_url"): f"http://{layout.host}:{layout.haproxy_port}",
            env_name(TileSettings, "cache_dir"): str(folder(layout, k) / "tile-cache"),
        }
    )


def start(layout: Layout, k: int) -> None:
    """Start API node ``k`` in the background (if not running) and wait for ``/health``."""
    where = folder(layout, k)
    where.mkdir(parents=True, exist_ok=True)
    if read_pid(where / "pid"):
        return
    cmd = [sys.executable, "-m", "onemap.cli", "serve", "--port", str(layout.node_port(k))]
    cmd += ["--workers", str(layout.settings.node_workers)]
    with open(where / "server.log", "w") as log:
        proc = subprocess.Popen(
            cmd,
            env=node_env(layout, k),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `onemap cluster up`
        )
    (where / "pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (where / "server.log").read_text(errors="replace")[-1500:]
            raise UserError(f"API node {k} exited with code {proc.returncode}:\n{tail}")
        if health(layout, k) is not None:
            return
        time.sleep(0.5)
    stop(layout, k)
    raise UserError(f"API node {k} did not answer within {START_TIMEOUT_S} s")


def health(layout: Layout, k: int) -> dict | None:
    """Node ``k``'s ``/health`` (also when it says 503), or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url(layout, k)}/health", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def stop(layout: Layout, k: int) -> bool:
    """Stop API node ``k`` (gunicorn finishes its requests); False if it was not running."""
    return stop_pid(folder(layout, k) / "pid", timeout_s=30)
