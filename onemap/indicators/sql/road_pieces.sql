-- Road length (m) and carriageway area (m², length x width) per reporting area, status,
-- function and condition class. Segments are cut at area boundaries, so a road crossing
-- two districts counts in each for the length inside it. Segments without a width are
-- measured (no_width_m) but have no area.
-- Placeholders: {roads} relation, {status} {function} {condition} {width} fields, {srid}.
WITH units AS MATERIALIZED ({units}),
     roads AS MATERIALIZED (
         SELECT {status}::text AS status, {function}::text AS function,
                {condition}::text AS condition, {width}::float8 AS width,
                ST_Transform(geom, {srid}) AS geom
         FROM {roads} AS src
     ),
     pieces AS (
         SELECT u.code, r.status, r.function, r.condition, r.width,
                ST_Length(ST_Intersection(u.geom, r.geom)) AS length_m
         FROM units u
         JOIN roads r ON ST_Intersects(u.geom, r.geom)
     )
SELECT code, status, function, condition,
       sum(length_m) AS length_m,
       coalesce(sum(length_m * width), 0) AS area_m2,
       coalesce(sum(length_m) FILTER (WHERE width IS NULL), 0) AS no_width_m
FROM pieces
GROUP BY code, status, function, condition
