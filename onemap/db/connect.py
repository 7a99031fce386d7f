"""Connection parameters for the two roles, and the secrets that go with them.

Passwords are generated on first ``db up`` into ``<state_dir>/secrets.env`` (mode 600,
gitignored) and exported to pygeoapi through the environment: no password is ever
written into a committed file. ``DATABASE_URL`` (or libpq's ``PGHOST``…) switches the
loader to an existing database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import psycopg

from onemap.core.errors import UserError
from onemap.core.settings import DbSettings

SECRET_KEYS = (
    "ONEMAP_OWNER_PASSWORD",
    "ONEMAP_READER_PASSWORD",
    "ONEMAP_INTAKE_PASSWORD",  # citizen reports: INSERT-only intake role
    "ONEMAP_STAFF_PASSWORD",  # citizen reports: staff role (personal data)
)


def _secrets_file(settings: DbSettings) -> Path:
    return settings.state_dir / "secrets.env"


def read_secrets(settings: DbSettings, create: bool = False) -> dict[str, str]:
    """The role passwords: environment first, then the secrets file (created on demand)."""
    path = _secrets_file(settings)
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in SECRET_KEYS:
                values[key] = value.strip()
    for key in SECRET_KEYS:
        if os.environ.get(key):
            values[key] = os.environ[key]
    missing = [k for k in SECRET_KEYS if k not in values]
    if missing and create:
        for key in missing:
            values[key] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={values[k]}\n" for k in SECRET_KEYS))
        path.chmod(0o600)
    elif missing:
        raise UserError(f"no database credentials in {path}: run 'onemap db up' first")
    return values


def is_external() -> bool:
    """Whether the user pointed us at an existing database (DATABASE_URL or PGHOST)."""
    return bool(os.environ.get("DATABASE_URL") or os.environ.get("PGHOST"))


def owner_conninfo(settings: DbSettings | None = None) -> str:
    """libpq conninfo for the loading role (owner of the layer tables)."""
    settings = settings or DbSettings()
    if is_external():
        return os.environ.get("DATABASE_URL", "")
    pw = read_secrets(settings)["ONEMAP_OWNER_PASSWORD"]
    return psycopg.conninfo.make_conninfo(
        host=settings.host,
        port=settings.port,
        dbname=settings.name,
        user=settings.owner,
        password=pw,
        application_name="onemap",
    )


def reader_conninfo(settings: DbSettings | None = None) -> str:
    """libpq conninfo for the read-only role (pygeoapi, the map builder)."""
    settings = settings or DbSettings()
    params = reader_params(settings)
    return psycopg.conninfo.make_conninfo(**params, application_name="onemap-reader")


def reader_params(settings: DbSettings) -> dict[str, str | int]:
    """The reader's host, port, database, user and password, as pygeoapi needs them."""
    pw = read_secrets(settings)["ONEMAP_READER_PASSWORD"]
    if is_external():
        base = psycopg.conninfo.conninfo_to_dict(os.environ.get("DATABASE_URL", ""))
        return {
            "host": str(base.get("host") or os.environ.get("PGHOST", "127.0.0.1")),
            "port": int(base.get("port") or os.environ.get("PGPORT", 5432)),
            "dbname": str(base.get("dbname") or os.environ.get("PGDATABASE", settings.name)),
            "user": settings.reader,
            "password": pw,
        }
    return {
        "host": settings.host,
        "port": settings.port,
        "dbname": settings.name,
        "user": settings.reader,
        "password": pw,
    }


def connect_owner(settings: DbSettings | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection as the loading role, with a readable error when it fails."""
    try:
        return psycopg.connect(owner_conninfo(settings), **kwargs)
    except psycopg.OperationalError as exc:
        raise UserError(
            f"cannot connect to the onemap database ({exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0]}); run 'onemap db up'"
        ) from exc
