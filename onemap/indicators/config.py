"""What the indicators read: ``config/indicators.yaml`` and ``config/road_treatments.yaml``.

Both files name layers, fields and coded values; every name is checked here against the
layer files (``onemap.core.layers``), so a typo or a value a layer does not declare is an
error when the indicators load, never a silent zero in a report.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from onemap.core.errors import UserError
from onemap.core.layers import AllowedValue, Layer, LayerField, load_layers
from onemap.core.settings import project_root
from onemap.core.yamlfile import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Role(_Strict):
    """A layer playing a part in the indicators, and the fields it reads."""

    # Attributes naming a field: coded ones (grouped by their declared values), and others.
    CODED: ClassVar[tuple[str, ...]] = ()
    PLAIN: ClassVar[tuple[str, ...]] = ()

    layer: str

    @model_validator(mode="after")
    def _fields_declared(self) -> _Role:
        layers = load_layers()
        if self.layer not in layers:
            raise ValueError(f"layer '{self.layer}' is not enabled in layers/index.yaml")
        declared = {f.name: f for f in layers[self.layer].fields}
        for attr in self.CODED + self.PLAIN:
            name = getattr(self, attr)
            if name not in declared:
                raise ValueError(f"layer '{self.layer}' declares no field '{name}' ({attr})")
            if attr in self.CODED and not declared[name].values:
                raise ValueError(f"{self.layer}.{name} declares no values to group by")
        return self

    def in_field(self, name: str, values: tuple[str, ...], key: str) -> None:
        """Refuse an empty list or a value the field does not declare."""
        allowed = self.field_of(name).allowed
        unknown = [v for v in values if v not in allowed]
        if unknown or not values:
            raise ValueError(
                f"{key}: {unknown or 'empty'}; {self.layer}.{name} allows {list(allowed)}"
            )

    def get_layer(self) -> Layer:
        """The layer this role reads."""
        return load_layers()[self.layer]

    def field_of(self, name: str) -> LayerField:
        """The declared field ``name`` of this role's layer."""
        return self.get_layer().field(name)

    def values_of(self, name: str) -> tuple[AllowedValue, ...]:
        """The coded values a field declares, in the layer file's order."""
        return self.field_of(name).values


class Districts(_Role):
    """The reporting areas (kecamatan)."""

    PLAIN = ("code", "name")

    code: str
    name: str


class Roads(_Role):
    """Road segments with condition, status, function and width."""

    CODED = ("condition", "status", "function")
    PLAIN = ("width",)

    condition: str
    status: str
    function: str
    width: str
    mantap: tuple[str, ...]
    heavy_damage: tuple[str, ...]


class Flood(_Role):
    """Flood-hazard zones and which classes count as exposure."""

    CODED = ("hazard",)

    hazard: str
    severity: tuple[str, ...]
    exposure: tuple[str, ...]


class Drainage(_Role):
    """Drainage channels, which of them serve flood zones, and within what distance."""

    CODED = ("hierarchy",)

    hierarchy: str
    serving: tuple[str, ...]
    service_distance_m: float = Field(gt=0)


class Zoning(_Role):
    """Spatial-plan zones."""

    CODED = ("zone",)

    zone: str


class IndicatorConfig(_Strict):
    """``config/indicators.yaml``."""

    districts: Districts
    roads: Roads
    flood: Flood
    drainage: Drainage
    zoning: Zoning

    @model_validator(mode="after")
    def _values_declared(self) -> IndicatorConfig:
        r, f, d = self.roads, self.flood, self.drainage
        r.in_field(r.condition, r.mantap, "roads.mantap")
        r.in_field(r.condition, r.heavy_damage, "roads.heavy_damage")
        f.in_field(f.hazard, f.severity, "flood.severity")
        f.in_field(f.hazard, f.exposure, "flood.exposure")
        d.in_field(d.hierarchy, d.serving, "drainage.serving")
        if sorted(f.severity) != sorted(f.field_of(f.hazard).allowed):
            raise ValueError("flood.severity must list every hazard class exactly once")
        if r.field_of(r.width).type not in ("real", "integer"):
            raise ValueError(f"{r.layer}.{r.width} is not numeric")
        return self


class Treatment(_Strict):
    """One road treatment and its unit cost."""

    label: str
    label_en: str
    unit_cost: float = Field(ge=0)
    source: str = Field(min_length=1)


class Treatments(_Strict):
    """``config/road_treatments.yaml``: condition class → treatment → Rp/m²."""

    currency: str
    unit: str
    treatments: dict[str, Treatment]
    condition_treatment: dict[str, str]

    @model_validator(mode="after")
    def _complete(self) -> Treatments:
        missing = [t for t in self.condition_treatment.values() if t not in self.treatments]
        if missing:
            raise ValueError(f"condition_treatment names unknown treatments {missing}")
        return self

    def check_covers(self, allowed: tuple[str, ...]) -> None:
        """Every condition class of the road layer needs a treatment, and nothing else."""
        if set(self.condition_treatment) != set(allowed):
            raise UserError(
                f"road_treatments.yaml: condition_treatment maps {sorted(self.condition_treatment)}"
                f" but the road layer's condition classes are {sorted(allowed)}"
            )

    def used(self) -> list[str]:
        """Treatments some condition class calls for, in the file's order."""
        wanted = set(self.condition_treatment.values())
        return [t for t in self.treatments if t in wanted]

    def unit_cost_of(self, condition: str) -> float:
        """Rp/m² of the treatment a condition class calls for."""
        return self.treatments[self.condition_treatment[condition]].unit_cost


def _read(path: Path, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(read_yaml(path))
    except (ValidationError, yaml.YAMLError, OSError) as exc:
        raise UserError(f"{path}: {exc}") from exc


def config_dir() -> Path:
    """The checkout's ``config/`` folder."""
    return project_root() / "config"


@cache
def load_config(path: Path | None = None) -> IndicatorConfig:
    """``config/indicators.yaml``, validated against the layer files."""
    return _read(path or config_dir() / "indicators.yaml", IndicatorConfig)  # type: ignore[return-value]


@cache
def load_treatments(path: Path | None = None) -> Treatments:
    """``config/road_treatments.yaml``, checked against the road layer's condition classes."""
    treatments: Treatments = _read(path or config_dir() / "road_treatments.yaml", Treatments)  # type: ignore[assignment]
    roads = load_config().roads
    treatments.check_covers(roads.field_of(roads.condition).allowed)
    return treatments
