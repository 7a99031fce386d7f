"""A Hilbert-curve key per row, so that a load stores neighbours in the same heap pages.

The key is the position of a geometry's bounding-box centre on a Hilbert curve of order
16 (65,536 × 65,536 cells) laid over the city's lon/lat extent plus its margin (cells
of about half a metre for a city 30 km across): one fixed grid, so the keys of every
batch of a load, and of every load, compare. A Hilbert curve keeps what is near in
space near on the curve, with fewer long jumps than a Z-order (Morton) curve; PostGIS
has sorted geometries by the same curve since 3.0 (lwgeom_btree.c).

The loader sorts the rows it buffers (``SORT_WINDOW``) by the key before the COPY: a
file of up to that many rows is stored in curve order; a larger one as runs in curve
order, each as long as the window (bench/RESULTS.md, "Rows in spatial order", measures
what a bbox query reads either way, and what a global sort in PostgreSQL would cost).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

ORDER = 16
KEY = "_key"  # the column the validator adds (dropped before the COPY)


def hilbert_keys(cx: np.ndarray, cy: np.ndarray, extent: tuple[float, ...]) -> np.ndarray:
    """The Hilbert index (0 … 4**ORDER - 1) of each point on a grid over ``extent``
    (x0, y0, x1, y1); points outside are clamped to its edge, NaN to its corner."""
    side = 1 << ORDER
    x0, y0, x1, y1 = extent
    x = _cells(cx, x0, x1, side)
    y = _cells(cy, y0, y1, side)
    d = np.zeros(len(x), dtype=np.int64)
    s = side >> 1
    while s:  # the classic xy2d, on whole arrays
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(~ry, y, x), np.where(~ry, x, y)
        s >>= 1
    return d


def _cells(v: np.ndarray, lo: float, hi: float, side: int) -> np.ndarray:
    scaled = np.nan_to_num((np.asarray(v, dtype=np.float64) - lo) / (hi - lo), nan=0.0)
    return np.clip((scaled * side).astype(np.int64), 0, side - 1)


def in_curve_order(tables: list[pa.Table]) -> pa.Table:
    """The rows of ``tables`` (validated batches with a ``KEY`` column) as one table,
    sorted by the key, without the key."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    order = np.argsort(table.column(KEY).to_numpy(), kind="stable")
    return table.drop_columns([KEY]).take(pa.array(order))
