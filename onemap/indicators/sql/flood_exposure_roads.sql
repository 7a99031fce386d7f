-- Road length (m) inside the exposure hazard classes, per reporting area and class.
-- Placeholders: {roads} relation, {srid}, {exposure} classes.
WITH units AS MATERIALIZED ({units}),
     flood AS MATERIALIZED ({flood_classes}),
     zones AS MATERIALIZED (
         SELECT u.code, f.class, ST_Intersection(u.geom, f.geom) AS geom
         FROM units u
         JOIN flood f ON ST_Intersects(u.geom, f.geom)
         WHERE f.class = ANY({exposure}::text[])
     ),
     roads AS MATERIALIZED (SELECT ST_Transform(geom, {srid}) AS geom FROM {roads} AS src)
SELECT z.code, z.class, sum(ST_Length(ST_Intersection(z.geom, r.geom))) AS length_m
FROM zones z
JOIN roads r ON ST_Intersects(z.geom, r.geom)
GROUP BY z.code, z.class
