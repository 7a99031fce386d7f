"""OGC API Processes for onemap: pygeoapi process plugins and their pygeoapi.yml entries.

``resources()`` is what ``onemap.publish.pygeoapi_config`` adds to the generated
``pygeoapi.yml``; each process is referenced there by the dotted path of its class
(pygeoapi's plugin mechanism).
"""

from __future__ import annotations

from typing import Any

INDICATORS_PROCESS = "indicators"
INDICATORS_PROCESSOR = "onemap.serve.processes.indicators.IndicatorsProcessor"
# Monthly service-standard evaluation of citizen reports per office (onemap/reports).
REPORTS_PROCESS = "reports-evaluation"
REPORTS_PROCESSOR = "onemap.reports.process.ReportsEvaluationProcessor"


def resources() -> dict[str, dict[str, Any]]:
    """The process resources of pygeoapi.yml, keyed by process id."""
    return {
        INDICATORS_PROCESS: {
            "type": "process",
            "processor": {"name": INDICATORS_PROCESSOR},
        },
        REPORTS_PROCESS: {"type": "process", "processor": {"name": REPORTS_PROCESSOR}},
    }
