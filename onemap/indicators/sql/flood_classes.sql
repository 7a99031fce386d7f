-- Flood zones dissolved into one geometry per hazard class, in the metric CRS. Zones
-- overlap; each square metre is kept once, in the most severe class covering it
-- (rank = position in flood.severity of config/indicators.yaml, least severe first).
-- Placeholders: {flood} relation, {hazard} field, {severity} classes in order, {srid}.
WITH z AS MATERIALIZED (
    SELECT {hazard}::text AS class,
           array_position({severity}::text[], {hazard}::text) AS rank,
           ST_Union(ST_Transform(geom, {srid})) AS geom
    FROM {flood} AS src
    GROUP BY 1, 2
)
SELECT z.class, z.rank,
       CASE WHEN h.geom IS NULL THEN z.geom
            ELSE ST_CollectionExtract(ST_Difference(z.geom, h.geom), 3) END AS geom
FROM z
LEFT JOIN LATERAL (SELECT ST_Union(y.geom) AS geom FROM z y WHERE y.rank > z.rank) h ON true
