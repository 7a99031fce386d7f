"""Start, stop and probe the rehearsal's processes as the cluster's OS user.

Each process is a daemon with a pid file in its folder; stopping one sends a signal to
the pid it wrote (never a search by name).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from onemap.core.errors import UserError
from onemap.db.cluster import cluster_os_user, is_root


def as_cluster_user(cmd: list[str]) -> list[str]:
    """``cmd`` run as the cluster's OS user (``runuser`` under root)."""
    return ["runuser", "-u", cluster_os_user(), "--", *cmd] if is_root() else cmd


def run(cmd: list[str], what: str) -> None:
    """Run ``cmd`` as the cluster's OS user; a failure is a ``UserError`` naming ``what``."""
    res = subprocess.run(as_cluster_user(cmd), capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise UserError(f"{what} failed:\n{(res.stderr or res.stdout).strip()[-1500:]}")


def own_dir(path: Path, mode: int = 0o700) -> Path:
    """``path`` created for the cluster's OS user (its parents: root's, traversable)."""
    path.mkdir(parents=True, exist_ok=True)
    user = pwd.getpwnam(cluster_os_user())
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(mode)
    return path


def write_private(path: Path, text: str) -> None:
    """A file only the cluster's OS user reads (it may hold passwords)."""
    path.write_text(text)
    path.chmod(0o600)
    user = pwd.getpwnam(cluster_os_user())
    os.chown(path, user.pw_uid, user.pw_gid)


def listening(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_listening(host: str, port: int, what: str, timeout_s: float = 30) -> None:
    """Wait until ``what`` listens on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if listening(host, port):
            return
        time.sleep(0.1)
    raise UserError(f"{what} does not listen on {host}:{port} after {timeout_s:.0f} s")


def read_pid(pid_file: Path) -> int | None:
    """The live process whose pid ``pid_file`` holds, or None."""
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_pid(pid_file: Path, sig: int = signal.SIGTERM, timeout_s: float = 20) -> bool:
    """Signal the process of ``pid_file`` and wait for it to exit (SIGKILL after
    ``timeout_s``); False if none ran."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (reaped here when it is our child, e.g. an API node)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    stat = Path(f"/proc/{pid}/stat")  # a zombie of another parent: exited
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def need(binary: str, package: str) -> str:
    """Path of a Debian-packaged binary, or a ``UserError`` saying what to install."""
    # Debian puts daemons in /usr/sbin, which a normal user's PATH may lack
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    if not found:
        raise UserError(
            f"{binary} is not installed: apt-get install {package} (as root: make system-deps)"
        )
    return found
