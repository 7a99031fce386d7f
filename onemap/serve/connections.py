"""One lazily opened database connection per role and serving process (gunicorn worker)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg


class RoleConnection:
    """An autocommit connection opened on first use with ``conninfo()``, reopened when broken.

    A sync worker serves one request at a time; the lock makes threaded use safe too.
    Callers open transactions with ``conn.transaction()``.
    """

    def __init__(self, conninfo: Callable[[], str]):
        self.conninfo = conninfo
        self.lock = threading.RLock()
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        """A live connection (opened or reopened on demand)."""
        with self.lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10)
            return self._conn

    def close(self) -> None:
        """Close the connection if open."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
