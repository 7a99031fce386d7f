"""HAProxy in front of the API nodes: round robin, with a health check on ``/health``.

A node answering anything but 200 on ``/health`` (its database is gone, or lags more than
``ONEMAP_MAX_REPLICA_LAG_S``: ``onemap.serve.health``) for ``check_fall`` checks in a row
is taken out of rotation, and comes back after ``check_rise`` good ones. Until a check
notices, a request that cannot reach a node, or gets a 5xx from it, is retried once on
another (``retry-on`` with ``option redispatch``; GET requests are safe to repeat).
"""

from __future__ import annotations

from onemap.cluster.layout import Layout
from onemap.cluster.processes import need, own_dir, read_pid, run, stop_pid, wait_listening

TIMEOUT_CHECK_S = 2
TIMEOUT_SERVER_S = 130  # above the nodes' worker timeout (onemap.serve.server: 120 s)


def config(layout: Layout) -> str:
    """haproxy.cfg."""
    folder = layout.root / "haproxy"
    s = layout.settings
    servers = "\n".join(
        f"    server api-{k} {layout.host}:{layout.node_port(k)} check" for k in layout.nodes
    )
    return f"""\
# Written by onemap (onemap/cluster/haproxy.py) at every start.
global
    pidfile {folder}/haproxy.pid
    daemon

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server {TIMEOUT_SERVER_S}s
    timeout check {TIMEOUT_CHECK_S}s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 500 502 503 504

frontend api
    bind {layout.host}:{layout.haproxy_port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server inter {s.check_interval_ms} fall {s.check_fall} rise {s.check_rise}
{servers}
"""


def start(layout: Layout) -> None:
    """Write the configuration and start HAProxy (if not running)."""
    binary = need("haproxy", "haproxy")
    folder = own_dir(layout.root / "haproxy")
    if read_pid(folder / "haproxy.pid"):
        return
    cfg = folder / "haproxy.cfg"
    cfg.write_text(config(layout))
    cfg.chmod(0o644)
    run([binary, "-c", "-q", "-f", str(cfg)], "haproxy's configuration check")
    run([binary, "-f", str(cfg)], "haproxy")
    wait_listening(layout.host, layout.haproxy_port, "haproxy")


def stop(layout: Layout) -> bool:
    """Stop HAProxy; False if it was not running."""
    return stop_pid(layout.root / "haproxy" / "haproxy.pid")
