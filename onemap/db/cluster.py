"""The project-run PostgreSQL/PostGIS cluster: install, initdb, start, stop, status.

The cluster lives in a project-owned folder (``.onemap/pg`` by default) on its own port.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` system
user (``runuser``), with its folders owned by that user. The folder is created mode 0700
and refused when it exists with another owner, or writable by others (a root checkout's
``/var/tmp/onemap-<hash>`` is a predictable name someone else could create first).

Authentication (``pg_hba.conf``, rewritten on every start): the superuser only over the
socket (itself mode 0700) and only by peer authentication, for the OS user that runs the
cluster (``postgres`` under root); every role over TCP on the loopback with its password
(scram-sha-256).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from onemap.core.errors import UserError
from onemap.core.settings import PG_DEFAULT_MAJOR, DbSettings, Tuning, child_env

DEBIAN_PACKAGES = (
    f"postgresql-{PG_DEFAULT_MAJOR}",
    f"postgresql-{PG_DEFAULT_MAJOR}-postgis-3",
    "gdal-bin",
)
SERVICE_USER = "postgres"
# Fixed server settings of the project cluster (the memory-dependent ones come from
# ``Tuning``, see ``server_options``). Sections are those of the PostgreSQL 15 manual.
# Bulk loads: fewer checkpoints in the middle of a big load (14.4.6 "Increase
# max_wal_size"; 20.5.2); bounded by disk, not memory, so not derived.
MAX_WAL_SIZE = "4GB"
# pg_ident.conf map of the OS user that may connect as the superuser (peer, socket only).
SUPERUSER_MAP = "onemap_superuser"
HBA = """\
# Written by onemap (onemap/db/cluster.py) at every start: edits here are replaced.
# The superuser: over the socket only, for the OS user running the cluster (peer).
local   all   {superuser}                  peer map={map}
# Its replicas (onemap cluster: pg_basebackup and streaming), the same way.
local   replication   {superuser}          peer map={map}
# Every role: over TCP on the loopback, with its password.
host    all   all         127.0.0.1/32     scram-sha-256
host    all   all         ::1/128          scram-sha-256
"""
IDENT = """\
# Written by onemap (onemap/db/cluster.py): who may be the superuser ({superuser}).
{map}   {os_user}   {superuser}
"""


def is_root() -> bool:
    """Whether we run as root (and so must drop to the postgres user)."""
    return os.geteuid() == 0


@dataclass(frozen=True)
class Cluster:
    """Paths and port of the project-run cluster."""

    settings: DbSettings

    @property
    def base(self) -> Path:
        """Folder holding data, socket and log.

        The postgres user must be able to reach it; root's home is mode 700, so a
        checkout there falls back to a per-checkout folder under /var/tmp.
        """
        base = self.settings.state_dir / "pg"
        if is_root() and not _reachable_by_service_user(self.settings.state_dir):
            digest = hashlib.sha256(str(self.settings.state_dir).encode()).hexdigest()[:12]
            base = Path("/var/tmp") / f"onemap-{digest}" / "pg"
        return base

    @property
    def own_dirs(self) -> list[Path]:
        """The folders the project creates 0700 for the cluster's OS user, outermost first."""
        if self.base.parent.parent == Path("/var/tmp"):
            return [self.base.parent, self.base]
        return [self.base]

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        """Unix socket folder (also the host for superuser connections)."""
        return self.base / "run"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.base / "log" / "postgres.log"

    def bin(self, name: str) -> str:
        """Path of a PostgreSQL server binary (the packaged ones, not /usr/local/bin)."""
        return str(self.settings.pg_bin / name)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary, as the postgres user when we are root."""
        cmd = list(args)
        if is_root():
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def is_running(self) -> bool:
        """Whether pg_ctl reports a running server on our data directory."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return (
            self.run(self.bin("pg_ctl"), "status", "-D", str(self.data_dir), check=False).returncode
            == 0
        )

    def superuser_conninfo(self) -> dict[str, str | int]:
        """libpq parameters for the superuser over the unix socket."""
        return {
            "host": str(self.socket_dir),
            "port": self.settings.port,
            "user": SERVICE_USER,
            "dbname": "postgres",
        }

    def superuser_connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        """A superuser connection over the socket, as the OS user running the cluster.

        Peer authentication admits only that user. As root, the socket is opened with
        that user's effective ids, which is what the kernel reports to the server
        (SO_PEERCRED); the process (every thread of it) is root again once connected.
        """
        with _as_cluster_user():
            return psycopg.connect(**{**self.superuser_conninfo(), "dbname": dbname}, **kwargs)


