"""The extension point: features plug into the core here, and the core imports none of them.

A feature (citizen reports, ``onemap.reports``) is a package with a module defining
``FEATURE = Feature(...)``: the hooks it needs, each optional. The core calls every
enabled feature's hook where it does that kind of work, and knows nothing else about it:

=================  =============================  ==========================================
hook               called by                      for
=================  =============================  ==========================================
``layer_blocks``   ``core.layers``                layer-file blocks the feature owns (e.g.
                                                  ``private:``), validated by its models
``roles``          ``db.schema``, ``db.connect``  login roles, created beside the core's;
                                                  their passwords are kept like the core's
``tables``         ``db.models``                  tables kept beside a layer's (created and
                                                  checked for drift like them)
``ensure_db``      ``db.schema``                  after the layer tables: functions, views,
                                                  grants (``onemap db up``, rebuilds)
``collections``    ``publish.pygeoapi_config``    more pygeoapi collections, derived from
                                                  a layer's public one
``processes``      ``serve.processes``            pygeoapi process plugins (dotted paths)
``server_env``     ``serve.server``               environment the ``${VAR}``s of those
                                                  collections need
``install_app``    ``serve.wsgi``                 Flask hooks on pygeoapi's app, installed
                                                  before onemap's own (``serve.extras``), so
                                                  their after-request hooks run last
``cli``            ``onemap.cli``                 sub-commands (``onemap <name> …``)
=================  =============================  ==========================================

To add a feature: write its package and its ``FEATURE`` (hooks import the heavy parts,
Flask or pygeoapi, inside the hook: the core loads features to read layer files), then
add the module's dotted path to ``FEATURES`` and its sub-commands to ``COMMANDS``.
``FEATURES`` is the only place in ``onemap/`` outside the features that names them; they
are imported on first use. A layer-file block's model derives from
``onemap.core.layer_block.LayerBlock``: this module imports no pydantic, so that
``onemap --help`` reads ``COMMANDS`` fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy import MetaData
    from typer import Typer

    from onemap.core.layer_block import LayerBlock
    from onemap.core.settings import DbSettings

# The enabled features: modules defining FEATURE, in the order their hooks run.
FEATURES = ("onemap.reports.feature",)
# The sub-commands the features add: name -> (feature module, one-line help). Listed here so
# that ``onemap --help`` names them without importing the features (pydantic, YAML: most of
# its start-up time, bench/QUICKSTART.md); tests/test_quick_start.py checks they match.
COMMANDS = {
    "reports": (FEATURES[0], "Citizen reports: import, monthly evaluation."),
    "users": (FEATURES[0], "Staff tokens for the reports (operators, admins)."),
}


@dataclass(frozen=True)
class Role:
    """A login role a feature needs, and the secret (``secrets.env`` key) of its password."""

    name: str
    secret: str


def _nothing(*_args: Any) -> None:
    return None


def _empty(*_args: Any) -> dict:
    return {}


@dataclass(frozen=True)
class Feature:
    """What a feature adds to the core; see the module docstring for who calls each hook."""

    name: str
    layer_blocks: Mapping[str, type[LayerBlock]] = field(default_factory=dict)
    # Role names may come from the environment, so they are read when needed.
    roles: Callable[[], Sequence[Role]] = tuple
    # (layer, metadata): add the tables the feature keeps beside this layer's
    tables: Callable[[Any, MetaData], None] = _nothing
    # (owner conninfo, settings): create or update the feature's database objects
    ensure_db: Callable[[str, DbSettings], None] = _nothing
    # (layer, its public pygeoapi collection) -> more collections, by id
    collections: Callable[[Any, dict[str, Any]], Mapping[str, dict[str, Any]]] = _empty
    # process id -> dotted path of its pygeoapi processor class
    processes: Mapping[str, str] = field(default_factory=dict)
    # settings -> environment variables for the server
    server_env: Callable[[DbSettings], Mapping[str, str]] = _empty
    install_app: Callable[[Flask], None] = _nothing
    # () -> sub-command name -> typer app; a function, so that typer loads only for the CLI
    cli: Callable[[], Mapping[str, Typer]] = _empty


@cache
def features() -> tuple[Feature, ...]:
    """The enabled features, imported on first use."""
    return tuple(importlib.import_module(path).FEATURE for path in FEATURES)


def command(name: str) -> Typer:
    """The typer app of one of ``COMMANDS``, importing only its feature."""
    module, _help = COMMANDS[name]
    return importlib.import_module(module).FEATURE.cli()[name]


def layer_blocks() -> dict[str, type[LayerBlock]]:
    """Layer-file key -> the model of the feature that owns it."""
    owned: dict[str, type[LayerBlock]] = {}
    for feature in features():
        for key, model in feature.layer_blocks.items():
            if key in owned:
                raise ValueError(f"layer-file key '{key}' is claimed by two features")
            owned[key] = model
    return owned


def roles() -> list[Role]:
    """The login roles the features need."""
    return [role for feature in features() for role in feature.roles()]
