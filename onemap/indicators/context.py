"""One computation: database connection, configuration, version and reporting areas.

A ``Context`` composes every indicator query from the same parts (relations, fields,
constants), runs each query at most once, and sums per-district figures into the city
figure, so the city row is by construction the sum of the district rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg
import shapely
from psycopg import sql
from shapely.geometry import mapping, shape

from onemap.core.city import City, get_city
from onemap.core.errors import UserError
from onemap.indicators.config import IndicatorConfig, Treatments
from onemap.indicators.sqltext import compose
from onemap.indicators.versions import Version

POLYGON_CODE = "polygon"


@dataclass(frozen=True)
class Area:
    """A reporting area: a district, the whole city, or a user's polygon."""

    code: str
    name: str
    area_m2: float


def polygon_geometry(value: Any, city: City) -> dict[str, Any]:
    """A GeoJSON Polygon/MultiPolygon (geometry, Feature or FeatureCollection; dict or text)."""
    try:
        obj = json.loads(value) if isinstance(value, str | bytes) else value
        kind = obj.get("type")
        if kind == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in obj["features"]]
        elif kind == "Feature":
            geoms = [shape(obj["geometry"])]
        else:
            geoms = [shape(obj)]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(
            f"polygon: not a GeoJSON geometry, Feature or FeatureCollection ({exc})"
        ) from exc
    if not geoms or any(g.geom_type not in ("Polygon", "MultiPolygon") for g in geoms):
        raise UserError("polygon: give Polygon or MultiPolygon geometries")
    geom = shapely.union_all([shapely.make_valid(g) for g in geoms])
    x0, y0, x1, y1 = city.bbox
    if geom.is_empty or not geom.intersects(shapely.box(x0, y0, x1, y1)):
        raise UserError(
            f"polygon: it does not reach {city.name} (bbox {city.bbox}); GeoJSON coordinates "
            "are WGS 84 longitude, latitude (RFC 7946)"
        )
    return mapping(geom)


class Sums:
    """Running sums per (area code, breakdown key), adding every district into the city too."""

    def __init__(self, city_code: str | None) -> None:
        self.city_code = city_code
        self._sums: dict[tuple[str, tuple], dict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )

    def add(self, code: str, key: tuple = (), **measures: float | None) -> None:
        """Add measures for an area (and the city) under a breakdown key."""
        targets = [code] if self.city_code is None else [code, self.city_code]
        for target in targets:
            bucket = self._sums[(target, key)]
            for name, value in measures.items():
                bucket[name] += float(value or 0.0)

    def get(self, code: str, key: tuple = ()) -> dict[str, float]:
        """The sums of one area and key (zeros when nothing was added)."""
        return defaultdict(float, self._sums.get((code, key), {}))

    def keys(self, code: str) -> list[tuple]:
        """Breakdown keys seen for an area."""
        return [k for (c, k) in self._sums if c == code]


@dataclass
class Context:
    """Everything one computation needs; queries run once and are cached."""

    conn: psycopg.Connection
    cfg: IndicatorConfig
    treatments: Treatments
    version: Version
    kecamatan: str | None = None
    polygon: dict[str, Any] | None = None
    city: City = field(default_factory=get_city)
    _cache: dict[str, list[tuple]] = field(default_factory=dict)

    @property
    def srid(self) -> sql.Literal:
        """The metric CRS of config/city.yaml, as a literal."""
        return sql.Literal(self.city.metric_crs)

    @property
    def reports_city(self) -> bool:
        """Whether a city row (the sum of all districts) is reported."""
        return self.polygon is None and self.kecamatan is None

    def rel(self, layer_id: str) -> sql.Composable:
        """The relation a layer is read from in this version."""
        return self.version.relation(layer_id)

    def units(self) -> sql.Composed:
        """The reporting areas as a query (code, name, geom in the metric CRS)."""
        if self.polygon is not None:
            return compose(
                "units_polygon",
                code=sql.Literal(POLYGON_CODE),
                name=sql.Literal(POLYGON_CODE),
                geojson=sql.Literal(json.dumps(self.polygon)),
                srid=self.srid,
            )
        d = self.cfg.districts
        return compose(
            "units_districts",
            districts=self.rel(d.layer),
            code=sql.Identifier(d.code),
            name=sql.Identifier(d.name),
            srid=self.srid,
            only=sql.Literal(self.kecamatan),
        )

    @cached_property
    def parts(self) -> dict[str, sql.Composable]:
        """Every placeholder value the indicator templates use."""
        c = self.cfg
        flood = {
            "flood": self.rel(c.flood.layer),
            "hazard": sql.Identifier(c.flood.hazard),
            "severity": sql.Literal(list(c.flood.severity)),
            "srid": self.srid,
        }
        return {
            **flood,
            "units": self.units(),
            "flood_classes": compose("flood_classes", **flood),
            "exposure": sql.Literal(list(c.flood.exposure)),
            "roads": self.rel(c.roads.layer),
            "status": sql.Identifier(c.roads.status),
            "function": sql.Identifier(c.roads.function),
            "condition": sql.Identifier(c.roads.condition),
            "width": sql.Identifier(c.roads.width),
            "drainage": self.rel(c.drainage.layer),
            "hierarchy": sql.Identifier(c.drainage.hierarchy),
            "serving": sql.Literal(list(c.drainage.serving)),
            "distance": sql.Literal(c.drainage.service_distance_m),
            "zoning": self.rel(c.zoning.layer),
            "zone": sql.Identifier(c.zoning.zone),
        }

    def fetch(self, name: str) -> list[tuple]:
        """Rows of ``sql/<name>.sql`` (run once per context)."""
        if name not in self._cache:
            query = compose(name, **self.parts)
            try:
                self._cache[name] = self.conn.execute(query).fetchall()
            except psycopg.Error as exc:
                self.conn.rollback()
                hint = ""
                if isinstance(exc, psycopg.errors.InsufficientPrivilege):
                    hint = " (the indicators read as the read-only role: grant it this data)"
                raise UserError(
                    f"indicator query {name}.sql failed: {exc.diag.message_primary or exc}{hint}"
                ) from exc
        return self._cache[name]

    @cached_property
    def areas(self) -> list[Area]:
        """The reporting areas, the city first when all districts are reported."""
        rows = [Area(code, name, float(a or 0.0)) for code, name, a in self.fetch("units")]
        if self.kecamatan is not None and not rows:
            raise UserError(f"no kecamatan with code '{self.kecamatan}'")
        if self.reports_city:
            total = Area(self.city.kemendagri_code, self.city.name, sum(a.area_m2 for a in rows))
            rows = [total, *rows]
        return rows

    def sums(self) -> Sums:
        """A fresh accumulator that also adds into the city row when there is one."""
        return Sums(self.city.kemendagri_code if self.reports_city else None)

    def layer_load_ids(self, layer_ids: list[str]) -> dict[str, int | None]:
        """The load run each layer's rows come from (recorded with every result)."""
        if self.version.load_ids:
            return {lid: self.version.load_ids.get(lid) for lid in layer_ids}
        out: dict[str, int | None] = {}
        for lid in layer_ids:
            row = self.conn.execute(
                sql.SQL("SELECT max(load_id) FROM {} AS src").format(self.rel(lid))
            ).fetchone()
            out[lid] = row[0] if row else None
        return out
