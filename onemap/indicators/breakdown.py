"""A measure per reporting area, in total and per coded class, with its relation to the area.

Drainage density (channel length per km²) and the flooded-area share (flooded km² per km²
of area) have this one shape: the columns and rows are built here, the formulas passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onemap.core.layers import AllowedValue
from onemap.indicators.context import Context, Sums
from onemap.indicators.result import KEY_COLUMNS, Column, class_columns

KM = 1e-3  # m → km
KM2 = 1e-6  # m² → km²
AREA = Column("area_km2", "Luas wilayah", "Area", "km²")

Template = tuple[str, str, str, str]  # (name, label, label_en, unit), see class_columns


@dataclass(frozen=True)
class Breakdown:
    """``total``: the amount and relation columns; ``per_class``: their templates per class;
    ``amount`` scales the summed metres (or m²); ``relate(measure, area_m2)`` relates them."""

    total: tuple[Column, Column]
    per_class: tuple[Template, Template]
    amount: Callable[[float], float]
    relate: Callable[[float, float], float | None]

    def columns(self, classes: list[AllowedValue]) -> list[Column]:
        """Key, area, total amount and relation, then both per class."""
        return [*KEY_COLUMNS, AREA, *self.total, *class_columns(classes, *self.per_class)]

    def rows(self, ctx: Context, sums: Sums, classes: list[AllowedValue]) -> list[dict]:
        """One row per reporting area, from ``sums`` keyed by class value."""
        amount_col, relation_col = (c.name for c in self.total)
        rows = []
        for a in ctx.areas:
            s = sums.get(a.code)
            total = sum(s[v.value] for v in classes)
            row = {"kode": a.code, "nama": a.name, "area_km2": a.area_m2 * KM2}
            row |= {amount_col: self.amount(total), relation_col: self.relate(total, a.area_m2)}
            for v in classes:
                amount_name, relation_name = (
                    spec[0].format(value=v.value) for spec in self.per_class
                )
                row[amount_name] = self.amount(s[v.value])
                row[relation_name] = self.relate(s[v.value], a.area_m2)
            rows.append(row)
        return rows
