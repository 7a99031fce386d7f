"""The staging table a load fills: created, COPYed into, indexed, then published.

The stage is ``onemap_stage.<layer>``, created ``LIKE`` the published table (columns,
defaults, NOT NULL, CHECK constraints, comments) and filled by binary COPY from a writer
thread, so PostgreSQL ingests one batch while Python validates the next; the CHECK
constraints are evaluated as rows arrive. The COPY commits the stage (the layer's lock
is a session lock, so nothing else touches it; a killed loader leaves at most a stage,
which the next load drops — never a change to the published layer).

For a replace the stage becomes the next published table. Its primary key and the
layer model's indexes are built after the COPY, by bulk builds running side by side on
one connection per core (``Tuning.index_workers``; CREATE INDEX takes a SHARE lock, so
they do not block each other), and
``onemap.load.modes`` then swaps it in by rename.
"""

from __future__ import annotations

import queue
import threading

import psycopg
from psycopg import sql

from onemap.core.layers import Layer
from onemap.core.settings import LimitSettings, Tuning
from onemap.db.connect import connect_owner
from onemap.db.names import DATA_SCHEMA, STAGE_SCHEMA, create_indexes
from onemap.load.encode import HEADER, TRAILER

_DONE = object()
# The published table's tablespace (0 in pg_class: the database's default).
HOME_TABLESPACE = """
SELECT t.spcname FROM pg_tablespace t
WHERE t.oid = coalesce(
    nullif((SELECT c.reltablespace FROM pg_class c WHERE c.oid = %s::regclass), 0),
    (SELECT d.dattablespace FROM pg_database d WHERE d.datname = current_database()))
"""


def stage_name(layer: Layer) -> sql.Identifier:
    """``onemap_stage.<layer>``."""
    return sql.Identifier(STAGE_SCHEMA, layer.id)


def live_name(layer: Layer) -> sql.Identifier:
    """``onemap.<layer>``, the published table."""
    return sql.Identifier(DATA_SCHEMA, layer.id)


def create_stage(cur: psycopg.Cursor, layer: Layer) -> sql.Identifier:
    """An empty stage shaped like the published table, with its CHECKs, without indexes,
    in ``LimitSettings.stage_tablespace`` when one is set."""
    stage = stage_name(layer)
    tablespace = LimitSettings().stage_tablespace
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))  # left by a killed loader
    cur.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION) "
            "WITH (autovacuum_enabled = false){}"
        ).format(
            stage,
            live_name(layer),
            sql.SQL(" TABLESPACE {}").format(sql.Identifier(tablespace))
            if tablespace
            else sql.SQL(""),
        )
    )
    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN _row integer").format(stage))
    return stage


# The stage is written, indexed and analysed by the load itself. Autovacuum would analyse
# it after the COPY, and the publishing ALTER TABLE would then wait deadlock_timeout (1 s)
# before PostgreSQL cancels the autovacuum ("Autovacuum", PostgreSQL manual §25.1.6), so
# it is off until the stage becomes the layer (``unstage``).
def unstage(cur: psycopg.Cursor, layer: Layer) -> sql.Identifier:
    """The stage as it is published: without the row numbers, autovacuum on again."""
    stage = stage_name(layer)
    cur.execute(
        sql.SQL("ALTER TABLE {} DROP COLUMN _row, RESET (autovacuum_enabled)").format(stage)
    )
    return stage


def move_stage_home(cur: psycopg.Cursor, layer: Layer) -> None:
    """Move a replace's checked stage out of the stage tablespace into the published
    table's, before it becomes the layer (only the stage lives in the stage tablespace)."""
    if LimitSettings().stage_tablespace is None:
        return
    name = cur.execute(HOME_TABLESPACE, (f"{DATA_SCHEMA}.{layer.id}",)).fetchone()[0]
    cur.execute(
        sql.SQL("ALTER TABLE {} SET TABLESPACE {}").format(stage_name(layer), sql.Identifier(name))
    )


