"""pygeoapi started on a database of a test's own (scratch, two-region …), over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from onemap.core.settings import DbSettings, env_name
from tests.conftest import OUTPUT, free_port


def install_coverages(settings: DbSettings, tmp_path: Path) -> None:
    """A small raster for each coverage pygeoapi.yml names (the server opens them at start)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from onemap.core.layers import load_layers
    from onemap.load.coverage_files import install_raster, published_path

    for layer in load_layers().values():
        if layer.coverage is None or published_path(layer, settings) is not None:
            continue
        src = tmp_path / f"{layer.id}.tif"
        profile = {"driver": "GTiff", "width": 16, "height": 16, "count": 1, "dtype": "float32"}
        transform = from_origin(430000, 9230000, 50, 50)
        with rasterio.open(src, "w", crs="EPSG:32749", transform=transform, **profile) as dst:
            dst.write(np.zeros((16, 16), "float32"), 1)
        install_raster(layer, src, settings)


@contextmanager
def api_on(settings: DbSettings, tmp_path: Path, name: str) -> Iterator[str]:
    """The base URL of a one-worker server reading ``settings``' database; its log is
    tests/output/pygeoapi-<name>.log. Stopped on leaving."""
    from onemap.serve.server import start_background

    install_coverages(settings, tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env_name(DbSettings, "name"), settings.name)
        port = free_port()
        proc = start_background(port, workers=1, log=OUTPUT / f"pygeoapi-{name}.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
