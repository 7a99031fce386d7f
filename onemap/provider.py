"""A pygeoapi feature provider that builds GeoJSON inside PostGIS.

pygeoapi's ``PostgreSQLProvider`` loads every row as an ORM object and converts its
geometry in Python (WKB → shapely → ``mapping``), and reprojects with pyproj per
feature. This subclass keeps its filters (bbox, properties, CQL2, datetime, sortby —
the parent's own SQLAlchemy clauses) and replaces only the row fetching: one query
returns the page as a JSON array built by ``json_agg`` with ``ST_AsGeoJSON``, already
reprojected by ``ST_Transform`` and rounded to a precision suited to the CRS.
Referenced from pygeoapi.yml by its dotted path (pygeoapi's plugin mechanism).
"""

from __future__ import annotations

import json
import logging
from functools import cache

import pyproj
from pygeoapi.crs import get_srid
from pygeoapi.provider.base import (
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)
from pygeoapi.provider.sql import PostgreSQLProvider
from pygeofilter.backends.sqlalchemy.evaluate import to_filter
from sqlalchemy import JSON, Text, and_, cast, func, literal, null, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

LOGGER = logging.getLogger(__name__)
# Decimal places of output coordinates: 1e-6° is ~0.1 m at the equator; metres to 1 cm.
PRECISION_DEGREES = 6
PRECISION_METRES = 2


@cache
def _crs_facts(wkt: str) -> tuple[int | None, bool, bool]:
    """(EPSG code, first axis is northing/latitude, geographic) of a CRS, cached."""
    crs = pyproj.CRS.from_wkt(wkt)
    first = crs.axis_info[0].direction.lower() if crs.axis_info else "east"
    return crs.to_epsg(), first in ("north", "south"), crs.is_geographic


@cache
def _storage_srid(crs: object) -> int:
    return get_srid(crs) or 4326


