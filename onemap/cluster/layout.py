"""Where each process of the rehearsal listens and keeps its state.

Ports (``ClusterSettings.port`` = P, R replicas, N API nodes): HAProxy P; replica i
(1…R) P+i; PgBouncer j (0: the primary's, 1…R: the replicas') P+R+1+j; API node k (1…N)
P+2R+1+k. The database processes run as the cluster's OS user (``postgres`` under root,
``onemap.db.cluster``), so their folders sit beside the primary's, where it can reach them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from onemap.core.settings import ClusterSettings, DbSettings, TopologySettings, env_name
from onemap.db.cluster import Cluster


@dataclass(frozen=True)
class Layout:
    """Ports, folders and DSNs of one rehearsal."""

    db: DbSettings
    settings: ClusterSettings

    @property
    def host(self) -> str:
        """Every process's address."""
        return self.settings.host

    @property
    def root(self) -> Path:
        """Folder of the database-side processes (replicas, PgBouncers, HAProxy)."""
        return Cluster(self.db).base.parent / "cluster"

    @property
    def nodes_dir(self) -> Path:
        """Folder of the API nodes (logs, pid files, tile caches)."""
        return self.db.state_dir / "cluster-nodes"

    @property
    def haproxy_port(self) -> int:
        """Where clients connect."""
        return self.settings.port

    def replica_port(self, i: int) -> int:
        """PostgreSQL port of replica ``i`` (1-based)."""
        return self.settings.port + i

    def bouncer_port(self, j: int) -> int:
        """PgBouncer port in front of database ``j`` (0: the primary)."""
        return self.settings.port + self.settings.replicas + 1 + j

    def db_port(self, j: int) -> int:
        """PostgreSQL port of database ``j`` (0: the primary)."""
        return self.db.port if j == 0 else self.replica_port(j)

    def node_port(self, k: int) -> int:
        """Port of API node ``k`` (1-based)."""
        return self.settings.port + 2 * self.settings.replicas + 1 + k

    @property
    def replicas(self) -> range:
        """Replica numbers."""
        return range(1, self.settings.replicas + 1)

    @property
    def nodes(self) -> range:
        """API node numbers."""
        return range(1, self.settings.nodes + 1)

    def replica_settings(self, i: int) -> DbSettings:
        """``DbSettings`` of replica ``i``: its own state folder and port."""
        return self.db.model_copy(
            update={"state_dir": self.root / f"replica-{i}", "port": self.replica_port(i)}
        )

    def dsn(self, port: int) -> str:
        """libpq URL of the onemap database on ``port`` (each role adds its user)."""
        return f"postgresql://{self.host}:{port}/{self.db.name}"

    def node_read_dsn(self, k: int) -> str:
        """What API node ``k`` reads from: the PgBouncer of replica ``(k-1) % R + 1``."""
        return self.dsn(self.bouncer_port((k - 1) % self.settings.replicas + 1))

    @property
    def write_dsn(self) -> str:
        """What the API nodes write to (report intake, staff): the primary's PgBouncer."""
        return self.dsn(self.bouncer_port(0))

    @property
    def replica_dsns(self) -> list[str]:
        """The replicas themselves: what ``onemap load`` waits for."""
        return [self.dsn(self.replica_port(i)) for i in self.replicas]

    def loader_env(self) -> dict[str, str]:
        """The settings a shell needs for loads that wait for the replicas."""
        return {env_name(TopologySettings, "read_dsns"): json.dumps(self.replica_dsns)}