@contextmanager
def _as_cluster_user() -> Iterator[None]:
    if not is_root():
        yield
        return
    user = pwd.getpwnam(SERVICE_USER)
    os.setegid(user.pw_gid)
    os.seteuid(user.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def cluster_os_user() -> str:
    """The OS user that runs the cluster (and alone may be its superuser)."""
    return SERVICE_USER if is_root() else getpass.getuser()


def _reachable_by_service_user(path: Path) -> bool:
    probe = path if path.exists() else path.parent
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return True
    res = subprocess.run(
        ["runuser", "-u", SERVICE_USER, "--", "test", "-x", str(probe)],
        capture_output=True,
        check=False,
    )
    return res.returncode == 0


def postgis_control(pg_bin: Path) -> Path:
    """PostGIS' control file for the server in ``pg_bin`` (Debian's layout)."""
    return Path("/usr/share/postgresql") / pg_bin.parent.name / "extension" / "postgis.control"


def ensure_packages(settings: DbSettings) -> None:
    """Install PostgreSQL + PostGIS 3 from Debian when missing (root only)."""
    have_server = (settings.pg_bin / "initdb").exists()
    if have_server and postgis_control(settings.pg_bin).exists() and shutil.which("ogr2ogr"):
        return
    if not is_root() or not shutil.which("apt-get"):
        raise UserError(
            f"PostgreSQL with PostGIS 3 is not installed in {settings.pg_bin}. "
            "Install the Debian packages "
            f"{' '.join(DEBIAN_PACKAGES)} (as root: apt-get install {' '.join(DEBIAN_PACKAGES)}), "
            "set ONEMAP_DB_PG_BIN to another server's binaries, "
            "or point DATABASE_URL at an existing PostGIS database."
        )
    env = child_env(DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *DEBIAN_PACKAGES],
    ):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise UserError(f"'{' '.join(cmd)}' failed:\n{res.stderr.strip()[-2000:]}")


def _own_dir(path: Path) -> None:
    """Create ``path`` 0700 for the cluster's OS user, or accept it only if it is theirs.

    Refused: not a directory (a symlink, say), another owner, or writable by others
    (someone else could have put something in it). A folder of the right owner that
    others may only read (an earlier onemap made it so) is closed to 0700.
    """
    owner = pwd.getpwnam(cluster_os_user())
    try:
        os.mkdir(path, 0o700)
        os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(path, 0o700)  # whatever the umask
        return
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner.pw_uid or st.st_mode & 0o022:
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a directory"
        raise UserError(
            f"refusing the cluster folder {path}: it exists ({kind}, owner uid {st.st_uid}, "
            f"mode {stat.S_IMODE(st.st_mode):o}) but onemap creates it as a directory of "
            f"{owner.pw_name} with mode 700. Someone else may have created it: inspect and "
            "remove it, or set ONEMAP_DB_STATE_DIR to a folder of your own."
        )
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def make_dirs(cluster: Cluster) -> None:
    """The cluster's folders, created for its OS user (or checked: ``_own_dir``)."""
    for d in cluster.own_dirs:
        d.parent.mkdir(parents=True, exist_ok=True)
        _own_dir(d)
    for d in (cluster.data_dir, cluster.socket_dir, cluster.log_file.parent):
        d.mkdir(mode=0o700, exist_ok=True)
        if is_root():
            shutil.chown(d, SERVICE_USER, SERVICE_USER)
    cluster.data_dir.chmod(0o700)


