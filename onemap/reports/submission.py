"""Validate a citizen report: the rules intake (API) and imports (CLI) share.

A report is refused, never repaired, when anything is wrong: a refused report is not
stored at all. Free text may not carry markup or control characters (a report is
shown in web pages and QGIS; refusing ``<script>`` is simpler and safer than trusting
every consumer to escape it). Telephone numbers, e-mail addresses and the reporter's
name are masked in the published description; the original goes to the private table.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from onemap.core.city import get_city
from onemap.core.layers import Layer, get_layer, normalise_token
from onemap.reports import LAYER_ID
from onemap.reports.config import ReportsConfig, load_config
from onemap.reports.masking import mask_text
from onemap.reports.private import private_of

# Markup and script vectors: a tag opener, an HTML comment/doctype, a javascript:/data:
# URL, an inline event handler. "banjir < 30 cm" stays allowed.
MARKUP = re.compile(
    r"<\s*[A-Za-z!/?]|\bjavascript\s*:|\bvbscript\s*:|\bdata\s*:\s*text/html|\bon[a-z]+\s*=",
    re.IGNORECASE,
)
# Control characters other than tab and newline, and Unicode bidi overrides.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
SOURCE_MAX_CHARS = 200  # an imported row's ``source`` text
FEATURE_KEYS = {"type", "geometry", "properties", "id"}
API_PROPERTIES = (
    "category",
    "description",
    "channel",
    "reporter_name",
    "reporter_phone",
    "reporter_email",
)


class Invalid(ValueError):
    """A refused report: HTTP status, an OGC exception code and a message for the client."""

    def __init__(self, message: str, code: str = "InvalidParameterValue", status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Submission:
    """A valid report, ready to store (``reported_at`` etc. only from imports)."""

    category: str
    description: str  # as published (masked)
    description_original: str
    channel: str
    lon: float
    lat: float
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    report_id: str | None = None
    reported_at: datetime | None = None
    status: str | None = None
    closed_at: datetime | None = None
    source: str = "intake"


def _no_constant(name: str) -> float:
    raise Invalid(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Invalid("a JSON object repeats a key")
    return dict(pairs)


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no repeated keys, bounded nesting."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("the body is not UTF-8") from exc
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except RecursionError as exc:
        raise Invalid("the JSON is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise Invalid(f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc


def clean_text(name: str, value: Any, max_chars: int, min_chars: int = 0) -> str:
    """NFC-normalised, trimmed text within the limits, without markup or control chars."""
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be a string")
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").strip()
    if CONTROL.search(text):
        raise Invalid(f"'{name}' contains control characters")
    if MARKUP.search(text):
        raise Invalid(f"'{name}' contains markup or script (HTML tags, javascript: URLs)")
    if len(text) < min_chars:
        raise Invalid(f"'{name}' needs at least {min_chars} characters")
    if len(text) > max_chars:
        raise Invalid(f"'{name}' has {len(text)} characters; at most {max_chars}")
    return text


def coded(layer: Layer, name: str, value: Any) -> str:
    """A coded field's canonical value from any spelling the layer file knows."""
    field = layer.field(name)
    if not isinstance(value, str):
        raise Invalid(f"'{name}' must be a string; allowed: {', '.join(field.allowed)}")
    found = field.lookup().get(normalise_token(value))
    if found is None:
        raise Invalid(f"unknown {name} {value[:40]!r}; allowed: {', '.join(field.allowed)}")
    return found


def contact(layer: Layer, name: str, value: Any, config: ReportsConfig) -> str | None:
    """An optional personal field, checked against the private field's pattern."""
    if value is None or value == "":
        return None
    private = private_of(layer)
    assert private is not None
    field = next(f for f in private.fields if f.name == name)
    text = clean_text(name, value, config.intake.name_max_chars if "name" in name else 254)
    if field.pattern and not re.fullmatch(field.pattern, text):
        raise Invalid(f"'{name}' is not a valid {field.label_en or field.label}")
    return text


