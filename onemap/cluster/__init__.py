"""``onemap cluster``: a primary, hot-standby replicas, a PgBouncer per database, API nodes
and HAProxy on one machine — the rehearsal of a multi-machine deployment
(docs/scale-out.md). Every process listens on the loopback on its own port, keeps its
state under the project's state folder, and is started and stopped by the project."""
