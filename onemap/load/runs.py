"""The record of every run in ``onemap_meta.loads`` and the lock that serialises them.

A run row is written on a separate autocommit connection, so it survives the rollback
of a refused load; success is recorded inside the publishing transaction itself, so a
run is 'succeeded' exactly when its version was published. Loads and rollbacks of one
layer take the layer's advisory lock (a session lock, held across the load's
transactions and released when its connection closes, also when the loader is killed)
before their run row is created: run ids of a layer therefore increase in the order
their versions were published, which is what ``onemap.load.history`` relies on.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from onemap.core.layers import Layer
from onemap.core.settings import LimitSettings
from onemap.load.validate import Reject

LOCK_NAMESPACE = 0x6F6D  # "om": advisory locks of onemap loads


class FileHash:
    """SHA-256 of the input, computed in a thread while the loader reads the file."""

    def __init__(self, path: Path):
        self.path = path
        self._digest: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        if path.is_file():
            self._thread.start()

    def _run(self) -> None:
        h = hashlib.sha256()
        with self.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        self._digest = h.hexdigest()

    def result(self) -> str | None:
        """The hex digest (None for a directory such as a FileGDB)."""
        if self._thread.ident is not None:
            self._thread.join()
        return self._digest


def session_kwargs(limits: LimitSettings | None = None) -> dict[str, object]:
    """Connection arguments of a loader's sessions: PostgreSQL ends a session that sits
    idle inside a transaction (a hung loader) and, through TCP keepalives, one whose
    client machine is gone; either way its layer lock is released (LimitSettings)."""
    limits = limits or LimitSettings()
    return {
        "options": f"-c idle_in_transaction_session_timeout={limits.load_idle_timeout_s}s",
        "keepalives": 1,
        "keepalives_idle": limits.load_keepalive_s,
        "keepalives_interval": max(1, limits.load_keepalive_s // 3),
        "keepalives_count": 3,
    }


def layer_lock_key(layer_id: str) -> int:
    """The advisory-lock key of a layer (stable across processes)."""
    return int.from_bytes(hashlib.sha256(layer_id.encode()).digest()[:4], "big", signed=True)


def lock_layer(conn: psycopg.Connection, layer: Layer, notify: Callable[[str], None]) -> None:
    """Serialise runs of one layer; tell the user when another run holds the lock."""
    key = layer_lock_key(layer.id)
    got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key)).fetchone()[0]
    if not got:
        holder = conn.execute(
            "SELECT load_id, source_file, run_by, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS') "
            "FROM onemap_meta.loads "
            "WHERE layer = %s AND status = 'running' ORDER BY load_id DESC LIMIT 1",
            (layer.id,),
        ).fetchone()
        what = (
            f" (run {holder[0]} of {holder[1]}, by {holder[2]}, since {holder[3]})"
            if holder
            else ""
        )
        notify(f"another load of '{layer.id}' is running{what}; waiting for it to finish…")
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key))
    conn.commit()


def unlock_layer(conn: psycopg.Connection, layer: Layer) -> None:
    """Release the layer's lock (closing the connection does it too)."""
    if not conn.closed and not conn.broken:
        conn.rollback()
        conn.execute(
            "SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, layer_lock_key(layer.id))
        )
        conn.commit()


def reap_stale_runs(conn: psycopg.Connection) -> int:
    """Mark as failed the runs whose loader died (its connection is gone)."""
    cur = conn.execute(
        "UPDATE onemap_meta.loads SET status = 'failed', finished_at = now(), "
        "message = 'the loader stopped before finishing (killed or disconnected); "
        "the published layer was not changed' "
        "WHERE status = 'running' AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)"
    )
    return cur.rowcount


