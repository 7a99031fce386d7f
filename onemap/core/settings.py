"""Settings: the one module that reads the environment.

One small class per concern, each with its prefix (``ONEMAP_…``); libpq's own names
(``DATABASE_URL``, ``PGHOST``…) are read here too, so psql, ogr2ogr and QGIS see the same
database as onemap. Machine-dependent defaults (workers, PostgreSQL memory) are derived
from the machine by ``tuning_for``. docs/configuration.md lists every setting.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 2**20
# The PostgreSQL major version `onemap db up` installs from Debian when none is found.
PG_DEFAULT_MAJOR = 15
PG_LIB = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin


class ProjectSettings(BaseSettings):
    """Where the checkout is (``layers/``, ``config/``, ``.onemap/``)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    root: Path | None = None


@cache
def project_root() -> Path:
    """The checkout holding ``layers/`` (``ONEMAP_ROOT`` overrides)."""
    root = ProjectSettings().root
    return root.resolve() if root else Path(__file__).resolve().parents[2]


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment plus ``overrides``, for a child process."""
    return {**os.environ, **overrides}


def export(**variables: str) -> None:
    """Set ``variables`` in this process's environment: the settings read afterwards, and
    the child processes started afterwards, see them (the benchmarks and the test suite
    point onemap at their own database this way)."""
    os.environ.update(variables)


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from (``ONEMAP_DB_HOST``)."""
    return f"{settings.model_config.get('env_prefix', '')}{field}".upper()


