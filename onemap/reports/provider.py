"""pygeoapi provider of a staff collection (a layer's ``private.staff_collection`` view).

The PostGIS-built GeoJSON provider of the public collections, reading the staff view
(public columns, personal data, exact geometry) as the staff role. Every transaction it
opens carries the request's staff token (``onemap.reports.db.STAFF_TOKEN``), and the
view shows only the rows that token may see, so an operator's counts and pages hold
their office's reports only whatever the query. Two more guards that do not rely on the
request hooks of ``onemap.reports.api``: without an authenticated staff member in the
request context it answers 401 and reads nothing, and it adds the operator's office
(``private.scope_field``) to the query itself.
Referenced by dotted path from pygeoapi.yml (``onemap.reports.collections.STAFF_PROVIDER``).
"""

from __future__ import annotations

import weakref
from http import HTTPStatus

from flask import g, has_request_context
from pygeoapi.provider.base import ProviderGenericError, ProviderItemNotFoundError
from sqlalchemy import and_, event, text
from sqlalchemy.orm import Session

from onemap.core.layers import Layer, load_layers
from onemap.reports.auth import Staff
from onemap.reports.db import STAFF_TOKEN
from onemap.reports.private import private_of
from onemap.serve.provider import OnemapPostgreSQLProvider

# The engines of staff providers (pygeoapi keeps one per connection, its get_engine cache).
_STAFF_ENGINES: weakref.WeakSet = weakref.WeakSet()


@event.listens_for(Session, "after_begin")
def _carry_token(_session, _transaction, connection) -> None:
    """Put the request's staff token into each transaction of a staff engine (none
    outside a request: the view then shows nothing)."""
    if connection.engine not in _STAFF_ENGINES:
        return
    who = g.get("onemap_staff") if has_request_context() else None
    token = who.token if isinstance(who, Staff) else ""
    connection.execute(
        text("SELECT pg_catalog.set_config(:name, :token, true)"),
        {"name": STAFF_TOKEN, "token": token},
    )


class ProviderNotAuthorizedError(ProviderGenericError):
    """No staff member is authenticated for this request."""

    ogc_exception_code = "NotAuthorized"
    http_status_code = HTTPStatus.UNAUTHORIZED
    default_msg = "a staff token is required"


def _layer_of(view: str) -> Layer:
    for layer in load_layers().values():
        private = private_of(layer)
        if private and private.staff_collection == view:
            return layer
    raise ProviderGenericError(f"no layer has the staff collection {view}")


class StaffProvider(OnemapPostgreSQLProvider):
    """Staff collection provider: authenticated, scoped to the operator's office."""

    def __init__(self, provider_def):
        super().__init__(provider_def)
        _STAFF_ENGINES.add(self._engine)
        private = private_of(_layer_of(self.table))
        self.scope_field = private.scope_field if private else None

    def _who(self) -> Staff:
        who = g.get("onemap_staff") if has_request_context() else None
        if not isinstance(who, Staff):
            raise ProviderNotAuthorizedError()
        return who

    def _get_property_filters(self, properties):
        """The requested filters, and the operator's office."""
        where = super()._get_property_filters(properties)
        who = self._who()
        if who.is_admin or self.scope_field is None:
            return where
        column = self.table_model.__table__.c[self.scope_field]
        return and_(where, column == who.office)

    def get(self, identifier, crs_transform_spec=None, **kwargs):  # noqa: D102
        who = self._who()
        feature = super().get(identifier, crs_transform_spec=crs_transform_spec, **kwargs)
        if self.scope_field and not who.may_touch(feature["properties"][self.scope_field]):
            raise ProviderItemNotFoundError(f"No such item: {self.id_field}={identifier}.")
        return feature
