"""A synthetic elevation model of Kota Semarang on a 50 m grid in EPSG:32749.

Shape after docs/standards.md §3.4: a coastal lowland 0.75–3.5 m above sea level along the Java
Sea in the north, land subsidence (up to 14–19 cm/yr locally, Abidin et al. 2010) that
has sunk parts of the coast below that, and hills rising to ~350 m in the south
(RPJMD 2016–2021: hills 90–348 m). Seeded smooth noise gives relief; the main rivers
(``etl.synthetic.rivers``) are carved in as valleys and channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio import features

from etl.common import UTM, WGS84
from etl.synthetic.rivers import RIVERS

RES_M = 50.0
# Kecamatan that rob reached (Saputro et al., UNDIP; docs/standards.md §3.4).
COASTAL_KEC = ("Tugu", "Semarang Barat", "Semarang Utara", "Semarang Timur", "Gayamsari", "Genuk")
MARGIN_M = 1500.0
COAST_Z_M = 0.75  # elevation at the shoreline before subsidence (docs/standards.md §3.4)
PLAIN_Z_M = 3.5  # top of the coastal lowland (docs/standards.md §3.4)
# Northing where the hills start, by longitude: close to the coast in the west (Ngaliyan),
# south of Simpang Lima in the centre (Candisari), far inland in the east (Tembalang).
HILL_START = (
    (110.26, -6.985),
    (110.33, -6.985),
    (110.37, -6.990),
    (110.40, -6.998),
    (110.43, -7.002),
    (110.46, -7.020),
    (110.52, -7.030),
)
# Crest height reached ~9 km south of that line: Mijen, Gunungpati, Banyumanik, Tembalang.
HILL_TOP = (
    (110.26, 220.0),
    (110.35, 280.0),
    (110.40, 325.0),
    (110.43, 305.0),
    (110.47, 260.0),
    (110.52, 200.0),
)
HILL_RAMP_M = 9000.0
# Subsidence bowls (lon, lat, sigma m, metres sunk): Kaligawe–Genuk worst (docs/standards.md §3.4,
# Kompas 2021: Kaligawe–Genuk flooded longest), then Tanjung Mas/Bandarharjo, Tugu, Tambakharjo.
SUBSIDENCE = (
    (110.462, -6.958, 2200.0, 1.7),
    (110.425, -6.955, 1500.0, 1.0),
    (110.330, -6.960, 1500.0, 0.5),
    (110.370, -6.955, 1200.0, 0.4),
)
CHANNEL_HALF_WIDTH_M = 35.0  # cells closer than this to a river line are channel, not land


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: affine transform and (rows, cols)."""

    transform: Affine
    shape: tuple[int, int]

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates (x, y), each of ``shape``."""
        rows, cols = np.indices(self.shape)
        x = self.transform.c + (cols + 0.5) * self.transform.a
        y = self.transform.f + (rows + 0.5) * self.transform.e
        return x, y

    def rasterize(self, shapes: list, fill: int = 0, dtype: str = "uint8") -> np.ndarray:
        """Burn ``(geometry, value)`` pairs onto the grid."""
        return features.rasterize(
            shapes, out_shape=self.shape, transform=self.transform, fill=fill, dtype=dtype
        )


@dataclass(frozen=True)
class Terrain:
    """The DEM and the masks the flood and drainage models share."""

    grid: Grid
    dem: np.ndarray  # float32, metres above mean sea level
    sea: np.ndarray  # bool: Java Sea
    city: np.ndarray  # bool: inside the city outline
    channel: np.ndarray  # int16: 1-based index into ``rivers`` for river cells, else 0
    coast_m: np.ndarray  # distance to the sea, m (0 at sea)
    rivers: tuple  # (River, LineString in UTM) pairs


def _grid(city_utm: shapely.Geometry) -> Grid:
    x0, y0, x1, y1 = city_utm.bounds
    left = np.floor((x0 - MARGIN_M) / RES_M) * RES_M
    top = np.ceil((y1 + MARGIN_M) / RES_M) * RES_M
    cols = int(np.ceil((x1 + MARGIN_M - left) / RES_M))
    rows = int(np.ceil((top - (y0 - MARGIN_M)) / RES_M))
    return Grid(Affine(RES_M, 0, left, 0, -RES_M, top), (rows, cols))


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], scale_cells: float
) -> np.ndarray:
    """Gaussian-filtered white noise (FFT), zero mean, unit standard deviation."""
    white = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-2 * (np.pi * scale_cells) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=shape)
    return (field - field.mean()) / field.std()


def _sea_mask(grid: Grid, coastal: np.ndarray, city: np.ndarray) -> np.ndarray:
    """Sea = outside the city and north of the coastal kecamatan's northern edge, per column.

    Columns beyond the coastal kecamatan (Kendal, Demak) reuse the nearest coast row, and
    rows are capped 1.5 km south of the median so the Demak land border is not mistaken
    for a shoreline.
    """
    rows, cols = grid.shape
    has = coastal.any(axis=0)
    first = np.where(has, coastal.argmax(axis=0), -1)
    idx = np.nonzero(has)[0]
    coast_row = np.interp(np.arange(cols), idx, first[idx])
    coast_row = np.minimum(coast_row, np.median(first[idx]) + MARGIN_M / RES_M)
    r = np.arange(rows)[:, None]
    return (r < coast_row[None, :]) & ~city


def _distance_to(grid: Grid, mask: np.ndarray, step: int = 5) -> np.ndarray:
    """Distance (m) from every cell to ``mask``: exact on a coarse lattice, interpolated."""
    shapes = features.shapes(mask.astype("uint8"), mask=mask, transform=grid.transform)
    target = shapely.union_all([shapely.geometry.shape(g) for g, _ in shapes])
    target = target.simplify(RES_M)
    shapely.prepare(target)
    x, y = grid.centres()
    xs, ys = x[0, ::step], y[::step, 0]
    xs = np.append(xs, xs[-1] + step * RES_M)
    ys = np.append(ys, ys[-1] - step * RES_M)
    gx, gy = np.meshgrid(xs, ys)
    coarse = shapely.distance(shapely.points(gx, gy), target)
    # Bilinear interpolation back onto the fine grid.
    fr = np.arange(grid.shape[0]) / step
    fc = np.arange(grid.shape[1]) / step
    r0, c0 = np.floor(fr).astype(int), np.floor(fc).astype(int)
    wr, wc = (fr - r0)[:, None], (fc - c0)[None, :]
    a = coarse[r0][:, c0]
    b = coarse[r0][:, c0 + 1]
    c = coarse[r0 + 1][:, c0]
    d = coarse[r0 + 1][:, c0 + 1]
    return a * (1 - wr) * (1 - wc) + b * (1 - wr) * wc + c * wr * (1 - wc) + d * wr * wc


def _river_lines(sea_y_at) -> list:
    """River courses as UTM lines; free-flowing rivers are extended due north to the sea."""
    to_utm = Transformer.from_crs(WGS84, UTM, always_xy=True)
    out = []
    for river in RIVERS:
        xs, ys = to_utm.transform(*zip(*river.course, strict=True))
        pts = list(zip(xs, ys, strict=True))
        if river.joins is None:
            pts.append((pts[-1][0], sea_y_at(pts[-1][0]) + 300.0))
        out.append((river, shapely.LineString(pts)))
    return out


def build_terrain(city_utm, kec_utm, rng: np.random.Generator) -> Terrain:
    """Generate the DEM, the sea and city masks and the carved river channels."""
    grid = _grid(city_utm)
    x, y = grid.centres()
    city = grid.rasterize([(city_utm, 1)]).astype(bool)
    coastal_geoms = kec_utm[kec_utm["nama_kec"].isin(COASTAL_KEC)].geometry
    coastal = grid.rasterize([(g, 1) for g in coastal_geoms]).astype(bool)
    sea = _sea_mask(grid, coastal, city)
    d_sea = _distance_to(grid, sea)
    d_land = _distance_to(grid, ~sea)

    to_ll = Transformer.from_crs(UTM, WGS84, always_xy=True)
    to_utm = Transformer.from_crs(WGS84, UTM, always_xy=True)
    lon, lat = to_ll.transform(x, y)
    start_lat = np.interp(lon, *zip(*HILL_START, strict=True))
    _, start_y = to_utm.transform(lon, start_lat)
    top = np.interp(lon, *zip(*HILL_TOP, strict=True))
    t = np.clip((start_y - y) / HILL_RAMP_M, 0, 1)
    ramp = t * t * (3 - 2 * t)  # smoothstep: no crease where the hills level off
    hill_share = ramp**1.3

    n_hill = smooth_noise(rng, grid.shape, 2500 / RES_M)
    n_ridge = smooth_noise(rng, grid.shape, 700 / RES_M)
    n_flat = smooth_noise(rng, grid.shape, 1200 / RES_M)
    n_micro = smooth_noise(rng, grid.shape, 300 / RES_M)
    n_fine = smooth_noise(rng, grid.shape, 120 / RES_M)
    plain = COAST_Z_M + (PLAIN_Z_M - COAST_Z_M) * (1 - np.exp(-d_sea / 2500.0))
    plain += 0.6 * np.maximum(d_sea - 3000.0, 0) / 1000.0  # gentle rise further inland
    hills = np.maximum(top * hill_share * (1 + 0.3 * np.tanh(n_hill)) + 25.0 * n_ridge * ramp, 0)
    rivers = _river_lines(_coast_lookup(grid, sea))
    valley, trough, channel = _carve(grid, [line for _, line in rivers])
    base = plain + hills * (1 - 0.75 * valley)  # valleys cut 3/4 of the local hill height
    # Gullies scaled by the local slope: on an even slope D8 would otherwise send every
    # column of cells down its own parallel line (a "comb" of channels).
    gy, gx = np.gradient(base, RES_M)
    slope = np.minimum(np.hypot(gx, gy), 0.06)
    gullies = slope * (300.0 * n_micro + 80.0 * n_fine) * (1 - valley)
    # Micro-relief: tens of cm on the plain (basins that pond), metres in the hills.
    relief = (0.3 * n_flat + 0.2 * n_micro + 0.05 * n_fine) * (1 - ramp) + 4.0 * n_fine * ramp
    dem = base + relief + gullies - 2.0 * trough  # the channel trough 2 m below its banks
    for slon, slat, sigma, sink in SUBSIDENCE:
        sx, sy = to_utm.transform(slon, slat)
        bowl = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * sigma**2))
        dem -= sink * bowl * (1 - ramp)
    dem = np.where(sea, -0.5 - np.minimum(d_land / 400.0, 9.5), dem)
    channel[sea] = 0
    return Terrain(grid, dem.astype("float32"), sea, city, channel, d_sea, tuple(rivers))


def _coast_lookup(grid: Grid, sea: np.ndarray):
    """A function giving the shoreline northing at an easting (first land row from the north)."""
    land_row = (~sea).argmax(axis=0)

    def sea_y_at(x: float) -> float:
        col = int(np.clip((x - grid.transform.c) // RES_M, 0, grid.shape[1] - 1))
        return grid.transform.f - land_row[col] * RES_M

    return sea_y_at


def _carve(grid: Grid, lines: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valley and trough shapes (0–1, the maximum over rivers) and the channel-cell index."""
    x, y = grid.centres()
    valley = np.zeros(grid.shape)
    trough = np.zeros(grid.shape)
    channel = np.zeros(grid.shape, np.int16)
    for index, line in enumerate(lines, start=1):
        band = grid.rasterize([(line.buffer(2000.0), 1)]).astype(bool)  # exp(-11) at the edge
        dist = np.full(grid.shape, np.inf)
        dist[band] = shapely.distance(shapely.points(x[band], y[band]), line)
        valley = np.maximum(valley, np.exp(-((dist / 600.0) ** 2)))
        trough = np.maximum(trough, np.exp(-((dist / 60.0) ** 2)))
        channel[(dist < CHANNEL_HALF_WIDTH_M) & (channel == 0)] = index
    return valley, trough, channel


def sample(terrain: Terrain, array: np.ndarray, x, y) -> np.ndarray:
    """Values of a grid-shaped array at EPSG:32749 points (nearest cell, clamped)."""
    t = terrain.grid.transform
    col = np.clip(((np.asarray(x) - t.c) // RES_M).astype(int), 0, terrain.grid.shape[1] - 1)
    row = np.clip(((t.f - np.asarray(y)) // RES_M).astype(int), 0, terrain.grid.shape[0] - 1)
    return array[row, col]
