"""Topology as configuration, without a database: where each role connects when a
primary and replicas are configured, and the rehearsal's generated configurations."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from onemap.cluster import haproxy, pgbouncer
from onemap.cluster.layout import Layout
from onemap.core import extensions
from onemap.core.settings import (
    ClusterSettings,
    DbSettings,
    TopologySettings,
    env_name,
    password_variable,
)
from onemap.db.connect import pooled_options, role_params

PRIMARY = "postgresql://db1.example:6432/onemap"
REPLICAS = ["postgresql://db2.example:6432/onemap", "host=db3.example port=6433"]


@pytest.fixture
def passwords(monkeypatch) -> DbSettings:
    roles = ["owner", "reader"] + [
        r.secret.removeprefix("ONEMAP_").removesuffix("_PASSWORD").lower()
        for r in extensions.roles()
    ]
    for role in roles:
        monkeypatch.setenv(password_variable(role), f"pw-{role}")
    return DbSettings(use_secrets_file=False, port=55432)


def _where(role: str, settings: DbSettings) -> tuple:
    params = role_params(role, settings)
    return params["host"], params["port"], params["dbname"]


def test_without_a_topology_every_role_uses_the_one_database(passwords, monkeypatch) -> None:
    for name in ("write_dsn", "read_dsns", "db_pooled"):
        monkeypatch.delenv(env_name(TopologySettings, name), raising=False)
    assert _where("reader", passwords) == ("127.0.0.1", 55432, passwords.name)
    assert _where("owner", passwords) == ("127.0.0.1", 55432, passwords.name)
    assert pooled_options() == {}


def test_reads_go_to_the_first_replica_and_writes_to_the_primary(passwords, monkeypatch) -> None:
    monkeypatch.setenv(env_name(TopologySettings, "write_dsn"), PRIMARY)
    monkeypatch.setenv(env_name(TopologySettings, "read_dsns"), str(REPLICAS).replace("'", '"'))
    monkeypatch.setenv(env_name(TopologySettings, "db_pooled"), "true")
    assert TopologySettings().read_dsns == REPLICAS
    assert _where("reader", passwords) == ("db2.example", 6432, "onemap")
    assert _where("owner", passwords) == ("db1.example", 6432, "onemap")
    for role in extensions.roles():  # the report intake and staff write
        key = role.secret.removeprefix("ONEMAP_").removesuffix("_PASSWORD").lower()
        assert _where(key, passwords) == ("db1.example", 6432, "onemap")
    assert role_params("reader", passwords)["password"] == "pw-reader"
    assert pooled_options() == {"prepare_threshold": None}


def test_one_read_dsn_needs_no_json(monkeypatch) -> None:
    monkeypatch.setenv(env_name(TopologySettings, "read_dsns"), REPLICAS[1])
    assert TopologySettings().read_dsns == [REPLICAS[1]]


def test_the_rehearsal_ports_do_not_collide() -> None:
    lay = Layout(DbSettings(port=55604), ClusterSettings(port=55640, replicas=2, nodes=2))
    ports = [
        lay.haproxy_port,
        *(lay.replica_port(i) for i in lay.replicas),
        *(lay.bouncer_port(j) for j in range(3)),
        *(lay.node_port(k) for k in lay.nodes),
    ]
    assert ports == list(range(55640, 55648))
    assert lay.node_read_dsn(1) != lay.node_read_dsn(2)  # one replica each
    assert lay.write_dsn.endswith(f":{lay.bouncer_port(0)}/{lay.db.name}")


def test_pgbouncer_pools_transactions_and_sets_the_serving_options() -> None:
    lay = Layout(DbSettings(port=55604), ClusterSettings(port=55640))
    text = pgbouncer.config(lay, 1)
    assert "pool_mode = transaction" in text
    assert f"port={lay.replica_port(1)}" in text
    assert "SET statement_timeout" in text and "ignore_startup_parameters" in text


def test_no_pgbouncer_knows_the_owner(passwords, monkeypatch) -> None:
    """The API nodes' PgBouncers hold the passwords of the roles the nodes use, not the
    owner's: the catalogue reads the load history as the reader (least privilege)."""
    secrets = {password_variable("owner"): "pw-owner", password_variable("reader"): "pw-reader"}
    secrets |= {r.secret: f"pw-{r.name}" for r in extensions.roles()}
    monkeypatch.setattr(pgbouncer, "read_secrets", lambda db: secrets)
    found = pgbouncer.users(passwords)
    assert found[passwords.reader] == "pw-reader"
    assert {r.name for r in extensions.roles()} <= set(found)
    assert passwords.owner not in found and "pw-owner" not in found.values()


def test_haproxy_checks_health_and_its_configuration_is_valid(tmp_path: Path) -> None:
    lay = Layout(DbSettings(port=55604), ClusterSettings(port=55640))
    text = haproxy.config(lay)
    assert "http-check send meth GET uri /health" in text
    assert text.count(" check\n") == 2
    binary = shutil.which("haproxy", path="/usr/sbin:/usr/bin")
    # make test installs it (system-deps, as root): missing, the suite fails, not skips
    assert binary is not None, "haproxy is not installed: run `make system-deps` as root"
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    res = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
