-- Channel length (m) per reporting area and hierarchy, channels cut at area boundaries.
-- Placeholders: {drainage} relation, {hierarchy} field, {srid}.
WITH units AS MATERIALIZED ({units}),
     channels AS MATERIALIZED (
         SELECT {hierarchy}::text AS hierarchy, ST_Transform(geom, {srid}) AS geom
         FROM {drainage} AS src
     )
SELECT u.code, c.hierarchy, sum(ST_Length(ST_Intersection(u.geom, c.geom))) AS length_m
FROM units u
JOIN channels c ON ST_Intersects(u.geom, c.geom)
GROUP BY u.code, c.hierarchy
