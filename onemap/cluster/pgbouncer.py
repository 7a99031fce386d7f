"""A PgBouncer in front of each database (transaction pooling).

The API nodes' many short transactions share a few server connections. Transaction
pooling gives a client a server session for one transaction only, so nothing may live in
the session: psycopg prepares no statements (``ONEMAP_DB_POOLED``,
``onemap.serve.connections``; PgBouncer 1.18 does not track them), and the serving
options that libpq sends as the ``options`` startup parameter (statement timeout, no
parallel workers, no JIT), which PgBouncer cannot pass on, are set by ``connect_query`` on
every server connection it opens instead. Clients authenticate with SCRAM against the
roles' passwords in ``userlist.txt`` (mode 600, the cluster's OS user's), which PgBouncer
also uses to log in to PostgreSQL.
"""

from __future__ import annotations

from onemap.cluster.layout import Layout
from onemap.cluster.processes import (
    need,
    own_dir,
    read_pid,
    run,
    stop_pid,
    wait_listening,
    write_private,
)
from onemap.core import extensions
from onemap.core.settings import DbSettings, LimitSettings, password_variable
from onemap.db.connect import read_secrets

# A dead database is reported within seconds instead of PgBouncer's defaults (15 s login
# retry, 120 s queue wait), so HAProxy's health check sees the node fail and routes around.
SERVER_LOGIN_RETRY_S = 1
SERVER_CONNECT_TIMEOUT_S = 2
QUERY_WAIT_TIMEOUT_S = 5
POOL_SIZE = 20  # server connections per user and database (PostgreSQL: max_connections)


def users(db: DbSettings) -> dict[str, str]:
    """Login name → password of the roles the API nodes use: the reader and the features'
    (the report intake and staff write to the primary). Not the owner: loads connect to
    the primary itself, and the catalogue reads the load history as the reader
    (``onemap_meta.published_runs``), so no PgBouncer, and no API node, holds the owner's
    password."""
    secrets = read_secrets(db)
    found = {db.reader: secrets[password_variable("reader")]}
    for role in extensions.roles():
        found[role.name] = secrets[role.secret]
    return found


def _connect_query() -> str:
    ms = int(LimitSettings().statement_timeout_s * 1000)
    return f"SET statement_timeout = {ms}; SET max_parallel_workers_per_gather = 0; SET jit = off"


def config(layout: Layout, j: int) -> str:
    """pgbouncer.ini of the PgBouncer in front of database ``j`` (0: the primary)."""
    folder = layout.root / f"pgbouncer-{j}"
    return f"""\
;; Written by onemap (onemap/cluster/pgbouncer.py) at every start.
[databases]
{layout.db.name} = host={layout.host} port={layout.db_port(j)} dbname={layout.db.name} \
connect_query='{_connect_query()}'

[pgbouncer]
listen_addr = {layout.host}
listen_port = {layout.bouncer_port(j)}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
server_login_retry = {SERVER_LOGIN_RETRY_S}
server_connect_timeout = {SERVER_CONNECT_TIMEOUT_S}
query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


def start(layout: Layout, j: int) -> None:
    """Write the configuration and start PgBouncer ``j`` as a daemon (if not running)."""
    binary = need("pgbouncer", "pgbouncer")
    folder = own_dir(layout.root / f"pgbouncer-{j}")
    if read_pid(folder / "pgbouncer.pid"):
        return
    userlist = "".join(f'"{u}" "{p}"\n' for u, p in users(layout.db).items())
    write_private(folder / "userlist.txt", userlist)
    write_private(folder / "pgbouncer.ini", config(layout, j))
    run([binary, "-d", str(folder / "pgbouncer.ini")], f"pgbouncer {j}")
    wait_listening(layout.host, layout.bouncer_port(j), f"pgbouncer {j}")


def stop(layout: Layout, j: int) -> bool:
    """Stop PgBouncer ``j``; False if it was not running."""
    return stop_pid(layout.root / f"pgbouncer-{j}" / "pgbouncer.pid")
