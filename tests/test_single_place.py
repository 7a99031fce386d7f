"""One place per setting: the environment is read in settings.py, the city lives in
config/city.yaml, tuning values follow the machine (docs/configuration.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onemap.core.city import get_city
from onemap.core.settings import (
    MIB,
    DbSettings,
    LibpqSettings,
    Machine,
    ServeSettings,
    Tuning,
    env_name,
    given_passwords,
    project_root,
    tuning_for,
)
from onemap.core.yamlfile import read_yaml

PACKAGE = project_root() / "onemap"
SETTINGS = PACKAGE / "core" / "settings.py"
ENV_READ = re.compile(r"os\.environ|os\.getenv|\bgetenv\(|environ\[|environ\.get")
GIB = 1024 * MIB


# The test suite's own knobs are read in its own settings module, like onemap's.
SUITE_SETTINGS = project_root() / "tests" / "settings.py"


def _sources() -> list[Path]:
    """The Python files of the package, the source recipes, the tests and the benchmarks."""
    root = project_root()
    found = [p for d in ("onemap", "etl", "tests", "bench") for p in (root / d).rglob("*.py")]
    generated = ("output", "work")  # tests/output/, bench/work/: written by runs, not ours
    return sorted(p for p in found if not set(p.relative_to(root).parts) & set(generated))


def test_only_settings_reads_the_environment() -> None:
    readers = [
        f"{p.relative_to(project_root())}:{n}"
        for p in _sources()
        if p not in (SETTINGS, SUITE_SETTINGS)
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if ENV_READ.search(line)
    ]
    assert readers == [], f"environment read outside the settings modules: {readers}"
    assert ENV_READ.search(SETTINGS.read_text(encoding="utf-8"))  # the check sees reads


def test_no_city_name_in_the_package() -> None:
    files = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix != ".pyc"]
    hits = [
        str(p.relative_to(project_root()))
        for p in files
        if "semarang" in p.read_bytes().decode("utf-8", "replace").lower()
    ]
    assert len(files) > 50  # the scan covers the package, assets included
    assert hits == [], f"city name written in onemap/ (belongs in config/city.yaml): {hits}"


def test_city_file_fields_reach_the_model() -> None:
    raw = read_yaml(project_root() / "config" / "city.yaml")
    city = get_city()
    assert city.government == raw["government"]
    assert city.contact.name == raw["contact"]["name"]
    assert city.contact.city == raw["contact"]["city"]
    assert city.contact.country == raw["contact"]["country"]
    assert (city.site_title, city.site_title_en) == (raw["site_title"], raw["site_title_en"])
    assert (city.kind, city.kind_en) == (raw["kind"], raw["kind_en"])


def test_pygeoapi_metadata_comes_from_the_city_file() -> None:
    from onemap.publish.pygeoapi_config import SERVER_URL, db_ref

    city = get_city()
    text = (project_root() / "pygeoapi.yml").read_text(encoding="utf-8")
    assert f"name: {city.government}" in text
    assert city.contact.name in text
    assert SERVER_URL == "${ONEMAP_PUBLIC_URL:-http://127.0.0.1:5000}"
    assert db_ref("port") == f"${{ONEMAP_DB_PORT:-{DbSettings.model_fields['port'].default}}}"


def test_tuning_follows_cores() -> None:
    small, big = tuning_for(Machine(2, 8 * GIB)), tuning_for(Machine(32, 8 * GIB))
    assert (small["index_workers"], small["serve_workers"]) == (2, 2)
    assert (big["index_workers"], big["serve_workers"]) == (32, 32)
    assert small["pg_max_connections"] == 200
    assert big["pg_max_connections"] == 16 * 32
    assert tuning_for(Machine(0, 8 * GIB))["serve_workers"] == 1  # os.cpu_count() unknown


def test_tuning_follows_memory() -> None:
    assert tuning_for(Machine(2, 8 * GIB))["pg_shared_buffers_mb"] == 256
    assert tuning_for(Machine(2, 16 * GIB))["pg_shared_buffers_mb"] == 512
    assert tuning_for(Machine(2, 8 * GIB))["pg_maintenance_work_mem_mb"] == 128
    tiny, huge = tuning_for(Machine(1, GIB)), tuning_for(Machine(64, 1024 * GIB))
    assert (tiny["pg_shared_buffers_mb"], tiny["pg_maintenance_work_mem_mb"]) == (128, 64)
    assert (huge["pg_shared_buffers_mb"], huge["pg_maintenance_work_mem_mb"]) == (4096, 1024)


def test_defaults_are_this_machine_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ONEMAP_WORKERS", "ONEMAP_INDEX_WORKERS", "ONEMAP_PG_SHARED_BUFFERS_MB"):
        monkeypatch.delenv(name, raising=False)
    here = tuning_for(Machine.here())
    assert Tuning().index_workers == here["index_workers"]
    assert Tuning().pg_shared_buffers_mb == here["pg_shared_buffers_mb"]
    assert ServeSettings().workers == here["serve_workers"]
    monkeypatch.setenv("ONEMAP_INDEX_WORKERS", "7")
    monkeypatch.setenv("ONEMAP_WORKERS", "5")
    assert (Tuning().index_workers, ServeSettings().workers) == (7, 5)


def test_cluster_options_use_the_tuning() -> None:
    from onemap.db.cluster import server_options

    tuning = Tuning(pg_shared_buffers_mb=300, pg_maintenance_work_mem_mb=70, pg_max_connections=90)
    opts = server_options(DbSettings(host="127.0.0.1"), tuning)
    assert opts["shared_buffers"] == "300MB"
    assert opts["maintenance_work_mem"] == "70MB"
    assert opts["max_connections"] == "90"
    assert opts["listen_addresses"] == "127.0.0.1"


def test_libpq_names_and_passwords_read_through_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from onemap.db.connect import is_external, role_params

    for name in ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE"):
        monkeypatch.delenv(name, raising=False)
    assert not LibpqSettings().external and not is_external()
    monkeypatch.setenv("ONEMAP_READER_PASSWORD", "from-env")
    monkeypatch.setenv("ONEMAP_OWNER_PASSWORD", "")  # empty: not given
    wanted = ["ONEMAP_READER_PASSWORD", "ONEMAP_OWNER_PASSWORD"]
    assert given_passwords(wanted) == {"ONEMAP_READER_PASSWORD": "from-env"}
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:pw@db.example:6543/city")
    for role in ("owner", "intake", "staff"):
        monkeypatch.setenv(f"ONEMAP_{role.upper()}_PASSWORD", f"{role}-pw")
    assert is_external()
    reader = role_params("reader", DbSettings(reader="r"))
    assert reader == {
        "host": "db.example",
        "port": 6543,
        "dbname": "city",
        "user": "r",
        "password": "from-env",
    }
    owner = role_params("owner", DbSettings())
    assert (owner["user"], owner["password"], owner["host"]) == ("admin", "pw", "db.example")


def test_env_names_follow_the_prefixes() -> None:
    assert env_name(DbSettings, "host") == "ONEMAP_DB_HOST"
    assert env_name(ServeSettings, "public_url") == "ONEMAP_PUBLIC_URL"
