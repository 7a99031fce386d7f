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
import math
from collections.abc import Sequence
from functools import cache, cached_property
from http import HTTPStatus

import pyproj
from pygeoapi.crs import get_srid
from pygeoapi.provider.base import (
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)
from pygeoapi.provider.sql import PostgreSQLProvider
from pygeoapi.util import to_json as _pygeoapi_to_json
from pygeofilter.backends.sqlalchemy.evaluate import to_filter
from sqlalchemy import JSON, Text, and_, any_, cast, func, literal, null, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from onemap.serve.query_check import (
    MAX_BIGINT,
    QueryValueError,
    check_filter,
    check_properties,
    column_kinds,
    set_geometry_srid,
    text_fits,
)

LOGGER = logging.getLogger(__name__)
# Decimal places of output coordinates: 1e-6° is ~0.1 m at the equator; metres to 1 cm.
PRECISION_DEGREES = 6
PRECISION_METRES = 2


# SQLSTATEs of a statement cut short by the server's limits: statement_timeout (57014),
# lock_timeout (55P03). Not the client's fault and worth a retry: 503 with Retry-After.
BUSY_SQLSTATES = ("57014", "55P03")


class ProviderBusyError(ProviderGenericError):
    """The database cut the query short (a timeout): 503, answered with Retry-After."""

    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the server is busy: try again shortly"


def db_failure(exc: SQLAlchemyError) -> ProviderGenericError:
    """The provider error a failed statement becomes: 503 for a timeout, 400 for a value
    PostgreSQL could not read (SQLSTATE class 22, data exception), else 500."""
    code = getattr(getattr(exc, "orig", None), "pgcode", None) or ""
    if isinstance(exc, DBAPIError) and code in BUSY_SQLSTATES:
        return ProviderBusyError(user_msg=ProviderBusyError.default_msg)
    if isinstance(exc, DBAPIError) and code.startswith("22"):
        return ProviderInvalidQueryError(user_msg="a value in the query does not fit its property")
    return ProviderQueryError("query failed")


@cache
def _crs_facts(wkt: str) -> tuple[int | None, bool, bool]:
    """(EPSG code, first axis is northing/latitude, geographic) of a CRS, cached."""
    crs = pyproj.CRS.from_wkt(wkt)
    first = crs.axis_info[0].direction.lower() if crs.axis_info else "east"
    return crs.to_epsg(), first in ("north", "south"), crs.is_geographic


# A filtered numberMatched is counted up to here; beyond, it is left out (``_matched``).
COUNT_CAP = 10_000
# Row counts of published versions: (database, layer, run id) -> rows.
_COUNTS: dict[tuple[str, str, int | None], int] = {}


@cache
def _changes_between_loads(table: str) -> bool:
    """Whether rows reach the table outside loads (layers with a ``private:`` intake)."""
    from onemap.core.layers import load_layers

    layer = load_layers().get(table)
    return layer is None or layer.changes_between_loads


@cache
def _storage_srid(crs: object) -> int:
    return get_srid(crs) or 4326


class FeaturesJSON(Sequence):
    """A page of features as the JSON text PostGIS built, parsed only if something reads it.

    pygeoapi only needs ``len()`` of the page to build its links; the GeoJSON response
    splices the text in unparsed (``to_json``). HTML, JSON-LD and CSV output, or a hook
    that reads the features, parse it once, and from then on the parsed list is what is
    written (so changes made to it are kept).
    """

    def __init__(self, text: str, count: int) -> None:
        self.text = text
        self._count = count
        self._parsed: list | None = None

    @property
    def parsed(self) -> list:
        """The features as Python objects (parsed on first use)."""
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    @property
    def untouched(self) -> bool:
        """Whether nothing has read the features yet (the text is then still exact)."""
        return self._parsed is None

    def __len__(self) -> int:
        return self._count if self._parsed is None else len(self._parsed)

    def __getitem__(self, index):
        return self.parsed[index]

    def __setitem__(self, index, value) -> None:  # pygeoapi's JSON-LD output replaces items
        self.parsed[index] = value


def to_json(dict_: dict, pretty: bool = False) -> str:
    """pygeoapi's ``to_json``, with an untouched ``FeaturesJSON`` page spliced in as text.

    Installed over ``pygeoapi.api.itemtypes.to_json`` by ``onemap.serve.extras``: parsing a
    1000-feature page and serialising it again took ~40 ms of a ~120 ms request (cProfile).
    The text gets pygeoapi's escaping of ``<`` and ``>`` like the rest of the document.
    """
    features = dict_.get("features") if isinstance(dict_, dict) else None
    if not isinstance(features, FeaturesJSON):
        return _pygeoapi_to_json(dict_, pretty)
    if not features.untouched:
        return _pygeoapi_to_json({**dict_, "features": features.parsed}, pretty)
    head = _pygeoapi_to_json({**dict_, "features": []}, pretty)
    raw = features.text.replace("<", "&lt;").replace(">", "&gt;")
    return head.replace('"features":[]', '"features":' + raw, 1)


