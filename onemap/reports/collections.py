"""The reports' staff collection in pygeoapi.yml, and what the server needs to serve it.

A layer with a ``private:`` block gets a second collection: read as the staff role from
``onemap_private`` (public columns, personal data, exact geometry), hidden from
/collections and /openapi, every request behind a staff token (``onemap.reports.api``);
the provider itself refuses to answer without one.
"""

from __future__ import annotations

from typing import Any

from onemap.core.layers import Layer
from onemap.core.settings import DbSettings, env_name
from onemap.db.connect import read_secrets
from onemap.db.models import DATA_SCHEMA, PRIVATE_SCHEMA
from onemap.reports.private import private_of
from onemap.reports.roles import INTAKE_SECRET, STAFF_SECRET, RoleNames

STAFF_PROVIDER = "onemap.reports.provider.StaffProvider"


def staff_collections(layer: Layer, public: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The hidden staff collection of a layer with personal data, from its public one."""
    private = private_of(layer)
    if private is None:
        return {}
    feature = dict(public["providers"][0])
    feature["name"] = STAFF_PROVIDER
    feature["table"] = private.staff_collection  # view: public + private columns
    feature["data"] = {
        **feature["data"],
        "user": "${ONEMAP_DB_STAFF:-onemap_staff}",
        "password": "${ONEMAP_STAFF_PASSWORD}",
        "search_path": [PRIVATE_SCHEMA, DATA_SCHEMA, "public"],
    }
    staff = {
        **public,
        "title": {"en": f"{layer.title_en} (staff)", "id": f"{layer.title} (staf)"},
        "description": f"{layer.description} STAFF ONLY: {private.description}",
        "visibility": "hidden",
        "links": [],
        "providers": [feature],
    }
    return {private.staff_collection: staff}


def server_env(settings: DbSettings) -> dict[str, str]:
    """The reports' roles and their passwords: the staff's, as the staff collection refers
    to them, and the intake's (the server reads no secrets file)."""
    names = RoleNames()
    secrets = read_secrets(settings, keys=(STAFF_SECRET, INTAKE_SECRET))
    return {
        env_name(DbSettings, "staff"): names.staff,
        env_name(DbSettings, "intake"): names.intake,
        STAFF_SECRET: secrets[STAFF_SECRET],
        INTAKE_SECRET: secrets[INTAKE_SECRET],
    }
