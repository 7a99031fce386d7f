"""The layer definition: one YAML file per layer, parsed once into a pydantic model.

Everything downstream (table DDL, ETL validation, pygeoapi resources, map styles and
legends) reads these models; nothing else hard-codes a layer's id, field or colour.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from onemap.core.derive_rules import BOUNDARY_RULES, MEASURE_RULES, Derive
from onemap.core.extensions import layer_blocks
from onemap.core.layer_block import LayerBlock
from onemap.core.settings import project_root
from onemap.core.source_rules import OsmRules, SurveyRules, check_source_rules
from onemap.core.tile_rules import TileRules
from onemap.core.yamlfile import read_yaml

# "timestamp" is a point in time with its zone (timestamptz), e.g. when a report arrived.
FieldType = Literal["text", "integer", "real", "date", "timestamp", "boolean"]
GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"
]
_IDENT = r"^[a-z][a-z0-9_]*$"
# Columns every layer table carries besides its declared fields.
SYSTEM_COLUMNS = ("source", "load_id", "geom")


def normalise_token(text: str) -> str:
    """Fold a raw attribute value for matching: case, spaces, dashes, dots."""
    return re.sub(r"[\s\-_.]+", " ", str(text).strip().lower())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllowedValue(_Strict):
    """One value of a coded field, with its labels, colour and the synonyms agencies write."""

    value: str
    label: str
    label_en: str | None = None
    color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")
    synonyms: tuple[str, ...] = ()
    description: str | None = None


class LayerField(_Strict):
    """One attribute column of a layer."""

    name: str = Field(pattern=_IDENT)
    type: FieldType = "text"
    label: str
    label_en: str | None = None
    description: str
    unit: str | None = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    values: tuple[AllowedValue, ...] = ()
    source_names: tuple[str, ...] = ()
    synthetic: bool = False
    index: bool = False
    derive: Derive | None = None

    @field_validator("name")
    @classmethod
    def _not_system(cls, v: str) -> str:
        if v in SYSTEM_COLUMNS or v == "id":
            raise ValueError(f"'{v}' is a reserved column name")
        return v

    @property
    def allowed(self) -> tuple[str, ...]:
        """The canonical values, in declared order."""
        return tuple(v.value for v in self.values)

    def lookup(self) -> dict[str, str]:
        """Map every normalised spelling (value, label, synonyms) to the canonical value."""
        table: dict[str, str] = {}
        for v in self.values:
            for spelling in (v.value, v.label, v.label_en, *v.synonyms):
                if spelling:
                    table[normalise_token(spelling)] = v.value
        return table

    def display(self, lang: str = "id") -> str:
        """The human label, with the unit when there is one."""
        text = self.label_en if lang == "en" and self.label_en else self.label
        return f"{text} ({self.unit})" if self.unit else text


class Geometry(_Strict):
    """Geometry type and storage CRS of a layer."""

    type: GeometryType
    srid: int = 4326


class Style(_Strict):
    """How maps draw the layer: colour by a coded field, or one colour."""

    field: str | None = None
    color: str = Field(default="#3366cc", pattern=r"^#[0-9A-Fa-f]{6}$")
    weight: float = 2.0
    fill_opacity: float = 0.5
    opacity: float = 0.9


class MapHints(_Strict):
    """How the public web maps present the layer (``onemap.publish.maps``).

    ``visible``: switched on when the combined One Map opens. Layers that cover the
    whole city (zoning, kelurahan) make the first view busy; they stay in the layer
    control, off until the user turns them on.
    """

    visible: bool = True


class Checks(_Strict):
    """Data checks run after every load; a failure aborts the swap."""

    min_rows: int = 1
    max_rows: int | None = None
    max_reject_ratio: float = 0.05


class HistoryPolicy(_Strict):
    """How many published versions a layer keeps (applied after each successful load).

    ``keep``: the latest N versions, the current one included. ``keep_days``: every
    version that was current at some time in the last D days. With both, a version
    either rule keeps is kept. Older row versions are deleted
    (``onemap.load.history.prune``); without a policy every version is kept.
    """

    keep: int | None = Field(default=None, ge=1)
    keep_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> HistoryPolicy:
        if self.keep is None and self.keep_days is None:
            raise ValueError("history: give keep (versions) or keep_days (days), or both")
        return self


class RasterBands(_Strict):
    """Another set of class bounds for the same classes (``onemap load … --bands NAME``):
    e.g. a hazard index 0–1 beside the depth in metres. Values outside ``valid_range``
    refuse the file; ``min_field``/``max_field`` get the class's value range only when
    the band set names them (a depth range is not an index range)."""

    bins: tuple[float, ...] = Field(min_length=1)
    unit: str | None = None
    description: str | None = None
    valid_range: tuple[float, float] | None = None
    ignore_at_or_below: float | None = None
    min_field: str | None = None
    max_field: str | None = None


class RasterClasses(_Strict):
    """How a raster (e.g. a modelled flood depth) becomes polygons of the layer.

    Cells are classified by ``bins`` into ``classes`` (values of ``field``), polygonised,
    dissolved per class and simplified by ``simplify_m`` metres; nodata cells, and cells
    at or below ``ignore_at_or_below``, belong to no class. ``attributes`` are the other
    fields a raster cannot carry, with their defaults; each can be set per load with
    ``onemap load LAYER FILE --<field> VALUE``.
    """

    field: str
    bins: tuple[float, ...] = Field(min_length=1)
    classes: tuple[str, ...]
    unit: str | None = None
    ignore_at_or_below: float | None = 0.0
    simplify_m: float = Field(default=10.0, ge=0)
    min_area_m2: float = Field(default=0.0, ge=0)
    min_field: str | None = None
    max_field: str | None = None
    key: str
    attributes: dict[str, str] = Field(default_factory=dict)
    # The bands above are ``default_bands``; ``bands`` names the others.
    default_bands: str = Field(default="default", pattern=_IDENT)
    valid_range: tuple[float, float] | None = None
    bands: dict[str, RasterBands] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bins(self) -> RasterClasses:
        if list(self.bins) != sorted(set(self.bins)):
            raise ValueError(f"raster bins must be strictly ascending, got {list(self.bins)}")
        if len(self.classes) != len(self.bins) + 1:
            raise ValueError(
                f"{len(self.bins)} raster bins make {len(self.bins) + 1} classes, "
                f"but {len(self.classes)} are named"
            )
        return self

    def with_bins(self, bins: tuple[float, ...]) -> RasterClasses:
        """The same rules with other class bounds (validated again)."""
        return RasterClasses.model_validate({**self.model_dump(), "bins": bins})

    @property
    def band_names(self) -> tuple[str, ...]:
        """The band sets a file may use: the default one first."""
        return (self.default_bands, *self.bands)

    def with_bands(self, name: str) -> RasterClasses:
        """The rules for band set ``name`` (KeyError naming the known ones)."""
        if name == self.default_bands:
            return self
        if name not in self.bands:
            raise KeyError(f"no band set '{name}'; this layer has {', '.join(self.band_names)}")
        b = self.bands[name]
        return RasterClasses.model_validate(
            {
                **self.model_dump(),
                **b.model_dump(exclude={"description"}),
                "default_bands": name,  # what the rules now are, for messages
                "bands": {},
            }
        )


class Coverage(_Strict):
    """A raster published beside the layer as an OGC API Coverages collection."""

    id: str = Field(pattern=_IDENT)
    title: str
    title_en: str
    description: str
    unit: str
    demo_file: str | None = None


class Layer(_Strict):
    """A layer: the single source of truth for its table, validation, API and maps."""

    id: str = Field(pattern=_IDENT)
    title: str
    title_en: str
    description: str
    keywords: tuple[str, ...]
    license: str
    attribution: str
    office: str
    # ISO 19115 MD_MaintenanceFrequencyCode and MD_TopicCategoryCode (the codes SNI
    # 8843-1:2019, Indonesia's ISO 19115 profile, uses in its catalogue records).
    update_frequency: Literal[
        "continual", "daily", "weekly", "fortnightly", "monthly", "quarterly", "biannually",
        "annually", "asNeeded", "irregular", "notPlanned", "unknown",
    ] = "irregular"  # fmt: skip
    topic_category: str = "imageryBaseMapsEarthCover"
    synthetic: bool = False
    synthetic_note: str | None = None
    geometry: Geometry
    primary_key: str
    label_field: str | None = None
    style: Style = Style()
    map: MapHints = MapHints()
    checks: Checks = Checks()
    history: HistoryPolicy | None = None  # retention of published versions
    fields: tuple[LayerField, ...]
    demo_file: str | None = None
    raster: RasterClasses | None = None
    # OSM extracts and condition surveys by link and chainage (onemap.core.source_rules).
    osm: OsmRules | None = None
    survey: SurveyRules | None = None
    # The layer-file blocks features own (e.g. reports' `private:`), by key, each validated
    # by its feature's model (onemap.core.extensions); written at the top level of the file.
    blocks: dict[str, SerializeAsAny[LayerBlock]] = Field(default_factory=dict)
    # "module:function" loading demo_file instead of `onemap load` (fn(layer, path, settings)
    # -> rows): a layer whose rows arrive through its own intake loads its demo that way.
    demo_loader: str | None = Field(default=None, pattern=r"^[a-z_][\w.]*:[a-z_]\w*$")
    coverage: Coverage | None = None
    # Vector tiles per zoom: classes, attributes, generalisation (onemap.core.tile_rules).
    tiles: TileRules = TileRules()

    @model_validator(mode="after")
    def _consistent(self) -> Layer:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate field names in {names}")
        for ref in (self.primary_key, self.label_field, self.style.field):
            if ref is not None and ref not in names:
                raise ValueError(f"'{ref}' is not a declared field ({', '.join(names)})")
        if self.style.field and not self.field(self.style.field).values:
            raise ValueError(f"style field '{self.style.field}' declares no values")
        if self.synthetic and not self.synthetic_note:
            raise ValueError("a synthetic layer needs a synthetic_note saying what is generated")
        if self.raster:
            self._check_raster(names)
        if self.osm or self.survey:
            check_source_rules({f.name: f.allowed for f in self.fields}, self.osm, self.survey)
        for f in self.fields:
            if f.derive:
                self._check_derive(f)
        self.tiles.check({f.name: f.allowed for f in self.fields}, self.style.field)
        return self

    @model_validator(mode="before")
    @classmethod
    def _feature_blocks(cls, data: Any) -> Any:
        """Move the keys features own into ``blocks``, validated by their models."""
        if not isinstance(data, dict):
            return data
        owned = layer_blocks()
        if not owned.keys() & data.keys():
            return data
        blocks = dict(data.get("blocks") or {})
        for key, model in owned.items():
            if key not in data:
                continue
            try:
                blocks[key] = model.model_validate(data[key])
            except ValidationError as exc:  # the file's own path to each problem
                raise ValidationError.from_exception_data(
                    cls.__name__,
                    [
                        {"type": e["type"], "loc": (key, *e["loc"]), "input": e["input"]}
                        | ({"ctx": e["ctx"]} if "ctx" in e else {})
                        for e in exc.errors()
                    ],
                ) from None
        return {**{k: v for k, v in data.items() if k not in owned}, "blocks": blocks}

    @model_validator(mode="after")
    def _blocks_fit(self) -> Layer:
        for block in self.blocks.values():
            block.check(self)
        return self

    def _check_derive(self, f: LayerField) -> None:
        rule = f.derive.rule
        if rule in BOUNDARY_RULES:
            if f.type != "text" or BOUNDARY_RULES[rule] == self.id:
                raise ValueError(f"{f.name}: derive {rule} needs a text field of another layer")
            return
        family = MEASURE_RULES[rule][0]
        if f.type not in ("integer", "real") or self.geometry_family != family:
            raise ValueError(f"{f.name}: derive {rule} needs a number field on a {family} layer")

    def _check_raster(self, names: list[str]) -> None:
        r = self.raster
        refs = [r.field, r.min_field, r.max_field, *r.attributes]
        for ref in refs:
            if ref is not None and ref not in names:
                raise ValueError(f"raster: '{ref}' is not a declared field ({', '.join(names)})")
        unknown = set(r.classes) - set(self.field(r.field).allowed)
        if unknown:
            raise ValueError(
                f"raster: classes {sorted(unknown)} are not values of '{r.field}' "
                f"({', '.join(self.field(r.field).allowed)})"
            )
        for name, b in r.bands.items():
            for ref in (b.min_field, b.max_field):
                if ref is not None and ref not in names:
                    raise ValueError(f"raster.bands.{name}: '{ref}' is not a declared field")
            r.with_bands(name)  # the same number of classes, ascending bounds
        placeholders = set(re.findall(r"{(\w+)}", r.key))
        settable = {r.field, *r.attributes}
        if not placeholders <= settable:
            allowed = ", ".join("{" + name + "}" for name in sorted(settable))
            raise ValueError(f"raster: key '{r.key}' may only use {allowed}")

    @property
    def changes_between_loads(self) -> bool:
        """Whether rows arrive outside loads (a feature's intake, e.g. citizen reports):
        what is derived from a published version (counts, extents) cannot be cached."""
        return any(block.rows_outside_loads for block in self.blocks.values())

    def field(self, name: str) -> LayerField:
        """The declared field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def pk(self) -> LayerField:
        """The primary-key field."""
        return self.field(self.primary_key)

    @property
    def style_field(self) -> LayerField | None:
        """The coded field the maps colour by, if any."""
        return self.field(self.style.field) if self.style.field else None

    @property
    def field_names(self) -> tuple[str, ...]:
        """The declared fields' names, in order."""
        return tuple(f.name for f in self.fields)

    @property
    def geometry_family(self) -> str:
        """'point', 'line' or 'polygon'."""
        t = self.geometry.type.removeprefix("Multi")
        return {"Point": "point", "LineString": "line", "Polygon": "polygon"}[t]


def layers_dir() -> Path:
    """Folder holding ``index.yaml`` and one folder per layer."""
    return project_root() / "layers"


def read_layer(path: Path) -> Layer:
    """Parse and validate one layer file, naming the file on error."""
    try:
        data = read_yaml(path)
        layer = Layer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'layer'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"{path}: invalid layer definition: {problems}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if layer.id != path.stem:
        raise ValueError(f"{path}: id '{layer.id}' does not match the file name")
    return layer


@cache
def load_layers(directory: Path | None = None) -> dict[str, Layer]:
    """All enabled layers, in the order ``layers/index.yaml`` lists them."""
    directory = directory or layers_dir()
    index = read_yaml(directory / "index.yaml")
    return {lid: read_layer(directory / lid / f"{lid}.yaml") for lid in index["layers"]}


def get_layer(layer_id: str) -> Layer:
    """One enabled layer by id, with a message listing the known ones."""
    layers = load_layers()
    if layer_id not in layers:
        raise KeyError(f"unknown layer '{layer_id}'; known layers: {', '.join(layers)}")
    return layers[layer_id]
