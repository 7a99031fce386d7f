"""The bundled demo: prepare its files (``etl.demo_dataset``) and load every layer from them.

One place for `onemap load-demo`, `make demo` and the test fixtures. The generator is the
installed ``etl`` package (beside ``onemap``), so this works outside a checkout too; the
real data it reads is under the project root (``etl.real_data``, ``ONEMAP_ROOT``).
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.core.layers import load_layers
from onemap.core.regions import layer_partitioned
from onemap.core.settings import DbSettings
from onemap.load.coverage_files import install_raster
from onemap.load.loader import load_layer

GENERATOR = "etl.demo_dataset"  # python -m GENERATOR OUTDIR writes the demo files


def _real_data() -> ModuleType:
    """``etl.real_data``, or a message saying what to install."""
    try:
        return importlib.import_module("etl.real_data")
    except ImportError as exc:
        raise UserError(
            "the demo-data recipes (package etl) are not installed: reinstall onemap "
            "(make venv, or pip install .)"
        ) from exc


def generator_fingerprint() -> str:
    """A hash of the generator's code and inputs: files made by another version are stale."""
    real_data = _real_data()
    code = Path(real_data.__file__).parent  # the etl package, wherever it is installed
    inputs = real_data.real_dir()
    files = [(p.relative_to(code.parent), p) for p in sorted(code.rglob("*.py"))]
    files += [(p.relative_to(inputs.parent), p) for p in real_data.real_files()]
    h = hashlib.sha256()
    for name, path in files:
        h.update(name.as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def prepare(data_dir: Path, force: bool = False) -> bool:
    """Run the seeded generator into ``data_dir`` unless current files are there; True if run."""
    layers = load_layers()
    wanted = [lyr.demo_file for lyr in layers.values() if lyr.demo_file]
    wanted += [
        lyr.coverage.demo_file for lyr in layers.values() if lyr.coverage and lyr.coverage.demo_file
    ]
    real_dir = _real_data().real_dir()
    if not real_dir.is_dir():
        raise UserError(
            f"no bundled real data in {real_dir}: set ONEMAP_ROOT to the folder holding "
            "layers/, config/ and data/real/"
        )
    stamp = data_dir / ".generator"
    fingerprint = generator_fingerprint()
    current = stamp.exists() and stamp.read_text() == fingerprint
    if not force and current and all((data_dir / name).exists() for name in wanted):
        return False
    # A child process keeps the generator's memory (~420 MB) out of this one; -P keeps the
    # working directory off its path, so the installed etl runs, not a folder that happens
    # to be called etl where the user stands.
    done = subprocess.run([sys.executable, "-P", "-m", GENERATOR, str(data_dir), "--quiet"])
    if done.returncode:
        raise UserError(f"the demo-data generator failed (exit {done.returncode}); see above")
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
        # the demo files are the city's: in a deployment of several regions, its partition
        region = get_city().kemendagri_code if layer_partitioned(layer) else None
        res = load_layer(layer, data_dir / layer.demo_file, settings=settings, region=region)
        loaded[layer.id] = res.rows_loaded
        report(
            f"{layer.id:18} {res.rows_loaded:7d} features "
            f"(run {res.load_id}, {res.rows_rejected} rejected)"
        )
        if layer.coverage and layer.coverage.demo_file:
            raster = install_raster(layer, data_dir / layer.coverage.demo_file, settings)
            report(f"{layer.coverage.id:18} raster published ({raster.name})")
    return loaded
