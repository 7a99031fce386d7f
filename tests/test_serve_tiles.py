"""The vector tiles' simplification tolerance per zoom (onemap.serve.tiles), no server.

The rule in the module's docstring: a quarter of a display pixel of a 512-px tile, that is
the tile's width in Web Mercator metres (40,075,016.686 m / 2^z) / 2048; none from zoom 17
(where it would be under 0.3 m). Served tiles are tested in tests/test_api_clients.py.
"""

from __future__ import annotations

import pytest

from onemap.serve.tiles import simplify_tolerance

WORLD_M = 40_075_016.686  # the width of EPSG:3857 at the equator


@pytest.mark.parametrize(
    ("z", "metres"),
    [(0, 19_567.8792), (5, 611.4962), (10, 19.1093), (11, 9.5546), (14, 1.1943), (16, 0.2986)],
)
def test_tolerance_is_a_quarter_pixel_of_a_512_px_tile(z, metres) -> None:
    assert simplify_tolerance(z) == pytest.approx(metres, abs=1e-4)
    assert simplify_tolerance(z) == pytest.approx(WORLD_M / 2**z / 512 / 4, rel=1e-12)


def test_each_zoom_halves_it_until_high_zooms_are_left_alone() -> None:
    for z in range(16):
        assert simplify_tolerance(z + 1) == pytest.approx(simplify_tolerance(z) / 2, rel=1e-12)
    assert 0 < simplify_tolerance(16) < 0.3
    assert [simplify_tolerance(z) for z in (17, 18, 22, 30)] == [0.0, 0.0, 0.0, 0.0]
