"""Least privilege, against the live server and PostGIS: what the server holds and runs
as, who may be the superuser, the cluster folder, SECURITY DEFINER functions, and the
staff rules the database itself enforces (office scope, counts, token expiry, If-Match).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pwd
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

from onemap.core.errors import UserError
from onemap.core.settings import DbSettings, ServeSettings, password_variable
from onemap.db import cluster
from onemap.db.connect import owner_conninfo, read_secrets, role_conninfo
from onemap.reports.auth import add_user
from onemap.reports.config import load_config
from onemap.reports.db import STAFF_TOKEN
from onemap.serve.server import server_env
from tests.reports_live import (
    auth,
    live_server,
    output_dir,
    report_feature,
    server_process,
    staff_tokens,
)
from tests.test_reports_api import post

STAFF = "/collections/reports_staff/items"
DEFINER_PATH = ["search_path=pg_catalog, pg_temp"]


@pytest.fixture(scope="module")
def live():
    return live_server()


@pytest.fixture(scope="module")
def tokens(live):
    return staff_tokens(live[1], "pv")


def new_report(base: str, category: str = "jalan_rusak") -> str:
    r = post(base, report_feature(uuid.uuid4().hex, category=category, reporter_name="Budi"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def workers(master: int) -> list[int]:
    """The pids whose parent is ``master`` (gunicorn's workers)."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if int(fields.get("PPid", "0").strip()) == master:
            pids.append(int(status.parent.name))
    return pids


def uid_of(pid: int) -> int:
    return os.stat(f"/proc/{pid}").st_uid


# ---- the server: credentials and user -------------------------------------------------


def test_the_server_gets_its_roles_passwords_and_not_the_owners(live, monkeypatch) -> None:
    _, settings = live
    owner_password = read_secrets(settings)[password_variable("owner")]
    monkeypatch.setenv(password_variable("owner"), owner_password)  # even when the CLI has it
    monkeypatch.setenv("DATABASE_URL", "")
    env = server_env(ServeSettings(port=1), settings)
    assert password_variable("owner") not in env and "DATABASE_URL" not in env
    assert owner_password not in "\n".join(env.values())
    for role in ("reader", "intake", "staff"):
        assert env[password_variable(role)] == read_secrets(settings)[password_variable(role)]
    assert env["ONEMAP_DB_USE_SECRETS_FILE"] == "false"
    # the running server's processes: no owner password anywhere in their environment
    master = server_process().pid
    for pid in [master, *workers(master)]:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert owner_password.encode() not in environ, pid
        assert b"ONEMAP_DB_USE_SECRETS_FILE=false" in environ


def test_a_server_without_the_file_reads_only_its_environment(live, monkeypatch) -> None:
    _, settings = live
    monkeypatch.delenv(password_variable("owner"), raising=False)
    env_only = settings.model_copy(update={"use_secrets_file": False})
    with pytest.raises(UserError, match="ONEMAP_OWNER_PASSWORD not set"):
        owner_conninfo(env_only)


def test_started_by_root_the_workers_run_as_an_unprivileged_user(live) -> None:
    master = server_process().pid
    pids = workers(master)
    assert len(pids) >= 2, "the test server runs two workers"
    if os.geteuid() != 0:
        assert all(uid_of(p) == os.geteuid() for p in pids)
        return
    user = pwd.getpwnam(ServeSettings().run_as)
    assert user.pw_uid != 0 and user.pw_shell.endswith("nologin")
    assert {uid_of(p) for p in pids} == {user.pw_uid}
    for pid in pids:  # real, effective, saved and filesystem ids all dropped
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert set(uids.split()[1:]) == {str(user.pw_uid)}, uids
    _, settings = live
    secrets = settings.state_dir / "secrets.env"
    read = subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "cat", str(secrets)], capture_output=True
    )
    assert read.returncode != 0 and b"Permission denied" in read.stderr


# ---- the cluster: superuser, folder -----------------------------------------------------


