"""``config/reports.yaml``: routing, service standards, holidays, intake limits, lookups.

Validated against the layer file: every category is routed to a declared office, every
lookup names a published layer and field, and its target is a field of ``reports``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from functools import cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from onemap.core.city import get_city
from onemap.core.layers import Layer, get_layer, load_layers
from onemap.core.settings import project_root
from onemap.core.yamlfile import read_yaml
from onemap.reports import LAYER_ID

_IDENT = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Office(_Strict):
    """An office (OPD) reports are routed to."""

    name: str
    source: str


class Route(_Strict):
    """Where one category goes and how long the office has."""

    office: str
    sla_working_days: int = Field(ge=1, le=60)
    source: str


class RateLimit(_Strict):
    """At most ``requests`` intake POSTs per client address in ``per_seconds``."""

    requests: int = Field(ge=1)
    per_seconds: int = Field(ge=1, le=86_400)


class Intake(_Strict):
    """Limits of ``POST /collections/reports/items``."""

    max_body_bytes: int = Field(ge=512, le=1_000_000)
    description_min_chars: int = Field(ge=1)
    description_max_chars: int = Field(ge=10, le=20_000)
    name_max_chars: int = Field(ge=1, le=500)
    api_channels: tuple[str, ...]
    rate_limit: RateLimit
    trusted_proxies: tuple[str, ...] = ()
    mask: str = "[disamarkan]"

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            ipaddress.ip_address(text)
        return v


class Lookup(_Strict):
    """Copy ``field`` of the nearest feature of ``layer`` within the distance into ``into``."""

    layer: str = Field(pattern=_IDENT)
    field: str = Field(pattern=_IDENT)
    into: str = Field(pattern=_IDENT)
    distance_into: str | None = Field(default=None, pattern=_IDENT)
    max_distance_m: float = Field(gt=0, le=5000)
    required: bool = False


class StaffTokens(_Strict):
    """Staff tokens (``onemap users add``): every token expires, after ``token_days`` unless
    ``--expires-days`` says otherwise."""

    token_days: int = Field(default=90, ge=1, le=366)


class ReportsConfig(_Strict):
    """The whole of config/reports.yaml."""

    id_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    working_weekdays: tuple[int, ...] = Field(min_length=1)
    default_sla_working_days: int = Field(ge=1, le=60)
    offices: dict[str, Office]
    routing: dict[str, Route]
    holidays: tuple[dt.date, ...] = ()
    intake: Intake
    staff: StaffTokens = StaffTokens()
    locate: tuple[Lookup, ...] = ()

    @field_validator("working_weekdays")
    @classmethod
    def _weekdays(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not set(v) <= set(range(1, 8)):
            raise ValueError("working_weekdays are ISO weekday numbers 1 (Monday) to 7")
        return v

    @property
    def timezone(self) -> str:
        """The city's time zone (config/city.yaml): report dates and months are local."""
        return get_city().timezone

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone of dates and months."""
        return get_city().tz

    @property
    def holiday_set(self) -> frozenset[dt.date]:
        """The holidays as a set."""
        return frozenset(self.holidays)

    def route(self, category: str) -> Route:
        """Office and service standard of a category."""
        return self.routing[category]

    def check_against(self, layer: Layer, layers: dict[str, Layer]) -> None:
        """Raise ValueError when the file disagrees with the layer files."""
        categories = set(layer.field("category").allowed)
        if set(self.routing) != categories:
            raise ValueError(
                f"routing must cover exactly the categories {sorted(categories)}; "
                f"it has {sorted(self.routing)}"
            )
        pattern = layer.field("office").pattern or ".*"
        for code in self.offices:
            if not re.fullmatch(pattern, code):
                raise ValueError(f"office code '{code}' does not match {pattern}")
        unknown = {r.office for r in self.routing.values()} - set(self.offices)
        if unknown:
            raise ValueError(f"routing names undeclared offices {sorted(unknown)}")
        channels = set(layer.field("channel").allowed)
        if not set(self.intake.api_channels) <= channels:
            raise ValueError(f"intake.api_channels must be among {sorted(channels)}")
        names = {f.name for f in layer.fields}
        for lk in self.locate:
            if lk.layer not in layers:
                raise ValueError(f"locate: unknown layer '{lk.layer}'")
            layers[lk.layer].field(lk.field)  # KeyError names the field
            for target in (lk.into, lk.distance_into):
                if target is not None and target not in names:
                    raise ValueError(f"locate: '{target}' is not a field of '{layer.id}'")


@cache
def load_config() -> ReportsConfig:
    """config/reports.yaml, validated against the layer files."""
    path = project_root() / "config" / "reports.yaml"
    cfg = ReportsConfig.model_validate(read_yaml(path))
    try:
        cfg.check_against(get_layer(LAYER_ID), load_layers())
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return cfg
