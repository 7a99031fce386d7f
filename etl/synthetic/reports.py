"""Synthetic citizen reports for the demo (``layers/reports``): ``build_reports``.

A few hundred reports from January to October 2026, each placed where its category
happens: damaged roads, bridges, street lighting, fallen trees and waste along a road
segment (a few metres off the line), blocked drains on a drainage channel, floods inside
a flood zone. More reports come from denser kecamatan (road segments are denser there).
Times: office hours weighted, Monday–Sunday. Handling: each office resolves in a
log-normally distributed number of working days around its own pace, so some offices
are mostly on time and others often late; about 6% are rejected; what would close after
``AS_OF`` is still open, at a stage that grows with its age. Office, service standard
and due date follow config/reports.yaml exactly as the intake computes them
(``onemap.reports.sla``). No personal data: the demo file has none.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import shapely

from etl.common import UTM, WGS84
from onemap.reports.config import load_config
from onemap.reports.sla import add_working_days, due_date, local_date

N_REPORTS = 360
START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
AS_OF = dt.datetime(2026, 10, 31, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
# Share of each category (placeholder: no published breakdown of Lapor Semar reports;
# damaged roads, drains, floods and waste lead, as in the topics named for Surabaya's
# Wargaku and the flood reports quoted for Lapor Semar, docs/standards.md §7.2).
CATEGORY_SHARE = {
    "jalan_rusak": 0.28,
    "drainase_tersumbat": 0.16,
    "banjir_genangan": 0.14,
    "sampah": 0.13,
    "penerangan_jalan": 0.10,
    "pohon_tumbang": 0.07,
    "jembatan": 0.04,
    "lainnya": 0.08,
}
CHANNEL_SHARE = {"whatsapp": 0.45, "web": 0.25, "app": 0.20, "sms": 0.10}
# Median working days to resolve, per office (invented, to make the evaluation vary).
OFFICE_PACE = {"dpu": 4.5, "bpbd": 2.0, "dlh": 3.0, "disperkim": 6.0, "diskominfo": 3.5}
REJECT_SHARE = 0.06
STUCK_SHARE = 0.04  # never handled: the backlog the overdue list shows
STAGES = ("baru", "diverifikasi", "diteruskan", "dikerjakan")
TEMPLATES = {
    "jalan_rusak": (
        "Jalan berlubang cukup dalam di {place}, membahayakan pengendara motor.",
        "Aspal mengelupas dan bergelombang sepanjang kira-kira 50 meter di {place}.",
        "Lubang besar di tengah jalan {place}, sudah ada yang jatuh.",
    ),
    "jembatan": (
        "Pagar jembatan di {place} patah, berbahaya untuk pejalan kaki.",
        "Lantai jembatan di {place} retak dan berlubang.",
    ),
    "banjir_genangan": (
        "Genangan setinggi lutut di {place} setelah hujan deras, belum surut.",
        "Banjir masuk rumah warga di sekitar {place}.",
        "Air rob menggenangi jalan di {place} sejak pagi.",
    ),
    "drainase_tersumbat": (
        "Saluran di {place} tersumbat sampah, air meluap ke jalan.",
        "Gorong-gorong di {place} mampet, perlu dikeruk.",
    ),
    "sampah": (
        "Tumpukan sampah liar di {place} tidak diangkut seminggu.",
        "Sampah menumpuk di pinggir jalan {place}, bau menyengat.",
    ),
    "penerangan_jalan": (
        "Lampu PJU di {place} mati, jalan gelap di malam hari.",
        "Beberapa lampu jalan di {place} padam sejak minggu lalu.",
    ),
    "pohon_tumbang": (
        "Pohon tumbang menutup sebagian jalan di {place}.",
        "Dahan besar patah dan menggantung di atas jalan {place}.",
    ),
    "lainnya": (
        "Trotoar di {place} dipakai parkir, pejalan kaki turun ke jalan.",
        "Rambu lalu lintas di {place} roboh.",
    ),
}


def build_reports(
    roads: gpd.GeoDataFrame,
    channels: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    kel: gpd.GeoDataFrame,
    city: shapely.Geometry,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The demo reports as a GeoDataFrame in EPSG:4326 (columns of the layer file)."""
    config = load_config()
    cats = rng.choice(list(CATEGORY_SHARE), size=N_REPORTS, p=list(CATEGORY_SHARE.values()))
    points = _places(cats, roads.to_crs(UTM), channels.to_crs(UTM), zones.to_crs(UTM), rng)
    points = gpd.GeoSeries(points, crs=UTM).to_crs(WGS84)
    inside = points.within(city).to_numpy()
    places = _place_names(points, roads, kel)
    span = (AS_OF - START).total_seconds() - 86_400
    rows = []
    for i, (cat, pt) in enumerate(zip(cats, points, strict=True)):
        if not inside[i]:
            continue
        reported = START + dt.timedelta(seconds=float(rng.uniform(0, span)))
        reported = reported.replace(hour=int(rng.choice(range(6, 22))), microsecond=0)
        template = TEMPLATES[cat][int(rng.integers(len(TEMPLATES[cat])))]
        rows.append(_handling(cat, reported, template.format(place=places[i]), pt, config, rng))
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    frame = frame.sort_values("reported_at", kind="stable").reset_index(drop=True)
    frame.insert(0, "report_id", [f"DEMO-{i:04d}" for i in range(1, len(frame) + 1)])
    return frame