def mask(
    description: str, name: str | None, config: ReportsConfig, given: tuple[str | None, ...] = ()
) -> str:
    """The text with numbers, e-mail addresses, the name and the ``given`` contacts masked
    (the rules: ``onemap.reports.masking``)."""
    return mask_text(description, config.intake.mask, name, given)


def point(geometry: Any) -> tuple[float, float]:
    """(lon, lat) of a GeoJSON Point inside the city (config/city.yaml)."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise Invalid("the geometry must be a GeoJSON Point", "InvalidGeometry")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) not in (2, 3):
        raise Invalid("a Point has [longitude, latitude] coordinates", "InvalidGeometry")
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
        raise Invalid("coordinates must be numbers", "InvalidGeometry")
    lon, lat = float(coords[0]), float(coords[1])
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise Invalid("coordinates out of range (WGS 84 longitude, latitude)", "InvalidGeometry")
    city = get_city()
    if not city.contains_bounds(lon, lat, lon, lat):
        hint = (
            " (latitude and longitude swapped?)" if city.contains_bounds(lat, lon, lat, lon) else ""
        )
        raise Invalid(f"the point is outside {city.name}{hint}", "OutsideCity")
    return lon, lat


def feature(body: bytes, config: ReportsConfig | None = None) -> Submission:
    """Validate an intake request body (a GeoJSON Feature with a Point)."""
    config = config or load_config()
    doc = parse_json(body)
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise Invalid("the body must be a GeoJSON Feature")
    extra = set(doc) - FEATURE_KEYS
    if extra:
        raise Invalid(f"unexpected member(s) {sorted(extra)} in the Feature")
    if doc.get("id") is not None:
        raise Invalid("the server assigns the id: leave 'id' out")
    props = doc.get("properties")
    if not isinstance(props, dict):
        raise Invalid("the Feature needs 'properties' (category, description, …)")
    unknown = set(props) - set(API_PROPERTIES)
    if unknown:
        raise Invalid(
            f"unknown or read-only properties {sorted(unknown)}; a report takes "
            f"{', '.join(API_PROPERTIES)}"
        )
    lon, lat = point(doc.get("geometry"))
    channel = props.get("channel", "web")
    return properties(props, lon, lat, config, channels=config.intake.api_channels, channel=channel)


def properties(
    props: dict[str, Any],
    lon: float,
    lat: float,
    config: ReportsConfig,
    *,
    channels: tuple[str, ...],
    channel: Any,
    **extra: Any,
) -> Submission:
    """Check the properties every report has; ``extra`` are import-only values."""
    layer = get_layer(LAYER_ID)
    if props.get("category") is None:
        raise Invalid("'category' is required")
    category = coded(layer, "category", props["category"])
    chan = coded(layer, "channel", channel)
    if chan not in channels:
        raise Invalid(f"channel '{chan}' is not accepted here; use one of {', '.join(channels)}")
    if props.get("description") is None:
        raise Invalid("'description' is required")
    original = clean_text(
        "description",
        props["description"],
        config.intake.description_max_chars,
        config.intake.description_min_chars,
    )
    name = contact(layer, "reporter_name", props.get("reporter_name"), config)
    phone = contact(layer, "reporter_phone", props.get("reporter_phone"), config)
    email = contact(layer, "reporter_email", props.get("reporter_email"), config)
    if "source" in extra:  # an import's source text is published like the description
        extra["source"] = mask(
            clean_text("source", extra["source"], SOURCE_MAX_CHARS), name, config, (phone, email)
        )
    return Submission(
        category=category,
        description=mask(original, name, config, (phone, email)),
        description_original=original,
        channel=chan,
        lon=lon,
        lat=lat,
        reporter_name=name,
        reporter_phone=phone,
        reporter_email=email,
        **extra,
    )


def too_large(size: int, config: ReportsConfig | None = None) -> Invalid:
    """The error for a body over the limit."""
    limit = (config or load_config()).intake.max_body_bytes
    return Invalid(
        f"the body has {size} bytes or more; at most {limit}",
        "PayloadTooLarge",
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    )
