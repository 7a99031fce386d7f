"""Read-your-writes across replicas: wait until every replica has replayed a publish.

A load commits on the primary; streaming replication then replays it on each hot standby
(PostgreSQL 15 manual 27.2.5, 27.4). The primary's WAL position after the commit
(``pg_current_wal_lsn``) is the publish LSN; a replica whose ``pg_last_wal_replay_lsn`` has
reached it serves the new version. ``onemap load`` waits for that on every read DSN
(``TopologySettings.read_dsns``) and reports each replica's lag; an unreachable replica is
reported and not waited for (it catches up from the primary's WAL when it returns).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from onemap.core.settings import DbSettings, TopologySettings
from onemap.db.connect import connect_owner, dsn_conninfo

REPLAY_SQL = """
SELECT pg_catalog.pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn,
       pg_catalog.pg_wal_lsn_diff(%(lsn)s::pg_lsn, pg_catalog.pg_last_wal_replay_lsn())
"""
POLL_S = 0.1


@dataclass(frozen=True)
class ReplicaState:
    """How one replica stands against the publish LSN."""

    dsn: str
    caught_up: bool
    seconds: float  # waited until caught up (or until given up)
    behind_bytes: int | None = None  # WAL still to replay when given up
    error: str | None = None

    def describe(self) -> str:
        """One line for the terminal."""
        if self.error:
            return f"replica {self.dsn}: not reached ({self.error}); it catches up when back"
        if self.caught_up:
            return f"replica {self.dsn}: replayed the publish after {self.seconds:.2f} s"
        return (
            f"replica {self.dsn}: {self.behind_bytes} bytes of WAL behind after "
            f"{self.seconds:.1f} s (not waited for longer)"
        )


def current_lsn(settings: DbSettings | None = None) -> str:
    """The primary's WAL position now (after a publish committed: covers it)."""
    with connect_owner(settings) as conn:
        return conn.execute("SELECT pg_catalog.pg_current_wal_lsn()::text").fetchone()[0]


def wait_replayed(
    dsn: str, lsn: str, timeout_s: float, settings: DbSettings | None = None
) -> ReplicaState:
    """Poll one replica (as the reader) until it has replayed ``lsn`` or ``timeout_s`` pass."""
    start = time.monotonic()
    try:
        with psycopg.connect(
            dsn_conninfo(dsn, "reader", settings), autocommit=True, connect_timeout=5
        ) as conn:
            while True:
                done, behind = conn.execute(REPLAY_SQL, {"lsn": lsn}).fetchone()
                waited = time.monotonic() - start
                if done or done is None:  # None: a primary, nothing to replay
                    return ReplicaState(dsn, True, waited)
                if waited >= timeout_s:
                    return ReplicaState(dsn, False, waited, int(behind))
                time.sleep(POLL_S)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ReplicaState(dsn, False, time.monotonic() - start, error=first)


def wait_for_replicas(
    timeout_s: float | None = None,
    notify: Callable[[str], None] = lambda _m: None,
    topology: TopologySettings | None = None,
) -> list[ReplicaState]:
    """Wait until every read DSN has replayed the primary's current WAL position."""
    topology = topology or TopologySettings()
    if not topology.read_dsns:
        return []
    timeout = topology.replica_wait_s if timeout_s is None else timeout_s
    lsn = current_lsn()
    states = [wait_replayed(dsn, lsn, timeout) for dsn in topology.read_dsns]
    for state in states:
        notify(state.describe())
    return states
