"""The layer file's ``private:`` block: personal data a layer stores but never publishes.

A block of the layer file this feature owns (``onemap.core.extensions``): the core
validates it through ``Private`` and otherwise only knows that such a layer gets rows
outside loads.
"""

from __future__ import annotations

from pydantic import Field

from onemap.core.layer_block import LayerBlock
from onemap.core.layers import Layer, LayerField

KEY = "private"


class Private(LayerBlock):
    """Personal data a layer stores but never publishes, and who may see it.

    The fields live in ``onemap_private.<layer id>`` (same key), a schema the read-only
    role has no privilege on, so no public collection, tile, download or map can
    contain them: everything that iterates ``Layer.fields`` never sees them. Staff read
    them through the authenticated ``staff_collection`` (a view joining both tables).
    ``location_grid_m`` > 0 publishes the geometry snapped to that grid (metres) and
    keeps the exact one private; ``scope_field`` limits an operator to the rows whose
    value of that field is the operator's (e.g. their office).
    """

    rows_outside_loads = True  # reports arrive one at a time through the intake
    import_hint = (
        "import a file with 'onemap reports import FILE', which adds new rows and keeps "
        "the stored ones with their private data"
    )

    description: str
    fields: tuple[LayerField, ...] = Field(min_length=1)
    staff_collection: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # a view name
    scope_field: str | None = None
    location_grid_m: float = Field(default=0.0, ge=0)

    def check(self, layer: Layer) -> None:
        """Private fields apart from the public ones; scope and staff collection valid."""
        names = {f.name for f in layer.fields}
        hidden = [f.name for f in self.fields]
        clash = (names | {layer.id}) & set(hidden) or len(set(hidden)) != len(hidden)
        if clash:
            raise ValueError(f"private fields {hidden} repeat a field name or each other")
        if self.scope_field is not None and self.scope_field not in names:
            raise ValueError(
                f"private.scope_field '{self.scope_field}' is not a declared (public) field"
            )
        if self.staff_collection == layer.id:
            raise ValueError("private.staff_collection must differ from the layer id")


def private_of(layer: Layer) -> Private | None:
    """The layer's ``private:`` block, or None without one."""
    block = layer.blocks.get(KEY)
    return block if isinstance(block, Private) else None
