"""Road indicators: length per condition class, heavy damage, kemantapan, repair budget.

Both read ``sql/road_pieces.sql`` (segments cut at area boundaries, lengths and
carriageway areas in the metric CRS) once per computation. Which classes are "mantap"
and "heavy damage" comes from ``config/indicators.yaml``; treatments and unit costs from
``config/road_treatments.yaml``.
"""

from __future__ import annotations

from onemap.core.city import get_city
from onemap.indicators.context import Context, Sums
from onemap.indicators.result import KEY_COLUMNS, Column, Result, share

KM = 1e-3
BREAKDOWN_COLUMNS = (
    Column("by", "Rincian", "Breakdown"),
    Column("group", "Kelompok", "Group"),
)
SOURCE_CLASSES = (
    "Condition classes: Bina Marga IRI/SDI bands, Permen PU 13/PRT/M/2011 (DOMAIN.md §2)"
)
SOURCE_MANTAP = "Kemantapan: mantap = baik + sedang (Bina Marga 2003, DOMAIN.md §2)"
SOURCE_STATUS = "Status and function: PP 34/2006 (DOMAIN.md §2)"


def _breakdowns(ctx: Context) -> list[tuple[str, str]]:
    """(breakdown name, field) pairs: status and function of the road layer."""
    r = ctx.cfg.roads
    return [("status", r.status), ("function", r.function)]


def _road_sums(ctx: Context, dims: list[str]) -> Sums:
    """Length, area and no-width length per condition class, for all roads and per group."""
    sums = ctx.sums()
    for code, status, function, condition, length, area, no_width in ctx.fetch("road_pieces"):
        values = {"status": status, "function": function}
        measures = {condition: length, f"{condition}_m2": area, "no_width": no_width}
        sums.add(code, ("all", None), **measures)
        for dim in dims:
            sums.add(code, (dim, values[dim]), **measures)
    return sums


def _groups(ctx: Context, sums: Sums, code: str, dims: list[str]) -> list[tuple[str, str | None]]:
    """The breakdown keys of an area, in the layer files' value order."""
    present = set(sums.keys(code))
    r = ctx.cfg.roads
    keys: list[tuple[str, str | None]] = [("all", None)]
    for dim, fname in _breakdowns(ctx):
        if dim in dims:
            keys += [(dim, v.value) for v in r.values_of(fname) if (dim, v.value) in present]
    return keys


def road_condition(ctx: Context) -> Result:
    """Road length per condition class, heavy-damage share and kemantapan, with breakdowns."""
    r = ctx.cfg.roads
    classes = r.values_of(r.condition)
    dims = [d for d, _ in _breakdowns(ctx)]
    sums = _road_sums(ctx, dims)
    cols = [*KEY_COLUMNS, *BREAKDOWN_COLUMNS, Column("length_km", "Panjang jalan", "Length", "km")]
    cols += [Column(f"{v.value}_km", v.label, v.label_en or v.label, "km") for v in classes]
    cols += [
        Column("heavy_damage_pct", "Persentase rusak berat", "Heavy-damage share", "%"),
        Column("mantap_pct", "Kemantapan jalan", "Road steadiness (mantap share)", "%"),
    ]
    rows = []
    for a in ctx.areas:
        for key in _groups(ctx, sums, a.code, dims):
            s = sums.get(a.code, key)
            total = sum(s[v.value] for v in classes)
            row = {"kode": a.code, "nama": a.name, "by": key[0], "group": key[1]}
            row["length_km"] = total * KM
            row |= {f"{v.value}_km": s[v.value] * KM for v in classes}
            row["heavy_damage_pct"] = share(sum(s[c] for c in r.heavy_damage), total)
            row["mantap_pct"] = share(sum(s[c] for c in r.mantap), total)
            rows.append(row)
    return Result(
        "road_condition",
        "Kondisi dan kemantapan jalan",
        "Road condition and kemantapan",
        cols,
        rows,
        parameters={"heavy_damage": list(r.heavy_damage), "mantap": list(r.mantap)},
        sources=[SOURCE_CLASSES, SOURCE_MANTAP, SOURCE_STATUS],
        notes=[
            "Rows with by = all cover every road; others break them down by status or function."
        ],
    )


def road_budget(ctx: Context) -> Result:
    """Repair budget: carriageway area x unit cost of the treatment each class calls for."""
    r = ctx.cfg.roads
    t = ctx.treatments
    classes = r.field_of(r.condition).allowed
    used = t.used()
    sums = _road_sums(ctx, ["status"])
    cols = [
        *KEY_COLUMNS,
        *BREAKDOWN_COLUMNS,
        Column("length_km", "Panjang jalan", "Length", "km"),
        Column("area_m2", "Luas perkerasan", "Carriageway area", "m²"),
        Column("no_width_km", "Panjang tanpa data lebar", "Length without width", "km"),
    ]
    cols += [
        Column(f"{name}_rp", t.treatments[name].label, t.treatments[name].label_en, "Rp")
        for name in used
    ]
    cols.append(Column("total_rp", "Total biaya perbaikan", "Total repair cost", "Rp"))
    rows = []
    for a in ctx.areas:
        for key in _groups(ctx, sums, a.code, ["status"]):
            s = sums.get(a.code, key)
            cost = dict.fromkeys(used, 0.0)
            for c in classes:
                cost[t.condition_treatment[c]] += s[f"{c}_m2"] * t.unit_cost_of(c)
            row = {"kode": a.code, "nama": a.name, "by": key[0], "group": key[1]}
            row["length_km"] = sum(s[c] for c in classes) * KM
            row["area_m2"] = sum(s[f"{c}_m2"] for c in classes)
            row["no_width_km"] = s["no_width"] * KM
            row |= {f"{name}_rp": cost[name] for name in used}
            row["total_rp"] = sum(cost.values())
            rows.append(row)
    placeholders = [n for n in used if t.treatments[n].source.strip().lower() == "placeholder"]
    notes = ["Segments without a width have no area and no cost (no_width_km)."]
    if placeholders:
        notes.insert(
            0,
            f"No authoritative unit cost exists for {get_city().name} (DOMAIN.md §2): the unit "
            f"costs of {', '.join(placeholders)} are PLACEHOLDERS in config/road_treatments.yaml,"
            " so these totals only show the arithmetic, not a budget.",
        )
    return Result(
        "road_budget",
        "Perkiraan biaya perbaikan jalan",
        "Road-repair budget estimate",
        cols,
        rows,
        parameters={
            "unit": t.unit,
            "condition_treatment": dict(t.condition_treatment),
            "unit_costs": {
                n: {"unit_cost": t.treatments[n].unit_cost, "source": t.treatments[n].source}
                for n in used
            },
        },
        sources=[
            "Treatments: Permen PU 13/PRT/M/2011 practice (DOMAIN.md §2)",
            "Unit costs should come from AHSP (Permen PUPR 8/2023) priced with the city's "
            "HSPK (DOMAIN.md §2)",
        ],
        notes=notes,
    )
