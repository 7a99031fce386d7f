"""Citizen reports as a live One Map layer (``layers/reports``).

Intake over OGC API Features Part 4 (``onemap.reports.api``, ``onemap.reports.intake``),
staff tokens and status changes (``auth``, ``staff``), routing and working-day SLAs
(``config``, ``sla``), the monthly evaluation (``evaluation``, ``process``) and imports
(``importer``). Personal data never reaches the public collection: it lives in
``onemap_private``, which the read-only role cannot read (see docs/reports.md).

A feature, not part of the core: it plugs in through ``feature`` (hooks, registered in
``onemap.core.extensions``) and the layer file's ``private:`` block (``private``).
"""

LAYER_ID = "reports"
# Monthly service-standard evaluation per office, over OGC API Processes (``process``).
EVALUATION_PROCESS = "reports-evaluation"
