"""Compute indicators: the one entry point the CLI, the Processes API and the maps share.

``compute(Request(...))`` opens one read-only connection, resolves the version, builds the
reporting areas (all districts and the city, one district, or a user's polygon) and runs
each indicator; ``document()`` turns the results into the JSON every channel returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.core.layers import load_layers
from onemap.core.settings import DbSettings
from onemap.db.connect import pooled_options, reader_conninfo
from onemap.indicators.config import IndicatorConfig, Treatments, load_config, load_treatments
from onemap.indicators.context import Context, polygon_geometry
from onemap.indicators.drainage_density import drainage_density
from onemap.indicators.flood import (
    flood_area,
    flood_exposure_roads,
    flood_exposure_zoning,
    flood_unserved,
)
from onemap.indicators.result import Result
from onemap.indicators.roads import road_budget, road_condition
from onemap.indicators.summary import summary
from onemap.indicators.versions import resolve

INDICATORS: dict[str, Callable[[Context], Result]] = {
    "flood_area": flood_area,
    "road_condition": road_condition,
    "road_budget": road_budget,
    "drainage_density": drainage_density,
    "flood_exposure_roads": flood_exposure_roads,
    "flood_exposure_zoning": flood_exposure_zoning,
    "flood_unserved": flood_unserved,
}
SUMMARY = "summary"
ALL = "all"
CHOICES = (SUMMARY, *INDICATORS, ALL)


@dataclass(frozen=True)
class Request:
    """What a user asks for, the same from the CLI, the Processes API and the site."""

    indicator: str = SUMMARY
    kecamatan: str | None = None
    polygon: Any = None
    as_of: str | None = None

    def __post_init__(self) -> None:
        if self.indicator not in CHOICES:
            raise UserError(
                f"unknown indicator '{self.indicator}'; choose one of {', '.join(CHOICES)}"
            )
        if self.kecamatan is not None and self.polygon is not None:
            raise UserError("give either a kecamatan code or a polygon, not both")

    @property
    def names(self) -> list[str]:
        """The indicators this request computes, in report order."""
        if self.indicator == ALL:
            return [SUMMARY, *INDICATORS]
        return [self.indicator]


@dataclass
class _Cached:
    """Results computed so far in one context (the summary reuses them)."""

    done: dict[str, Result] = field(default_factory=dict)

    def __call__(self, ctx: Context, name: str) -> Result:
        if name not in self.done:
            self.done[name] = summary(ctx, self) if name == SUMMARY else INDICATORS[name](ctx)
        return self.done[name]


def _used_layers(cfg: IndicatorConfig) -> list[str]:
    return [
        cfg.districts.layer,
        cfg.roads.layer,
        cfg.flood.layer,
        cfg.drainage.layer,
        cfg.zoning.layer,
    ]


def compute(
    request: Request,
    conninfo: str | None = None,
    settings: DbSettings | None = None,
    relations: dict[str, sql.Composable] | None = None,
    config: IndicatorConfig | None = None,
    treatments: Treatments | None = None,
) -> list[Result]:
    """The requested indicators, computed as the read-only role.

    ``relations`` overrides the relation a layer is read from (layer id → table or
    subquery): the same injection point ``--as-of`` uses for history. ``config`` and
    ``treatments`` replace the files in ``config/`` (e.g. another service distance).
    """
    cfg = config or load_config()
    treatments = treatments or load_treatments()
    treatments.check_covers(cfg.roads.field_of(cfg.roads.condition).allowed)
    layers = load_layers()
    used = _used_layers(cfg)
    polygon = None
    if request.polygon is not None:
        polygon = polygon_geometry(request.polygon, get_city())
    conninfo = conninfo or reader_conninfo(settings)
    try:
        conn = psycopg.connect(conninfo, **pooled_options())  # through PgBouncer too
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot connect to the onemap database: {exc}") from exc
    with conn:
        conn.read_only = True
        version = resolve(request.as_of, [layers[lid] for lid in used], conn)
        if relations:
            version = replace(version, relations={**version.relations, **relations})
        ctx = Context(conn, cfg, treatments, version, request.kecamatan, polygon)
        described = {**version.describe(), "load_ids": ctx.layer_load_ids(used)}
        if polygon is not None:
            described["polygon"] = polygon
        cached = _Cached()
        results = [cached(ctx, name) for name in request.names]
        for r in results:
            r.version = described
        conn.rollback()
    return results


def document(results: list[Result]) -> dict[str, Any]:
    """The JSON document: one result as is, several under ``indicators``."""
    if len(results) == 1:
        return results[0].as_dict()
    return {
        "version": results[0].version,
        "indicators": [r.as_dict() for r in results],
    }


def run(request: Request, **kwargs: Any) -> dict[str, Any]:
    """``compute`` then ``document``: what ``onemap stats --format json`` prints."""
    return document(compute(request, **kwargs))
