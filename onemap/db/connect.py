"""Connection parameters for every role, and the secrets that go with them.

Passwords are generated on first ``db up`` into ``<state_dir>/secrets.env`` (mode 600,
gitignored). The CLI reads it; the server never does: ``onemap serve`` hands it the
passwords of the roles it uses (reader, the features' roles), not the owner's, through
its environment. No password is ever written into a committed file. ``DATABASE_URL``
(or libpq's ``PGHOST``…) switches the loader to an existing database. ``role_params`` is
the one place connection parameters are built; everything else (conninfo strings,
pygeoapi's environment, QGIS) uses it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import psycopg

from onemap.core import extensions
from onemap.core.errors import UserError
from onemap.core.settings import (
    DbSettings,
    LibpqSettings,
    TopologySettings,
    given_passwords,
    password_variable,
)

# libpq's defaults, used when DATABASE_URL/PG* leave the host or port out but pygeoapi
# needs them spelt out.
LIBPQ_HOST = "127.0.0.1"
LIBPQ_PORT = 5432
CORE_ROLES = ("owner", "reader")  # DbSettings fields; the features add theirs


def secret_keys() -> tuple[str, ...]:
    """The passwords kept: the core's two roles', then the features' roles'."""
    core = tuple(password_variable(role) for role in CORE_ROLES)
    return (*core, *(role.secret for role in extensions.roles()))


def _secrets_file(settings: DbSettings) -> Path:
    return settings.state_dir / "secrets.env"


def read_secrets(
    settings: DbSettings, create: bool = False, keys: tuple[str, ...] | None = None
) -> dict[str, str]:
    """The role passwords (``keys``: those only): environment first, then the secrets
    file (created on demand). The server reads none from the file
    (``settings.use_secrets_file`` off, ``onemap.serve.server``): it holds the owner's."""
    path = _secrets_file(settings)
    if not settings.use_secrets_file:
        wanted = keys or secret_keys()
        given = given_passwords(wanted)
        missing = [k for k in wanted if k not in given]
        if missing:
            raise UserError(f"{', '.join(missing)} not set: this process reads no secrets file")
        return given
    keys = secret_keys()
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in keys:
                values[key] = value.strip()
    values.update(given_passwords(keys))
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
    return LibpqSettings().external


def role_params(
    role: str, settings: DbSettings | None = None, user: str | None = None
) -> dict[str, str | int]:
    """Host, port, database, user and password of one role: the core's (owner, reader) or
    a feature's (e.g. the reports' intake and staff, ``onemap.core.extensions``).

    ``user`` defaults to the role's name (``ONEMAP_DB_<ROLE>``). On an
    existing database (``DATABASE_URL``/``PG*``) the owner is whoever ``DATABASE_URL``
    names (empty: libpq reads ``PG*`` itself), and the other roles, which ``db up``
    created there, connect to its host, port and database.
    """
    settings = settings or DbSettings()
    libpq = LibpqSettings()
    topology_dsn = topology_target(role)
    if topology_dsn:
        where = _where(topology_dsn, settings)
    elif libpq.external:
        base = psycopg.conninfo.conninfo_to_dict(libpq.database_url or "")
        if role == "owner" and user is None:
            return {k: v for k, v in base.items() if v is not None}
        where: dict[str, str | int] = {
            "host": str(base.get("host") or libpq.pghost or LIBPQ_HOST),
            "port": int(base.get("port") or libpq.pgport or LIBPQ_PORT),
            "dbname": str(base.get("dbname") or libpq.pgdatabase or settings.name),
        }
    else:
        where = {"host": settings.host, "port": settings.port, "dbname": settings.name}
    return {
        **where,
        "user": user or _role_name(role, settings),
        "password": _password(role, settings),
    }


def topology_target(role: str, topology: TopologySettings | None = None) -> str | None:
    """The DSN a role connects to when a primary/replica topology is configured: the
    reader reads from the first read DSN, every other role writes to the write DSN."""
    topology = topology or TopologySettings()
    if role == "reader" and topology.read_dsns:
        return topology.read_dsns[0]
    return topology.write_dsn


def _where(dsn: str, settings: DbSettings) -> dict[str, str | int]:
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    return {
        "host": str(parts.get("host") or LIBPQ_HOST),
        "port": int(parts.get("port") or LIBPQ_PORT),
        "dbname": str(parts.get("dbname") or settings.name),
    }


def dsn_conninfo(dsn: str, role: str, settings: DbSettings | None = None) -> str:
    """libpq conninfo of ``role`` on the database ``dsn`` names (a replica, say)."""
    settings = settings or DbSettings()
    params = {
        **_where(dsn, settings),
        "user": _role_name(role, settings),
        "password": _password(role, settings),
    }
    return psycopg.conninfo.make_conninfo(application_name=f"onemap-{role}", **params)


def _password(role: str, settings: DbSettings) -> str:
    key = password_variable(role)
    return read_secrets(settings, keys=(key,))[key]


def _role_name(role: str, settings: DbSettings) -> str:
    if role in CORE_ROLES:
        return getattr(settings, role)
    for declared in extensions.roles():
        if declared.secret == password_variable(role):
            return declared.name
    raise ValueError(f"no role '{role}': the core has {CORE_ROLES}, the features theirs")


def role_conninfo(role: str, settings: DbSettings | None = None, user: str | None = None) -> str:
    """libpq conninfo string of one role (``role_params``), named ``onemap-<role>``."""
    params = role_params(role, settings, user)
    app = "onemap" if role == "owner" else f"onemap-{role}"
    return psycopg.conninfo.make_conninfo(**{"application_name": app, **params})


def owner_conninfo(settings: DbSettings | None = None) -> str:
    """``role_conninfo`` of the loading role (owner of the layer tables)."""
    return role_conninfo("owner", settings)


def reader_conninfo(settings: DbSettings | None = None) -> str:
    """``role_conninfo`` of the read-only role (pygeoapi, the map builder)."""
    return role_conninfo("reader", settings)


def pooled_options() -> dict[str, None]:
    """psycopg connection options when the connections go through PgBouncer's transaction
    pooling (``ONEMAP_DB_POOLED``): no prepared statements, which live in one server
    session that the next transaction may not get (PgBouncer 1.18 does not track them)."""
    return {"prepare_threshold": None} if TopologySettings().db_pooled else {}


def connect_owner(settings: DbSettings | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection as the loading role, with a readable error when it fails."""
    return _connect(owner_conninfo(settings), **kwargs)


def connect_reader(settings: DbSettings | None = None, **kwargs) -> psycopg.Connection:
    """Open a connection as the read-only role, with a readable error when it fails."""
    return _connect(reader_conninfo(settings), **kwargs)


def _connect(conninfo: str, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, **{**pooled_options(), **kwargs})
    except psycopg.OperationalError as exc:
        raise UserError(
            f"cannot connect to the onemap database ({exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0]}); run 'onemap db up'"
        ) from exc
