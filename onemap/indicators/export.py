"""Indicators for the public site: CSV/JSON downloads and per-district choropleth values.

Both come from one ``compute`` of every indicator, the same computation as ``onemap
stats`` and the Processes API, so the site, the CLI and the API show the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from onemap.core.city import get_city
from onemap.core.settings import DbSettings
from onemap.indicators.compute import ALL, Request, compute, document
from onemap.indicators.config import load_config
from onemap.indicators.output import to_csv
from onemap.indicators.result import Result
from onemap.indicators.summary import HEADLINES, headline_values

JSON_NAME = "indicators.json"


def compute_all(settings: DbSettings | None = None, as_of: str | None = None) -> list[Result]:
    """Every indicator (the summary first) for the city and each district."""
    return compute(Request(ALL, as_of=as_of), settings=settings)


def write_exports(
    outdir: Path,
    settings: DbSettings | None = None,
    results: list[Result] | None = None,
) -> list[Path]:
    """Write ``<indicator>.csv`` for each indicator and ``indicators.json`` into ``outdir``."""
    results = results if results is not None else compute_all(settings)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in results:
        path = outdir / f"{r.indicator}.csv"
        path.write_text(to_csv(r), encoding="utf-8")
        paths.append(path)
    path = outdir / JSON_NAME
    path.write_text(json.dumps(document(results), ensure_ascii=False, indent=1), encoding="utf-8")
    paths.append(path)
    return paths


@dataclass(frozen=True)
class Choropleth:
    """One indicator figure per district, ready to colour the district polygons."""

    name: str
    indicator: str
    label: str
    label_en: str
    unit: str
    join_field: str
    values: dict[str, float | None]
    city_value: float | None


def district_choropleths(
    settings: DbSettings | None = None,
    results: list[Result] | None = None,
    as_of: str | None = None,
) -> list[Choropleth]:
    """The headline figures per district (``values`` keyed by the district code).

    ``join_field`` names the district layer's code field (``kode_kec``) to join on; the
    city's figure is given for the legend. Pass ``results`` from ``compute_all`` to reuse
    a computation (e.g. the one ``write_exports`` wrote).
    """
    results = results if results is not None else compute_all(settings, as_of)
    by_name = {r.indicator: r for r in results}
    city_code = get_city().kemendagri_code
    join_field = load_config().districts.code
    out = []
    for h in HEADLINES:
        values = headline_values(by_name[h.indicator], h)
        city = values.pop(city_code, None)
        out.append(
            Choropleth(h.name, h.indicator, h.label, h.label_en, h.unit, join_field, values, city)
        )
    return out