@dataclass(frozen=True)
class Machine:
    """The facts tuning values are derived from."""

    cpus: int
    memory: int  # bytes of physical memory

    @classmethod
    def here(cls) -> Machine:
        """This machine."""
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return cls(cpus=os.cpu_count() or 1, memory=memory)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def tuning_for(machine: Machine) -> dict[str, int]:
    """Default tuning values for a machine (docs/configuration.md says why each).

    - ``index_workers``: the stage's indexes are built by this many connections at once;
      each build keeps one core busy in its server process.
    - ``serve_workers``: gunicorn workers, one per core: PostgreSQL runs on the same
      machine, and 2 workers on 2 cores is what bench/RESULTS.md measured.
    - ``serve_threads``: threads per worker (gunicorn's ``gthread`` worker), two per core,
      2 to 8: a slow client (a dribbled request, a slow download) holds one thread, not
      the whole worker; the connection pool per worker (POOL in
      onemap/publish/pygeoapi_config.py: 4) keeps the database connections bounded.
    - ``pg_max_connections``: pygeoapi holds up to 4 connections per worker (POOL in
      onemap/publish/pygeoapi_config.py) and test suites run up to 4 servers side by side,
      so 16 per core, and at least 200 (PostgreSQL manual 20.3.1, max_connections).
    - ``pg_shared_buffers_mb``: the manual suggests 25% of memory for a dedicated server
      (20.4.1, shared_buffers); this cluster shares the machine with the loader and
      pygeoapi, so an eighth of that: 1/32 of memory, between 128 MB and 4 GB.
    - ``pg_maintenance_work_mem_mb``: memory of each index build and vacuum; larger
      values speed up the index builds after a load (manual 14.4.5 and 20.4.1,
      maintenance_work_mem). ``index_workers`` builds and 3 autovacuum workers may each
      use it at once, so 1/64 of memory, between 64 MB and 1 GB.
    """
    memory_mb = machine.memory // MIB
    cpus = max(1, machine.cpus)
    return {
        "index_workers": cpus,
        "serve_workers": cpus,
        "serve_threads": _clamp(2 * cpus, 2, 8),
        "pg_max_connections": max(200, 16 * cpus),
        "pg_shared_buffers_mb": _clamp(memory_mb // 32, 128, 4096),
        "pg_maintenance_work_mem_mb": _clamp(memory_mb // 64, 64, 1024),
    }


@cache
def _here() -> dict[str, int]:
    return tuning_for(Machine.here())


class Tuning(BaseSettings):
    """Machine-dependent values; each defaults to ``tuning_for(Machine.here())``."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    index_workers: int = Field(default_factory=lambda: _here()["index_workers"], ge=1)
    pg_max_connections: int = Field(default_factory=lambda: _here()["pg_max_connections"], ge=20)
    pg_shared_buffers_mb: int = Field(default_factory=lambda: _here()["pg_shared_buffers_mb"], ge=1)
    pg_maintenance_work_mem_mb: int = Field(
        default_factory=lambda: _here()["pg_maintenance_work_mem_mb"], ge=1
    )


@cache
def find_pg_bin() -> Path:
    """The PostgreSQL server binaries: ``pg_config --bindir`` when it holds ``initdb``,
    else the newest ``/usr/lib/postgresql/<major>/bin``, else where `onemap db up`
    installs them."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        res = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(res.stdout.strip())
        if res.returncode == 0 and (bindir / "initdb").exists():
            return bindir
    found = [p.parent for p in PG_LIB.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    if found:
        return max(found, key=lambda p: int(p.parent.name))
    return PG_LIB / str(PG_DEFAULT_MAJOR) / "bin"


class DbSettings(BaseSettings):
    """Where the database is, the roles' names, and the project-run cluster's own facts."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_DB_")

    host: str = "127.0.0.1"
    port: int = 55432
    name: str = "onemap"
    owner: str = "onemap_owner"
    reader: str = "onemap_reader"
    state_dir: Path = Field(default_factory=lambda: project_root() / ".onemap")
    pg_bin: Path = Field(default_factory=find_pg_bin)
    # Off in the server (onemap.serve.server): passwords only from its environment,
    # never from state_dir/secrets.env, which holds the owner's too.
    use_secrets_file: bool = True


class RegionSettings(BaseSettings):
    """The regions (kabupaten/kota) a deployment holds (``onemap.core.regions``).

    - ``regions_file``: a YAML list of regions (code, name, bbox); absent, the deployment
      holds the one city of config/city.yaml.
    - ``partition_by_region``: partition the layer tables by region even with one
      region (default: only with more than one).
    """

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    regions_file: Path = Field(default_factory=lambda: project_root() / "config" / "regions.yaml")
    partition_by_region: bool | None = None


class TopologySettings(BaseSettings):
    """Where reads and writes go when the database is a primary with replicas
    (docs/scale-out.md). Unset, everything uses the one database ``DbSettings`` names.

    - ``write_dsn``: the primary (loads, report intake, staff), a libpq URL or conninfo
      without user and password (each role brings its own).
    - ``read_dsns``: the replicas (items, tiles, records, processes), a JSON list or one
      DSN; a server reads from the first, ``onemap load`` waits for every one.
    - ``db_pooled``: connections go through PgBouncer's transaction pooling, so psycopg
      prepares no statements (``prepare_threshold=None``: a prepared statement lives in
      one server session, which the next transaction may not get).
    - ``max_replica_lag_s``: ``/health`` answers 503 above this replay lag, and a load
      balancer checking it takes the node out of rotation.
    - ``replica_wait_s``: how long ``onemap load`` waits for the replicas to replay it.
    """

    model_config = SettingsConfigDict(env_prefix="ONEMAP_", env_ignore_empty=True)

    write_dsn: str | None = None
    read_dsns: Annotated[list[str], NoDecode] = []
    db_pooled: bool = False
    max_replica_lag_s: float = Field(default=30, ge=0)
    replica_wait_s: float = Field(default=120, ge=0)

    @field_validator("read_dsns", mode="before")
    @classmethod
    def _one_or_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return json.loads(value) if value.startswith("[") else [value] if value else []
        return value


class ClusterSettings(BaseSettings):
    """The one-machine rehearsal of a multi-machine deployment (``onemap cluster``,
    docs/scale-out.md): HAProxy on ``port``, then the replicas, a PgBouncer per database
    (the primary's first) and the API nodes on the ports after it, all on ``host``."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_CLUSTER_")

    host: str = "127.0.0.1"
    port: int = Field(default=55440, ge=1024, le=65000)
    replicas: int = Field(default=2, ge=1, le=8)
    nodes: int = Field(default=2, ge=1, le=8)
    node_workers: int = Field(default=1, ge=1)
    # HAProxy's health check of each API node (GET /health): every interval, and a node is
    # out after ``fall`` failed checks in a row, back after ``rise`` good ones.
    check_interval_ms: int = Field(default=1000, ge=100)
    check_fall: int = Field(default=2, ge=1)
    check_rise: int = Field(default=2, ge=1)


class LibpqSettings(BaseSettings):
    """libpq's own variables: set, they point onemap at an existing database."""

    model_config = SettingsConfigDict(env_prefix="", env_ignore_empty=True)

    database_url: str | None = None
    pghost: str | None = None
    pgport: int | None = None
    pgdatabase: str | None = None

    @property
    def external(self) -> bool:
        """Whether the user pointed us at an existing database (DATABASE_URL or PGHOST)."""
        return bool(self.database_url or self.pghost)


def password_variable(role: str) -> str:
    """The variable (and ``secrets.env`` key) of a role's password: ``ONEMAP_READER_PASSWORD``."""
    return f"ONEMAP_{role.upper()}_PASSWORD"


def given_passwords(variables: Iterable[str]) -> dict[str, str]:
    """Those of ``variables`` set (non-empty) in the environment; the others come from
    the project's ``secrets.env``."""
    return {v: os.environ[v] for v in variables if os.environ.get(v)}


def role_name(role: str, default: str) -> str:
    """A feature role's login name: ``ONEMAP_DB_<ROLE>``, else ``default``. (The core's
    own roles, owner and reader, are ``DbSettings`` fields.)"""
    return os.environ.get(env_name(DbSettings, role)) or default


class ServeSettings(BaseSettings):
    """Where pygeoapi listens, how it is reached, and what it tells caches."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = Field(default_factory=lambda: _here()["serve_workers"], ge=1)
    threads: int = Field(default_factory=lambda: _here()["serve_threads"], ge=1, le=64)
    public_url: str | None = None
    # Cache-Control max-age of feature and tile responses, seconds (ETags revalidate).
    cache_max_age: int = Field(default=60, ge=0)
    # gunicorn's access log on stdout (tests read it); off by default.
    access_log: bool = False
    # The system user the workers run as when `onemap serve` is started by root.
    run_as: str = "onemap"

    @property
    def url(self) -> str:
        """The URL clients use (``ONEMAP_PUBLIC_URL`` behind a proxy)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class TileSettings(BaseSettings):
    """The server's vector tile cache (``onemap.serve.tile_cache``): tiles are kept on disk
    per layer and published version, shared by the gunicorn workers."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_TILE_")

    cache: bool = True
    cache_dir: Path = Field(default_factory=lambda: DbSettings().state_dir / "tile-cache")
    # PMTiles archives `onemap tiles seed` writes and the server reads first
    # (onemap.serve.tile_archive): <archive_dir>/<layer>.pmtiles
    archive_dir: Path = Field(default_factory=lambda: DbSettings().state_dir / "tile-archives")


class LimitSettings(BaseSettings):
    """What one request or one load may hold (docs/security.md, "Limits").

    - ``statement_timeout_s``: every statement of a serving connection (pygeoapi's, the
      processes', the reports', the extents') is cancelled after this long.
    - ``max_body_bytes``: the largest request body a POST, PUT or PATCH may send (the
      report intake has its own, smaller limit in config/reports.yaml).
    - ``cql2_max_nodes``, ``cql2_max_vertices``: the largest CQL2 filter (conditions,
      operands, values) and the most vertices of its geometry literals.
    - ``swap_lock_timeout_ms``, ``swap_lock_wait_s``: a replace asks for its exclusive
      lock for this long at a time (readers arriving meanwhile queue behind it for no
      longer), and retries until ``swap_lock_wait_s`` have passed.
    - ``load_idle_timeout_s``: a loader's session idle inside a transaction this long is
      ended by PostgreSQL (its layer lock with it); TCP keepalives end a session whose
      machine is gone after ``load_keepalive_s`` + 3 probes.
    - ``rejects_per_reason``: a load stores the first N refused rows of each kind of
      problem in ``onemap_meta.rejects`` and counts the rest (``onemap.load.runs``).
    - ``stage_tablespace``: the PostgreSQL tablespace a load's staging table is written
      to (default: the database's own). On a volume of its own, a file too big for the
      disk fills that volume, not the one the published layers and the WAL live on; a
      replace moves the checked stage out of it before publishing (``onemap.load.stage``).
    """

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    statement_timeout_s: float = Field(default=60, gt=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    cql2_max_nodes: int = Field(default=500, ge=10)
    cql2_max_vertices: int = Field(default=10_000, ge=4)
    swap_lock_timeout_ms: int = Field(default=500, ge=10)
    swap_lock_wait_s: float = Field(default=60, ge=0)
    load_idle_timeout_s: int = Field(default=600, ge=1)
    load_keepalive_s: int = Field(default=30, ge=1)
    rejects_per_reason: int = Field(default=100, ge=1)
    stage_tablespace: str | None = None


class BenchSettings(BaseSettings):
    """The benchmarks' knobs (bench/): ``ONEMAP_BENCH_SEGMENTS`` sizes `make bench-10m`
    (10 million road segments; smaller to try the whole run quickly)."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_BENCH_")

    segments: int = Field(default=10_000_000, ge=1_000)
