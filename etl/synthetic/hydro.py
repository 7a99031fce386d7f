"""Flow routing on the synthetic DEM: priority-flood from the sea, receivers, accumulation.

Priority-flood (Barnes, Lehman & Mulla 2014) grows inward from the sea, always taking the
lowest open cell next. It yields, in one pass, the spill level of every cell (the lowest
water level at which it connects to the sea: ``filled``), a receiver for every cell
that drains it to the sea without pits, and a topological order for accumulation.
Upstream area is accumulated twice: along the single D8 receivers, and spread over all
lower neighbours (multiple flow direction, Freeman 1991), which concentrates flow in
hollows instead of sending it down parallel D8 lines.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Routing:
    """Result of :func:`route`: arrays of the grid's shape (receiver as flat indices)."""

    filled: np.ndarray  # spill level, m; equals the DEM where the cell drains freely
    receiver: np.ndarray  # flat index of the downstream cell, -1 for sea cells
    area_cells: np.ndarray  # D8 upstream area in cells, the cell itself included
    mfd_cells: np.ndarray  # multiple-flow-direction upstream area in cells
    sequence: np.ndarray  # flat indices of land cells, every cell before its receivers


def route(dem: np.ndarray, sea: np.ndarray) -> Routing:
    """Route every land cell to the sea over the DEM (8-connected)."""
    rows, cols = dem.shape
    width = cols + 2
    # A one-cell closed frame around the grid removes all bounds checks from the loop.
    z = np.full((rows + 2, width), np.inf)
    z[1:-1, 1:-1] = dem
    closed = np.ones((rows + 2, width), bool)
    closed[1:-1, 1:-1] = sea
    offsets = (-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1)

    seeds = np.zeros_like(closed)
    seeds[1:-1, 1:-1] = sea
    land = ~closed
    near_land = np.zeros_like(land)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            near_land[1:-1, 1:-1] |= land[1 + dr : rows + 1 + dr, 1 + dc : cols + 1 + dc]
    start = np.flatnonzero(seeds & near_land)

    zf = z.ravel().tolist()
    done = closed.ravel().tolist()
    filled = list(zf)
    receiver = [-1] * len(zf)
    heap = [(zf[i], i, i) for i in start]  # (level, tie-break counter, cell)
    heapq.heapify(heap)
    order = []
    counter = len(zf)
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        level, _, cell = pop(heap)
        for off in offsets:
            n = cell + off
            if done[n]:
                continue
            done[n] = True
            receiver[n] = cell
            lev = zf[n] if zf[n] > level else level
            filled[n] = lev
            order.append(n)
            counter += 1
            push(heap, (lev, counter, n))

    fill = np.asarray(filled).reshape(rows + 2, width)
    rank = np.zeros(len(zf), dtype="int64")
    rank[np.asarray(order, dtype="int64")] = np.arange(1, len(order) + 1)
    rec = _steepest(fill, np.asarray(receiver, dtype="int64"), offsets)

    # Accumulate upstream area: higher spill level first, later-discovered first on ties.
    sequence = np.lexsort((-rank, -fill.ravel()))
    sequence = sequence[rank[sequence] > 0]
    area = _accumulate_d8(rec, sequence)
    mfd = _accumulate_mfd(fill, rec, sequence, offsets)

    def crop(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows + 2, width)[1:-1, 1:-1]

    def unpad(flat_padded: np.ndarray) -> np.ndarray:
        out = np.full(flat_padded.shape, -1, dtype="int64")
        ok = flat_padded >= 0
        rr, cc = np.divmod(flat_padded[ok], width)
        out[ok] = (rr - 1) * cols + (cc - 1)
        return out

    return Routing(
        filled=crop(fill).copy(),
        receiver=unpad(crop(rec).copy()),
        area_cells=crop(area).copy(),
        mfd_cells=crop(mfd).copy(),
        sequence=unpad(sequence),
    )


def _accumulate_d8(rec: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    area = [1] * rec.size
    reclist = rec.tolist()
    for cell in sequence.tolist():
        area[reclist[cell]] += area[cell]
    return np.asarray(area, dtype="int64")


def _accumulate_mfd(
    fill: np.ndarray, rec: np.ndarray, sequence: np.ndarray, offsets: tuple[int, ...]
) -> np.ndarray:
    """Freeman (1991) multiple flow direction: share flow by slope**1.1 over lower cells."""
    flat = fill.ravel()
    width = fill.shape[1]
    idx = sequence
    weights = np.zeros((len(offsets), flat.size))
    for k, off in enumerate(offsets):
        dist = np.sqrt(2.0) if abs(off) in (width - 1, width + 1) else 1.0
        with np.errstate(invalid="ignore"):
            drop = (flat[idx] - flat[idx + off]) / dist
        weights[k, idx] = np.where(drop > 0, drop, 0.0) ** 1.1
    total = weights.sum(axis=0)
    has = total > 0
    weights[:, has] /= total[has]
    w_lists = [w.tolist() for w in weights]
    acc = [1.0] * flat.size
    reclist = rec.tolist()
    has_l = has.tolist()
    pairs = list(zip(offsets, w_lists, strict=True))
    for cell in idx.tolist():
        a = acc[cell]
        if not has_l[cell]:  # a flat: follow the priority-flood tree
            acc[reclist[cell]] += a
            continue
        for off, w in pairs:
            share = w[cell]
            if share:
                acc[cell + off] += a * share
    return np.asarray(acc)


def _steepest(fill: np.ndarray, tree: np.ndarray, offsets: tuple[int, ...]) -> np.ndarray:
    """D8 steepest descent on the spill surface; flats keep the priority-flood tree.

    The flood tree alone links a cell to whichever neighbour reached it first, which
    favours diagonals and draws ruler-straight streams; steepest descent (drop over
    distance) follows the terrain. Mixing them cannot loop: every steepest step lowers
    the level, every tree step points to an earlier-discovered cell at the same level.
    """
    width = fill.shape[1]
    flat = fill.ravel()
    n = flat.size
    best = np.zeros(n)
    rec = tree.copy()
    idx = np.arange(width + 1, n - width - 1)
    for off in offsets:
        dist = np.sqrt(2.0) if abs(off) in (width - 1, width + 1) else 1.0
        with np.errstate(invalid="ignore"):  # inf - inf on the frame
            drop = (flat[idx] - flat[idx + off]) / dist
        drop[~np.isfinite(drop)] = 0.0
        better = drop > best[idx]
        best[idx[better]] = drop[better]
        rec[idx[better]] = idx[better] + off
    return np.where(tree >= 0, rec, -1)
