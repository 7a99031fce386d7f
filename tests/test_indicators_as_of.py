"""``--as-of`` parsing (onemap.indicators.versions.parse_as_of): run ids, dates, times.

No database: which run a date names is history's job (tests/test_etl_history.py); here,
what the text means. A bare date is the whole of that day in the city's time zone
(config/city.yaml), so "as of 31 January" includes a load at 23:59 local time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.indicators.versions import parse_as_of

TZ = get_city().tz


@pytest.mark.parametrize(("text", "run"), [("12", 12), (" 7 ", 7), ("0", 0), ("0012", 12)])
def test_digits_are_a_run_id(text, run) -> None:
    got = parse_as_of(text)
    assert type(got) is int and got == run


def test_a_bare_date_is_the_last_microsecond_of_that_local_day() -> None:
    got = parse_as_of("2024-01-31")
    assert got == dt.datetime(2024, 1, 31, 23, 59, 59, 999_999, tzinfo=TZ)
    assert got.utcoffset() == TZ.utcoffset(got.replace(tzinfo=None))
    assert parse_as_of("2024-01-31T23:59") < got < parse_as_of("2024-02-01T00:00")
    # month and year ends roll over
    assert parse_as_of("2024-02-29") == dt.datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=TZ)
    assert parse_as_of("2025-12-31").date() == dt.date(2025, 12, 31)


def test_a_time_without_offset_is_local_and_an_offset_is_kept() -> None:
    assert parse_as_of("2024-01-31T12:00") == dt.datetime(2024, 1, 31, 12, 0, tzinfo=TZ)
    assert parse_as_of("2024-01-31 12:00:30") == dt.datetime(2024, 1, 31, 12, 0, 30, tzinfo=TZ)
    utc = parse_as_of("2024-01-31T12:00+00:00")
    assert utc == dt.datetime(2024, 1, 31, 12, 0, tzinfo=dt.UTC)
    assert utc.utcoffset() == dt.timedelta(0)
    assert parse_as_of("2024-01-31T12:00Z") == utc
    local = parse_as_of("2024-01-31T12:00")
    assert local.utcoffset() == TZ.utcoffset(local.replace(tzinfo=None))
    assert utc - local == local.utcoffset()  # the same wall time, the city's offset apart


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-13-01", "2024-02-30", "31/01/2024", "-5", "12a", "", "2024-1-31"]
)
def test_anything_else_is_refused_with_the_forms_it_takes(text) -> None:
    with pytest.raises(UserError, match=r"--as-of '.*': give a load run id .* or a date"):
        parse_as_of(text)
