"""Hot-standby replicas of the project cluster, by PostgreSQL's streaming replication.

``pg_basebackup -R`` copies the primary and writes ``standby.signal`` and
``primary_conninfo`` (PostgreSQL 15 manual, pg_basebackup; 27.2): the replica connects to
the primary's socket as the superuser by peer authentication (``onemap.db.cluster``'s
``replication`` line), streams its WAL and answers read-only queries (hot standby, 27.4).
``hot_standby_feedback`` keeps the primary from vacuuming rows a replica's query still
reads (20.6.3), so a long read on a replica is not cancelled by a load's cleanup.
"""

from __future__ import annotations

import shutil

from onemap.cluster.layout import Layout
from onemap.cluster.processes import run
from onemap.core.errors import UserError
from onemap.core.settings import Tuning
from onemap.db.cluster import SERVICE_USER, Cluster, make_dirs, server_options


def replica(layout: Layout, i: int) -> Cluster:
    """Replica ``i``'s paths (a ``Cluster`` on its own folder and port)."""
    return Cluster(layout.replica_settings(i))


def start(layout: Layout, i: int) -> Cluster:
    """Create replica ``i`` from the running primary if needed, and start it."""
    rep = replica(layout, i)
    if rep.is_running():
        return rep
    make_dirs(rep)
    if not (rep.data_dir / "PG_VERSION").exists():
        primary = Cluster(layout.db)
        drop_slot(layout, i)  # a slot left by an earlier copy would hold WAL for nobody
        run(
            [
                rep.bin("pg_basebackup"),
                "--pgdata",
                str(rep.data_dir),
                "--host",
                str(primary.socket_dir),
                "--port",
                str(layout.db.port),
                "--username",
                SERVICE_USER,
                "--write-recovery-conf",  # -R: standby.signal + primary_conninfo
                # a slot: the primary keeps the WAL a stopped replica has not replayed, so
                # it catches up when it returns (27.2.6)
                "--create-slot",
                f"--slot={slot_name(i)}",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-sync",  # a rehearsal's copy; a crash means a new copy
            ],
            f"pg_basebackup of replica {i}",
        )
    options = {
        **server_options(rep.settings, Tuning()),
        "hot_standby": "on",
        "hot_standby_feedback": "on",
        # the name the primary lists it under (pg_stat_replication.application_name)
        "cluster_name": f"onemap-replica-{i}",
    }
    opts = " ".join(
        [f"-p {rep.settings.port}", f"-k {rep.socket_dir}"]
        + [f"-c {k}={v}" for k, v in options.items()]
    )
    res = rep.run(
        rep.bin("pg_ctl"),
        *("start", "-w", "-t", "120", "-D", str(rep.data_dir), "-l", str(rep.log_file)),
        *("-o", opts),
        check=False,
    )
    if res.returncode != 0:
        tail = rep.log_file.read_text(errors="replace").splitlines()[-10:]
        raise UserError(f"replica {i} did not start:\n{res.stderr.strip()}\n" + "\n".join(tail))
    return rep


def slot_name(i: int) -> str:
    """Replica ``i``'s replication slot on the primary."""
    return f"onemap_replica_{i}"


def drop_slot(layout: Layout, i: int) -> None:
    """Drop replica ``i``'s slot (when the replica is removed: it would keep WAL forever)."""
    with Cluster(layout.db).superuser_connect(autocommit=True) as su:
        su.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE slot_name = %s",
            (slot_name(i),),
        )


def remove(layout: Layout, i: int) -> None:
    """Stop replica ``i``, delete its copy and its slot."""
    stop(layout, i)
    shutil.rmtree(replica(layout, i).base, ignore_errors=True)
    drop_slot(layout, i)


def stop(layout: Layout, i: int) -> bool:
    """Stop replica ``i`` (its data stays); False if it was not running."""
    rep = replica(layout, i)
    if not rep.is_running():
        return False
    rep.run(rep.bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(rep.data_dir))
    return True


def streaming(layout: Layout) -> dict[str, dict]:
    """The primary's view of its standbys (pg_stat_replication, 28.2.3), by name."""
    with Cluster(layout.db).superuser_connect() as su:
        rows = su.execute(
            "SELECT application_name, state, replay_lsn::text,"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,"
            " extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
        ).fetchall()
    return {
        name: {"state": state, "replay_lsn": lsn, "behind_bytes": behind, "replay_lag_s": lag}
        for name, state, lsn, behind, lag in rows
    }
