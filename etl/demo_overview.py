"""A quick PNG overview of a demo run (no matplotlib: rasterise, then write PNG bytes).

Four panels on the 50 m terrain grid, coloured with the layer files' own colours:
top left zoning, top right flood hazard over a hillshade, bottom left drainage by
hierarchy, bottom right road condition. Kecamatan boundaries in dark grey.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from rasterio import features

from etl.common import UTM, layer

SEA = (70, 110, 170)
BOUNDARY = (60, 60, 60)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _colours(layer_id: str, field: str) -> dict[str, tuple[int, int, int]]:
    return {v.value: _rgb(v.color) for v in layer(layer_id).field(field).values if v.color}


def _burn(img, grid, gdf, field, colours, all_touched=False) -> None:
    for value, colour in colours.items():
        sub = gdf[gdf[field] == value].to_crs(UTM)
        if len(sub):
            mask = features.rasterize(
                ((g, 1) for g in sub.geometry),
                out_shape=grid.shape,
                transform=grid.transform,
                all_touched=all_touched,
            )
            img[mask == 1] = colour


def _panel(demo) -> np.ndarray:
    img = np.full((*demo.terrain.grid.shape, 3), 255, np.uint8)
    img[demo.terrain.sea] = SEA
    return img


def _hillshade(dem: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(dem.astype(float), 50.0)
    shade = np.clip(0.75 + (gy - gx) * 2.0, 0.3, 1.0)
    return (np.stack([shade] * 3, axis=-1) * 235).astype(np.uint8)


def draw(demo, path: Path) -> None:
    """Write the four-panel overview PNG of ``demo`` (an ``etl.demo_dataset.Demo``) to ``path``."""
    grid, layers = demo.terrain.grid, demo.layers
    zoning = _panel(demo)
    _burn(zoning, grid, layers["zoning"], "zone_code", _colours("zoning", "zone_code"))
    flood = _hillshade(demo.terrain.dem)
    flood[demo.terrain.sea] = SEA
    _burn(flood, grid, layers["flood_zones"], "hazard", _colours("flood_zones", "hazard"))
    drains = _panel(demo)
    colours = _colours("drainage", "hierarchy")
    _burn(drains, grid, layers["drainage"], "hierarchy", dict(reversed(list(colours.items()))))
    roads = _panel(demo)
    _burn(
        roads,
        grid,
        layers["road_condition"],
        "condition",
        _colours("road_condition", "condition"),
        all_touched=True,
    )
    edges = features.rasterize(
        ((g.boundary, 1) for g in layers["admin_kecamatan"].to_crs(UTM).geometry),
        out_shape=grid.shape,
        transform=grid.transform,
    )
    for panel in (zoning, flood, drains, roads):
        panel[edges == 1] = BOUNDARY
    gap = np.full((grid.shape[0], 6, 3), 255, np.uint8)
    top = np.hstack([zoning, gap, flood])
    bottom = np.hstack([drains, gap, roads])
    _write_png(path, np.vstack([top, np.full((6, top.shape[1], 3), 255, np.uint8), bottom]))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """Minimal PNG writer: 8-bit RGB, one zlib stream, no filters."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