def start_run(
    meta: psycopg.Connection,
    layer: Layer,
    source: str,
    mode: str,
    restored_from: int | None = None,
    region: str | None = None,
) -> int:
    """Insert the run row (status 'running') and return its id."""
    row = meta.execute(
        "INSERT INTO onemap_meta.loads (layer, source_file, mode, run_by, restored_from, "
        "region) VALUES (%s, %s, %s, %s, %s, %s) RETURNING load_id",
        (layer.id, source, mode, _who(), restored_from, region),
    ).fetchone()
    return int(row[0])


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class RunRecord:
    """What a run records besides its status: its counts and details (a load's
    ``LoadResult`` adds what the CLI prints; a rollback records just this)."""

    load_id: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_repaired: int = 0
    details: dict = field(default_factory=dict)


def run_counts(record: RunRecord) -> dict:
    """The columns and details a run records."""
    return {
        "rows_read": record.rows_read,
        "rows_loaded": record.rows_loaded,
        "rows_rejected": record.rows_rejected,
        "rows_repaired": record.rows_repaired,
        "details": json.dumps(record.details),
    }


_FINISH = (
    "UPDATE onemap_meta.loads SET status = %(status)s, message = %(message)s, "
    "rows_read = %(rows_read)s, rows_loaded = %(rows_loaded)s, "
    "rows_rejected = %(rows_rejected)s, rows_repaired = %(rows_repaired)s, "
    "details = %(details)s, source_sha256 = coalesce(%(sha)s, source_sha256), "
    "finished_at = clock_timestamp() WHERE load_id = %(load_id)s"
)


def finish_run(
    conn: psycopg.Connection, record: RunRecord, status: str, message: str | None, sha: str | None
) -> None:
    """Record the outcome: on the meta connection for failures, in the publishing
    transaction for success (so 'succeeded' and the published version commit together)."""
    conn.execute(
        _FINISH,
        {
            **run_counts(record),
            "status": status,
            "message": message,
            "sha": sha,
            "load_id": record.load_id,
        },
    )


class RejectStore:
    """A run's refused rows in ``onemap_meta.rejects``: the first ``per_reason`` of each
    kind (field and reason, values left out), and the count of every kind, which the run
    records in its details (``rejects_by_reason``, ``rejects_not_stored``). A file with a
    million bad rows thus costs the database a few hundred rows, and still says how many
    of each problem it had (``LimitSettings.rejects_per_reason``)."""

    MAX_KINDS = 200  # more kinds than this are counted as "other"

    def __init__(self, meta: psycopg.Connection, load_id: int, per_reason: int | None = None):
        self.meta = meta
        self.load_id = load_id
        self.per_reason = per_reason or LimitSettings().rejects_per_reason
        self.counts: dict[str, int] = {}
        self.not_stored = 0

    @staticmethod
    def kind(reject: Reject) -> str:
        """Field and reason without the values in it (quoted text, numbers)."""
        reason = re.sub(r"'[^']*'|\"[^\"]*\"|-?\d+(?:[.,]\d+)?", "…", reject.reason)
        return f"{reject.field}: {reason}"[:160]

    def add(self, rejects: Iterable[Reject]) -> None:
        """Count the rows and store those within their kind's quota."""
        keep = []
        for r in rejects:
            kind = self.kind(r)
            if kind not in self.counts and len(self.counts) >= self.MAX_KINDS:
                kind = "other"
            n = self.counts.get(kind, 0)
            self.counts[kind] = n + 1
            if n < self.per_reason:
                keep.append(r)
            else:
                self.not_stored += 1
        store_rejects(self.meta, self.load_id, keep)

    def details(self) -> dict:
        """What the run records about its rejects (empty without any)."""
        if not self.counts:
            return {}
        return {"rejects_by_reason": dict(self.counts), "rejects_not_stored": self.not_stored}


def store_rejects(meta: psycopg.Connection, load_id: int, rejects: Iterable[Reject]) -> None:
    """Append refused rows to ``onemap_meta.rejects`` (kept even when the load aborts)."""
    rejects = list(rejects)
    if not rejects:
        return
    with meta.cursor().copy(
        "COPY onemap_meta.rejects (load_id, row_number, field, value, reason) FROM STDIN"
    ) as cp:
        for r in rejects:
            cp.write_row((load_id, r.row, r.field, r.value, r.reason))
