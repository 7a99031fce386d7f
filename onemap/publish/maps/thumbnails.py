"""Map previews for the index cards: small static SVGs drawn in Python, no browser.

Rendering each page in headless Chromium at build time would make ``onemap maps`` depend
on a browser, take seconds per page and fail in odd ways on a server; a preview only has
to show the shape of the data in the layer's colours. So each preview is an SVG drawn
from the geometry: projected to Web Mercator (as the maps are), fitted into a
``WIDTH`` × ``HEIGHT`` box, simplified to half a pixel, rounded to whole pixels, and
written as one ``<path>`` per colour with relative moves, so even the road network
(14,000 segments) stays a few tens of kilobytes. Nothing here names a layer: colours come
from the same per-feature colours the maps use (``styles.value_colors``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely

WIDTH, HEIGHT = 320, 200
PAD = 6
BACKGROUND = "#eef0ea"  # the map pages' plain background (onemap.css)
SIMPLIFY_PX = 0.5


@dataclass(frozen=True)
class Drawing:
    """One layer of a preview: geometries (EPSG:4326), one colour each, how to paint."""

    geometries: Sequence[shapely.Geometry | None]
    colors: Sequence[str]
    family: str  # point, line, polygon
    fill_opacity: float = 0.5
    stroke_width: float = 1.0
    outline_only: bool = False
    stroke: str | None = None  # outline colour of polygons (default: their fill colour)


def _mercator(xy: np.ndarray) -> np.ndarray:
    """lon/lat degrees to Web Mercator in degree-sized units (y grows north)."""
    lat = np.clip(xy[:, 1], -85.0, 85.0)
    y = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))
    return np.column_stack([xy[:, 0], y])


@dataclass(frozen=True)
class Frame:
    """The affine fit of a lon/lat box into the preview's pixels."""

    x0: float
    y1: float
    scale: float
    dx: float
    dy: float

    @classmethod
    def fit(cls, bounds: Sequence[float]) -> Frame:
        """``bounds`` = (west, south, east, north) centred in the box with ``PAD`` pixels."""
        (x0, y0), (x1, y1) = _mercator(np.array([bounds[:2], bounds[2:]], dtype=float))
        scale = min((WIDTH - 2 * PAD) / max(x1 - x0, 1e-9), (HEIGHT - 2 * PAD) / max(y1 - y0, 1e-9))
        dx = (WIDTH - (x1 - x0) * scale) / 2
        dy = (HEIGHT - (y1 - y0) * scale) / 2
        return cls(float(x0), float(y1), float(scale), float(dx), float(dy))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        """lon/lat (n, 2) to preview pixels (x right, y down)."""
        m = _mercator(xy)
        return np.column_stack(
            [(m[:, 0] - self.x0) * self.scale + self.dx, (self.y1 - m[:, 1]) * self.scale + self.dy]
        )


def _part(coords: np.ndarray, close: bool) -> str:
    """``M x y l dx dy …`` in whole pixels; '' when the part is shorter than a pixel."""
    q = np.round(coords).astype(np.int64)
    keep = np.concatenate(([True], np.any(np.diff(q, axis=0) != 0, axis=1)))
    q = q[keep]
    if len(q) < 2:
        return ""
    deltas = np.diff(q, axis=0).ravel()
    return f"M{q[0, 0]} {q[0, 1]}l" + " ".join(map(str, deltas)) + ("z" if close else "")


def _parts(geom: shapely.Geometry, family: str) -> Iterable[str]:
    if family == "point":
        for p in shapely.get_parts(geom):
            x, y = np.round(np.asarray(p.coords[0])).astype(int)
            yield f"M{x} {y}h0"  # a zero-length line with round caps draws a dot
        return
    for part in shapely.get_parts(geom):
        if family == "polygon":
            for ring in (part.exterior, *part.interiors):
                yield _part(np.asarray(ring.coords), close=True)
        else:
            yield _part(np.asarray(part.coords), close=False)


def _drawing_paths(d: Drawing, frame: Frame) -> list[str]:
    geoms = np.array(list(d.geometries), dtype=object)
    colors = np.array(list(d.colors), dtype=object)
    ok = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if not ok.any():
        return []
    pixels = shapely.transform(geoms[ok], frame)
    groups: dict[str, list[shapely.Geometry]] = {}
    for geom, color in zip(pixels, colors[ok], strict=True):
        groups.setdefault(color, []).append(geom)
    out = []
    for color, members in groups.items():
        if d.family == "line":
            # Segments that meet end to end become one line: fewer moves, fewer points.
            lines = shapely.get_parts(np.array(members, dtype=object))
            merged = [shapely.line_merge(shapely.multilinestrings(lines))]
        else:
            merged = members
        merged = shapely.simplify(
            np.array(merged, dtype=object), SIMPLIFY_PX, preserve_topology=d.family == "polygon"
        )
        data = "".join(p for g in merged if not g.is_empty for p in _parts(g, d.family) if p)
        if not data:
            continue
        if d.family == "polygon":
            fill = "none" if d.outline_only else color
            out.append(
                f'<path d="{data}" fill="{fill}" fill-opacity="{d.fill_opacity:.2f}" '
                f'fill-rule="evenodd" stroke="{d.stroke or color}" '
                f'stroke-width="{d.stroke_width:g}" '
                'stroke-linejoin="round"/>'
            )
        elif d.family == "line":
            out.append(
                f'<path d="{data}" fill="none" stroke="{color}" '
                f'stroke-width="{d.stroke_width:g}" stroke-linecap="round" '
                'stroke-linejoin="round"/>'
            )
        else:
            out.append(
                f'<path d="{data}" fill="none" stroke="{color}" stroke-width="3" '
                'stroke-linecap="round"/>'
            )
    return out


def thumbnail_svg(drawings: Sequence[Drawing], bounds: Sequence[float], title: str) -> str:
    """An SVG preview of ``drawings`` (bottom first) over ``bounds`` (west, south, east, north).

    ``title`` is plain text (escaped here): the image's accessible name.
    """
    from html import escape

    frame = Frame.fit(bounds)
    body = [p for d in drawings for p in _drawing_paths(d, frame)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{BACKGROUND}"/>'
        + "".join(body)
        + "</svg>\n"
    )


def stroke_width(weight: float) -> float:
    """A map line weight (pixels at street zoom) scaled down for the preview (~zoom 10)."""
    return round(max(0.5, min(1.5, weight * 0.25)), 2)


def total_bounds(geometries: Iterable[Sequence[shapely.Geometry | None]]) -> list[float] | None:
    """(west, south, east, north) over several geometry lists, or None when all empty."""
    arrays = [np.array([g for g in gs if g is not None], dtype=object) for gs in geometries]
    boxes = [shapely.total_bounds(a) for a in arrays if len(a)]
    boxes = [b for b in boxes if not any(math.isnan(v) for v in b)]
    if not boxes:
        return None
    arr = np.array(boxes)
    return [arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()]