class StageWriter:
    """A binary COPY into the stage, fed from the main thread, written by its own thread.

    ``write`` hands one encoded batch over (blocking while two are already queued, so
    memory stays bounded); an error in the writer thread (a dropped connection) is
    raised in the main thread at the next ``write`` or at ``close``.
    """

    def __init__(self, cur: psycopg.Cursor, stage: sql.Identifier, columns: list[str]):
        self._statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            stage, sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        self._cur = cur
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="onemap-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        drained = False
        try:
            with self._cur.copy(self._statement) as cp:
                cp.write(HEADER)
                while (item := self._queue.get()) is not _DONE:
                    cp.write(item)
                drained = True
                cp.write(TRAILER)
        except BaseException as exc:  # handed to the main thread
            self._error = exc
            # unblock the producer; PostgreSQL reports most COPY errors (a full disk, a
            # CHECK) only when the COPY ends, after _DONE was taken: then nothing is left
            while not drained and self._queue.get() is not _DONE:
                pass

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, buffer) -> None:
        """Queue one batch of COPY tuples."""
        self._raise()
        while True:
            try:
                self._queue.put(buffer, timeout=0.5)
                return
            except queue.Full:
                self._raise()

    def close(self) -> None:
        """Finish the COPY and wait for it; re-raise what went wrong in the writer."""
        self._queue.put(_DONE)
        self._thread.join()
        self._raise()

    def abort(self) -> None:
        """Stop the writer after an error in the main thread (the transaction is lost)."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join(timeout=60)


def drop_stage(cur: psycopg.Cursor, layer: Layer) -> None:
    """Drop the stage after an upsert or append (a replace turned it into the layer)."""
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage_name(layer)))


def pkey_name(layer: Layer) -> str:
    """The primary key's name, as PostgreSQL names the one the model creates."""
    return f"{layer.id}_pkey"


def index_jobs(layer: Layer) -> list[sql.Composable]:
    """CREATE INDEX statements for the stage: the primary key's index, then the model's
    (its GiST index first)."""
    unique = sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
        sql.Identifier(pkey_name(layer)), stage_name(layer), sql.Identifier(layer.primary_key)
    )
    # the GiST index first (create_indexes' order): the longest build starts first
    return [unique, *create_indexes(layer, STAGE_SCHEMA)]


class JobsFailed(Exception):
    """A statement of ``run_parallel`` failed; ``done`` holds the results of those that ran."""

    def __init__(self, error: BaseException, done: dict[int, list[tuple] | None]):
        super().__init__(str(error))
        self.error = error
        self.done = done


def run_parallel(
    settings, jobs: dict[int, sql.Composable], workers: int | None = None
) -> dict[int, list[tuple] | None]:
    """Run independent statements on ``workers`` autocommit connections; return their rows.

    ``workers`` defaults to ``Tuning.index_workers`` (one per core), and is never more
    than the statements.

    Used for the index builds of a committed stage (and, beside them, counting the
    table being replaced). On the first error the workers stop taking new statements,
    and ``JobsFailed`` says which ones completed.
    """
    done: dict[int, list[tuple] | None] = {}
    todo: queue.Queue = queue.Queue()
    for item in jobs.items():
        todo.put(item)
    errors_: list[BaseException] = []

    def work() -> None:
        try:
            with connect_owner(settings, autocommit=True) as conn:
                while not errors_:
                    try:
                        i, statement = todo.get_nowait()
                    except queue.Empty:
                        return
                    cur = conn.execute(statement)
                    done[i] = cur.fetchall() if cur.description else None
        except BaseException as exc:  # raised in the calling thread below
            errors_.append(exc)

    workers = max(1, min(workers or Tuning().index_workers, len(jobs)))
    threads = [threading.Thread(target=work, name=f"onemap-index-{n}") for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors_:
        raise JobsFailed(errors_[0], done)
    return done


def duplicates(cur: psycopg.Cursor, layer: Layer) -> list[tuple[int, str, int]]:
    """Remove rows whose key an earlier row of the file has; return (row, key, first row).

    Called when the stage's unique index could not be built: the keys are checked by
    PostgreSQL, once, instead of by Python for every row of every load.
    """
    stage, key = stage_name(layer), sql.Identifier(layer.primary_key)
    rows = cur.execute(
        sql.SQL(
            "DELETE FROM {stage} s USING (SELECT {key}, min(_row) AS first FROM {stage} "
            "GROUP BY {key} HAVING count(*) > 1) d WHERE s.{key} = d.{key} AND s._row > d.first "
            "RETURNING s._row, s.{key}::text, d.first"
        ).format(stage=stage, key=key)
    ).fetchall()
    return sorted(rows)


def attach_pkey(cur: psycopg.Cursor, layer: Layer) -> None:
    """Turn the stage's unique index into its primary key (no scan: NOT NULL is there)."""
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
            stage_name(layer), sql.Identifier(pkey_name(layer)), sql.Identifier(pkey_name(layer))
        )
    )
