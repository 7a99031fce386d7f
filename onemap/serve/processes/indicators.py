"""The ``indicators`` process: the city's indicators over OGC API Processes (pygeoapi).

Execute with ``{"inputs": {"indicator": "flood_area", "kecamatan": "33.74.02"}}`` (or a
GeoJSON ``polygon``, and a version ``as_of``: a load run id or a date). The response is
the JSON ``onemap stats --format json`` prints for the same request: both call
``onemap.indicators.run``. The process connects as the read-only role.
"""

from __future__ import annotations

from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.db.connect import reader_conninfo
from onemap.indicators import CHOICES, INDICATORS, Request, run
from onemap.indicators.config import load_config
from onemap.serve.busy import busy_is_503
from onemap.serve.connections import serving_conninfo
from onemap.serve.processes import INDICATORS_PROCESS

INPUTS = ("indicator", "kecamatan", "polygon", "as_of")


def process_metadata() -> dict[str, Any]:
    """The process description (OGC API Processes), from the layer files and configuration."""
    districts = load_config().districts
    code_field = districts.field_of(districts.code)
    city = get_city()
    return {
        "version": "1.0.0",
        "id": INDICATORS_PROCESS,
        "title": {"en": f"{city.name} indicators", "id": f"Indikator {city.name}"},
        "description": {
            "en": "Flooded-area share, road condition and kemantapan, repair budget, drainage "
            "density, flood exposure and unserved flood area, for the city and each "
            "kecamatan, a single kecamatan or a GeoJSON polygon, on the current data or "
            "an earlier published version. Formulas and sources: docs/indicators.md.",
            "id": "Persentase luas genangan, kondisi dan kemantapan jalan, perkiraan biaya "
            "perbaikan, kerapatan drainase, keterpaparan banjir dan genangan yang tidak "
            "terlayani drainase, per kota dan kecamatan.",
        },
        "jobControlOptions": ["sync-execute"],
        "keywords": ["indikator", "indicators", "kecamatan", "banjir", "jalan", city.name],
        "links": [],
        "inputs": {
            "indicator": {
                "title": "Indicator",
                "description": "summary (headline figures), all, or one of: "
                + ", ".join(INDICATORS),
                "schema": {"type": "string", "enum": list(CHOICES), "default": "summary"},
                "minOccurs": 0,
                "maxOccurs": 1,
            },
            "kecamatan": {
                "title": code_field.label_en or code_field.label,
                "description": f"{code_field.description}; leave out for the city and every "
                "kecamatan",
                "schema": {"type": "string", "pattern": code_field.pattern},
                "minOccurs": 0,
                "maxOccurs": 1,
            },
            "polygon": {
                "title": "Polygon",
                "description": "A GeoJSON Polygon or MultiPolygon (geometry, Feature or "
                "FeatureCollection) in WGS 84 lon/lat: compute for this area instead",
                "schema": {"type": "object", "contentMediaType": "application/geo+json"},
                "minOccurs": 0,
                "maxOccurs": 1,
            },
            "as_of": {
                "title": "Version",
                "description": "A load run id (e.g. 12) or a date (YYYY-MM-DD): compute on "
                "the layers as published then; leave out for the current data",
                "schema": {"type": "string"},
                "minOccurs": 0,
                "maxOccurs": 1,
            },
        },
        "outputs": {
            "result": {
                "title": "Indicator table",
                "description": "Columns (name, labels, unit), one row per area, version, "
                "parameters, sources and notes",
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        "example": {
            "inputs": {"indicator": "flood_area", "kecamatan": f"{city.kemendagri_code}.01"}
        },
    }


def request_from(data: dict[str, Any]) -> Request:
    """The indicator request for a process execution's inputs."""
    unknown = sorted(set(data) - set(INPUTS))
    if unknown:
        raise UserError(f"unknown input(s) {', '.join(unknown)}; inputs are {', '.join(INPUTS)}")

    def text(key: str) -> str | None:
        value = data.get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    return Request(
        indicator=text("indicator") or "summary",
        kecamatan=text("kecamatan"),
        polygon=data.get("polygon") or None,
        as_of=text("as_of"),
    )


class IndicatorsProcessor(BaseProcessor):
    """pygeoapi processor computing onemap's indicators (``onemap.indicators``)."""

    def __init__(self, processor_def: dict[str, Any]):
        super().__init__(processor_def, process_metadata())

    def execute(self, data: dict[str, Any], outputs: dict | None = None) -> tuple[str, Any]:
        """Compute the requested indicator(s) and return the JSON document."""
        try:
            conninfo = serving_conninfo(reader_conninfo())  # with the statement timeout
            with busy_is_503():  # a timeout is the server's limit, not a bad input
                return "application/json", run(request_from(data or {}), conninfo=conninfo)
        except UserError as exc:
            raise ProcessorExecuteError(user_msg=str(exc)) from exc

    def __repr__(self) -> str:
        return f"<IndicatorsProcessor> {self.name}"
