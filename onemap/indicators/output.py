"""Indicator results as text: CSV and terminal tables (JSON is ``Result.as_dict``)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.table import Table

from onemap.core.errors import UserError
from onemap.core.terminal import Column, fitted_tables
from onemap.indicators.compute import document
from onemap.indicators.result import Result

FORMATS = ("table", "csv", "json")
# Decimal places shown in terminal tables (CSV and JSON keep the full rounding).
TABLE_DIGITS = {"km": 2, "km²": 2, "m²": 0, "%": 1, "km/km²": 2, "Rp": 0, "Rp miliar": 2}


def to_csv(result: Result) -> str:
    """One result as CSV: a header of column names, one line per row, empty for none."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.name for c in result.columns])
    for row in result.rows:
        writer.writerow(["" if row[c.name] is None else row[c.name] for c in result.columns])
    return buf.getvalue()


def _cell(value: Any, unit: str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float) and unit in TABLE_DIGITS:
        return f"{value:,.{TABLE_DIGITS[unit]}f}"
    return str(value)


def to_tables(result: Result, lang: str = "en", width: int = 80) -> list[Table]:
    """One result as rich tables with labelled columns and units, ``width`` wide at most:
    names wrap, codes and numbers are never cut; too many columns make several tables,
    each led by the first column (the kecamatan)."""
    title = result.title_en if lang == "en" else result.title
    columns = [
        Column(
            c.display(lang),
            justify="right" if c.unit is not None else "left",
            wrap=c.unit is None and c.name.startswith(("nama", "name")),
        )
        for c in result.columns
    ]
    rows = [[_cell(row[c.name], c.unit) for c in result.columns] for row in result.rows]
    caption = " ".join(result.notes) if result.notes else None
    return fitted_tables(
        f"{title} [{result.indicator}]", columns, rows, width, keys=_keys(result), caption=caption
    )


def _keys(result: Result) -> int:
    """How many leading columns name the row (code and name of a kecamatan: both)."""
    names = [c.name for c in result.columns[:2]] + ["", ""]
    return 2 if names[0].startswith("kode") and names[1].startswith("nama") else 1


def check_format(fmt: str, count: int) -> None:
    """Refuse, before computing, a format that cannot show ``count`` results."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if fmt == "csv" and count != 1:
        raise UserError("--format csv writes one indicator; name one, or use --format json")


def render(results: list[Result], fmt: str, lang: str = "en", width: int = 80) -> list[str | Table]:
    """What ``onemap stats`` prints, one item per block (text for csv/json, rich tables
    that fit ``width``)."""
    check_format(fmt, len(results))
    if fmt == "json":
        return [json.dumps(document(results), ensure_ascii=False, indent=1)]
    if fmt == "csv":
        return [to_csv(results[0]).rstrip("\n")]
    return [table for r in results for table in to_tables(r, lang, width)]
