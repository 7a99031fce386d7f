"""The HTML templating shared by the index page, legends and title panels.

One autoescaping Jinja environment: every text from a layer file or a data frame is
escaped. folium's own templates do not escape, so HTML made here is passed to folium
elements already rendered.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import jinja2

from onemap.core.city import get_city


def format_number(value: float | int | None) -> str:
    """A number the Indonesian way: ``13.000``, ``5,34``; ``–`` when missing."""
    if value is None:
        return "–"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_when(value: dt.datetime | dt.date | str | None) -> str:
    """A date, or a local time for people: ``2026-11-23 17:05 WIB`` (config/city.yaml)."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes shown on the maps must be timezone-aware")
        city = get_city()
        return f"{value.astimezone(city.tz):%Y-%m-%d %H:%M} {city.timezone_label}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def format_rgba(color: str, alpha: float) -> str:
    """``#rrggbb`` with an opacity, as CSS ``rgba()`` (legend swatches of filled polygons)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {max(0.0, min(1.0, alpha)):.2f})"


@cache
def environment() -> jinja2.Environment:
    """The autoescaping environment, with the ``number``, ``when`` and ``rgba`` filters."""
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["number"] = format_number
    env.filters["when"] = format_when
    env.filters["rgba"] = format_rgba
    return env


@cache
def _template(source: str) -> jinja2.Template:
    return environment().from_string(source)


def render(source: str, **context: object) -> str:
    """Render the template text ``source`` with ``context``, escaping every value."""
    return _template(source).render(**context)
