"""The base of a layer-file block a feature owns (``onemap.core.extensions``, ``layer_blocks``).

Its own module so that the registry imports no pydantic (``onemap --help`` reads it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class LayerBlock(BaseModel):
    """A block of the layer file that a feature owns and validates (e.g. ``private:``).

    Strict like the layer model. ``check`` sees the whole validated layer (a
    ``onemap.core.layers.Layer``), for rules across the block and the layer's fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Whether a layer with this block gets rows outside loads (through the feature's own
    # intake): what is derived from a published version (counts, extents) is not cached.
    rows_outside_loads: ClassVar[bool] = False
    # For such a layer: how its rows are imported instead of a replace (which would
    # delete the rows and what the feature keeps beside them), named in the refusal.
    import_hint: ClassVar[str] = ""

    def check(self, layer: Any) -> None:
        """Raise ``ValueError`` when the block does not fit ``layer``."""
