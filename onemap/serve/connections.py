"""Database connections of a serving process: one per role and thread, opened lazily.

Every serving connection runs with ``session_options()``: a statement timeout (a runaway
query is cancelled, ``LimitSettings.statement_timeout_s``), no parallel query workers and
no JIT (one request is one short query, and the workers already use the cores).
Through PgBouncer (``ONEMAP_DB_POOLED``) psycopg prepares no statements: with transaction
pooling the next transaction may run in another server session, which does not know them
(PgBouncer 1.18 does not track prepared statements); PgBouncer's ``connect_query`` sets the
session options there (``onemap.cluster.pgbouncer``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from onemap.core.settings import LimitSettings
from onemap.db.connect import pooled_options


def session_options(limits: LimitSettings | None = None) -> str:
    """libpq ``options`` of a serving connection."""
    ms = int((limits or LimitSettings()).statement_timeout_s * 1000)
    return f"-c statement_timeout={ms} -c max_parallel_workers_per_gather=0 -c jit=off"


def serving_conninfo(conninfo: str) -> str:
    """``conninfo`` with the serving session options (for code that opens its own)."""
    return psycopg.conninfo.make_conninfo(conninfo, options=session_options())


class RoleConnection:
    """An autocommit connection per thread, opened on first use with ``conninfo()`` and
    the serving options, reopened when broken.

    gunicorn's threaded workers serve several requests at once; each thread has its own
    connection, so one request's transaction never interleaves with another's.
    Callers open transactions with ``conn.transaction()``.
    """

    def __init__(self, conninfo: Callable[[], str]):
        self.conninfo = conninfo
        self.lock = threading.RLock()
        self._local = threading.local()
        self._all: list[psycopg.Connection] = []

    def get(self) -> psycopg.Connection:
        """This thread's live connection (opened or reopened on demand)."""
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(
                self.conninfo(),
                autocommit=True,
                connect_timeout=10,
                options=session_options(),
                **pooled_options(),
            )
            self._local.conn = conn
            with self.lock:
                self._all = [c for c in self._all if not c.closed] + [conn]
        return conn

    def close(self) -> None:
        """Close every thread's connection."""
        with self.lock:
            for conn in self._all:
                conn.close()
            self._all = []
        self._local = threading.local()
