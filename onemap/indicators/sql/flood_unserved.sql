-- Flooded area (m²) per reporting area and hazard class, and the part of it farther than
-- the service distance from every serving (primer/sekunder) channel. Channels serve
-- across district boundaries, so they are not clipped.
-- Placeholders: {drainage} relation, {hierarchy} field, {serving} classes, {distance} m,
-- {srid}.
WITH units AS MATERIALIZED ({units}),
     flood AS MATERIALIZED ({flood_classes}),
     served AS MATERIALIZED (
         SELECT ST_Buffer(ST_Collect(ST_Transform(geom, {srid})), {distance}::float8) AS geom
         FROM {drainage} AS src
         WHERE {hierarchy}::text = ANY({serving}::text[])
     ),
     zones AS (
         SELECT u.code, f.class, ST_Intersection(u.geom, f.geom) AS geom
         FROM units u
         JOIN flood f ON ST_Intersects(u.geom, f.geom)
     )
SELECT z.code, z.class, ST_Area(z.geom) AS flooded_m2,
       ST_Area(CASE WHEN s.geom IS NULL THEN z.geom
                    ELSE ST_Difference(z.geom, s.geom) END) AS unserved_m2
FROM zones z CROSS JOIN served s
