"""The headline table: one row per area, one column per indicator's main figure.

Built from the full results (never recomputed), so every figure here equals the one in
its own indicator's table. ``HEADLINES`` is also what the maps draw as choropleths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onemap.indicators.context import Context
from onemap.indicators.result import KEY_COLUMNS, Column, Result


@dataclass(frozen=True)
class Headline:
    """One headline figure: which indicator, which column (of its by=all rows), how shown."""

    indicator: str
    column: str
    name: str
    label: str
    label_en: str
    unit: str
    scale: float = 1.0


HEADLINES = (
    Headline("flood_area", "area_km2", "area_km2", "Luas wilayah", "Area", "km²"),
    Headline("flood_area", "flooded_pct", "flooded_pct", "Luas tergenang", "Flooded share", "%"),
    Headline("road_condition", "length_km", "road_km", "Panjang jalan", "Road length", "km"),
    Headline(
        "road_condition",
        "heavy_damage_pct",
        "heavy_damage_pct",
        "Jalan rusak berat",
        "Heavy-damage roads",
        "%",
    ),
    Headline("road_condition", "mantap_pct", "mantap_pct", "Kemantapan jalan", "Mantap roads", "%"),
    Headline(
        "drainage_density",
        "density",
        "drainage_density",
        "Kerapatan drainase",
        "Drainage density",
        "km/km²",
    ),
    Headline(
        "flood_exposure_roads",
        "exposed_pct",
        "roads_exposed_pct",
        "Jalan di zona bahaya tinggi/sedang",
        "Roads in high/medium hazard",
        "%",
    ),
    Headline(
        "flood_unserved",
        "unserved_pct",
        "flood_unserved_pct",
        "Genangan tak terlayani drainase",
        "Flood area not served",
        "%",
    ),
    Headline(
        "road_budget",
        "total_rp",
        "budget_rp_miliar",
        "Biaya perbaikan jalan",
        "Road-repair cost",
        "Rp miliar",
        1e-9,
    ),
)


def summary(ctx: Context, compute_one: Callable[[Context, str], Result]) -> Result:
    """The headline table, from the indicators ``compute_one`` returns for this context."""
    results = {h.indicator: compute_one(ctx, h.indicator) for h in HEADLINES}
    cols = [*KEY_COLUMNS] + [Column(h.name, h.label, h.label_en, h.unit) for h in HEADLINES]
    rows = []
    for a in ctx.areas:
        row = {"kode": a.code, "nama": a.name}
        for h in HEADLINES:
            value = headline_values(results[h.indicator], h).get(a.code)
            row[h.name] = value
        rows.append(row)
    notes = [n for r in results.values() for n in r.notes if "PLACEHOLDER" in n]
    return Result(
        "summary",
        "Ringkasan indikator",
        "Indicator summary",
        cols,
        rows,
        parameters={h.name: f"{h.indicator}.{h.column}" for h in HEADLINES},
        sources=sorted({s for r in results.values() for s in r.sources}),
        notes=notes,
    )


def headline_values(result: Result, h: Headline) -> dict[str, float | None]:
    """``{area code: value}`` of a headline, from the rows covering every road/zone."""
    where = {"by": "all"} if any(c.name == "by" for c in result.columns) else {}
    return {
        code: (None if v is None else v * h.scale)
        for code, v in result.values(h.column, **where).items()
    }
