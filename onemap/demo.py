"""The bundled demo: prepare its files (etl/demo) and load every layer from them.

One place for `onemap load-demo`, `make demo` and the test fixtures.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from onemap.coverages import publish_raster
from onemap.etl.load import load_layer
from onemap.layers import load_layers
from onemap.settings import DbSettings, project_root


def prepare(data_dir: Path, force: bool = False) -> bool:
    """Run the seeded generator into ``data_dir`` unless its files are there; True if run."""
    layers = load_layers()
    wanted = [lyr.demo_file for lyr in layers.values() if lyr.demo_file]
    wanted += [
        lyr.coverage.demo_file for lyr in layers.values() if lyr.coverage and lyr.coverage.demo_file
    ]
    if not force and all((data_dir / name).exists() for name in wanted):
        return False
    subprocess.run(
        [sys.executable, "-m", "etl.demo", str(data_dir), "--quiet"],
        cwd=project_root(),
        check=True,
    )
    return True


def load_all(
    data_dir: Path,
    settings: DbSettings | None = None,
    report: Callable[[str], None] = lambda _line: None,
) -> dict[str, int]:
    """Load every layer (and publish its raster) from the demo files; rows per layer."""
    loaded = {}
    for layer in load_layers().values():
        if not layer.demo_file:
            continue
        res = load_layer(layer, data_dir / layer.demo_file, settings=settings)
        loaded[layer.id] = res.rows_loaded
        report(
            f"{layer.id:18} {res.rows_loaded:7d} features "
            f"(run {res.load_id}, {res.rows_rejected} rejected)"
        )
        if layer.coverage and layer.coverage.demo_file:
            raster = publish_raster(layer, data_dir / layer.coverage.demo_file, settings)
            report(f"{layer.coverage.id:18} raster published ({raster.name})")
    return loaded
