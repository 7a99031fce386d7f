"""Private report data survives maintenance: no command deletes it as a side effect.

A replace (or upsert, or rollback) of the reports layer would delete the stored reports
and, through the private table's foreign key, the reporters' contact data; ``onemap db
rebuild`` would drop the private table. Both are refused while that data exists, with a
message saying what to do instead; the data is checked to be intact afterwards.
"""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
import requests

from onemap.core.errors import UserError
from onemap.core.layers import get_layer
from onemap.core.settings import DbSettings, child_env, env_name
from onemap.db import schema
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from onemap.load.rollback import rollback
from tests.reports_live import live_server, output_dir, report_feature


@pytest.fixture(scope="module")
def live():
    base, settings = live_server()
    r = requests.post(
        f"{base}/collections/reports/items",
        json=report_feature("survival", reporter_name="Dewi Lestari", reporter_phone="0811223344"),
        headers={"X-Forwarded-For": "10.200.1.1"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return base, settings


def _private(settings) -> tuple[int, int]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM onemap.reports), "
            "(SELECT count(*) FROM onemap_private.reports WHERE reporter_phone IS NOT NULL)"
        ).fetchone()


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = child_env(**{env_name(DbSettings, "name"): settings.name})
    return subprocess.run(
        [sys.executable, "-m", "onemap.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_reports_are_never_replaced_wholesale(live) -> None:
    _, settings = live
    before = _private(settings)
    assert before[1] >= 1
    layer = get_layer("reports")
    demo = output_dir() / "demo" / "reports.gpkg"
    for mode in ("replace", "upsert"):
        with pytest.raises(UserError, match="onemap reports import FILE"):
            load_layer(layer, demo, mode=mode, settings=settings)
    with pytest.raises(UserError, match="receives rows outside loads"):
        rollback(layer, None, settings=settings)
    res = _cli(settings, "load", "reports", str(demo))
    assert res.returncode == 1
    assert "receives rows outside loads" in res.stderr and "Traceback" not in res.stderr
    assert _private(settings) == before


def test_rebuild_refuses_while_private_rows_exist(live) -> None:
    _, settings = live
    before = _private(settings)
    with pytest.raises(UserError, match="--force-delete-private"):
        schema.rebuild_table(get_layer("reports"), owner_conninfo(settings))
    res = _cli(settings, "db", "rebuild", "reports")
    assert res.returncode == 1, res.stdout
    assert "private data of" in res.stderr and "Traceback" not in res.stderr
    assert _private(settings) == before
