"""GeoAlchemy2 table models built from the layer files.

One ``Table`` per layer: declared fields with their types, NOT NULL for required ones,
CHECK constraints from allowed values, ranges and patterns, ``COMMENT ON`` from the
descriptions, a GiST index on ``geom`` and b-tree indexes on the fields marked ``index``.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    literal,
)
from sqlalchemy.dialects import postgresql

from onemap.core import extensions
from onemap.core.layers import Layer, LayerField
from onemap.core.regions import layer_partitioned
from onemap.db.names import (  # noqa: F401 - the schema names, also imported from here
    DATA_SCHEMA,
    HIST_SCHEMA,
    META_SCHEMA,
    PRIVATE_SCHEMA,
    STAGE_SCHEMA,
    TILES_SCHEMA,
    layer_indexes,
    table_comment,
)

SQL_TYPES = {
    "text": Text,
    "integer": Integer,
    "real": Double,
    "date": Date,
    "timestamp": DateTime(timezone=True),
    "boolean": Boolean,
}


def _literal_sql(value: object) -> str:
    """Render a constant for a CHECK constraint with the dialect's own quoting."""
    return str(
        literal(value).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def field_checks(layer: Layer, f: LayerField) -> list[CheckConstraint]:
    """CHECK constraints from a field's allowed values, range and pattern."""
    col = f'"{f.name}"'
    out = []
    if f.values:
        allowed = ", ".join(_literal_sql(v) for v in f.allowed)
        out.append(CheckConstraint(f"{col} IN ({allowed})", name=f"{layer.id}_{f.name}_values"))
    if f.minimum is not None:
        out.append(CheckConstraint(f"{col} >= {f.minimum!r}", name=f"{layer.id}_{f.name}_min"))
    if f.maximum is not None:
        out.append(CheckConstraint(f"{col} <= {f.maximum!r}", name=f"{layer.id}_{f.name}_max"))
    if f.pattern:
        out.append(
            CheckConstraint(
                f"{col} ~ {_literal_sql(f.pattern)}", name=f"{layer.id}_{f.name}_pattern"
            )
        )
    return out


def field_comment(f: LayerField) -> str:
    """``COMMENT ON`` text of a field's column: label, description, unit, values."""
    text = f"{f.label_en or f.label}: {f.description}"
    if f.unit:
        text += f" [{f.unit}]"
    if f.values:
        text += ". Values: " + ", ".join(f"{v.value} = {v.label}" for v in f.values)
    if f.synthetic:
        text += ". SYNTHETIC in the demo data"
    return text


def layer_table(layer: Layer, metadata: MetaData, schema: str = DATA_SCHEMA) -> Table:
    """The table model for a layer, as it is created in the database."""
    columns = [
        Column(
            f.name,
            SQL_TYPES[f.type],
            primary_key=f.name == layer.primary_key,
            nullable=not (f.required or f.name == layer.primary_key),
            comment=field_comment(f),
        )
        for f in layer.fields
    ]
    columns += [
        Column(
            "source",
            Text,
            nullable=False,
            comment="Lineage of the feature: osm, bps, kemendagri, synthetic, an agency…",
        ),
        Column(
            "load_id",
            BigInteger,
            nullable=True,
            comment="The onemap_meta.loads run that published the row",
        ),
        Column(
            "geom",
            Geometry(layer.geometry.type, srid=layer.geometry.srid, spatial_index=False),
            nullable=False,
            comment=f"{layer.geometry.type}, EPSG:{layer.geometry.srid}",
        ),
    ]
    partition: dict[str, str] = {}
    if layer_partitioned(layer):  # onemap.core.regions: one partition per region
        columns.append(
            Column(
                "region",
                Text,
                primary_key=True,  # a partitioned table's key must hold the partition key
                nullable=False,
                comment="Kemendagri code of the kabupaten/kota the row belongs to (33.74)",
            )
        )
        partition["postgresql_partition_by"] = "LIST (region)"
    checks = [c for f in layer.fields for c in field_checks(layer, f)]
    checks.append(CheckConstraint("ST_IsValid(geom)", name=f"{layer.id}_geom_valid"))
    checks.append(CheckConstraint("NOT ST_IsEmpty(geom)", name=f"{layer.id}_geom_not_empty"))
    table = Table(
        layer.id,
        metadata,
        *columns,
        *checks,
        schema=schema,
        comment=table_comment(layer),
        **partition,
    )
    for name, column, method in layer_indexes(layer):
        Index(name, table.c[column], **({"postgresql_using": method} if method else {}))
    return table


def history_table(layer: Layer, metadata: MetaData) -> Table:
    """Superseded row versions of a layer (``onemap_hist.<layer>``), see ``onemap.load.history``.

    The layer's columns, ``valid_from`` (the run that published the version) and
    ``valid_to`` (the run that superseded it). Rows an upsert supersedes are moved here;
    a table a replace supersedes becomes, as it is, an inheritance child of this one.
    """
    live = layer_table(layer, MetaData())
    columns = [
        Column(c.name, c.type, nullable=True, comment=c.comment)
        for c in live.columns
        if c.name not in ("load_id", "geom")
    ]
    columns += [
        Column("valid_from", BigInteger, comment="Run that published this row version"),
        Column("geom", live.c.geom.type, nullable=True, comment=live.c.geom.comment),
        Column("valid_to", BigInteger, nullable=False, comment="Run that superseded this version"),
    ]
    return Table(
        layer.id,
        metadata,
        *columns,
        schema=HIST_SCHEMA,
        comment=f"Superseded versions of {DATA_SCHEMA}.{layer.id} (with its child tables)",
    )


def build_metadata(layers: dict[str, Layer]) -> MetaData:
    """A MetaData holding every layer table, its history table and the features' tables."""
    metadata = MetaData()
    for layer in layers.values():
        layer_table(layer, metadata)
        history_table(layer, metadata)
        for feature in extensions.features():  # e.g. reports' private table
            feature.tables(layer, metadata)
    return metadata
