"""A live onemap server for the citizen-report tests and benchmark, on its own database.

The reports tests write (intake, status changes, deletes), so they use their own database
(``<ONEMAP_TEST_DB>_intake``) with the layers intake locates reports in (``locate:`` in
config/reports.yaml) loaded from the demo files and no report at the start: the shared
demo database and the tests that compare it with pygeoapi.yml stay as they are.
``live_server`` starts pygeoapi under gunicorn once per process (real HTTP, real PostGIS)
and stops it at exit.
``drive`` is the bounded open-loop load generator of the intake load test and bench.
"""

from __future__ import annotations

import atexit
import contextlib
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from onemap.core.layers import get_layer, load_layers
from onemap.core.settings import DbSettings, project_root
from onemap.db import schema
from onemap.db.connect import owner_conninfo
from onemap.load import demo
from onemap.load.coverage_files import install_raster, published_path
from onemap.load.loader import load_layer
from onemap.reports.config import load_config
from tests.settings import SUITE

# the layers intake locates a report in (config/reports.yaml ``locate:``)
INTAKE_LAYERS = tuple(dict.fromkeys(lookup.layer for lookup in load_config().locate))
_STATE: dict[str, object] = {}
_LOCK = threading.Lock()


def intake_settings() -> DbSettings:
    """The reports tests' database."""
    return DbSettings(name=f"{SUITE.test_db}_intake")


def output_dir() -> Path:
    """Where logs and demo files go (beside the shared suite's)."""
    return project_root() / "tests" / "output" / SUITE.test_db


@contextlib.contextmanager
def database_env(settings: DbSettings):
    """ONEMAP_DB_NAME pointing at ``settings`` while a child process is started."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEMAP_DB_NAME", settings.name)
        yield


def prepare_database(settings: DbSettings) -> None:
    """Schema by the production code, the intake's layers loaded, no reports, no users."""
    schema.up(settings)
    data = output_dir() / "demo"
    demo.prepare(data)
    with psycopg.connect(owner_conninfo(settings)) as conn:
        counts = {
            lid: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("onemap", lid))
            ).fetchone()[0]
            for lid in INTAKE_LAYERS
        }
    for lid in INTAKE_LAYERS:
        if not counts[lid]:
            layer = get_layer(lid)
            load_layer(layer, data / layer.demo_file, settings=settings)
    # the served configuration (pygeoapi.yml) also names the layers' rasters
    for layer in load_layers().values():
        if layer.coverage and layer.coverage.demo_file and not published_path(layer, settings):
            install_raster(layer, data / layer.coverage.demo_file, settings)
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        conn.execute("TRUNCATE onemap.reports CASCADE")
        conn.execute("TRUNCATE onemap_private.intake_clients, onemap_private.reports_deleted")
        conn.execute("DELETE FROM onemap_private.staff_users")


def live_server() -> tuple[str, DbSettings]:
    """(base URL, database settings) of the reports test server, started once."""
    with _LOCK:
        if "url" not in _STATE:
            from onemap.serve.server import start_background

            settings = intake_settings()
            prepare_database(settings)
            output_dir().mkdir(parents=True, exist_ok=True)
            port = free_port()
            with database_env(settings):
                proc = start_background(port, workers=2, log=output_dir() / "reports.log")
            atexit.register(_stop, proc)
            _STATE.update(url=f"http://127.0.0.1:{port}", settings=settings, proc=proc)
    return str(_STATE["url"]), _STATE["settings"]  # type: ignore[return-value]


def server_process():
    """The gunicorn master of the reports test server (``live_server`` starts it)."""
    live_server()
    return _STATE["proc"]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc) -> None:
    proc.terminate()
    with contextlib.suppress(Exception):
        proc.wait(timeout=20)


def report_feature(tag: str, lon: float = 110.4200, lat: float = -6.9900, **props) -> dict:
    """A valid report whose description carries ``tag``."""
    properties = {
        "category": "jalan_rusak",
        "description": f"Jalan berlubang di depan pasar, {tag}",
        "channel": "web",
    } | props
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


@dataclass
class LoadRun:
    """What a load run sent and got back."""

    rate: float
    seconds: float
    tag: str
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)  # start delay behind schedule
    elapsed_s: float = 0.0

    def percentile(self, q: float) -> float:
        """A latency percentile in ms."""
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def drive(base: str, rate: float, seconds: float, clients: int = 500, workers: int = 24) -> LoadRun:
    """POST ``rate`` reports per second for ``seconds`` (open loop), each tagged uniquely.

    Request i is due at ``i / rate`` s; ``clients`` simulated addresses (X-Forwarded-For
    from loopback, which the intake trusts as its proxy) share them so none exceeds the
    per-address rate limit. The description of request i carries ``<tag>-<i>``.
    """
    run = LoadRun(rate, seconds, f"load{uuid.uuid4().hex[:10]}")
    total = int(rate * seconds)
    local = threading.local()
    url = f"{base}/collections/reports/items"
    start = time.perf_counter() + 0.5

    def one(i: int) -> None:
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        run.lateness_ms.append(max(0.0, -delay) * 1000)
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = report_feature(f"{run.tag}-{i:06d}", 110.40 + (i % 97) * 0.0004, -6.99)
        headers = {
            "Content-Type": "application/geo+json",
            "X-Forwarded-For": f"10.77.{(i % clients) // 250}.{(i % clients) % 250 + 1}",
        }
        t0 = time.perf_counter()
        try:
            r = session.post(url, json=body, headers=headers, timeout=30)
            run.statuses[r.status_code] += 1
            if r.status_code != 201:
                run.errors.append(f"{i}: {r.status_code} {r.text[:200]}")
        except requests.RequestException as exc:
            run.statuses["exception"] += 1
            run.errors.append(f"{i}: {exc}")
        run.latencies_ms.append((time.perf_counter() - t0) * 1000)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(total)))
    run.sent = total
    run.elapsed_s = time.perf_counter() - start
    return run


def stored_once(settings: DbSettings, run: LoadRun) -> tuple[int, int]:
    """(rows carrying the run's tag, distinct tags among them) in the database."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT substring(description from %s)) "
            "FROM onemap.reports WHERE description LIKE %s",
            (f"{run.tag}-[0-9]+", f"%{run.tag}-%"),
        ).fetchone()
    return rows, distinct


def staff_tokens(settings: DbSettings, prefix: str) -> dict[str, str]:
    """Tokens of an operator of DPU, one of DLH and an admin (``<prefix>-…``, unique names)."""
    from onemap.reports.auth import add_user

    suffix = uuid.uuid4().hex[:6]
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        return {
            "dpu": add_user(conn, f"{prefix}-dpu-{suffix}", "operator", "dpu"),
            "dlh": add_user(conn, f"{prefix}-dlh-{suffix}", "operator", "dlh"),
            "admin": add_user(conn, f"{prefix}-admin-{suffix}", "admin"),
        }


def auth(token: str, **headers: str) -> dict[str, str]:
    """Request headers carrying a staff token."""
    return {"Authorization": f"Bearer {token}", **headers}
