"""Drainage density: kilometres of channel per square kilometre, by hierarchy."""

from __future__ import annotations

from onemap.indicators.context import Context
from onemap.indicators.result import KEY_COLUMNS, Column, Result, english, ratio

KM = 1e-3
KM2 = 1e-6


def drainage_density(ctx: Context) -> Result:
    """Channel length per area, in total and per hierarchy level (primer/sekunder/tersier)."""
    d = ctx.cfg.drainage
    levels = d.values_of(d.hierarchy)
    sums = ctx.sums()
    for code, level, length in ctx.fetch("drainage_length"):
        sums.add(code, (), **{level: length})
    cols = [
        *KEY_COLUMNS,
        Column("area_km2", "Luas wilayah", "Area", "km²"),
        Column("channel_km", "Panjang saluran", "Channel length", "km"),
        Column("density", "Kerapatan drainase", "Drainage density", "km/km²"),
    ]
    for v in levels:
        cols.append(Column(f"{v.value}_km", f"Saluran {v.label}", f"{english(v)} channels", "km"))
        cols.append(
            Column(
                f"{v.value}_density",
                f"Kerapatan saluran {v.label}",
                f"{english(v)} density",
                "km/km²",
            )
        )
    rows = []
    for a in ctx.areas:
        s = sums.get(a.code)
        total = sum(s[v.value] for v in levels)
        row = {
            "kode": a.code,
            "nama": a.name,
            "area_km2": a.area_m2 * KM2,
            "channel_km": total * KM,
            "density": ratio(total * KM, a.area_m2 * KM2),
        }
        for v in levels:
            row[f"{v.value}_km"] = s[v.value] * KM
            row[f"{v.value}_density"] = ratio(s[v.value] * KM, a.area_m2 * KM2)
        rows.append(row)
    return Result(
        "drainage_density",
        "Kerapatan jaringan drainase",
        "Drainage density",
        cols,
        rows,
        sources=["Hierarchy: Permen PU 12/PRT/M/2014 Lampiran IV"],
    )
