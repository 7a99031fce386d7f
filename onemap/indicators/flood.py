"""Flood indicators: flooded-area share, exposure of roads and zoning, unserved flood area.

Flood zones are first dissolved per hazard class, each square metre kept in the most
severe class covering it (``sql/flood_classes.sql``), so overlapping zones never count
twice. Classes, their order and labels come from ``config/indicators.yaml`` and the
flood layer file.
"""

from __future__ import annotations

from onemap.core.layers import AllowedValue
from onemap.indicators.breakdown import KM, KM2, Breakdown
from onemap.indicators.context import Context
from onemap.indicators.result import KEY_COLUMNS, Column, Result, class_columns, share

MIN_AREA_M2 = 1.0  # zoning rows smaller than this are boundary slivers, not reported

SOURCE_BNPB = (
    "Hazard classes: Perka BNPB 2/2012 Pedoman Umum Pengkajian Risiko Bencana (inundation "
    "depth; rendah/sedang/tinggi; the depth bands are the commonly quoted ones, unverified in "
    "the regulation's text)"
)
SOURCE_GENANGAN = (
    "'% luas genangan' = inundated area / area, as the city's progress figures are quoted in "
    "the press (no primary source found); the area is the polygons' area in the metric CRS, "
    "not BPS's 373.70 km²"
)


FLOODED = Breakdown(
    total=(
        Column("flooded_km2", "Luas tergenang", "Flooded area", "km²"),
        Column("flooded_pct", "Persentase luas tergenang", "Flooded share", "%"),
    ),
    per_class=(
        ("{value}_km2", "Bahaya {label}", "{en} hazard", "km²"),
        ("{value}_pct", "Bahaya {label}", "{en} hazard share", "%"),
    ),
    amount=lambda m2: m2 * KM2,
    relate=share,
)


def hazard_values(ctx: Context, classes: tuple[str, ...]) -> list[AllowedValue]:
    """The flood layer's declared values for ``classes``, in the order given."""
    f = ctx.cfg.flood
    declared = {v.value: v for v in f.values_of(f.hazard)}
    return [declared[c] for c in classes]


def flood_area(ctx: Context) -> Result:
    """Share of each area inside flood zones, by hazard class and in total."""
    classes = hazard_values(ctx, ctx.cfg.flood.severity)
    sums = ctx.sums()
    for code, cls, area in ctx.fetch("flood_area"):
        sums.add(code, (), **{cls: area})
    rows = FLOODED.rows(ctx, sums, classes)
    return Result(
        "flood_area",
        "Persentase luas genangan / kawasan rawan banjir",
        "Flooded-area share",
        FLOODED.columns(classes),
        rows,
        sources=[SOURCE_GENANGAN, SOURCE_BNPB],
    )


def _exposed(
    s: dict[str, float], classes: list[AllowedValue], unit: str, scale: float, base: float
) -> dict[str, float | None]:
    """Per exposure class and in total (``<class>_<unit>``, ``exposed_<unit>``, scaled from
    metres or m²), and the exposed share of ``base``."""
    exposed = sum(s[v.value] for v in classes)
    row = {f"{v.value}_{unit}": s[v.value] * scale for v in classes}
    return row | {f"exposed_{unit}": exposed * scale, "exposed_pct": share(exposed, base)}


def flood_exposure_roads(ctx: Context) -> Result:
    """Road length inside high/medium hazard zones, and its share of all road length."""
    classes = hazard_values(ctx, ctx.cfg.flood.exposure)
    sums = ctx.sums()
    for code, _status, _function, _condition, length, _area, _nw in ctx.fetch("road_pieces"):
        sums.add(code, (), road=length)
    for code, cls, length in ctx.fetch("flood_exposure_roads"):
        sums.add(code, (), **{cls: length})
    cols = [*KEY_COLUMNS, Column("road_km", "Panjang jalan", "Road length", "km")]
    cols += class_columns(
        classes, ("{value}_km", "Jalan di zona bahaya {label_lc}", "Roads in {en_lc} hazard", "km")
    )
    cols += [
        Column("exposed_km", "Jalan terdampak banjir", "Exposed road length", "km"),
        Column("exposed_pct", "Persentase jalan terdampak", "Exposed share", "%"),
    ]
    rows = []
    for a in ctx.areas:
        s = sums.get(a.code)
        row = {"kode": a.code, "nama": a.name, "road_km": s["road"] * KM}
        rows.append(row | _exposed(s, classes, "km", KM, s["road"]))
    return Result(
        "flood_exposure_roads",
        "Jalan di kawasan rawan banjir",
        "Road length exposed to flooding",
        cols,
        rows,
        parameters={"exposure_classes": [v.value for v in classes]},
        sources=[SOURCE_BNPB],
    )


