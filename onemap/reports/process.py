"""The ``reports-evaluation`` process: the monthly evaluation over OGC API Processes.

Execute with ``{"inputs": {"month": "2026-03"}}`` (optionally ``as_of``, an RFC 3339
time). The response is the JSON ``onemap reports sla --month 2026-03 --format json``
prints: both call ``onemap.reports.evaluation.evaluate``, as the read-only role. It holds
no personal data (report ids, offices, categories, dates and counts only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.db.connect import role_conninfo
from onemap.reports import EVALUATION_PROCESS
from onemap.reports.evaluation import DEFINITIONS, evaluate
from onemap.serve.busy import busy_is_503
from onemap.serve.connections import serving_conninfo

INPUTS = ("month", "as_of")


def process_metadata() -> dict[str, Any]:
    """The process description (OGC API Processes)."""
    city = get_city()
    return {
        "version": "1.0.0",
        "id": EVALUATION_PROCESS,
        "title": {
            "en": f"{city.name}: citizen reports handled within the service standard",
            "id": f"{city.name}: evaluasi penanganan laporan warga",
        },
        "description": {
            "en": "Per office (OPD) and for the city, for the reports received in one month: "
            "received, rejected, resolved, resolved within the service standard (count and "
            "%), median days to resolution, open, overdue, and the overdue reports. "
            "Definitions in the response; sources in docs/reports.md.",
            "id": "Per OPD dan se-kota, untuk laporan yang diterima dalam satu bulan: jumlah "
            "diterima, ditolak, selesai, selesai tepat waktu (jumlah dan %), median hari "
            "penyelesaian, belum selesai, terlambat, dan daftar laporan yang terlambat.",
        },
        "jobControlOptions": ["sync-execute"],
        "keywords": ["laporan warga", "SLA", "standar pelayanan", "OPD", city.name],
        "links": [],
        "inputs": {
            "month": {
                "title": "Month",
                "description": "YYYY-MM: the reports received in this month (local dates)",
                "schema": {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"},
                "minOccurs": 1,
                "maxOccurs": 1,
            },
            "as_of": {
                "title": "Evaluated at",
                "description": "RFC 3339 time at which to evaluate (default: now)",
                "schema": {"type": "string", "format": "date-time"},
                "minOccurs": 0,
                "maxOccurs": 1,
            },
        },
        "outputs": {
            "result": {
                "title": "Evaluation",
                "description": "; ".join(f"{k}: {v}" for k, v in DEFINITIONS.items()),
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        "example": {"inputs": {"month": "2026-03"}},
    }


def run(data: dict[str, Any]) -> dict[str, Any]:
    """Evaluate from process inputs."""
    unknown = sorted(set(data) - set(INPUTS))
    if unknown:
        raise UserError(f"unknown input(s) {', '.join(unknown)}; inputs are {', '.join(INPUTS)}")
    as_of = None
    if data.get("as_of"):
        try:
            as_of = dt.datetime.fromisoformat(str(data["as_of"]))
        except ValueError as exc:
            raise UserError(
                "as_of must be an RFC 3339 time, e.g. 2026-04-30T23:59:59+07:00"
            ) from exc
    conninfo = serving_conninfo(role_conninfo("reader"))  # with the statement timeout
    return evaluate(str(data.get("month") or ""), as_of=as_of, conninfo=conninfo).as_dict()


class ReportsEvaluationProcessor(BaseProcessor):
    """pygeoapi processor of the monthly evaluation (``onemap.reports.evaluation``)."""

    def __init__(self, processor_def: dict[str, Any]):
        super().__init__(processor_def, process_metadata())

    def execute(self, data: dict[str, Any], outputs: dict | None = None) -> tuple[str, Any]:
        """Evaluate the requested month and return the JSON document."""
        try:
            with busy_is_503():  # a timeout is the server's limit, not a bad input
                return "application/json", run(data or {})
        except UserError as exc:
            raise ProcessorExecuteError(user_msg=str(exc)) from exc

    def __repr__(self) -> str:
        return f"<ReportsEvaluationProcessor> {self.name}"
