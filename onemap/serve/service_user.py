"""The unprivileged system user the server runs as when ``onemap serve`` is started by root.

gunicorn's ``--user``/``--group`` switch every worker (the processes that load the app and
answer requests) to this user; the master only binds the port and supervises them. The
user is created as a system user without a home or login shell when missing. It must be
able to read the interpreter, the packages, the checkout and the files the server serves
(pygeoapi.yml, styles, rasters, the per-port OpenAPI and records files): ``check`` tries
that as the user before the server starts, so a checkout it cannot read is a clear error
rather than workers dying at boot. It cannot read the owner's secrets (``secrets.env`` is
root's, mode 600).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from onemap.core.errors import UserError
from onemap.db.cluster import is_root

# What a worker does first (import the app: the interpreter's, the venv's and the
# checkout's files, pygeoapi.yml, the OpenAPI document), then the files it serves.
PROBE = "import sys, onemap.serve.wsgi; [open(p, 'rb').close() for p in sys.argv[1:]]"


def ensure(name: str) -> None:
    """Create the system user ``name`` (and its group) when missing."""
    try:
        pwd.getpwnam(name)
        grp.getgrnam(name)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    res = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "onemap server",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise UserError(
            f"cannot create the system user '{name}' the server runs as: {res.stderr.strip()}"
        )


def own_dir(name: str, path: Path) -> None:
    """Create ``path`` (a folder the workers write, e.g. the tile cache) owned by ``name``.

    Its parents stay root's; they only need to be traversable, which ``check`` verifies
    for the files the server reads beside it."""
    path.mkdir(parents=True, exist_ok=True)
    entry = pwd.getpwnam(name)
    for sub in [path, *path.rglob("*")]:
        os.chown(sub, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def gunicorn_args(name: str) -> list[str]:
    """gunicorn's options that drop root (none when not root)."""
    return ["--user", name, "--group", name] if is_root() else []


def check(name: str, env: dict[str, str], paths: list[Path]) -> None:
    """Refuse to start when ``name`` cannot run the server's Python or read ``paths``."""
    res = subprocess.run(
        ["runuser", "-u", name, "--", sys.executable, "-c", PROBE, *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if res.returncode != 0:
        detail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(
            f"the server drops root to the system user '{name}', which cannot run "
            f"{sys.executable} or read the files it serves ({detail}). Make the Python "
            f"installation, the virtual environment and the checkout readable by '{name}' "
            "(e.g. an interpreter outside /root), or start 'onemap serve' as an "
            "unprivileged user."
        )
