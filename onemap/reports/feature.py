"""Citizen reports' hooks into the core (``onemap.core.extensions`` lists this module).

Kept light: the core imports it to read layer files, so each hook imports what it runs
(Flask, pygeoapi, SQLAlchemy) when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onemap.core.extensions import Feature, Role
from onemap.core.layers import Layer
from onemap.core.settings import DbSettings
from onemap.reports import EVALUATION_PROCESS
from onemap.reports.private import KEY, Private

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import MetaData
    from typer import Typer


def _roles() -> tuple[Role, ...]:
    from onemap.reports.roles import roles

    return roles()


def _tables(layer: Layer, metadata: MetaData) -> None:
    from onemap.reports.db import private_table

    private_table(layer, metadata)


def _ensure_db(conninfo: str, settings: DbSettings) -> None:
    from onemap.reports.db import ensure

    ensure(conninfo, settings)


def _collections(layer: Layer, public: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from onemap.reports.collections import staff_collections

    return staff_collections(layer, public)


def _server_env(settings: DbSettings) -> dict[str, str]:
    from onemap.reports.collections import server_env

    return server_env(settings)


def _install_app(app: Flask) -> None:
    from onemap.reports.api import install

    install(app)


def _cli() -> dict[str, Typer]:
    from onemap.reports.cli import reports_app, users_app

    return {"reports": reports_app, "users": users_app}


FEATURE = Feature(
    name="reports",
    layer_blocks={KEY: Private},
    roles=_roles,
    tables=_tables,
    ensure_db=_ensure_db,
    collections=_collections,
    processes={EVALUATION_PROCESS: "onemap.reports.process.ReportsEvaluationProcessor"},
    server_env=_server_env,
    install_app=_install_app,
    cli=_cli,
)
