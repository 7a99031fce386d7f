"""``onemap load LAYER FILE --<field> VALUE``: field values given as options (no database).

``onemap.load.console.extra_options`` turns the arguments click leaves over into constant
values for fields of the layer; what the loader does with them is tested with a load
(tests/test_etl_raster.py).
"""

from __future__ import annotations

import pytest

from onemap.core.errors import UserError
from onemap.core.layers import load_layers
from onemap.load.console import extra_options

LAYERS = load_layers()


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@pytest.mark.parametrize("layer", LAYERS.values(), ids=list(LAYERS))
def test_every_field_of_every_layer_is_an_option(layer) -> None:
    names = [f.name for f in layer.fields]
    args = [a for i, n in enumerate(names) for a in (_option(n), f"v{i}")]
    assert extra_options(layer, args) == {n: f"v{i}" for i, n in enumerate(names)}
    assert extra_options(layer, [f"{_option(n)}=w{i}" for i, n in enumerate(names)]) == {
        n: f"w{i}" for i, n in enumerate(names)
    }


def test_option_forms() -> None:
    layer = LAYERS["flood_zones"]  # the layer whose rasters take --flood-type
    assert extra_options(layer, []) == {}
    assert extra_options(layer, ["--flood-type", "rob"]) == {"flood_type": "rob"}
    assert extra_options(layer, ["--flood-type=rob"]) == {"flood_type": "rob"}
    assert extra_options(layer, ["--flood_type", "rob"]) == {"flood_type": "rob"}
    assert extra_options(layer, ["--flood-type=a=b"]) == {"flood_type": "a=b"}
    assert extra_options(layer, ["--flood-type", "Rob Pasang"]) == {"flood_type": "Rob Pasang"}
    assert extra_options(layer, ["--flood-type", "rob", "--flood-type", "hujan"]) == {
        "flood_type": "hujan"
    }  # the last one wins, as with any option
    assert extra_options(layer, ["--flood-type", "rob", "--hazard=tinggi"]) == {
        "flood_type": "rob",
        "hazard": "tinggi",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flood-type"], r"^--flood-type needs a value$"),
        (["--flood-type="], r"^--flood-type= needs a value$"),
        (["rob"], r"^unexpected argument 'rob'$"),
        (["--flood-type", "rob", "hujan"], r"^unexpected argument 'hujan'$"),
        (["-f", "rob"], r"^unexpected argument '-f'$"),
        (
            ["--flood-kind", "rob"],
            r"^no such option: --flood-kind; field values for layer 'flood_zones' can be given "
            r"as --.*--flood-type",
        ),
    ],
)
def test_a_wrong_option_is_refused_with_what_is_wrong(args, message) -> None:
    with pytest.raises(UserError, match=message):
        extra_options(LAYERS["flood_zones"], args)


def test_the_refusal_lists_every_field_of_the_layer() -> None:
    layer = LAYERS["flood_zones"]
    with pytest.raises(UserError) as exc:
        extra_options(layer, ["--nope", "1"])
    listed = str(exc.value).split(" can be given as ", 1)[1].split(", ")
    assert listed == [_option(n) for n in sorted(f.name for f in layer.fields)]
