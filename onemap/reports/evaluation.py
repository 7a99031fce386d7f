"""Monthly evaluation per office, and the public summary the maps draw.

``evaluate(month)`` answers, for the reports received in a month (local dates), per office
and for the city: received, rejected (ditolak), resolved (selesai), resolved within the
service standard (count and % of the reports the office had to resolve, i.e. received
less rejected), median days from report to resolution, still open, overdue, and the
overdue list with working days late. Everything is evaluated at ``as_of`` (default now):
a report closed later counts as open then. The same function feeds ``onemap reports
sla``, the ``reports-evaluation`` process and the site; it reads only the published
table, so it runs as the read-only role.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from onemap.core.errors import UserError
from onemap.core.settings import DbSettings
from onemap.db.connect import pooled_options, role_conninfo
from onemap.reports.config import ReportsConfig, load_config
from onemap.reports.db import sql_text
from onemap.reports.sla import working_days_between

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
COUNTS = ("received", "rejected", "resolved", "within_sla", "open", "overdue")


@dataclass
class OfficeMonth:
    """One office's figures for one month."""

    office: str
    office_name: str
    received: int = 0
    rejected: int = 0
    resolved: int = 0
    within_sla: int = 0
    open: int = 0
    overdue: int = 0
    within_sla_pct: float | None = None  # of received less rejected
    median_days_to_resolve: float | None = None


@dataclass
class Evaluation:
    """The evaluation of one month."""

    month: str
    as_of: str
    timezone: str
    offices: list[OfficeMonth]
    total: OfficeMonth
    overdue: list[dict[str, Any]] = field(default_factory=list)
    definitions: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


DEFINITIONS = {
    "received": "reports received in the month (local date of reported_at)",
    "rejected": "of those, closed as ditolak by as_of",
    "resolved": "of those, closed as selesai by as_of",
    "within_sla": "resolved with a local closing date on or before sla_due",
    "within_sla_pct": "within_sla / (received - rejected) × 100",
    "median_days_to_resolve": "median of closed_at - reported_at over resolved, in days",
    "open": "neither resolved nor rejected at as_of",
    "overdue": "open at as_of and sla_due before the local date of as_of",
    "working_days_late": "working days from sla_due to as_of (holidays of config/reports.yaml)",
}


def month_bounds(month: str, config: ReportsConfig) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight of the first day of ``YYYY-MM`` and of the next month."""
    m = MONTH.match(month or "")
    if not m:
        raise UserError(f"month must be YYYY-MM, got {month!r}")
    year, mon = int(m[1]), int(m[2])
    start = dt.datetime(year, mon, 1, tzinfo=config.tz)
    end = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=config.tz)
    return start, end


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def evaluate(
    month: str,
    as_of: dt.datetime | None = None,
    conninfo: str | None = None,
    settings: DbSettings | None = None,
) -> Evaluation:
    """The evaluation of ``month`` (YYYY-MM) at ``as_of`` (aware; default now)."""
    config = load_config()
    start, end = month_bounds(month, config)
    as_of = as_of or dt.datetime.now(dt.UTC)
    if as_of.tzinfo is None:
        raise UserError("as_of needs a time zone")
    params = {"start": start, "end": end, "as_of": as_of, "tz": config.timezone}
    reader = conninfo or role_conninfo("reader", settings)
    with psycopg.connect(reader, **pooled_options()) as conn:  # through PgBouncer too
        cur = conn.execute(sql_text("030_evaluation.sql"), params)
        names = [d.name for d in cur.description]
        found = {None if r[1] else r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        late = conn.execute(sql_text("031_overdue.sql"), params).fetchall()
    total = _office("all", config, found.pop(None, None))
    offices = [_office(code, config, found.pop(code, None)) for code in config.offices]
    offices += [_office(code, config, row) for code, row in sorted(found.items())]
    local_as_of = as_of.astimezone(config.tz).date()
    overdue = [
        {
            "report_id": r[0],
            "office": r[1],
            "category": r[2],
            "status": r[3],
            "reported_at": r[4].isoformat(),
            "sla_due": r[5].isoformat(),
            "kode_kec": r[6],
            "working_days_late": working_days_between(
                r[5], local_as_of, config.holiday_set, config.working_weekdays
            ),
        }
        for r in late
    ]
    return Evaluation(
        month, as_of.isoformat(), config.timezone, offices, total, overdue, DEFINITIONS
    )


def _office(code: str, config: ReportsConfig, row: dict[str, Any] | None) -> OfficeMonth:
    name = config.offices[code].name if code in config.offices else code
    if code == "all":
        name = "Semua OPD / all offices"
    out = OfficeMonth(code, name)
    if row:
        for key in COUNTS:
            setattr(out, key, int(row[key]))
        if row["median_days"] is not None:
            out.median_days_to_resolve = round(float(row["median_days"]), 2)
    out.within_sla_pct = _pct(out.within_sla, out.received - out.rejected)
    return out
