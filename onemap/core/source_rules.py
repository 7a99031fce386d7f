"""How a layer reads the files road agencies really keep: OSM extracts and condition surveys.

Two optional blocks of a layer file (``onemap.core.layers.Layer``):

- ``osm:`` — an OpenStreetMap extract (``.osm.pbf``/``.osm``) becomes the layer's rows: the
  ``highway=*`` value of each way gives its status and function by the table here (values
  not in it are skipped and counted), ``smoothness=*`` and ``surface=*`` map onto coded
  fields, ways are clipped to the city and, if asked, split where they meet.
- ``survey:`` — a table of (link, STA from, STA to, IRI, SDI, condition, date) is cut out of
  a published network layer by linear referencing; IRI/SDI give the class when the
  survey has none, by the bands here.

The tables are data, in the layer file, so a city can change them without a code change
(docs/standards.md §2.7, §2.8).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OsmRules(_Strict):
    """OSM tags → the layer's fields (``onemap load LAYER city.osm.pbf``).

    ``highway``: highway value → {field: value} (e.g. status and function); a way whose
    highway is not listed is not a road of this layer (footway, path…) and is skipped.
    ``tags``: field → {tag: {tag value → field value}}, e.g. condition from smoothness.
    ``copy``: field → tag copied as it is (name, width); the loader converts the text.
    ``clip_to``: a published polygon layer whose union is the region (else the city bbox).
    """

    # ``copy`` in the layer file; ``copy_tags`` too, so that a dumped model validates again
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    highway: dict[str, dict[str, str]] = Field(min_length=1)
    tags: dict[str, dict[str, dict[str, str]]] = Field(default_factory=dict)
    copy_tags: dict[str, str] = Field(default_factory=dict, alias="copy")
    clip_to: str | None = None
    split_at_intersections: bool = False
    key_prefix: str = "w"

    def references(self) -> list[tuple[str, str, str | None]]:
        """(where, field, value or None) for every field and value the block names."""
        out: list[tuple[str, str, str | None]] = [
            (f"osm.highway.{hw}", name, value)
            for hw, values in self.highway.items()
            for name, value in values.items()
        ]
        out += [
            (f"osm.tags.{name}", name, value)
            for name, by_tag in self.tags.items()
            for table in by_tag.values()
            for value in table.values()
        ]
        return out + [("osm.copy", name, None) for name in self.copy_tags]


class SurveyRules(_Strict):
    """A condition survey by link and chainage (``onemap load LAYER survey.csv --network L``).

    ``link_field``: the network layer's field holding the link id the survey names.
    ``carry``: fields taken from the network link (name, status, function…).
    ``field``: the condition field; ``classes`` its values from best to worst, and
    ``iri_bins``/``sdi_bins`` the bounds between them (Bina Marga bands): a row without a
    class gets the worse of its IRI and SDI classes. ``tolerance_m``: how far a chainage
    may pass the link's measured length (surveys measure with an odometer).
    """

    link_field: str
    carry: tuple[str, ...] = ()
    field: str
    iri_field: str | None = None
    date_field: str | None = None
    classes: tuple[str, ...]
    iri_bins: tuple[float, ...]
    sdi_bins: tuple[float, ...] = ()
    tolerance_m: float = Field(default=20.0, ge=0)

    @model_validator(mode="after")
    def _bands(self) -> SurveyRules:
        for name, bins in (("iri_bins", self.iri_bins), ("sdi_bins", self.sdi_bins)):
            if bins and len(bins) != len(self.classes) - 1:
                raise ValueError(
                    f"survey: {len(self.classes)} classes need {len(self.classes) - 1} "
                    f"{name}, got {len(bins)}"
                )
            if list(bins) != sorted(set(bins)):
                raise ValueError(f"survey: {name} must be strictly ascending")
        return self

    def references(self) -> list[tuple[str, str, str | None]]:
        """(where, field, value or None) for every field and value the block names."""
        names = (self.link_field, *self.carry, self.iri_field, self.date_field)
        out: list[tuple[str, str, str | None]] = [("survey", n, None) for n in names if n]
        return out + [("survey.classes", self.field, v) for v in self.classes]


def check_source_rules(fields: dict[str, tuple[str, ...]], osm, survey) -> None:
    """The fields and values the blocks name exist in the layer (field -> allowed values)."""
    for block, name, value in [
        *(osm.references() if osm is not None else []),
        *(survey.references() if survey is not None else []),
    ]:
        if name not in fields:
            raise ValueError(f"{block}: '{name}' is not a declared field")
        if value is not None and fields[name] and value not in fields[name]:
            allowed = ", ".join(fields[name])
            raise ValueError(f"{block}: '{value}' is not a value of '{name}' ({allowed})")
