"""Each worker readies its database-backed providers when it starts, not on a request.

pygeoapi builds a provider per request; the first one of a collection in a process also
creates its SQLAlchemy engine and reflects its table (~120 ms of a 25 ms tile request,
cProfile), and the first query on a connection loads PostGIS into that backend. Done
here once per worker after it forks (gunicorn imports the app in each worker), so the
first visitors of each collection are not the ones who pay. A failure (the database not
up yet) is logged and left for the first request to meet, as before.
"""

from __future__ import annotations

import logging

from pygeoapi.plugin import load_plugin
from sqlalchemy import text

LOGGER = logging.getLogger(__name__)
# providers backed by PostGIS through pygeoapi's SQL provider (onemap's subclasses)
DATABASE_PROVIDERS = ("feature", "tile")


def warm_up(config: dict) -> int:
    """Build every database-backed provider of ``config`` once; how many were built."""
    built = 0
    for name, resource in (config.get("resources") or {}).items():
        for provider in resource.get("providers") or []:
            if provider.get("type") not in DATABASE_PROVIDERS:
                continue
            try:
                plugin = load_plugin("provider", provider)
                engine = getattr(plugin, "_engine", None)
                if engine is not None:
                    with engine.connect() as conn:  # loads PostGIS into that backend
                        conn.execute(text("SELECT postgis_lib_version()"))
                built += 1
            except Exception as exc:  # noqa: BLE001 - the first request will meet it again
                LOGGER.warning("warm-up of %s (%s) failed: %s", name, provider["type"], exc)
    return built
