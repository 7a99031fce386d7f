"""Working-day arithmetic for service standards (SLA), with configurable holidays.

A report received on day D (local date) with a standard of N working days is due at the
end of the N-th working day after D: the day of receipt does not count, whatever its
time, and a report received on a weekend or holiday starts counting on the next working
day. "Resolved within SLA" means closed on or before the due date (local time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from onemap.reports.config import ReportsConfig, load_config


def is_working_day(
    day: dt.date, holidays: Collection[dt.date], weekdays: Collection[int] = (1, 2, 3, 4, 5)
) -> bool:
    """Whether offices work on ``day``."""
    return day.isoweekday() in weekdays and day not in holidays


def add_working_days(
    start: dt.date,
    n: int,
    holidays: Collection[dt.date],
    weekdays: Collection[int] = (1, 2, 3, 4, 5),
) -> dt.date:
    """The N-th working day after ``start`` (``start`` itself never counts)."""
    if n < 1:
        raise ValueError("a service standard is at least one working day")
    if not weekdays:
        raise ValueError("no working weekdays")
    day, left = start, n
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays, weekdays):
            left -= 1
    return day


def working_days_between(
    start: dt.date,
    end: dt.date,
    holidays: Collection[dt.date],
    weekdays: Collection[int] = (1, 2, 3, 4, 5),
) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_working_day(day, holidays, weekdays)
    return count


def local_date(moment: dt.datetime, config: ReportsConfig | None = None) -> dt.date:
    """The local (city) date of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry their time zone")
    config = config or load_config()
    return moment.astimezone(config.tz).date()


def due_date(
    reported_at: dt.datetime, working_days: int, config: ReportsConfig | None = None
) -> dt.date:
    """The due date of a report received at ``reported_at`` (aware) under the config."""
    config = config or load_config()
    return add_working_days(
        local_date(reported_at, config),
        working_days,
        config.holiday_set,
        config.working_weekdays,
    )