def flood_exposure_zoning(ctx: Context) -> Result:
    """Area of each zoning class inside high/medium hazard zones, per area and class."""
    classes = hazard_values(ctx, ctx.cfg.flood.exposure)
    z = ctx.cfg.zoning
    zone_values = z.values_of(z.zone)
    sums = ctx.sums()
    for code, zone, cls, area in ctx.fetch("flood_exposure_zoning"):
        sums.add(code, (zone,), **{cls or "total": area})
        sums.add(code, (None,), **{cls or "total": area})
    field = z.field_of(z.zone)
    cols = [
        *KEY_COLUMNS,
        Column(z.zone, field.label, field.label_en or field.label),
        Column("zone_km2", "Luas zona", "Zone area", "km²"),
    ]
    cols += class_columns(
        classes, ("{value}_km2", "Di zona bahaya {label_lc}", "In {en_lc} hazard", "km²")
    )
    cols += [
        Column("exposed_km2", "Luas terdampak banjir", "Exposed area", "km²"),
        Column("exposed_pct", "Persentase terdampak", "Exposed share", "%"),
    ]
    order = [None, *(v.value for v in zone_values)]
    rows = []
    for a in ctx.areas:
        present = {k[0] for k in sums.keys(a.code)}
        for zone in (zv for zv in order if zv in present):
            s = sums.get(a.code, (zone,))
            if zone is not None and s["total"] < MIN_AREA_M2:
                continue  # a zone that only touches the area's boundary
            row = {"kode": a.code, "nama": a.name, z.zone: zone, "zone_km2": s["total"] * KM2}
            rows.append(row | _exposed(s, classes, "km2", KM2, s["total"]))
    return Result(
        "flood_exposure_zoning",
        "Zona ruang di kawasan rawan banjir",
        "Zoning area exposed to flooding",
        cols,
        rows,
        parameters={"exposure_classes": [v.value for v in classes]},
        sources=[SOURCE_BNPB, "Zone codes: Permen ATR/BPN 16/2018"],
        notes=[f"Rows with an empty {z.zone} are all zones together."],
    )


def flood_unserved(ctx: Context) -> Result:
    """Flooded area farther than the service distance from every primer/sekunder channel."""
    classes = hazard_values(ctx, ctx.cfg.flood.severity)
    d = ctx.cfg.drainage
    sums = ctx.sums()
    for code, cls, flooded, unserved in ctx.fetch("flood_unserved"):
        sums.add(code, (), **{f"{cls}_flooded": flooded, f"{cls}_unserved": unserved})
    cols = [
        *KEY_COLUMNS,
        Column("flooded_km2", "Luas tergenang", "Flooded area", "km²"),
        Column("unserved_km2", "Tidak terlayani drainase", "Not served by drainage", "km²"),
        Column("unserved_pct", "Persentase tidak terlayani", "Unserved share", "%"),
    ]
    cols += class_columns(
        classes,
        ("{value}_unserved_km2", "Bahaya {label} tidak terlayani", "{en} hazard not served", "km²"),
    )
    rows = []
    for a in ctx.areas:
        s = sums.get(a.code)
        flooded = sum(s[f"{v.value}_flooded"] for v in classes)
        unserved = sum(s[f"{v.value}_unserved"] for v in classes)
        row = {
            "kode": a.code,
            "nama": a.name,
            "flooded_km2": flooded * KM2,
            "unserved_km2": unserved * KM2,
            "unserved_pct": share(unserved, flooded),
        }
        row |= {f"{v.value}_unserved_km2": s[f"{v.value}_unserved"] * KM2 for v in classes}
        rows.append(row)
    return Result(
        "flood_unserved",
        "Kawasan rawan banjir yang tidak terlayani saluran primer/sekunder",
        "Flood area not served by primary/secondary drainage",
        cols,
        rows,
        parameters={
            "serving": list(d.serving),
            "service_distance_m": d.service_distance_m,
        },
        sources=[
            "Drainage hierarchy: Permen PU 12/PRT/M/2014 Lampiran IV",
            SOURCE_BNPB,
        ],
        notes=["The service distance is a planning assumption (config/indicators.yaml)."],
    )
