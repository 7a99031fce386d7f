"""Service standards: working-day arithmetic with holidays, and the monthly evaluation.

The evaluation runs on fixtures with known dates (February 2025, no holiday in it) in the
reports tests' database, through the function, the CLI and the OGC API process.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import psycopg
import pytest
import requests

from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.reports.config import load_config
from onemap.reports.evaluation import evaluate, month_bounds
from onemap.reports.intake import store
from onemap.reports.sla import add_working_days, due_date, working_days_between
from onemap.reports.submission import Submission
from tests.reports_live import database_env, live_server

WIB = dt.timezone(dt.timedelta(hours=7))
D = dt.date


def test_working_days_skip_weekends_and_holidays() -> None:
    none: set[dt.date] = set()
    assert add_working_days(D(2026, 11, 23), 5, none) == D(2026, 11, 30)  # Mon -> next Mon
    assert add_working_days(D(2026, 11, 27), 1, none) == D(2026, 11, 30)  # Fri -> Mon
    assert add_working_days(D(2026, 11, 28), 1, none) == D(2026, 11, 30)  # Sat -> Mon
    assert add_working_days(D(2026, 11, 23), 5, {D(2026, 11, 25)}) == D(2026, 12, 1)
    saturday_works = (1, 2, 3, 4, 5, 6)
    assert add_working_days(D(2026, 11, 27), 1, none, saturday_works) == D(2026, 11, 28)
    assert working_days_between(D(2026, 11, 20), D(2026, 11, 30), none) == 6
    assert working_days_between(D(2026, 11, 30), D(2026, 11, 20), none) == 0
    with pytest.raises(ValueError):
        add_working_days(D(2026, 11, 23), 0, none)


def test_due_dates_with_the_configured_holidays() -> None:
    # Idul Fitri 2026: Nyepi 19 Mar, cuti bersama 18, 20, 23, 24 Mar, Lebaran 21-22 Mar.
    friday = dt.datetime(2026, 3, 13, 10, 0, tzinfo=WIB)
    assert due_date(friday, 5) == D(2026, 3, 27)  # 16, 17, 25, 26, 27
    # 20:00 UTC on Friday is 03:00 WIB on Saturday: the local date counts
    assert due_date(dt.datetime(2026, 3, 13, 20, 0, tzinfo=dt.UTC), 5) == D(2026, 3, 27)
    assert due_date(dt.datetime(2026, 3, 13, 16, 59, tzinfo=dt.UTC), 1) == D(2026, 3, 16)
    # received on a holiday: counting starts with the next working day
    assert due_date(dt.datetime(2026, 8, 17, 9, 0, tzinfo=WIB), 5) == D(2026, 8, 24)
    # Christmas 2025: 25 Dec holiday, 26 Dec cuti bersama
    assert due_date(dt.datetime(2025, 12, 22, 9, 0, tzinfo=WIB), 5) == D(2025, 12, 31)
    with pytest.raises(ValueError):
        due_date(dt.datetime(2026, 3, 13, 10, 0), 5)  # noqa: DTZ001 - naive on purpose


def test_month_bounds_are_local_midnights() -> None:
    start, end = month_bounds("2025-12", load_config())
    assert start.isoformat() == "2025-12-01T00:00:00+07:00"
    assert end.isoformat() == "2026-01-01T00:00:00+07:00"
    for bad in ("2025-13", "2025-1", "", "2025-02-01"):
        with pytest.raises(Exception, match="YYYY-MM"):
            month_bounds(bad, load_config())


def _at(day: int, hour: int, minute: int = 0, month: int = 2) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=WIB)


# (id, category -> office, reported, status, closed)
FIXTURES = [
    ("FX-A", "jalan_rusak", _at(3, 9), "selesai", _at(7, 9)),  # 4.0 days, due 10 Feb: on time
    ("FX-B", "jalan_rusak", _at(4, 10), "selesai", _at(14, 10)),  # 10 days, due 11 Feb: late
    ("FX-C", "jembatan", _at(5, 8), "ditolak", _at(5, 12)),  # rejected
    ("FX-D", "drainase_tersumbat", _at(20, 8), "dikerjakan", None),  # due 27 Feb: overdue
    ("FX-E", "sampah", _at(10, 7), "selesai", _at(17, 16)),  # 7.375 days, due 17 Feb: on time
    ("FX-F", "sampah", _at(28, 23, 30), "selesai", _at(12, 9, month=3)),  # closes after as_of
    ("FX-G", "jalan_rusak", _at(31, 23, 30, month=1), "baru", None),  # January (local)
    ("FX-H", "jalan_rusak", _at(1, 0, 30, month=3), "baru", None),  # March (local), Feb in UTC
]
AS_OF = dt.datetime(2025, 3, 10, 12, 0, tzinfo=WIB)


@pytest.fixture(scope="module")
def fixtures():
    base, settings = live_server()
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        conn.execute("DELETE FROM onemap.reports WHERE report_id LIKE 'FX-%'")
        for rid, category, reported, status, closed in FIXTURES:
            sub = Submission(
                category=category,
                description=f"fixture {rid} laporan uji",
                description_original=f"fixture {rid} laporan uji",
                channel="import",
                lon=110.4200,
                lat=-6.9900,
                report_id=rid,
                reported_at=reported,
                status=status,
                closed_at=closed,
                source="fixture",
            )
            store(conn, sub, actor="fixture")
    return base, settings


def test_evaluation_on_known_dates(fixtures) -> None:
    _, settings = fixtures
    with database_env(settings):
        result = evaluate("2025-02", as_of=AS_OF)
        later = evaluate("2025-02", as_of=dt.datetime(2025, 4, 1, tzinfo=WIB))
        jan = evaluate("2025-01", as_of=AS_OF)
    got = {o.office: o for o in result.offices}
    dpu, dlh = got["dpu"], got["dlh"]
    assert (dpu.received, dpu.rejected, dpu.resolved, dpu.within_sla) == (4, 1, 2, 1)
    assert (dpu.open, dpu.overdue) == (1, 1)
    assert dpu.within_sla_pct == 33.3  # 1 of 4 - 1
    assert dpu.median_days_to_resolve == 7.0  # median of 4 and 10 days
    assert (dlh.received, dlh.rejected, dlh.resolved, dlh.within_sla) == (2, 0, 1, 1)
    assert (dlh.open, dlh.overdue, dlh.within_sla_pct) == (1, 1, 50.0)
    assert dlh.median_days_to_resolve == 7.38  # 7 days 9 hours
    assert all(o.received == 0 for o in result.offices if o.office not in ("dpu", "dlh"))
    t = result.total
    assert (t.received, t.rejected, t.resolved, t.within_sla, t.open, t.overdue) == (
        6,
        1,
        3,
        2,
        2,
        2,
    )
    assert t.within_sla_pct == 40.0 and t.median_days_to_resolve == 7.38  # of 4, 7.375, 10
    assert [(o["report_id"], o["sla_due"], o["working_days_late"]) for o in result.overdue] == [
        ("FX-D", "2025-02-27", 7),  # 28 Feb, 3-7 Mar, 10 Mar
        ("FX-F", "2025-03-07", 1),
    ]
    dlh_later = {o.office: o for o in later.offices}["dlh"]
    assert (dlh_later.resolved, dlh_later.within_sla, dlh_later.overdue) == (2, 1, 0)
    assert jan.total.received == 1 and jan.overdue[0]["report_id"] == "FX-G"


def test_evaluation_cli_and_process_agree(fixtures) -> None:
    base, settings = fixtures
    with database_env(settings):
        env = child_env()
        expected = evaluate("2025-02", as_of=AS_OF).as_dict()
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "reports", "sla", "--month", "2025-02",
         "--as-of", AS_OF.isoformat(), "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(res.stdout) == expected
    table = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "reports", "sla", "--month", "2025-02",
         "--as-of", AS_OF.isoformat()],
        env=env | {"COLUMNS": "160"}, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "FX-D" in table.stdout and "33.3" in table.stdout
    r = requests.post(
        f"{base}/processes/reports-evaluation/execution",
        json={"inputs": {"month": "2025-02", "as_of": AS_OF.isoformat()}},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json() == expected
    bad = requests.post(
        f"{base}/processes/reports-evaluation/execution",
        json={"inputs": {"month": "Feb 2025"}},
        timeout=60,
    )
    assert 400 <= bad.status_code < 500
