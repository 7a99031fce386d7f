"""Connection parameters for the roles, and the secrets that go with them.

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

from onemap.core import extensions
from onemap.core.errors import UserError
from onemap.core.settings import DbSettings

OWNER_SECRET = "ONEMAP_OWNER_PASSWORD"
READER_SECRET = "ONEMAP_READER_PASSWORD"


def secret_keys() -> tuple[str, ...]:
    """The passwords kept: the core's two roles', then the features' roles'."""
    return (OWNER_SECRET, READER_SECRET, *(role.secret for role in extensions.roles()))


def _secrets_file(settings: DbSettings) -> Path:
    return settings.state_dir / "secrets.env"


def read_secrets(settings: DbSettings, create: bool = False) -> dict[str, str]:
    """The role passwords: environment first, then the secrets file (created on demand)."""
    path = _secrets_file(settings)
    keys = secret_keys()
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in keys:
                values[key] = value.strip()
    for key in keys:
        if os.environ.get(key):
            values[key] = os.environ[key]
    missing = [k for k in keys if k not in values]
    if missing and create:
        for key in missing:
            values[key] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={values[k]}\n" for k in keys))
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
    pw = read_secrets(settings)[OWNER_SECRET]
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
    return role_params(settings.reader, READER_SECRET, settings)


def role_params(user: str, secret: str, settings: DbSettings) -> dict[str, str | int]:
    """Host, port, database, user and password of a login role whose password is ``secret``."""
    pw = read_secrets(settings)[secret]
    if is_external():
        base = psycopg.conninfo.conninfo_to_dict(os.environ.get("DATABASE_URL", ""))
        return {
            "host": str(base.get("host") or os.environ.get("PGHOST", "127.0.0.1")),
            "port": int(base.get("port") or os.environ.get("PGPORT", 5432)),
            "dbname": str(base.get("dbname") or os.environ.get("PGDATABASE", settings.name)),
            "user": user,
            "password": pw,
        }
    return {
        "host": settings.host,
        "port": settings.port,
        "dbname": settings.name,
        "user": user,
        "password": pw,
    }


def role_conninfo(
    user: str, secret: str, settings: DbSettings | None = None, application_name: str = "onemap"
) -> str:
    """libpq conninfo for a login role whose password is the secret ``secret``."""
    params = role_params(user, secret, settings or DbSettings())
    return psycopg.conninfo.make_conninfo(**params, application_name=application_name)


def connect_owner(settings: DbSettings | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection as the loading role, with a readable error when it fails."""
    try:
        return psycopg.connect(owner_conninfo(settings), **kwargs)
    except psycopg.OperationalError as exc:
        raise UserError(
            f"cannot connect to the onemap database ({exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0]}); run 'onemap db up'"
        ) from exc