def test_the_superuser_is_peer_only(live) -> None:
    _, settings = live
    cl = cluster.Cluster(settings)
    hba = [
        line.split()
        for line in (cl.data_dir / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [line for line in hba if "trust" in line]
    assert [line for line in hba if line[0] == "local"] == [
        ["local", "all", "postgres", "peer", f"map={cluster.SUPERUSER_MAP}"],
        # its replicas (onemap cluster), the same OS user only
        ["local", "replication", "postgres", "peer", f"map={cluster.SUPERUSER_MAP}"],
    ]
    ident = (cl.data_dir / "pg_ident.conf").read_text().split("\n")
    assert [line.split() for line in ident if line and not line.startswith("#")] == [
        [cluster.SUPERUSER_MAP, cluster.cluster_os_user(), "postgres"]
    ]
    with cl.superuser_connect() as su:  # the cluster's OS user gets in
        assert su.execute("SELECT current_user").fetchone()[0] == "postgres"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host="127.0.0.1", port=settings.port, user="postgres", dbname="postgres")
    if os.geteuid() == 0:  # root as itself is not the cluster's OS user: refused
        with pytest.raises(psycopg.OperationalError, match="[Pp]eer authentication failed"):
            psycopg.connect(**cl.superuser_conninfo())


def test_the_cluster_folder_is_ours_or_refused() -> None:
    # as root the folders belong to postgres and the checks against other owners run too;
    # otherwise to whoever runs the cluster, and the mode checks still run
    root = os.geteuid() == 0
    owner = pwd.getpwnam("postgres").pw_uid if root else os.geteuid()
    state = output_dir() / f"cluster-{uuid.uuid4().hex[:8]}"
    state.mkdir(parents=True)
    try:
        cl = cluster.Cluster(DbSettings(state_dir=state))
        assert cl.own_dirs == [state / "pg"]
        cluster.make_dirs(cl)
        info = os.stat(state / "pg")
        assert (info.st_mode & 0o777, info.st_uid) == (0o700, owner)
        cluster.make_dirs(cl)  # ours: accepted again
        (state / "pg").chmod(0o777)
        with pytest.raises(UserError, match="refusing the cluster folder"):
            cluster.make_dirs(cl)
        (state / "pg").chmod(0o700)
        if root:
            shutil.chown(state / "pg", "nobody")
            with pytest.raises(UserError, match="refusing the cluster folder"):
                cluster.make_dirs(cl)
    finally:
        shutil.rmtree(state)
    if not root:
        return
    # a root checkout the postgres user cannot reach: the folder under /var/tmp has a
    # predictable name, and one someone else created first is refused
    hidden = Path("/root") / f"onemap-{uuid.uuid4().hex[:8]}"
    cl = cluster.Cluster(DbSettings(state_dir=hidden))
    top = cl.own_dirs[0]
    assert top.parent == Path("/var/tmp") and cl.own_dirs[1] == cl.base
    top.mkdir(mode=0o755)
    try:
        shutil.chown(top, "nobody")
        with pytest.raises(UserError, match="refusing the cluster folder"):
            cluster.make_dirs(cl)
    finally:
        shutil.rmtree(top)


# ---- SECURITY DEFINER -----------------------------------------------------------------


def test_security_definer_functions_pin_their_search_path(live) -> None:
    _, settings = live
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            "SELECT n.nspname || '.' || p.proname, p.proconfig FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.prosecdef AND n.nspname LIKE 'onemap%'"
        ).fetchall()
    found = dict(rows)
    expected = {
        "onemap_meta.run_at",
        "onemap_meta.published_runs",
        "onemap_meta.version_at",
        "onemap_private.intake_allow",
        "onemap_private.reports_locate",
        "onemap_private.reports_fill",
        "onemap_private.staff_session",
        "onemap_private.staff_change",
        "onemap_private.staff_delete",
    }
    assert expected <= set(found)
    assert {name: cfg for name, cfg in found.items() if cfg != DEFINER_PATH} == {}


# ---- staff rules in the database -------------------------------------------------------


def test_one_office_cannot_read_or_change_anothers_report_through_the_db_role(live, tokens) -> None:
    base, settings = live
    rid = new_report(base)  # jalan_rusak: dpu's
    with psycopg.connect(owner_conninfo(settings)) as conn:
        etag_ts, dlh_rows = conn.execute(
            "SELECT updated_at, (SELECT count(*) FROM onemap.reports WHERE office = 'dlh') "
            "FROM onemap.reports WHERE report_id = %s",
            (rid,),
        ).fetchone()
    etag = (
        f'"{(etag_ts - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1):x}"'
    )
    staff = psycopg.connect(role_conninfo("staff", settings))
    try:

        def as_token(token: str | None):
            staff.rollback()
            staff.execute("SELECT set_config(%s, %s, true)", (STAFF_TOKEN, token or ""))

        view = "SELECT count(*) FROM onemap_private.reports_staff"
        as_token(None)  # no token: nothing
        assert staff.execute(view).fetchone()[0] == 0
        as_token(tokens["dlh"])
        assert staff.execute(view + " WHERE report_id = %s", (rid,)).fetchone()[0] == 0
        assert staff.execute(view).fetchone()[0] == dlh_rows  # counts: its own rows only
        as_token(tokens["dpu"])
        assert staff.execute(view + " WHERE report_id = %s", (rid,)).fetchone()[0] == 1
        change = "SELECT onemap_private.staff_change(%s, %s, %s, 'diverifikasi', NULL, NULL, %s)"
        for token, if_match, state in (
            (tokens["dlh"], etag, "OM403"),  # another office's
            ("omr_" + "x" * 43, etag, "OM401"),  # no such token
            (tokens["dpu"], None, "OM428"),  # If-Match missing
            (tokens["dpu"], '"1"', "OM412"),  # stale
        ):
            as_token(token)
            with pytest.raises(psycopg.Error) as exc:
                staff.execute(change, (token, rid, if_match, "x"))
            assert exc.value.sqlstate == state
        as_token(tokens["dpu"])
        with pytest.raises(psycopg.Error) as exc:
            staff.execute("SELECT onemap_private.staff_delete(%s, %s, %s, NULL)",
                          (tokens["dpu"], rid, etag))  # fmt: skip
        assert exc.value.sqlstate == "OM403"  # only admins delete
        # and nothing around the rules: no table is the staff role's
        for statement in (
            "UPDATE onemap.reports SET status = 'selesai' WHERE report_id = %s",
            "DELETE FROM onemap.reports WHERE report_id = %s",
            "SELECT * FROM onemap_private.reports WHERE report_id = %s",
            "SELECT * FROM onemap_private.reports_status WHERE report_id = %s",
            "SELECT * FROM onemap_private.staff_users WHERE name = %s",
            "INSERT INTO onemap_private.reports_status (report_id, status, changed_by) "
            "VALUES (%s, 'selesai', 'x')",
        ):
            as_token(tokens["admin"])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                staff.execute(statement, (rid,))
        as_token(tokens["dpu"])
        staff.execute(change, (tokens["dpu"], rid, etag, "dicek"))
        staff.commit()
    finally:
        staff.close()
    with psycopg.connect(owner_conninfo(settings)) as conn:
        assert conn.execute(
            "SELECT status FROM onemap.reports WHERE report_id = %s", (rid,)
        ).fetchone() == ("diverifikasi",)


