"""The regions (kabupaten/kota) a deployment holds, and whether its layers are partitioned.

By default a deployment holds one region, the city of ``config/city.yaml``, and every
layer is one plain table. A regions file (``RegionSettings.regions_file``, default
``config/regions.yaml``; ``config/regions.example.yaml`` shows the form) lists several,
by Kemendagri code (docs/standards.md §6.1); then each layer table is LIST-partitioned
by its ``region`` column, one partition per region, and a load names the region it
replaces (``onemap load LAYER FILE --region 33.22``, ``onemap.load.regions``).
"""

from __future__ import annotations

import re
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from onemap.core.city import City, get_city
from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.core.settings import RegionSettings
from onemap.core.yamlfile import read_yaml

# Kemendagri kode wilayah of a kabupaten/kota: province.regency (Permendagri 72/2019).
CODE = re.compile(r"^\d{2}\.\d{2}$")


class Region(BaseModel):
    """One kabupaten/kota: its code, its name, and the extent its rows must lie in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    # lon/lat, WGS 84: a load for the region refuses rows outside it (plus the city
    # file's extent_margin_deg), as a one-city load refuses rows outside the city.
    bbox: tuple[float, float, float, float]

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not CODE.match(v):
            raise ValueError(f"'{v}' is not a Kemendagri kabupaten/kota code such as 33.74")
        return v

    def extent(self, city: City) -> City:
        """The city model with this region's extent: what a load for it validates against."""
        return city.model_copy(update={"bbox": self.bbox})


class RegionList(RootModel[list[Region]]):
    """The regions file: a non-empty list of regions with distinct codes."""

    root: list[Region] = Field(min_length=1)

    @field_validator("root")
    @classmethod
    def _distinct(cls, v: list[Region]) -> list[Region]:
        codes = [r.code for r in v]
        if len(set(codes)) != len(codes):
            raise ValueError(f"region codes repeat: {codes}")
        return v


@cache
def regions() -> tuple[Region, ...]:
    """The deployment's regions (the one city when no regions file exists)."""
    path = RegionSettings().regions_file
    if not path.exists():
        city = get_city()
        return (Region(code=city.kemendagri_code, name=city.name, bbox=city.bbox),)
    return tuple(RegionList.model_validate(read_yaml(path)).root)


def partitioned() -> bool:
    """Whether the deployment's layer tables are partitioned by region."""
    forced = RegionSettings().partition_by_region
    return forced if forced is not None else len(regions()) > 1


def layer_partitioned(layer: Layer) -> bool:
    """Whether ``layer``'s table is partitioned: in a partitioned deployment, every layer
    whose rows arrive only by loads (a layer fed by citizen reports stays one table: its
    private rows refer to its key alone)."""
    return partitioned() and not layer.changes_between_loads


def get_region(code: str) -> Region:
    """The region with this code, or a ``UserError`` naming the known ones."""
    for r in regions():
        if r.code == code:
            return r
    known = ", ".join(f"{r.code} ({r.name})" for r in regions())
    raise UserError(f"--region {code}: not a region of this deployment (its regions: {known})")


def partition_table(layer_id: str, code: str) -> str:
    """The name of a layer's partition for a region: ``road_condition__r33_22``."""
    name = f"{layer_id}__r{code.replace('.', '_')}"
    if len(name) > 50:  # index names add a suffix; PostgreSQL's limit is 63
        raise UserError(f"layer id '{layer_id}' is too long for partition names")
    return name
