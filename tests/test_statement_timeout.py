"""A statement timeout is a 503 with Retry-After, end to end (issue 13, item 1).

A server of its own, started with a statement timeout of a few seconds from the settings
(``ONEMAP_STATEMENT_TIMEOUT_S``, which pygeoapi's providers read through pygeoapi.yml and
onemap's own connections through ``LimitSettings``) and no tile cache. The test holds an
exclusive lock on ``road_condition`` in an open transaction, so every query that reads the
table waits for it, deterministically, until the server's timeout cancels it. Items, a
tile and an indicator process are asked for meanwhile: each must be a 503 with
``Retry-After``, not a 500 or a 400; once the lock is gone they are answered again.
"""

from __future__ import annotations

import time

import psycopg
import pytest
import requests

from onemap.core.city import get_city
from onemap.core.settings import LimitSettings, TileSettings, env_name
from onemap.db.connect import owner_conninfo
from tests.conftest import OUTPUT, free_port
from tests.test_api_clients import tile_index

# Long enough for the warm-up requests on a busy two-core machine, short for a test.
TIMEOUT_S = 4
LAYER = "road_condition"


@pytest.fixture(scope="module")
def impatient(loaded) -> str:
    """A server whose statements are cancelled after ``TIMEOUT_S``."""
    from onemap.serve.server import start_background

    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env_name(LimitSettings, "statement_timeout_s"), str(TIMEOUT_S))
        mp.setenv(env_name(TileSettings, "cache"), "false")  # every tile reads the table
        OUTPUT.mkdir(parents=True, exist_ok=True)
        proc = start_background(port, workers=1, log=OUTPUT / "pygeoapi-timeout.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def _tile_path() -> str:
    x0, y0, x1, y1 = get_city().bbox
    x, y = tile_index((x0 + x1) / 2, (y0 + y1) / 2, 16)  # above every generalised zoom
    return f"/collections/{LAYER}/tiles/WebMercatorQuad/16/{y}/{x}"


def _requests(api: str) -> dict[str, requests.Response]:
    items = f"{api}/collections/{LAYER}/items"
    return {
        "items": requests.get(items, params={"limit": 5, "f": "json"}, timeout=60),
        "tile": requests.get(f"{api}{_tile_path()}", params={"f": "mvt"}, timeout=60),
        "process": requests.post(
            f"{api}/processes/indicators/execution",
            json={"inputs": {"indicator": "road_condition", "kecamatan": "33.74.02"}},
            timeout=60,
        ),
    }


def test_a_statement_timeout_is_a_503_with_retry_after(impatient, db_settings) -> None:
    before = _requests(impatient)  # warm: the providers know the table before it is locked
    assert all(r.status_code in (200, 204) for r in before.values()), before
    with psycopg.connect(owner_conninfo(db_settings)) as holder:
        holder.execute(
            psycopg.sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                psycopg.sql.Identifier("onemap", LAYER)
            )
        )
        started = time.monotonic()
        during = _requests(impatient)
        waited = time.monotonic() - started
        holder.rollback()
    for what, r in during.items():
        assert r.status_code == 503, f"{what}: {r.status_code} {r.text[:300]}"
        assert int(r.headers["Retry-After"]) > 0, what
        assert r.json()["code"] == "ServiceUnavailable", what
    assert waited < 30 * TIMEOUT_S, "the requests waited for the lock, not the timeout"
    after = _requests(impatient)
    assert all(r.status_code in (200, 204) for r in after.values()), after
