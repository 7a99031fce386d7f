"""The indicators' SQL: ``onemap/indicators/sql/<name>.sql``, composed with ``psycopg.sql``.

Each file is a template whose ``{placeholders}`` receive ``psycopg.sql`` objects only:
relations (the current table ``onemap.<layer>`` or a history subquery), field names
(``sql.Identifier``), constants (``sql.Literal``) and other composed templates. No value
is ever spliced in as text. Whole-line ``--`` comments are dropped before composing, so
a comment may name a placeholder without receiving a multi-line subquery.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql


@cache
def template(name: str) -> str:
    """The text of ``sql/<name>.sql`` without its comment lines."""
    text = (resources.files("onemap.indicators") / "sql" / f"{name}.sql").read_text(
        encoding="utf-8"
    )
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("--")).strip()


def compose(name: str, /, **parts: sql.Composable) -> sql.Composed:
    """``sql/<name>.sql`` with its placeholders filled (unused parts are ignored)."""
    return sql.SQL(template(name)).format(**parts)  # type: ignore[arg-type]
