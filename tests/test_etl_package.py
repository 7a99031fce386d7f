"""`etl` ships with onemap: the demo data is prepared from an installed package, no checkout.

The project is installed (not editable) into a temporary folder; `onemap load-demo`'s
preparation step then runs from another working directory with only that folder on the
path. The data the package does not ship (layers/, config/, data/real/) comes from the
project root through ONEMAP_ROOT, as for any installed onemap (etl/README.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from onemap.core.layers import load_layers
from onemap.core.settings import child_env, project_root
from onemap.load.demo import generator_fingerprint

ROOT = project_root()
# What `pip install .` needs from the tree; copied so the build leaves no build/ or
# *.egg-info behind in the checkout.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "onemap", "etl")
# Run in the installed copy: prepare twice (the second finds current files) and say where
# onemap and etl were imported from.
PREPARE = """
import json, sys
from pathlib import Path
import etl, onemap
from onemap.load.demo import prepare
out = Path(sys.argv[1])
ran = [prepare(out), prepare(out)]
print(json.dumps({"ran": ran, "onemap": onemap.__file__, "etl": etl.__file__}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed by pip, as a user would get it (build isolation, no deps)."""
    tmp = tmp_path_factory.mktemp("etl-package")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    site = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, src],
        check=True,
        timeout=600,
    )
    return site


def test_the_wheel_holds_every_etl_module(installed: Path) -> None:
    shipped = {p.relative_to(installed) for p in (installed / "etl").rglob("*.py")}
    in_tree = {p.relative_to(ROOT) for p in (ROOT / "etl").rglob("*.py")}
    assert shipped == in_tree
    assert (installed / "etl" / "synthetic" / "terrain.py").is_file()
    assert not (installed / "data").exists(), "data/real stays under the project root"


def test_demo_data_prepared_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    # A folder called etl where the user stands must not be what runs.
    (cwd / "etl").mkdir(parents=True)
    (cwd / "etl" / "__init__.py").write_text("raise ImportError('the etl in the cwd ran')\n")
    out = tmp_path / "demo"
    env = child_env(**{"PYTHONPATH": str(installed), "ONEMAP_ROOT": str(ROOT)})
    done = subprocess.run(
        [sys.executable, "-P", "-c", PREPARE, str(out)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ran"] == [True, False]
    assert Path(result["onemap"]).is_relative_to(installed)
    assert Path(result["etl"]).is_relative_to(installed)

    layers = load_layers().values()
    wanted = [lyr.demo_file for lyr in layers if lyr.demo_file]
    wanted += [lyr.coverage.demo_file for lyr in layers if lyr.coverage and lyr.coverage.demo_file]
    missing = [name for name in wanted if not (out / name).is_file()]
    assert not missing, f"not prepared: {missing}"
    # Same code and inputs as the checkout: the stamp equals the checkout's fingerprint.
    assert (out / ".generator").read_text() == generator_fingerprint()
