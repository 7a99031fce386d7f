"""``onemap --help`` starts without the heavy libraries: they load where a command uses them.

A behaviour test, not a timing test (timings: bench/RESULTS.md, "Quick start"): the
modules Python imports for ``--help`` are read from ``python -X importtime``.
"""

from __future__ import annotations

import subprocess
import sys

from onemap.core.settings import child_env

HEAVY = ("pandas", "pyarrow", "sqlalchemy", "geoalchemy2", "geopandas", "shapely", "pygeoapi",
         "pyproj", "pyogrio", "rasterio", "psycopg", "flask", "numpy")  # fmt: skip


def imported(*args: str) -> set[str]:
    """Top-level packages a child ``python -X importtime -m onemap.cli ARGS`` imports."""
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "onemap.cli", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    names = (line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if "|" in line)
    return {n.split(".")[0] for n in names}


def test_help_imports_no_heavy_library() -> None:
    modules = imported("--help")
    assert "onemap" in modules and "typer" in modules  # the measurement works
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_subcommand_help_imports_no_heavy_library() -> None:
    for command in (["load", "--help"], ["db", "--help"], ["reports", "--help"]):
        assert not imported(*command) & set(HEAVY), command


def test_the_static_command_list_matches_the_features() -> None:
    """``onemap --help`` lists the features' sub-commands from ``extensions.COMMANDS``
    without importing them: the list must say what the features really add."""
    from onemap.core import extensions

    added = {
        name: (path, app.info.help)
        for path, feature in zip(extensions.FEATURES, extensions.features(), strict=True)
        for name, app in feature.cli().items()
    }
    assert added == extensions.COMMANDS


def test_feature_commands_run_through_the_lazy_group() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "users", "--help"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    assert "Staff tokens" in res.stdout and "add" in res.stdout
