"""City indicators from the published layers: one implementation for every channel.

``onemap stats`` (CLI), the OGC API process ``indicators`` (``onemap.serve.processes``) and the
site (``write_exports``, ``district_choropleths``) all call ``compute``. Formulas and
sources: ``docs/indicators.md``; what the indicators read: ``config/indicators.yaml`` and
``config/road_treatments.yaml``.
"""

from onemap.indicators.compute import CHOICES, INDICATORS, Request, compute, document, run
from onemap.indicators.export import Choropleth, district_choropleths, write_exports

__all__ = [
    "CHOICES",
    "INDICATORS",
    "Choropleth",
    "Request",
    "compute",
    "district_choropleths",
    "document",
    "run",
    "write_exports",
]
