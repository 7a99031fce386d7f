"""pygeoapi provider of a staff collection (a layer's ``private.staff_collection`` view).

The PostGIS-built GeoJSON provider of the public collections, reading the staff view
(public columns, personal data, exact geometry) as the staff role, with two guards that
do not rely on the request hooks of ``onemap.reports.api``: without an authenticated
staff member in the request context it answers 401 and reads nothing, and an operator
only ever sees rows whose ``private.scope_field`` (the office) is theirs.
Referenced by dotted path from pygeoapi.yml (``onemap.reports.collections.STAFF_PROVIDER``).
"""

from __future__ import annotations

from http import HTTPStatus

from flask import g, has_request_context
from pygeoapi.provider.base import ProviderGenericError, ProviderItemNotFoundError
from sqlalchemy import and_

from onemap.core.layers import Layer, load_layers
from onemap.reports.auth import Staff
from onemap.reports.private import private_of
from onemap.serve.provider import OnemapPostgreSQLProvider


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
