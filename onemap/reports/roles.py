"""The reports' login roles (``onemap.core.extensions``' ``roles`` hook).

Apart from ``onemap.reports.db`` because every connection's set-up reads them (a load
too), and that module imports SQLAlchemy, which a load does not need (bench/QUICKSTART.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from onemap.core.extensions import Role
from onemap.core.settings import password_variable, role_name

INTAKE_SECRET = password_variable("intake")
STAFF_SECRET = password_variable("staff")


@dataclass(frozen=True)
class RoleNames:
    """The reports' login roles: INSERT-only intake, staff behind tokens
    (``ONEMAP_DB_INTAKE``, ``ONEMAP_DB_STAFF``, read by ``onemap.core.settings``)."""

    intake: str = field(default_factory=lambda: role_name("intake", "onemap_intake"))
    staff: str = field(default_factory=lambda: role_name("staff", "onemap_staff"))


def roles() -> tuple[Role, ...]:
    """The roles onemap db up creates for the reports (onemap.core.extensions)."""
    names = RoleNames()
    return Role(names.intake, INTAKE_SECRET), Role(names.staff, STAFF_SECRET)