def _places(cats, roads_utm, channels_utm, zones_utm, rng) -> list[shapely.Point]:
    road_geoms = np.asarray(roads_utm.geometry.array, dtype=object)
    drain_geoms = np.asarray(channels_utm.geometry.array, dtype=object)
    out = []
    for cat in cats:
        if cat == "drainase_tersumbat":
            out.append(_along(drain_geoms[rng.integers(len(drain_geoms))], 3.0, rng))
        elif cat == "banjir_genangan":
            zone = zones_utm.geometry.iloc[int(rng.integers(len(zones_utm)))]
            out.append(_inside(zone, rng))
        else:
            spread = 40.0 if cat in ("sampah", "lainnya") else 8.0
            out.append(_along(road_geoms[rng.integers(len(road_geoms))], spread, rng))
    return out


def _along(line, spread: float, rng) -> shapely.Point:
    p = line.interpolate(float(rng.uniform(0, 1)), normalized=True)
    dx, dy = rng.normal(0, spread / 2, 2)
    return shapely.Point(p.x + dx, p.y + dy)


def _inside(polygon, rng) -> shapely.Point:
    x0, y0, x1, y1 = polygon.bounds
    for _ in range(200):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if polygon.contains(p):
            return p
    return polygon.representative_point()


def _place_names(points: gpd.GeoSeries, roads: gpd.GeoDataFrame, kel: gpd.GeoDataFrame):
    """A street name when a named road is within 60 m, else the kelurahan's name."""
    pts = gpd.GeoDataFrame(geometry=points.to_crs(UTM))
    named = roads[roads["name"].notna()][["name", "geometry"]].to_crs(UTM)
    near = gpd.sjoin_nearest(pts, named, how="left", max_distance=60, distance_col="d")
    near = near[~near.index.duplicated(keep="first")]
    in_kel = gpd.sjoin(pts, kel[["nama_kel", "geometry"]].to_crs(UTM), how="left")
    in_kel = in_kel[~in_kel.index.duplicated(keep="first")]
    names = []
    for i in range(len(points)):
        street = near["name"].iloc[i]
        village = in_kel["nama_kel"].iloc[i]
        if isinstance(street, str):
            names.append(f"Jl. {street.removeprefix('Jalan ')}")
        else:
            names.append(f"Kelurahan {village}" if isinstance(village, str) else "sekitar sini")
    return names


def _handling(cat, reported, description, point, config, rng) -> dict:
    route = config.route(cat)
    due = due_date(reported, route.sla_working_days, config)
    days = float(rng.lognormal(np.log(OFFICE_PACE[route.office]), 0.6))
    start_day = local_date(reported, config)
    whole = max(1, int(np.ceil(days)))
    close_day = add_working_days(start_day, whole, config.holiday_set, config.working_weekdays)
    closed = dt.datetime.combine(close_day, dt.time(int(rng.integers(8, 16)), 0), reported.tzinfo)
    row = {
        "category": cat,
        "description": description,
        "channel": str(rng.choice(list(CHANNEL_SHARE), p=list(CHANNEL_SHARE.values()))),
        "reported_at": reported.isoformat(),
        "office": route.office,
        "sla_working_days": route.sla_working_days,
        "sla_due": due.isoformat(),
        "location_grid_m": 0.0,
        "source": "synthetic",
        "geometry": point,
    }
    draw = rng.uniform()
    if draw < STUCK_SHARE:
        closed = AS_OF + dt.timedelta(days=365)
        status = "selesai"
    elif draw < STUCK_SHARE + REJECT_SHARE:  # rejected early, after a check
        closed = reported + dt.timedelta(hours=float(rng.uniform(2, 48)))
        closed = closed.replace(microsecond=0)
        status = "ditolak"
    else:
        status = "selesai"
    if closed <= AS_OF:
        closing = {"closed_at": closed.isoformat(), "updated_at": closed.isoformat()}
        return row | {"status": status} | closing
    age = (AS_OF - reported) / (closed - reported)
    stage = STAGES[min(len(STAGES) - 1, int(age * len(STAGES)))]
    updated = reported + (AS_OF - reported) * 0.5
    return row | {"status": stage, "closed_at": None, "updated_at": updated.isoformat()}
