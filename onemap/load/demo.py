"""The bundled demo: prepare its files (etl/demo) and load every layer from them.

One place for `onemap load-demo`, `make demo` and the test fixtures.
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from onemap.core.layers import load_layers
from onemap.core.settings import DbSettings, project_root
from onemap.load.coverage_files import publish_raster
from onemap.load.loader import load_layer


def generator_fingerprint() -> str:
    """A hash of the generator's code and inputs: files made by another version are stale."""
    root = project_root()
    h = hashlib.sha256()
    for path in sorted([*(root / "etl").glob("*.py"), *(root / "data" / "real").rglob("*.*")]):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def prepare(data_dir: Path, force: bool = False) -> bool:
    """Run the seeded generator into ``data_dir`` unless current files are there; True if run."""
    layers = load_layers()
    wanted = [lyr.demo_file for lyr in layers.values() if lyr.demo_file]
    wanted += [
        lyr.coverage.demo_file for lyr in layers.values() if lyr.coverage and lyr.coverage.demo_file
    ]
    stamp = data_dir / ".generator"
    fingerprint = generator_fingerprint()
    current = stamp.exists() and stamp.read_text() == fingerprint
    if not force and current and all((data_dir / name).exists() for name in wanted):
        return False
    subprocess.run(
        [sys.executable, "-m", "etl.demo", str(data_dir), "--quiet"],
        cwd=project_root(),
        check=True,
    )
    stamp.write_text(fingerprint)
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
        if layer.demo_loader:  # a live layer (reports) loads its demo through its intake
            module, _, name = layer.demo_loader.partition(":")
            rows = getattr(importlib.import_module(module), name)(
                layer, data_dir / layer.demo_file, settings
            )
            loaded[layer.id] = rows
            report(f"{layer.id:18} {rows:7d} features (through {layer.demo_loader})")
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