class OnemapPostgreSQLProvider(PostgreSQLProvider):
    """PostgreSQL provider with GeoJSON built in the database."""

    def _output(self, crs_transform_spec) -> tuple[int | None, bool, int]:
        """(EPSG code to transform to or None, swap axes, decimals) of the requested CRS."""
        if crs_transform_spec is None or (
            crs_transform_spec.source_crs_wkt == crs_transform_spec.target_crs_wkt
        ):
            return None, False, PRECISION_DEGREES
        epsg, lat_first, geographic = _crs_facts(crs_transform_spec.target_crs_wkt)
        if epsg is None:
            raise ProviderQueryError("output CRS has no EPSG code")
        flip = lat_first and not crs_transform_spec.always_xy
        return epsg, flip, PRECISION_DEGREES if geographic else PRECISION_METRES

    @staticmethod
    def _geometry_sql(geom, output: tuple[int | None, bool, int]):
        """SQL expression for ``geom`` as GeoJSON text in the output CRS (``_output``)."""
        epsg, flip, precision = output
        if epsg is not None:
            geom = func.ST_Transform(geom, epsg)
        if flip:
            geom = func.ST_FlipCoordinates(geom)
        return func.ST_AsGeoJSON(geom, precision, 0)  # options 0: no "crs"/"bbox" members

    @cached_property
    def kinds(self) -> dict[str, str | None]:
        """{column: kind of value} for checking client values (``query_check``)."""
        return column_kinds(self.table_model.__table__.columns)

    def _get_bbox_filter(self, bbox):
        """ST_Intersects with a cached storage SRID (pygeoapi resolves it per request).

        A 3-D bbox (six numbers, OGC 17-069r4 /req/core/fc-bbox-definition) is valid; the
        layers are 2-D, so its x/y range is used and its heights ignored.
        """
        if not bbox:
            return true()
        if len(bbox) == 6:
            bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
        if not all(math.isfinite(v) for v in bbox):
            raise ProviderInvalidQueryError(user_msg="bbox values must be finite numbers")
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
            check_filter(filterq, self.kinds)
            set_geometry_srid(filterq, _storage_srid(self.storage_crs))
            return to_filter(filterq, mapping, undefined_as_null=False)
        except KeyError as exc:
            raise ProviderInvalidQueryError(
                user_msg=f"unknown property {exc} in filter; queryables: {', '.join(self.fields)}"
            ) from exc
        except QueryValueError as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from exc
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ProviderInvalidQueryError(user_msg=f"unsupported filter: {exc}") from exc

    def _get_order_by_clauses(self, sort_by, table_model):
        """pygeoapi's order, then the primary key: pages of a sort with ties stay disjoint."""
        clauses = super()._get_order_by_clauses(sort_by, table_model)
        if any(s["property"] != self.id_field for s in sort_by or []) and not any(
            s["property"] == self.id_field for s in sort_by
        ):
            clauses.append(getattr(table_model, self.id_field).asc())
        return clauses

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
        try:
            check_properties(properties, self.kinds)
        except QueryValueError as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from exc
        # beyond bigint (PostgreSQL's OFFSET) there are no rows: the page is empty, not a 500
        offset = min(int(offset or 0), MAX_BIGINT)
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
        output = None if skip_geometry else self._output(crs_transform_spec)
        response = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        try:
            with Session(self._engine) as session:
                if resulttype == "hits":  # asked for explicitly: always exact
                    count = select(func.count()).select_from(table).where(where)
                    response["numberMatched"] = session.execute(count).scalar_one()
                    return response
                filtered = bool(bbox or properties or filterq) or datetime_ not in (None, "../..")
                page, counted = None, False
                if self.count and filtered and not sortby:
                    counted = True
                    sql = self._counted_page_sql(table, names, output, where, offset, limit)
                    page = session.execute(sql).one()
                    if page[2] > COUNT_CAP:  # its keys were a sample, not the page: ask again
                        page = None
                if page is None:
                    text, returned = session.execute(
                        self._page_sql(table, names, output, where, order, offset, limit)
                    ).one()
                    matched = None
                else:
                    text, returned, matched = page
                response["features"] = FeaturesJSON(text or "[]", returned)
                if self.count and not counted:
                    # a short first page is the whole match: no count query for it
                    short = offset == 0 and returned < limit
                    matched = returned if short else self._matched(session, where, filtered)
                if matched is not None:
                    response["numberMatched"] = matched
        except SQLAlchemyError as exc:
            LOGGER.warning("query failed: %s", exc)
            raise db_failure(exc) from exc
        response["numberReturned"] = returned
        return response

    def _matched(self, session: Session, where, filtered: bool) -> int | None:
        """numberMatched, or None where an exact count would cost more than it is worth.

        ``numberMatched`` is optional (OGC 17-069r4, /req/core/fc-numberMatched: "If a
        property numberMatched is included …"); without it clients follow the ``next``
        links, which pygeoapi writes whenever a page is full. So:

        - unfiltered: the table's row count, counted once per published version (the
          layer's latest run and its finish time, ``onemap_meta.version_at``) and kept
          per process; layers that change between loads (citizen reports) are counted
          every time;
        - filtered: counted up to ``COUNT_CAP`` matches; beyond that, left out.
        """
        table = self.table_model.__table__
        if filtered:
            capped = select(literal(1)).select_from(table).where(where).limit(COUNT_CAP + 1)
            n = session.execute(select(func.count()).select_from(capped.subquery())).scalar_one()
            return n if n <= COUNT_CAP else None
        count = select(func.count()).select_from(table)
        if _changes_between_loads(self.table):
            return session.execute(count).scalar_one()
        # the version (run and finish time), not the run id: ids repeat in a rebuilt database
        version = session.execute(
            select(func.onemap_meta.version_at(self.table, func.now()))
        ).scalar()
        key = (self.db_name, self.table, version)
        if key not in _COUNTS:
            _COUNTS[key] = session.execute(count).scalar_one()
        return _COUNTS[key]

    def _counted_page_sql(self, table, names, output, where, offset, limit):
        """One statement for a filtered page in key order and its ``numberMatched``.

        The filter's exact test (``ST_Intersects`` on every candidate row: ~2.5 µs each for
        the generated roads) is the cost of both the page, which must find every match to
        sort them by key, and the count. Run once: the keys of up to ``COUNT_CAP`` + 1
        matches are collected, counted, and the page's keys taken from them in order
        (bench/RESULTS.md: a 3-block bbox at 1M roads 40 → 18 ms in the database). Over
        ``COUNT_CAP`` the keys are a sample, and the caller asks again with ``_page_sql``.
        """
        pk = table.c[self.id_field]
        keys = (select(pk.label("k")).where(where).limit(COUNT_CAP + 1).cte("matches")).prefix_with(
            "MATERIALIZED"
        )
        counted = select(func.count()).select_from(keys).scalar_subquery()
        # over the cap, no page is drawn from the sample (the caller asks again)
        page_keys = (
            select(keys.c.k)
            .where(counted <= COUNT_CAP)
            .order_by(keys.c.k)
            .offset(offset)
            .limit(limit)
        )
        in_page = pk == any_(func.array(page_keys.scalar_subquery()))
        return self._page_sql(table, names, output, in_page, [pk.asc()], 0, limit).add_columns(
            counted
        )

    def _page_sql(self, table, names, output, where, order, offset, limit):
        """SELECT json_agg(feature ORDER BY …) over one page of rows.

        The page is cut first and its geometries serialised after: rows skipped by OFFSET
        are never turned into GeoJSON (a deep page would otherwise serialise them all).
        """
        pk = table.c[self.id_field]
        cols = [pk.label("_id")] + [table.c[n] for n in names]
        if output is not None:
            cols.append(table.c[self.geom].label("_geom"))
        cols.append(func.row_number().over(order_by=order).label("_rn"))
        page = select(*cols).where(where).order_by(*order).offset(offset).limit(limit).subquery()
        props = func.json_build_object(*[x for n in names for x in (literal(n), page.c[n])])
        geom_json = (
            null() if output is None else cast(self._geometry_sql(page.c["_geom"], output), JSON)
        )
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
        features = cast(func.json_agg(aggregate_order_by(feature, page.c["_rn"])), Text)
        return select(features, func.count())

    def get(self, identifier, crs_transform_spec=None, **kwargs):  # noqa: D102
        # PostgreSQL text cannot hold NUL; an id not of the key's type names no feature
        if "\x00" in str(identifier) or not text_fits(self.kinds[self.id_field], str(identifier)):
            raise ProviderItemNotFoundError(f"No such item: {self.id_field}={identifier!r}.")
        table = self.table_model.__table__
        names = [n for n in self.fields.keys() if n in table.c]
        output = self._output(crs_transform_spec)
        where = table.c[self.id_field] == identifier
        try:
            with Session(self._engine) as session:
                text = session.execute(self._page_sql(table, names, output, where, [], 0, 1)).one()[
                    0
                ]
        except SQLAlchemyError as exc:
            LOGGER.warning("query failed: %s", exc)
            raise db_failure(exc) from exc
        if not text:
            raise ProviderItemNotFoundError(f"No such item: {self.id_field}={identifier}.")
        feature = json.loads(text)[0]
        feature["links"] = []
        return feature