def write_auth(cluster: Cluster) -> bool:
    """Write pg_hba.conf and pg_ident.conf (``HBA``, ``IDENT``); True when they changed."""
    values = {"superuser": SERVICE_USER, "map": SUPERUSER_MAP, "os_user": cluster_os_user()}
    changed = False
    for name, text in (("pg_hba.conf", HBA), ("pg_ident.conf", IDENT)):
        path = cluster.data_dir / name
        wanted = text.format(**values)
        if path.exists() and path.read_text() == wanted:
            continue
        path.write_text(wanted)
        path.chmod(0o600)
        if is_root():
            shutil.chown(path, SERVICE_USER, SERVICE_USER)
        changed = True
    return changed


def server_options(settings: DbSettings, tuning: Tuning) -> dict[str, str]:
    """The project cluster's server settings (PostgreSQL 15 manual sections in the comments)."""
    return {
        # TCP where clients connect (the loopback by default); the socket for its owner (20.3.1)
        "listen_addresses": settings.host,
        "unix_socket_permissions": "0700",
        # pygeoapi's pools, the loader and tests side by side (20.3.1; Tuning)
        "max_connections": str(tuning.pg_max_connections),
        # a share of the machine's memory (20.4.1; Tuning)
        "shared_buffers": f"{tuning.pg_shared_buffers_mb}MB",
        # each index build after a load (14.4.5, 20.4.1; Tuning)
        "maintenance_work_mem": f"{tuning.pg_maintenance_work_mem_mb}MB",
        "max_wal_size": MAX_WAL_SIZE,  # 14.4.6, 20.5.2
        "fsync": "on",  # never off: a crash could corrupt the cluster (20.5.1)
    }


def start(settings: DbSettings) -> Cluster:
    """Create the cluster if needed and start it; idempotent."""
    ensure_packages(settings)
    cluster = Cluster(settings)
    make_dirs(cluster)
    if not (cluster.data_dir / "PG_VERSION").exists():
        res = cluster.run(
            cluster.bin("initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            SERVICE_USER,
            "--auth-local=peer",  # replaced by write_auth at once
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            check=False,
        )
        if res.returncode != 0:
            raise UserError(f"initdb failed in {cluster.data_dir}:\n{res.stderr.strip()}")
    changed = write_auth(cluster)
    if cluster.is_running():
        if changed:  # an older onemap's cluster: the new rules take effect now
            cluster.run(cluster.bin("pg_ctl"), "reload", "-D", str(cluster.data_dir))
        return cluster
    made_by = (cluster.data_dir / "PG_VERSION").read_text().strip()
    if settings.pg_bin.parent.name.isdigit() and settings.pg_bin.parent.name != made_by:
        raise UserError(
            f"the cluster in {cluster.data_dir} was made by PostgreSQL {made_by}, not by the "
            f"server in {settings.pg_bin}: set ONEMAP_DB_PG_BIN to PostgreSQL {made_by}'s "
            "binaries"
        )
    options = " ".join(
        [f"-p {settings.port}", f"-k {cluster.socket_dir}"]
        + [f"-c {k}={v}" for k, v in server_options(settings, Tuning()).items()]
    )
    res = cluster.run(
        cluster.bin("pg_ctl"),
        "start",
        "-w",
        "-t",
        "60",
        "-D",
        str(cluster.data_dir),
        "-l",
        str(cluster.log_file),
        "-o",
        options,
        check=False,
    )
    if res.returncode != 0:
        tail = ""
        if cluster.log_file.exists():
            tail = "\n".join(cluster.log_file.read_text(errors="replace").splitlines()[-15:])
        raise UserError(
            f"PostgreSQL did not start on port {settings.port} "
            f"(is the port taken? set ONEMAP_DB_PORT):\n{res.stderr.strip()}\n{tail}"
        )
    return cluster


def stop(settings: DbSettings) -> bool:
    """Stop the cluster; False if it was not running."""
    cluster = Cluster(settings)
    if not cluster.is_running():
        return False
    cluster.run(cluster.bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(cluster.data_dir))
    return True
