"""A bounded loopback load of the intake: 50 reports/s, no error, each stored exactly once.

The suite runs 20 s (1,000 reports) to stay short; bench/reports_intake.py runs the full
minute and records the results (bench/results/reports_intake.json). Set
ONEMAP_REPORTS_LOAD_SECONDS to change the duration here.
"""

from __future__ import annotations

import pytest

from tests.reports_live import drive, live_server, stored_once
from tests.settings import SUITE

RATE = 50.0
SECONDS = SUITE.reports_load_seconds


@pytest.fixture(scope="module")
def live():
    return live_server()


def test_intake_holds_50_reports_per_second(live) -> None:
    base, settings = live
    run = drive(base, RATE, SECONDS)
    total = int(RATE * SECONDS)
    assert run.errors == [], run.errors[:5]
    assert dict(run.statuses) == {201: total}
    assert stored_once(settings, run) == (total, total)  # every report stored, none twice
    assert run.sent / run.elapsed_s >= 0.95 * RATE  # the schedule was kept
    assert run.percentile(0.95) < 2500, f"p95 {run.percentile(0.95):.0f} ms"  # 2 shared cores
