-- The reporting areas: one row per district (kecamatan), in the metric CRS.
-- Boundary polygons of the source overlap in slivers (admin_kecamatan.yaml: imperfect
-- topology). Each overlap is kept only in the district with the lower code, so the
-- districts form a partition: nothing is counted twice and district figures add up to
-- the city's.
-- Placeholders: {districts} relation, {code} {name} fields, {srid} metric CRS, {only} one
-- code or NULL for all.
WITH d AS (
    SELECT {code}::text AS code, {name}::text AS name, geom AS raw,
           ST_Transform(geom, {srid}) AS geom
    FROM {districts} AS src
)
SELECT a.code, a.name,
       CASE WHEN o.geom IS NULL THEN a.geom
            ELSE ST_CollectionExtract(ST_Difference(a.geom, o.geom), 3) END AS geom
FROM d a
LEFT JOIN LATERAL (
    SELECT ST_Union(b.geom) AS geom FROM d b
    WHERE b.code < a.code AND ST_Intersects(b.raw, a.raw)
) o ON true
WHERE {only}::text IS NULL OR a.code = {only}::text
