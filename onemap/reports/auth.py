"""Staff tokens: created, listed and revoked by ``onemap users``; checked per request.

A token is 32 random bytes (``secrets.token_urlsafe``) with a recognisable prefix; only
its SHA-256 is stored. A slow password hash (argon2, scrypt) protects guessable
passwords against an attacker holding the table; a 256-bit random token cannot be
guessed, so one fast hash is as safe and lets every request find its user by index.
Roles: ``operator`` of one office (sees and changes that office's reports) and
``admin`` (every report; only admins delete).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field

import psycopg

from onemap.core.errors import UserError
from onemap.reports.config import load_config

TOKEN_PREFIX = "omr_"
ROLES = ("operator", "admin")
NAME = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
BEARER = re.compile(r"^Bearer\s+(omr_[A-Za-z0-9_-]{20,100})\s*$")


@dataclass(frozen=True)
class Staff:
    """An authenticated staff member, with the token the database checks again on every
    read and change (``onemap.reports.db.STAFF_TOKEN``, sql/040_staff.sql)."""

    user_id: int
    name: str
    role: str
    office: str | None
    token: str = field(default="", repr=False, compare=False)

    @property
    def is_admin(self) -> bool:
        """Whether this is an admin."""
        return self.role == "admin"

    def may_touch(self, office: str) -> bool:
        """Whether this user may change a report routed to ``office``."""
        return self.is_admin or self.office == office


def digest(token: str) -> bytes:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).digest()


def add_user(
    conn: psycopg.Connection,
    name: str,
    role: str,
    office: str | None = None,
    expires_days: int | None = None,
) -> str:
    """Create a user and return the token, which is shown this once and never stored."""
    if not NAME.fullmatch(name):
        raise UserError("a user name has 2–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    offices = load_config().offices
    if role == "operator" and office not in offices:
        raise UserError(f"an operator needs --office, one of: {', '.join(offices)}")
    if role == "admin" and office is not None:
        raise UserError("an admin sees every office: leave --office out")
    # every token expires: after config/reports.yaml staff.token_days unless told otherwise
    days = load_config().staff.token_days if expires_days is None else expires_days
    if days < 1:
        raise UserError("a token lives at least one day (--expires-days)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    try:
        conn.execute(
            "INSERT INTO onemap_private.staff_users "
            "(name, role, office, token_sha256, token_hint, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (name, role, office, digest(token), token[:8] + "…", expires),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise UserError(f"an active user '{name}' exists; revoke it first") from exc
    return token


def list_users(conn: psycopg.Connection, include_revoked: bool = False) -> list[tuple]:
    """(name, role, office, token hint, created, expires, revoked) per user."""
    return conn.execute(
        "SELECT name, role, coalesce(office, ''), token_hint, "
        "to_char(created_at, 'YYYY-MM-DD HH24:MI'), "
        "coalesce(to_char(expires_at, 'YYYY-MM-DD'), ''), "
        "coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), '') "
        "FROM onemap_private.staff_users WHERE %s OR revoked_at IS NULL ORDER BY user_id",
        (include_revoked,),
    ).fetchall()


def revoke_user(conn: psycopg.Connection, name: str) -> int:
    """Revoke the active tokens of a user; returns how many."""
    cur = conn.execute(
        "UPDATE onemap_private.staff_users SET revoked_at = now() "
        "WHERE name = %s AND revoked_at IS NULL",
        (name,),
    )
    return cur.rowcount


def authenticate(conn: psycopg.Connection, header: str | None) -> Staff | None:
    """The staff member an ``Authorization: Bearer …`` header belongs to, if any."""
    match = BEARER.match(header or "")
    if not match:
        return None
    token = match.group(1)
    # the database checks the token (not revoked, not expired): the staff role cannot
    # read the token table
    row = conn.execute(
        "SELECT user_id, name, role, office FROM onemap_private.staff_session(%s)", (token,)
    ).fetchone()
    return Staff(*row, token=token) if row else None
