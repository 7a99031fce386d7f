"""Channel network extraction from the flow routing: where channels start, how they run.

Channels start where the multiple-flow-direction area reaches a threshold and follow the
lower neighbour carrying the most flow (valley axes), so they form a tree instead of the
parallel lines plain D8 draws on smooth slopes; a little thinning removes what is left
of those. The network is cut into reaches between confluences and class changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pyproj import Transformer

from etl.common import UTM, WGS84
from etl.synthetic.hydro import Routing
from etl.synthetic.terrain import RES_M, Terrain

TERSIER_MIN_KM2 = 0.1  # upstream area where a collector drain becomes a tersier channel
TERSIER_MIN_LOWLAND_KM2 = 0.04  # the dense built-up lowland needs more drains
LOWLAND_Z_M = 8.0
MAX_REACH_M = 1500.0  # inventories cut channels into reaches; long ones are split here
MIN_STUB_M = 200.0  # shorter headwater stubs are dropped
GAP_CELLS = 6  # thinning gaps a channel may bridge to reach the one it feeds


def neighbours(
    r: np.ndarray, c: np.ndarray, rows: int, cols: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each of the 8 neighbour directions: which cells (row ``r``, column ``c``) have
    that neighbour inside the grid, and its flat index (0 where it has none)."""
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                ok = (r + dr >= 0) & (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
                yield ok, np.where(ok, (r + dr) * cols + c + dc, 0)


def trace_primer(terrain: Terrain, rec: np.ndarray) -> np.ndarray:
    """River index (1-based) of the cells on each carved river's flow path to the sea."""
    grid = terrain.grid
    to_utm = Transformer.from_crs(WGS84, UTM, always_xy=True)
    primer = np.zeros(rec.size, np.int16)
    for index, (river, _line) in enumerate(terrain.rivers, start=1):
        x, y = to_utm.transform(*river.course[0])
        col = int((x - grid.transform.c) // RES_M)
        row = int((grid.transform.f - y) // RES_M)
        if not (0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]):
            continue  # a source beyond the grid: the river is not traced
        cell = row * grid.shape[1] + col
        while cell >= 0 and primer[cell] == 0 and not terrain.sea.flat[cell]:
            primer[cell] = index
            cell = rec[cell]
    return primer


def axis_receivers(routing: Routing) -> np.ndarray:
    """Send each cell to its lower neighbour carrying the most (MFD) flow.

    Multiple-flow-direction area peaks along valley and hollow axes, so these receivers
    pull neighbouring flow lines onto one channel instead of the parallel lines D8 draws
    on smooth slopes. Only strictly lower neighbours count, so no loop can form; cells
    in a flat keep their priority-flood receiver.
    """
    rows, cols = routing.filled.shape
    fill = routing.filled.ravel()
    mfd = routing.mfd_cells.ravel()
    r, c = np.divmod(np.arange(fill.size), cols)
    best = np.full(fill.size, -1.0)
    rec = routing.receiver.ravel().copy()
    for ok, nb in neighbours(r, c, rows, cols):
        better = ok & (fill[nb] < fill) & (mfd[nb] > best)
        best[better] = mfd[nb][better]
        rec[better] = nb[better]
    return np.where(routing.receiver.ravel() >= 0, rec, -1)


def channel_area(
    routing: Routing, rec: np.ndarray, city: np.ndarray, dem: np.ndarray
) -> np.ndarray:
    """Upstream area (km²) of channel cells, 0 elsewhere.

    Channels start where the MFD area reaches the tersier threshold and follow ``rec``
    to the sea; the area carried down never shrinks. Headwater stubs shorter than
    ``MIN_STUB_M`` (side cells of a hollow stepping onto its axis) are dropped.
    """
    cell_km2 = RES_M**2 / 1e6
    mfd_km2 = routing.mfd_cells.ravel() * cell_km2
    start = np.where(dem < LOWLAND_Z_M, TERSIER_MIN_LOWLAND_KM2, TERSIER_MIN_KM2)
    carried = np.where(city & (mfd_km2 >= start), mfd_km2, 0.0).tolist()
    mfd = mfd_km2.tolist()
    recl = rec.tolist()
    for cell in routing.sequence.tolist():
        a = carried[cell]
        r = recl[cell]
        if a > 0 and r >= 0:
            carried[r] = max(carried[r], a, mfd[r])
    area = np.asarray(carried)
    area[_beside_bigger(area, rec, routing.filled.shape)] = 0.0
    _reconnect(area, rec, city, routing.sequence)
    net = area > 0
    down = rec[net]
    donors = np.bincount(down[down >= 0], minlength=rec.size)
    max_steps = int(MIN_STUB_M / RES_M)
    for head in np.flatnonzero(net & (donors == 0)).tolist():
        stub, cell = [head], recl[head]
        while cell >= 0 and net[cell] and donors[cell] == 1 and len(stub) <= max_steps:
            stub.append(cell)
            cell = recl[cell]
        if len(stub) <= max_steps and cell >= 0 and net[cell] and donors[cell] >= 2:
            area[stub] = 0.0
    return area


def _beside_bigger(area: np.ndarray, rec: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Channel cells with a bigger channel cell beside them that they neither feed nor drain.

    Even the axis receivers leave a few pairs of channels running side by side; keeping
    the bigger of the two thins such a pair to one line.
    """
    rows, cols = shape
    idx = np.flatnonzero(area > 0)
    r, c = np.divmod(idx, cols)
    drop = np.zeros(area.size, bool)
    for ok, nb in neighbours(r, c, rows, cols):
        beside = ok & (rec[idx] != nb) & (rec[nb] != idx) & (area[nb] > area[idx])
        drop[idx[beside]] = True
    return drop


def _reconnect(area: np.ndarray, rec: np.ndarray, city: np.ndarray, sequence) -> None:
    """Bridge thinned gaps of up to ``GAP_CELLS``; drop pieces left hanging (in place)."""
    recl = rec.tolist()
    hanging = np.zeros(area.size, bool)
    ends = np.flatnonzero((area > 0) & (rec >= 0))
    ends = ends[(area[rec[ends]] == 0) & city[rec[ends]]]
    for end in ends.tolist():
        gap, cell = [], recl[end]
        while cell >= 0 and area[cell] == 0 and city[cell] and len(gap) <= GAP_CELLS:
            gap.append(cell)
            cell = recl[cell]
        if len(gap) <= GAP_CELLS:
            area[gap] = area[end]
        else:
            hanging[end] = True
    for cell in sequence[::-1].tolist():  # downstream first: spread "hanging" upstream
        r = recl[cell]
        if r >= 0 and hanging[r] and area[cell] > 0:
            hanging[cell] = True
    area[hanging] = 0.0


def mouths(rec: np.ndarray) -> np.ndarray:
    """For every cell, the sea cell its water reaches (pointer doubling)."""
    ptr = np.where(rec >= 0, rec, np.arange(rec.size))
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            return ptr
        ptr = nxt


def chaikin(xy: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a cell-centre staircase, endpoints kept."""
    for _ in range(rounds):
        if len(xy) < 3:
            return xy
        p, q = xy[:-1], xy[1:]
        cut = np.empty((2 * len(p), 2))
        cut[0::2] = 0.75 * p + 0.25 * q
        cut[1::2] = 0.25 * p + 0.75 * q
        xy = np.vstack([xy[:1], cut[1:-1], xy[-1:]])
    return xy


def reaches(net: np.ndarray, key: np.ndarray, rec: np.ndarray) -> list[list[int]]:
    """Cut the channel network into reaches: between confluences and class changes."""
    cells = np.flatnonzero(net)
    down = rec[cells]
    into_net = (down >= 0) & net[np.maximum(down, 0)]
    donors = np.bincount(down[into_net], minlength=rec.size)
    # A lone donor of another class (or river) also starts a new reach.
    same = np.zeros(rec.size, bool)
    d_cells = cells[into_net]
    same[down[into_net]] = key[d_cells] == key[down[into_net]]
    head = net & ((donors != 1) | ~same)
    max_cells = int(MAX_REACH_M / RES_M)
    out = []
    for start in np.flatnonzero(head).tolist():
        path = [start]
        cell = rec[start]
        while cell >= 0 and net[cell] and not head[cell]:
            path.append(int(cell))
            cell = rec[cell]
        if cell >= 0:
            path.append(int(cell))  # the confluence / mouth cell joins it to what it feeds
        for i in range(0, max(len(path) - 1, 1), max_cells):
            out.append(path[i : i + max_cells + 1])
    return out