def test_counts_hold_only_the_callers_rows(live, tokens) -> None:
    base, settings = live
    for _ in range(2):
        new_report(base, "sampah")  # dlh's
    new_report(base)  # dpu's
    with psycopg.connect(owner_conninfo(settings)) as conn:
        dlh, total = conn.execute(
            "SELECT count(*) FILTER (WHERE office = 'dlh'), count(*) FROM onemap.reports"
        ).fetchone()
    assert total > dlh >= 2
    for params in ({"limit": 1}, {"limit": 1, "filter": "status = 'baru' OR status <> 'baru'"}):
        r = requests.get(
            f"{base}{STAFF}",
            params={"f": "json", **params},
            headers=auth(tokens["dlh"]),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.json()["numberMatched"] == dlh, params
    r = requests.get(
        f"{base}{STAFF}",
        params={"f": "json", "limit": 1},
        headers=auth(tokens["admin"]),
        timeout=30,
    )
    assert r.json()["numberMatched"] == total


def test_tokens_expire_by_default(live) -> None:
    base, settings = live
    name = f"pv-exp-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        token = add_user(conn, name, "operator", "dpu")
        expires = conn.execute(
            "SELECT expires_at - created_at FROM onemap_private.staff_users WHERE name = %s",
            (name,),
        ).fetchone()[0]
        days = load_config().staff.token_days
        assert abs(expires - dt.timedelta(days=days)) < dt.timedelta(minutes=1)
        with pytest.raises(UserError):
            add_user(conn, name + "x", "operator", "dpu", expires_days=0)
        rid = new_report(base)
        url = f"{base}{STAFF}/{rid}"
        assert requests.get(url, headers=auth(token), timeout=30).status_code == 200
        conn.execute(
            "UPDATE onemap_private.staff_users SET expires_at = now() - interval '1 second' "
            "WHERE name = %s",
            (name,),
        )
        assert requests.get(url, headers=auth(token), timeout=30).status_code == 401
        stored = conn.execute(
            "SELECT count(*) FROM onemap_private.staff_users WHERE expires_at IS NULL"
        ).fetchone()[0]
    assert stored == 0  # every token expires (the column is NOT NULL)
    assert hashlib.sha256(token.encode()).hexdigest() not in token


def test_changes_and_deletes_need_if_match(live, tokens) -> None:
    base, _ = live
    rid = new_report(base)
    url = f"{base}{STAFF}/{rid}"
    patch = requests.patch(
        url,
        json={"status": "diverifikasi"},
        headers=auth(tokens["dpu"], **{"Content-Type": "application/merge-patch+json"}),
        timeout=30,
    )
    assert patch.status_code == 428
    delete = requests.delete(url, headers=auth(tokens["admin"]), timeout=30)
    assert delete.status_code == 428
    etag = requests.get(url, headers=auth(tokens["admin"]), timeout=30).headers["ETag"]
    bad_note = requests.delete(
        url + "?note=%00x", headers=auth(tokens["admin"], **{"If-Match": etag}), timeout=30
    )
    assert bad_note.status_code == 400
    assert (
        requests.delete(
            url, headers=auth(tokens["admin"], **{"If-Match": etag}), timeout=30
        ).status_code
        == 204
    )
