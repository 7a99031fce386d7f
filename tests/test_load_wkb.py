"""The WKB fast path for plain LineStrings (onemap.load.wkb), against shapely.

No database. ``plain_lines`` must accept exactly the rows GEOS would call valid 2D
little-endian LineStrings, with shapely's bounds, and leave every other row to shapely.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
import shapely

from onemap.load.wkb import plain_lines

LINE = shapely.LineString([(110.42, -6.99), (110.43, -6.98), (110.425, -7.0)])


def _line_wkb(points: list[tuple[float, float]], count: int | None = None) -> bytes:
    """Little-endian WKB of a 2D LineString, written by hand (shapely refuses some)."""
    n = len(points) if count is None else count
    return b"\x01" + struct.pack("<II", 2, n) + b"".join(struct.pack("<dd", *p) for p in points)


def test_random_valid_lines_are_taken_with_shapelys_bounds() -> None:
    rng = np.random.default_rng(12)
    lines = [
        shapely.LineString(rng.uniform([110.3, -7.1], [110.5, -6.9], size=(int(k), 2)))
        for k in rng.integers(2, 40, 200)
    ]
    ok, bounds = plain_lines(pa.array(shapely.to_wkb(lines)))
    assert ok.all()
    assert np.array_equal(bounds, shapely.bounds(lines))


CASES = {
    # name: (WKB or None, taken by the fast path)
    "plain line": (shapely.to_wkb(LINE), True),
    "two points": (_line_wkb([(110.4, -7.0), (110.41, -7.0)]), True),
    "repeated start, then moves": (_line_wkb([(1.0, 2.0), (1.0, 2.0), (1.0, 3.0)]), True),
    "NULL": (None, False),
    "empty bytes": (b"", False),
    "one point": (_line_wkb([(110.4, -7.0)]), False),
    "all points equal": (_line_wkb([(110.4, -7.0), (110.4, -7.0), (110.4, -7.0)]), False),
    "NaN coordinate": (_line_wkb([(110.4, -7.0), (float("nan"), -7.0)]), False),
    "infinite coordinate": (_line_wkb([(110.4, -7.0), (float("inf"), -7.0)]), False),
    "count larger than the bytes": (_line_wkb([(110.4, -7.0), (110.5, -7.0)], count=3), False),
    "count smaller than the bytes": (_line_wkb([(110.4, -7.0), (110.5, -7.0)], count=1), False),
    "big-endian": (shapely.to_wkb(LINE, byte_order=0), False),
    "with Z": (shapely.to_wkb(shapely.force_3d(LINE, 5.0), output_dimension=3), False),
    "EWKB with SRID": (shapely.to_wkb(shapely.set_srid(LINE, 4326), include_srid=True), False),
    "point": (shapely.to_wkb(shapely.Point(110.4, -7.0)), False),
    "multilinestring": (shapely.to_wkb(shapely.MultiLineString([LINE])), False),
    "polygon": (shapely.to_wkb(shapely.box(110.4, -7.0, 110.5, -6.9)), False),
}


def test_only_valid_plain_linestrings_are_taken() -> None:
    names = list(CASES)
    ok, bounds = plain_lines(pa.array([CASES[n][0] for n in names], pa.binary()))
    assert dict(zip(names, ok.tolist(), strict=True)) == {n: CASES[n][1] for n in names}
    for name, taken, box in zip(names, ok, bounds, strict=True):
        if taken:
            assert np.array_equal(box, shapely.bounds(shapely.from_wkb(CASES[name][0]))), name
        else:
            assert np.isnan(box).all(), name


def test_what_is_taken_is_what_geos_calls_a_valid_linestring() -> None:
    wkb = [w for w, _ in CASES.values() if w and w[:5] == b"\x01\x02\x00\x00\x00"]
    ok, _ = plain_lines(pa.array(wkb))
    with np.errstate(invalid="ignore"):  # None: GEOS cannot read it
        geoms = [shapely.from_wkb(w, on_invalid="ignore") for w in wkb]
    assert ok.tolist() == [g is not None and bool(shapely.is_valid(g)) for g in geoms]
    assert 2 < sum(g is not None for g in geoms) < len(geoms)


@pytest.mark.parametrize("arrow_type", [pa.binary(), pa.large_binary()])
def test_a_slice_reads_its_own_rows(arrow_type) -> None:
    names = list(CASES)
    full = pa.array([CASES[n][0] for n in names], arrow_type)
    ok_full, bounds_full = plain_lines(full)
    ok, bounds = plain_lines(full.slice(3, 8))
    assert ok.tolist() == ok_full[3:11].tolist()
    assert np.array_equal(bounds, bounds_full[3:11], equal_nan=True)


def test_nothing_to_read() -> None:
    ok, bounds = plain_lines(pa.array([], pa.binary()))
    assert ok.shape == (0,) and bounds.shape == (0, 4)
    ok, bounds = plain_lines(pa.array([None, None], pa.binary()))
    assert not ok.any() and np.isnan(bounds).all()
