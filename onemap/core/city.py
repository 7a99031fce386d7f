"""The city this deployment serves (``config/city.yaml``)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from onemap.core.settings import project_root
from onemap.core.yamlfile import read_yaml


class Contact(BaseModel):
    """The API's point of contact (pygeoapi's ``metadata.contact``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    city: str
    country: str


class City(BaseModel):
    """Facts about the city: names, extent, metric CRS, map centre, who publishes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    province: str
    kind: str
    kind_en: str
    kemendagri_code: str
    bps_code: str
    bbox: tuple[float, float, float, float]
    extent_margin_deg: float
    metric_crs: int
    center: tuple[float, float]
    timezone: str
    timezone_label: str
    output_crs: tuple[int, ...]
    srids: tuple[int, ...]
    area_km2_bps: float
    government: str
    contact: Contact
    site_title: str
    site_title_en: str

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        ZoneInfo(v)  # raises for an unknown zone
        return v

    @property
    def tz(self) -> ZoneInfo:
        """The city's local time zone."""
        return ZoneInfo(self.timezone)

    def contains_bounds_array(self, b: np.ndarray) -> np.ndarray:
        """Vectorised ``contains_bounds`` for an (n, 4) array of boxes (NaN: outside)."""
        m = self.extent_margin_deg
        x0, y0, x1, y1 = self.bbox
        with np.errstate(invalid="ignore"):
            return (
                (b[:, 0] >= x0 - m)
                & (b[:, 2] <= x1 + m)
                & (b[:, 1] >= y0 - m)
                & (b[:, 3] <= y1 + m)
            )

    def contains_bounds(self, minx: float, miny: float, maxx: float, maxy: float) -> bool:
        """Whether a lon/lat box lies within the city extent plus the margin."""
        m = self.extent_margin_deg
        x0, y0, x1, y1 = self.bbox
        return minx >= x0 - m and maxx <= x1 + m and miny >= y0 - m and maxy <= y1 + m


@cache
def get_city() -> City:
    """The city described by config/city.yaml."""
    path = project_root() / "config" / "city.yaml"
    return City.model_validate(read_yaml(path))
