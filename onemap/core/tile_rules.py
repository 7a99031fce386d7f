"""How a layer is generalised for vector tiles, per zoom: the ``tiles:`` block of its file.

OpenMapTiles' ``transportation`` layer is the model (openmaptiles/layers/transportation):
each class of a coded field appears from a zoom (motorways early, minor roads late), lines
of the same class and attributes are merged before they are simplified at the zoom's
resolution, and attributes are reduced at low zoom. Below ``detail_zoom`` tiles come from
generalised tables built per published version (``onemap.load.generalise``); from
``detail_zoom`` they come from the published table itself. docs/api.md (Tiles) has the rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_ZOOM = 24
# The size every tile is kept under, uncompressed: tippecanoe's default ``-M`` (500K) and
# Mapbox's vector tile upload limit (tippecanoe README, "--maximum-tile-bytes").
MAX_TILE_BYTES = 500_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TileClasses(_Strict):
    """From which zoom each value of a coded field is drawn (values not listed: from
    ``detail_zoom``). The order of first zooms is also the importance order a tile over
    ``MAX_TILE_BYTES`` is thinned by."""

    field: str
    from_zoom: dict[str, int] = Field(default_factory=dict)


class TileRules(_Strict):
    """Per-zoom generalisation of one layer's vector tiles.

    ``fields_from_zoom``: the attributes tiles carry below ``detail_zoom``, each from its
    zoom (every field is carried from ``detail_zoom``). ``merge_lines``: below
    ``detail_zoom`` (and up to ``merge_max_zoom`` where set), lines with the same carried
    attributes are merged (``ST_LineMerge``) within a tile-sized cell, and then carry no
    id. ``min_area_px``: below
    ``detail_zoom``, polygons smaller than this many square pixels (of a 512-px tile) at
    the zoom are left out.
    """

    min_zoom: int = Field(default=0, ge=0, le=MAX_ZOOM)
    max_zoom: int = Field(default=20, ge=0, le=MAX_ZOOM)
    detail_zoom: int = Field(default=0, ge=0, le=MAX_ZOOM)
    classes: TileClasses | None = None
    fields_from_zoom: dict[str, int] = Field(default_factory=dict)
    merge_lines: bool = True
    # OpenMapTiles merges transportation lines up to z11 only (its
    # osm_transportation_merge_linestring_gen_z11); z12 and z13 draw the lines themselves.
    merge_max_zoom: int | None = Field(default=None, ge=0, le=MAX_ZOOM)
    min_area_px: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _zooms(self) -> TileRules:
        if not self.min_zoom <= self.max_zoom:
            raise ValueError(f"tiles: min_zoom {self.min_zoom} > max_zoom {self.max_zoom}")
        if self.detail_zoom and not self.min_zoom <= self.detail_zoom <= self.max_zoom:
            raise ValueError(
                f"tiles: detail_zoom {self.detail_zoom} is outside "
                f"min_zoom..max_zoom ({self.min_zoom}..{self.max_zoom})"
            )
        for name, z in self.fields_from_zoom.items():
            if not self.min_zoom <= z < self.detail_zoom:
                raise ValueError(
                    f"tiles: fields_from_zoom {name}: {z} must lie in min_zoom..detail_zoom-1 "
                    f"({self.min_zoom}..{self.detail_zoom - 1}); every field is carried "
                    "from detail_zoom"
                )
        for value, z in (self.classes.from_zoom if self.classes else {}).items():
            if not 0 <= z <= self.max_zoom:
                raise ValueError(f"tiles: class {value} from zoom {z} is beyond max_zoom")
        return self

    def check(self, fields: Mapping[str, tuple[str, ...]], style: str | None) -> None:
        """The names the rules use are the layer's ``fields`` (name: allowed values); the
        maps' ``style`` field is in every tile."""
        names = list(fields)
        for name in self.fields_from_zoom:
            if name not in names:
                raise ValueError(f"tiles: '{name}' is not a declared field ({', '.join(names)})")
        if self.classes:
            if self.classes.field not in names:
                raise ValueError(f"tiles: classes field '{self.classes.field}' is not declared")
            allowed = fields[self.classes.field]
            unknown = set(self.classes.from_zoom) - set(allowed)
            if unknown:
                raise ValueError(
                    f"tiles: classes {sorted(unknown)} are not values of "
                    f"'{self.classes.field}' ({', '.join(allowed)})"
                )
        first = self.fields_from_zoom.get(style, self.max_zoom) if style else self.min_zoom
        if self.levels and first > self.min_zoom:
            raise ValueError(
                f"tiles: the style field '{style}' must be carried from min_zoom "
                f"(fields_from_zoom: {{{style}: {self.min_zoom}}}): the maps colour tiles by it"
            )

    @property
    def levels(self) -> range:
        """The zooms served from generalised tables (one table per zoom)."""
        return range(self.min_zoom, self.detail_zoom) if self.detail_zoom else range(0)

    def class_zoom(self, value: str) -> int:
        """The first zoom at which features of class ``value`` are drawn."""
        assert self.classes is not None
        return self.classes.from_zoom.get(value, self.detail_zoom)

    def classes_at(self, z: int, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
        """The classes drawn at zoom ``z`` (None: no class rule, everything is drawn)."""
        if self.classes is None:
            return None
        return tuple(v for v in allowed if self.class_zoom(v) <= z)

    def fields_at(self, z: int, names: Sequence[str]) -> tuple[str, ...]:
        """Those of the layer's field ``names`` carried at zoom ``z`` (all from
        ``detail_zoom``)."""
        if z >= self.detail_zoom:
            return tuple(names)
        return tuple(n for n in names if self.fields_from_zoom.get(n, MAX_ZOOM + 1) <= z)

    def merges(self, geometry_family: str, z: int) -> bool:
        """Whether lines are merged at generalised zoom ``z`` (and so carry no id there)."""
        return (
            self.merge_lines
            and geometry_family == "line"
            and z < (self.detail_zoom or 0)
            and (self.merge_max_zoom is None or z <= self.merge_max_zoom)
        )

    def digest(self) -> str:
        """A short hash of the rules: part of the tile cache's key and the tiles' ETag, so
        that changed rules are never answered from tiles made by the old ones."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:8]
