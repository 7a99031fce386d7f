"""OGC API Processes for onemap: pygeoapi process plugins and their pygeoapi.yml entries.

``resources()`` is what ``onemap.publish.pygeoapi_config`` adds to the generated
``pygeoapi.yml``: the indicators, then the features' processes (``onemap.core.extensions``);
each process is referenced there by the dotted path of its class (pygeoapi's plugin
mechanism).
"""

from __future__ import annotations

from typing import Any

from onemap.core import extensions

INDICATORS_PROCESS = "indicators"
INDICATORS_PROCESSOR = "onemap.serve.processes.indicators.IndicatorsProcessor"


def resources() -> dict[str, dict[str, Any]]:
    """The process resources of pygeoapi.yml, keyed by process id."""
    processors = {INDICATORS_PROCESS: INDICATORS_PROCESSOR}
    for feature in extensions.features():
        processors.update(feature.processes)
    return {
        pid: {"type": "process", "processor": {"name": name}} for pid, name in processors.items()
    }
