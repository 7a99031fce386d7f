"""Run pygeoapi on the generated configuration, under gunicorn, as the read-only role.

The server holds only the credentials it uses: the passwords of the reader and of the
features' roles (the reports' intake and staff) come through its environment, and it
reads no secrets file (``DbSettings.use_secrets_file`` off); the owner's password stays
with the CLI. Started as root, its workers run as an unprivileged system user
(``onemap.serve.service_user``).

``pygeoapi serve`` always runs Flask's debug reloader, so the WSGI app (pygeoapi's
Flask app with onemap's hooks and routes, ``onemap.serve.wsgi``) is served by gunicorn
instead (``--no-control-socket``: gunicorn 27 otherwise writes
``~/.gunicorn/gunicorn.ctl``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from onemap.core import extensions
from onemap.core.errors import UserError
from onemap.core.settings import (
    DbSettings,
    ServeSettings,
    TileSettings,
    child_env,
    env_name,
    password_variable,
)
from onemap.core.yamlfile import read_yaml
from onemap.db.cluster import is_root
from onemap.db.connect import connect_reader, role_params
from onemap.db.schema import check_current
from onemap.load.coverage_files import coverage_dir
from onemap.serve import service_user
from onemap.serve.contract import LIMITS, config_path
from onemap.serve.html import HTML_DIR, HTML_DIR_VARIABLE
from onemap.serve.openapi_local import localise
from onemap.serve.records import write_catalogue

# libpq's variables that may carry the owner's credentials (DATABASE_URL names the owner;
# the server connects as its roles through ONEMAP_DB_HOST/PORT/NAME instead).
OWNER_VARIABLES = ("DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGUSER")
# gunicorn restarts a worker that has not answered for this long (its default is 30 s):
# the indicator processes and the first pages of the biggest layers may need more. (A
# threaded worker answers its heartbeat while its threads work; statements are bounded
# by the statement timeout, onemap.serve.connections.)
WORKER_TIMEOUT_S = 120


def server_env(serve: ServeSettings, db: DbSettings | None = None) -> dict[str, str]:
    """Environment pygeoapi resolves the ``${VAR}`` references of pygeoapi.yml from.

    The server's settings are handed down under the names the child's settings read,
    so ``DbSettings()`` and ``ServeSettings()`` in a worker agree with this process.
    """
    db = db or DbSettings()
    reader = role_params("reader", db)
    prune_server_files(db.state_dir, serve.host)
    openapi = db.state_dir / f"openapi-{serve.port}.yml"  # one per server: suites run in parallel
    env = child_env(
        **{
            env_name(ServeSettings, "public_url"): serve.url,
            env_name(ServeSettings, "cache_max_age"): str(serve.cache_max_age),
            env_name(DbSettings, "host"): str(reader["host"]),
            env_name(DbSettings, "port"): str(reader["port"]),
            env_name(DbSettings, "name"): str(reader["dbname"]),
            env_name(DbSettings, "reader"): str(reader["user"]),
            password_variable("reader"): str(reader["password"]),
            env_name(DbSettings, "use_secrets_file"): "false",  # passwords: these only
            # what the features' collections in pygeoapi.yml refer to (e.g. the reports' staff)
            **{k: v for f in extensions.features() for k, v in f.server_env(db).items()},
            "PYGEOAPI_CONFIG": str(config_path()),
            "PYGEOAPI_OPENAPI": str(openapi),
            "ONEMAP_RECORDS": str(db.state_dir / f"records-{serve.port}.json"),
            "ONEMAP_COVERAGES": str(coverage_dir(db)),
            # the HTML pages' templates, static files and words (pygeoapi.yml's server.templates)
            HTML_DIR_VARIABLE: str(HTML_DIR),
        }
    )
    # what only the CLI may hold: the owner's password, in any of the forms libpq reads
    for name in (password_variable("owner"), *OWNER_VARIABLES):
        env.pop(name, None)
    return env


def prune_server_files(state_dir: Path, host: str) -> None:
    """Delete the per-port files of servers that are gone (nothing listens on the port).

    Each server writes its OpenAPI document and catalogue under its port's name, so that
    servers on other ports (test suites run side by side) keep theirs.
    """
    for path in [*state_dir.glob("openapi-*.yml"), *state_dir.glob("records-*.json")]:
        port = path.stem.split("-", 1)[1]
        if not port.isdigit():
            continue
        with socket.socket() as s:
            s.settimeout(0.2)
            listening = s.connect_ex((host, int(port))) == 0
        if not listening:
            path.unlink(missing_ok=True)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def generate_openapi(env: dict[str, str], onemap_extras: bool = True) -> None:
    """Write the OpenAPI document pygeoapi serves (it reads the tables' columns).

    With ``onemap_extras`` (always, but for the benchmark's stock pygeoapi) the records
    catalogue is written first, and afterwards ``limit`` is declared for QGIS and GDAL and the
    remote ``$ref``s are made local.
    """
    config = Path(env["PYGEOAPI_CONFIG"])
    if not config.exists():
        raise UserError(f"{config} is missing: run 'onemap publish' first")
    Path(env["PYGEOAPI_OPENAPI"]).parent.mkdir(parents=True, exist_ok=True)
    if onemap_extras:
        write_catalogue(Path(env["ONEMAP_RECORDS"]), env[env_name(ServeSettings, "public_url")])
    res = subprocess.run(
        [
            _bin("pygeoapi"),
            "openapi",
            "generate",
            env["PYGEOAPI_CONFIG"],
            "--output-file",
            env["PYGEOAPI_OPENAPI"],
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise UserError(
            f"pygeoapi could not build its OpenAPI document:\n{res.stderr.strip()[-1500:]}"
        )
    if onemap_extras:
        declare_limit(Path(env["PYGEOAPI_OPENAPI"]))
        self_contained(Path(env["PYGEOAPI_OPENAPI"]))


def self_contained(path: Path) -> None:
    """Rewrite the document's remote ``$ref``s to shipped components (``openapi_local``)."""
    doc = localise(read_yaml(path))
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def declare_limit(path: Path) -> None:
    """Declare ``limit`` once in ``components.parameters`` and reference it from every path.

    pygeoapi writes the limit parameter inline per path. QGIS and GDAL read the page size
    they may ask for from ``components.parameters.limit`` (its ``default``/``maximum``);
    without it QGIS pages at 100 and GDAL at 10 features.
    """
    doc = read_yaml(path)
    schema = {
        "type": "integer",
        "minimum": 1,
        "default": LIMITS["default_items"],
        "maximum": LIMITS["max_items"],
    }
    doc.setdefault("components", {}).setdefault("parameters", {})["limit"] = {
        "name": "limit",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "The number of features in one page "
        f"(default {schema['default']}, maximum {schema['maximum']}).",
        "schema": schema,
    }
    ref = {"$ref": "#/components/parameters/limit"}
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [
                    ref if isinstance(p, dict) and p.get("name") == "limit" else p
                    for p in op["parameters"]
                ]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def gunicorn_cmd(serve: ServeSettings, app: str = "onemap.serve.wsgi:app") -> list[str]:
    """The gunicorn command line serving pygeoapi's Flask app (with onemap's additions)."""
    return [
        _bin("gunicorn"),
        app,
        "--bind",
        f"{serve.host}:{serve.port}",
        "--workers",
        str(serve.workers),
        # threads: a slow client holds one thread, not a whole worker (Tuning: serve_threads)
        "--worker-class",
        "gthread",
        "--threads",
        str(serve.threads),
        "--no-control-socket",
        "--access-logfile",
        "-" if serve.access_log else "/dev/null",
        "--timeout",
        str(WORKER_TIMEOUT_S),
        *service_user.gunicorn_args(serve.run_as),
    ]


def prepare(serve: ServeSettings) -> dict[str, str]:
    """The server's environment and files; as root, the system user it drops to, checked.
    A database that an older onemap set up is refused here, with what to do."""
    env = server_env(serve)
    with connect_reader() as conn:
        check_current(conn)
    generate_openapi(env)
    served = [Path(env[k]) for k in ("PYGEOAPI_OPENAPI", "ONEMAP_RECORDS")]
    for path in served:
        if path.exists():
            path.chmod(0o644)  # public documents, read by the server's user
    if is_root():
        service_user.ensure(serve.run_as)
        service_user.check(serve.run_as, env, [Path(env["PYGEOAPI_CONFIG"]), *served])
        service_user.own_dir(serve.run_as, TileSettings().cache_dir)  # the workers write it
    return env


def _settings(port: int | None, workers: int | None) -> ServeSettings:
    serve = ServeSettings()
    update = {k: v for k, v in (("port", port), ("workers", workers)) if v is not None}
    return serve.model_copy(update=update) if update else serve


def run_foreground(port: int | None = None, workers: int | None = None) -> None:
    """Replace this process with gunicorn (Ctrl-C stops it)."""
    serve = _settings(port, workers)
    env = prepare(serve)
    print(f"onemap OGC API: {serve.url}/  (collections: {serve.url}/collections)", flush=True)  # noqa: T201
    os.execve(gunicorn_cmd(serve)[0], gunicorn_cmd(serve), env)


def start_background(
    port: int, workers: int | None = None, log: Path | None = None
) -> subprocess.Popen:
    """Start pygeoapi on ``port`` and wait until it answers (tests, benchmarks)."""
    serve = _settings(port, workers)
    env = prepare(serve)
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(gunicorn_cmd(serve), env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"pygeoapi exited with code {proc.returncode} (log: {log})")
        try:
            with urllib.request.urlopen(f"{serve.url}/conformance?f=json", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise UserError(f"pygeoapi did not answer on {serve.url} within 60 s (log: {log})")
