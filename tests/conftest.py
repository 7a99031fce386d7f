"""Test fixtures: the project's real PostGIS cluster and a live pygeoapi on loopback.

The suite uses its own databases on the project cluster (``onemap_test`` for the
published demo layers the API serves, ``onemap_test_scratch`` for load experiments), built
with the production code. A missing database is an error, never a skip.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from onemap.core.settings import DbSettings, project_root
from onemap.db import schema
from onemap.load import demo
from tests.settings import SUITE

# ONEMAP_TEST_DB lets two suites share the cluster.
TEST_DB = SUITE.test_db
OUTPUT = project_root() / "tests" / "output" / TEST_DB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def session_environment():
    """The environment of the whole session, restored at its end.

    ``ONEMAP_DB_NAME``: the test database, for the settings read in this process and in
    the servers and commands it starts. ``ONEMAP_ACCESS_LOG``: the test server logs every
    request (OUTPUT/pygeoapi.log), where the client tests (QGIS) read what was really sent.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEMAP_DB_NAME", TEST_DB)
        mp.setenv("ONEMAP_ACCESS_LOG", SUITE.access_log)
        yield


@pytest.fixture(scope="session")
def db_settings(session_environment) -> DbSettings:
    """The test database, created and migrated by `onemap db up`'s code."""
    settings = DbSettings()
    schema.up(settings)
    return settings


@pytest.fixture(scope="session")
def scratch_settings() -> DbSettings:
    """A second database for loads that change layers (keeps the served data stable)."""
    settings = DbSettings(name=f"{TEST_DB}_scratch")
    schema.up(settings)
    return settings


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo inputs, produced by the same generator `make demo` uses."""
    out = OUTPUT / "demo"
    demo.prepare(out)
    return out


@pytest.fixture(scope="session")
def loaded(db_settings: DbSettings, demo_dir: Path) -> dict[str, int]:
    """Every layer (and raster) loaded from the demo data, as `onemap load-demo` does."""
    return demo.load_all(demo_dir, db_settings)


@pytest.fixture(scope="session")
def api(loaded: dict[str, int]) -> str:
    """pygeoapi on the committed pygeoapi.yml, under gunicorn on a free loopback port."""
    from onemap.serve.server import start_background

    OUTPUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_background(port, workers=2, log=OUTPUT / "pygeoapi.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)
