"""A bounded loopback load of the intake: 50 reports/s offered, no error, each stored once.

The suite runs 20 s (1,000 reports) to stay short and asserts behaviour only: whether the
schedule was kept and how fast the answers came depend on the machine, so throughput and
latency are measured by bench/reports_intake.py (the full minute, bench/REPORTS.md and
bench/results/reports_intake.json), not asserted here. Set ONEMAP_REPORTS_LOAD_SECONDS to
change the duration here.
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


def test_intake_under_50_reports_per_second_loses_nothing(live) -> None:
    base, settings = live
    run = drive(base, RATE, SECONDS)
    total = int(RATE * SECONDS)
    assert run.errors == [], run.errors[:5]
    assert dict(run.statuses) == {201: total}
    assert run.sent == total
    assert stored_once(settings, run) == (total, total)  # every report stored, none twice
