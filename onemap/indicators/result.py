"""An indicator's result: a table of rows with labelled, unit-bearing, rounded columns.

The same object becomes the CLI table, the CSV, the JSON of ``onemap stats``, the
OGC API Processes response and the site's exports, so every channel shows one set of
numbers. Values are rounded once, here, to the precision of their unit (0.1 m, 1 m²,
0.001 %, Rp 1), which also keeps results identical from run to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from onemap.core.layers import AllowedValue

# Decimal places kept per unit.
DIGITS = {"km": 4, "km²": 6, "m²": 0, "%": 3, "km/km²": 4, "Rp": 0, "Rp miliar": 3}


@dataclass(frozen=True)
class Column:
    """One column: machine name, Indonesian and English labels, unit."""

    name: str
    label: str
    label_en: str
    unit: str | None = None

    def display(self, lang: str = "en") -> str:
        """Label with unit, e.g. ``Rusak berat (km)``."""
        text = self.label_en if lang == "en" else self.label
        return f"{text} ({self.unit})" if self.unit else text

    def clean(self, value: Any) -> Any:
        """The value rounded to this column's precision (None stays None)."""
        if isinstance(value, float) and self.unit in DIGITS:
            digits = DIGITS[self.unit]
            return int(round(value)) if digits == 0 else round(value, digits)
        return value

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "label": self.label,
            "label_en": self.label_en,
            "unit": self.unit,
        }


# Columns that identify a row: the reporting area.
KEY_COLUMNS = (
    Column("kode", "Kode wilayah", "Area code"),
    Column("nama", "Nama wilayah", "Area name"),
)


@dataclass
class Result:
    """One indicator computed for some reporting areas and one version of the data."""

    indicator: str
    title: str
    title_en: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    version: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        self.rows = [
            {name: by_name[name].clean(row.get(name)) for name in by_name} for row in self.rows
        ]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (CLI ``--format json``, Processes, site export)."""
        return {
            "indicator": self.indicator,
            "title": self.title,
            "title_en": self.title_en,
            "version": self.version,
            "parameters": self.parameters,
            "columns": [c.as_dict() for c in self.columns],
            "rows": self.rows,
            "sources": self.sources,
            "notes": self.notes,
        }

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def values(self, name: str, **where: Any) -> dict[str, Any]:
        """``{area code: value}`` of one column, for rows matching ``where``."""
        return {
            r["kode"]: r[name] for r in self.rows if all(r.get(k) == v for k, v in where.items())
        }


def share(part: float | None, whole: float | None) -> float | None:
    """``100 · part / whole`` in percent; None when the whole is zero or unknown."""
    if not whole or part is None:
        return None
    return 100.0 * part / whole


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``; None when the whole is zero or unknown."""
    if not whole or part is None:
        return None
    return part / whole


def english(value: AllowedValue) -> str:
    """A coded value's English label, or its label when the layer file gives none."""
    return value.label_en or value.label


def class_columns(
    values: Iterable[AllowedValue], *specs: tuple[str, str, str, str]
) -> list[Column]:
    """Columns for each coded value, in the values' order, from ``(name, label, label_en,
    unit)`` templates: ``{value}``, ``{label}``, ``{en}`` (English label) and ``{label_lc}``,
    ``{en_lc}`` (lower case) are filled in, e.g. ``("{value}_km", "Saluran {label}", …)``."""
    out = []
    for v in values:
        names = {"value": v.value, "label": v.label, "en": english(v)}
        names |= {"label_lc": v.label.lower(), "en_lc": english(v).lower()}
        out += [
            Column(n.format(**names), lb.format(**names), en.format(**names), unit)
            for n, lb, en, unit in specs
        ]
    return out