class OnemapPostgreSQLProvider(PostgreSQLProvider):
    """PostgreSQL provider with GeoJSON built in the database."""

    def _geometry_sql(self, crs_transform_spec):
        """SQL expression for the output geometry as GeoJSON text, in the requested CRS."""
        geom = self.table_model.__table__.c[self.geom]
        precision = PRECISION_DEGREES
        if crs_transform_spec is not None and (
            crs_transform_spec.source_crs_wkt != crs_transform_spec.target_crs_wkt
        ):
            epsg, lat_first, geographic = _crs_facts(crs_transform_spec.target_crs_wkt)
            if epsg is None:
                raise ProviderQueryError("output CRS has no EPSG code")
            geom = func.ST_Transform(geom, epsg)
            if lat_first and not crs_transform_spec.always_xy:
                geom = func.ST_FlipCoordinates(geom)
            precision = PRECISION_DEGREES if geographic else PRECISION_METRES
        return func.ST_AsGeoJSON(geom, precision, 0)  # options 0: no "crs"/"bbox" members

    def _get_bbox_filter(self, bbox):
        """ST_Intersects with a cached storage SRID (pygeoapi resolves it per request)."""
        if not bbox:
            return true()
        srid = _storage_srid(self.storage_crs)
        envelope = func.ST_MakeEnvelope(*bbox, srid)
        return func.ST_Intersects(envelope, self.table_model.__table__.c[self.geom])

    def _get_cql_filters(self, filterq):
        """CQL2 to SQL; an unknown property or unsupported construct is a 400, not a 500."""
        if not filterq:
            return true()
        columns = self.table_model.__table__.columns
        mapping = {name: getattr(self.table_model, name) for name in columns.keys()}
        try:
            return to_filter(filterq, mapping, undefined_as_null=False)
        except KeyError as exc:
            raise ProviderInvalidQueryError(
                user_msg=f"unknown property {exc} in filter; queryables: {', '.join(self.fields)}"
            ) from exc
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ProviderInvalidQueryError(user_msg=f"unsupported filter: {exc}") from exc

    def _get_datetime_filter(self, datetime_):
        if datetime_ not in (None, "../..") and self.time_field is None:
            raise ProviderInvalidQueryError(
                user_msg="this collection has no time field: the datetime parameter does not apply"
            )
        return super()._get_datetime_filter(datetime_)

    def query(  # noqa: D102 - same contract as pygeoapi's provider
        self,
        offset=0,
        limit=10,
        resulttype="results",
        bbox=None,
        datetime_=None,
        properties=None,
        sortby=None,
        select_properties=None,
        skip_geometry=False,
        q=None,
        filterq=None,
        crs_transform_spec=None,
        **kwargs,
    ):
        bbox, properties = bbox or [], properties or []
        if any("\x00" in str(v) for _, v in properties) or "\x00" in str(filterq or ""):
            raise ProviderInvalidQueryError(user_msg="NUL characters are not allowed in queries")
        sortby, select_properties = sortby or [], select_properties or []
        table = self.table_model.__table__
        where = and_(
            true(),
            self._get_property_filters(properties),
            self._get_cql_filters(filterq),
            self._get_bbox_filter(bbox),
            self._get_datetime_filter(datetime_),
        )
        order = self._get_order_by_clauses(sortby, self.table_model)
        names = [n for n in (select_properties or self.fields.keys()) if n in table.c]
        geometry = None if skip_geometry else self._geometry_sql(crs_transform_spec)
        response = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        try:
            with Session(self._engine) as session:
                if self.count or resulttype == "hits":
                    response["numberMatched"] = session.execute(
                        select(func.count()).select_from(table).where(where)
                    ).scalar_one()
                if resulttype == "hits":
                    return response
                text = session.execute(
                    self._page_sql(table, names, geometry, where, order, offset, limit)
                ).scalar_one()
        except SQLAlchemyError as exc:
            LOGGER.warning("query failed: %s", exc)
            raise ProviderQueryError("query failed") from exc
        response["features"] = json.loads(text) if text else []
        response["numberReturned"] = len(response["features"])
        return response

    def _page_sql(self, table, names, geometry, where, order, offset, limit):
        """SELECT json_agg(feature ORDER BY …) over one page of rows."""
        pk = table.c[self.id_field]
        cols = [pk.label("_id")] + [table.c[n] for n in names]
        if geometry is not None:
            cols.append(geometry.label("_geom"))
        cols.append(func.row_number().over(order_by=order).label("_rn"))
        page = select(*cols).where(where).order_by(*order).offset(offset).limit(limit).subquery()
        props = func.json_build_object(*[x for n in names for x in (literal(n), page.c[n])])
        geom_json = cast(page.c["_geom"], JSON) if geometry is not None else null()
        feature = func.json_build_object(
            literal("type"),
            literal("Feature"),
            literal("id"),
            page.c["_id"],
            literal("geometry"),
            geom_json,
            literal("properties"),
            props,
        )
        return select(cast(func.json_agg(aggregate_order_by(feature, page.c["_rn"])), Text))

    def get(self, identifier, crs_transform_spec=None, **kwargs):  # noqa: D102
        if "\x00" in str(identifier):  # PostgreSQL text cannot hold NUL: no such feature
            raise ProviderItemNotFoundError(f"No such item: {self.id_field}={identifier!r}.")
        table = self.table_model.__table__
        names = [n for n in self.fields.keys() if n in table.c]
        geometry = self._geometry_sql(crs_transform_spec)
        where = table.c[self.id_field] == identifier
        try:
            with Session(self._engine) as session:
                text = session.execute(
                    self._page_sql(table, names, geometry, where, [], 0, 1)
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise ProviderQueryError("query failed") from exc
        if not text:
            raise ProviderItemNotFoundError(f"No such item: {self.id_field}={identifier}.")
        feature = json.loads(text)[0]
        feature["links"] = []
        return feature
