"""Where a layer's rows came from: the ``source`` column every layer table carries.

A load records per row the source its file names (a ``source`` column), else the one
given with ``--source`` (free text, or the id of a source registered in
``config/sources.yaml``), else the file itself: its name and the start of its SHA-256
(the full digest is in ``onemap_meta.loads``). Only the generators write ``synthetic``
(etl/synthetic): a real file is never labelled synthetic by a default. The catalogue's
lineage and the maps' badges read these values from the published rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from onemap.core.layers import Layer
from onemap.core.settings import project_root
from onemap.core.yamlfile import read_yaml

SYNTHETIC = "synthetic"  # what etl/synthetic writes in its files' source column
DIGEST_CHARS = 16  # of the SHA-256 kept in each row: 64 bits tell files apart
MAX_SOURCE_CHARS = 200


class Source(BaseModel):
    """A registered source (config/sources.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    agency: str
    title: str
    licence: str
    url: str | None = None  # only where the address is known to be right


@cache
def registered_sources() -> dict[str, Source]:
    """The sources of config/sources.yaml by id (none when the file is absent)."""
    path = project_root() / "config" / "sources.yaml"
    if not path.exists():
        return {}
    entries = read_yaml(path).get("sources") or []
    return {s.id: s for s in (Source.model_validate(e) for e in entries)}


def is_synthetic(value: str | None) -> bool:
    """Whether a row's source says anything in it was generated: ``synthetic``,
    ``synthetic:…``, or a real source with generated attributes (``osm+synthetic``)."""
    if value is None:
        return False
    return any(p == SYNTHETIC or p.startswith(SYNTHETIC + ":") for p in value.split("+"))


def source_text(given: str) -> str:
    """The value ``--source`` stores: a registered id as is, free text trimmed."""
    text = " ".join(given.split())
    if not text:
        raise ValueError("--source is empty: give a registered source id or a description")
    if len(text) > MAX_SOURCE_CHARS:
        raise ValueError(f"--source is longer than {MAX_SOURCE_CHARS} characters")
    return text


def file_source(name: str, sha256: str | None) -> str:
    """The default source of a file's rows: ``file:NAME sha256:0123abcd…``."""
    digest = f" sha256:{sha256[:DIGEST_CHARS]}" if sha256 else ""
    return f"file:{name}"[: MAX_SOURCE_CHARS - len(digest)] + digest


def describe(value: str) -> dict[str, str]:
    """A source value for the catalogue: the registered entry's facts, or the text."""
    src = registered_sources().get(value)
    if src is None:
        return {"source": value}
    out = {"source": value, "agency": src.agency, "title": src.title, "licence": src.licence}
    return out | ({"url": src.url} if src.url else {})


def split_sources(counts: Iterable[tuple[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """(real, synthetic) row counts by source value."""
    real: dict[str, int] = {}
    synthetic: dict[str, int] = {}
    for value, n in counts:
        side = synthetic if is_synthetic(value) else real
        side[value] = side.get(value, 0) + n
    return real, synthetic


def as_loaded(layer: Layer, sources: Iterable[str | None]) -> Layer:
    """The layer as its published rows show it: synthetic when any row's source says
    so, real when none does (the badges of maps and pages follow the data, not the
    layer file's ``synthetic:``, which describes the demo). No rows: the file's word."""
    values = {v for v in sources if v is not None}
    if not values:
        return layer
    synthetic = any(is_synthetic(v) for v in values)
    if synthetic == layer.synthetic:
        return layer
    if not synthetic:  # real rows: no field is generated either (the file's flags: the demo)
        fields = tuple(f.model_copy(update={"synthetic": False}) for f in layer.fields)
        return layer.model_copy(update={"synthetic": False, "fields": fields})
    note = layer.synthetic_note or "Some rows are labelled synthetic by their source."
    return layer.model_copy(update={"synthetic": True, "synthetic_note": note})
