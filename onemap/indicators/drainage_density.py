"""Drainage density: kilometres of channel per square kilometre, by hierarchy."""

from __future__ import annotations

from onemap.indicators.breakdown import KM, KM2, Breakdown
from onemap.indicators.context import Context
from onemap.indicators.result import Column, Result, ratio

DENSITY = Breakdown(
    total=(
        Column("channel_km", "Panjang saluran", "Channel length", "km"),
        Column("density", "Kerapatan drainase", "Drainage density", "km/km²"),
    ),
    per_class=(
        ("{value}_km", "Saluran {label}", "{en} channels", "km"),
        ("{value}_density", "Kerapatan saluran {label}", "{en} density", "km/km²"),
    ),
    amount=lambda metres: metres * KM,
    relate=lambda metres, area_m2: ratio(metres * KM, area_m2 * KM2),
)


def drainage_density(ctx: Context) -> Result:
    """Channel length per area, in total and per hierarchy level (primer/sekunder/tersier)."""
    d = ctx.cfg.drainage
    levels = d.values_of(d.hierarchy)
    sums = ctx.sums()
    for code, level, length in ctx.fetch("drainage_length"):
        sums.add(code, (), **{level: length})
    rows = DENSITY.rows(ctx, sums, levels)
    return Result(
        "drainage_density",
        "Kerapatan jaringan drainase",
        "Drainage density",
        DENSITY.columns(levels),
        rows,
        sources=["Hierarchy: Permen PU 12/PRT/M/2014 Lampiran IV"],
    )
