"""Fields that follow from the geometry: the ``derive:`` of a field in a layer file.

``kecamatan_code``/``kelurahan_code``: the code of the boundary unit holding the geometry
(its point on surface), from the published boundary layer; measures (area, length) are
planar in the city's metric CRS (config/city.yaml ``metric_crs``). The loader fills and
checks them (``onemap.load.derive``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# boundary rule -> the layer whose primary key it takes; measure rule -> (family, factor)
BOUNDARY_RULES = {"kecamatan_code": "admin_kecamatan", "kelurahan_code": "admin_kelurahan"}
MEASURE_RULES = {
    "area_m2": ("polygon", 1.0),
    "area_ha": ("polygon", 1e-4),
    "area_km2": ("polygon", 1e-6),
    "length_m": ("line", 1.0),
    "length_km": ("line", 1e-3),
}
DeriveRule = Literal[
    "kecamatan_code", "kelurahan_code", "area_m2", "area_ha", "area_km2", "length_m", "length_km"
]


class Derive(BaseModel):
    """How a field follows from the geometry: filled when the file lacks it, checked when
    it has it (a mismatch is a reject with the reason). ``tolerance``: for measures, the
    relative difference accepted (agencies round, and measure in other projections)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: DeriveRule
    tolerance: float = Field(default=0.05, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"rule": data} if isinstance(data, str) else data
