"""``onemap --help`` starts without the heavy libraries: they load where a command uses them.

A load needs pyarrow, numpy, shapely, pyproj, pyogrio and psycopg, and no SQLAlchemy or
GeoAlchemy2 (its index DDL comes from ``onemap.db.names``). It still imports pandas and
geopandas: pyogrio's ``__init__`` imports its GeoDataFrame module, whose version checks
import both when they are installed (bench/QUICKSTART.md).

A behaviour test, not a timing test (timings: bench/RESULTS.md, "Quick start"): the
modules Python imports for ``--help`` are read from ``python -X importtime``.
"""

from __future__ import annotations

import subprocess
import sys

from onemap.core.settings import child_env
from tests.test_load import road_frame

HEAVY = ("pandas", "pyarrow", "sqlalchemy", "geoalchemy2", "geopandas", "shapely", "pygeoapi",
         "pyproj", "pyogrio", "rasterio", "psycopg", "flask", "numpy")  # fmt: skip


def imported(*args: str, **env: str) -> set[str]:
    """Top-level packages a child ``python -X importtime -m onemap.cli ARGS`` imports."""
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "onemap.cli", *args],
        capture_output=True,
        text=True,
        env=child_env(**env),
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


def test_a_small_load_imports_no_sqlalchemy(scratch_settings, tmp_path) -> None:
    path = tmp_path / "roads.gpkg"
    road_frame(3).to_file(path, driver="GPKG")
    modules = imported("load", "road_condition", str(path), ONEMAP_DB_NAME=scratch_settings.name)
    assert {"pyarrow", "psycopg", "pyogrio"} <= modules  # the measurement works: it loaded
    assert not modules & {"sqlalchemy", "geoalchemy2", "flask", "pygeoapi", "rasterio"}


def test_the_loads_index_ddl_is_the_models() -> None:
    """The stage's indexes (``onemap.db.names``, no SQLAlchemy) are those the table model
    declares (``onemap.db.models``, which ``onemap db up`` creates), for every layer."""
    from sqlalchemy import MetaData
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex

    from onemap.core.layers import load_layers
    from onemap.db.models import layer_table
    from onemap.db.names import STAGE_SCHEMA, create_indexes

    for layer in load_layers().values():
        table = layer_table(layer, MetaData(), schema=STAGE_SCHEMA)
        model = {str(CreateIndex(i).compile(dialect=postgresql.dialect())) for i in table.indexes}
        plain = {stmt.as_string().replace('"', "") for stmt in create_indexes(layer, STAGE_SCHEMA)}
        assert plain == model, layer.id
