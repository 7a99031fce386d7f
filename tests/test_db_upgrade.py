"""A server started on a database that another onemap set up says so, and what to do,
instead of failing request by request: the SQL functions it calls (the tiles' version,
the catalogue's history) are this onemap's only after ``onemap db up``."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from onemap.core.errors import UserError
from onemap.core.settings import child_env
from onemap.db import schema
from onemap.db.connect import owner_conninfo, reader_conninfo


def _check(settings) -> None:
    with psycopg.connect(reader_conninfo(settings)) as conn:  # as the server connects
        schema.check_current(conn)


def test_a_database_of_another_onemap_is_refused_until_db_up(scratch_settings) -> None:
    _check(scratch_settings)  # as `db up` left it
    stale = [
        # set up before the digest existed
        "DROP FUNCTION onemap_meta.schema_digest()",
        # set up by an onemap whose SQL files differ
        "CREATE FUNCTION onemap_meta.schema_digest() RETURNS text "
        "LANGUAGE sql IMMUTABLE AS $$ SELECT 'older'::text $$",
    ]
    try:
        for statement in stale:
            with psycopg.connect(owner_conninfo(scratch_settings), autocommit=True) as conn:
                conn.execute(statement)
            with pytest.raises(UserError, match="run 'onemap db up'"):
                _check(scratch_settings)
        # what the operator sees: the message, no traceback, no server
        res = subprocess.run(
            [sys.executable, "-m", "onemap.cli", "serve", "--port", "1"],
            capture_output=True,
            text=True,
            env=child_env(ONEMAP_DB_NAME=scratch_settings.name),
            timeout=120,
        )
        assert res.returncode != 0
        assert "onemap db up" in res.stderr and "Traceback" not in res.stderr, res.stderr
    finally:
        schema.up(scratch_settings)
    _check(scratch_settings)
