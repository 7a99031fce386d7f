-- Area (m²) of each zoning class per reporting area: in total (class NULL) and inside
-- each exposure hazard class. Zones of one class are dissolved first, so overlapping
-- zones of the same class count once.
-- Placeholders: {zoning} relation, {zone} field, {srid}, {exposure} classes.
WITH units AS MATERIALIZED ({units}),
     flood AS MATERIALIZED ({flood_classes}),
     plan AS MATERIALIZED (
         SELECT {zone}::text AS zone, ST_Union(ST_Transform(geom, {srid})) AS geom
         FROM {zoning} AS src
         GROUP BY 1
     ),
     pieces AS MATERIALIZED (
         SELECT u.code, p.zone, ST_Intersection(u.geom, p.geom) AS geom
         FROM units u
         JOIN plan p ON ST_Intersects(u.geom, p.geom)
     )
SELECT code, zone, NULL::text AS class, sum(ST_Area(geom)) AS area_m2
FROM pieces
GROUP BY code, zone
UNION ALL
SELECT p.code, p.zone, f.class, sum(ST_Area(ST_Intersection(p.geom, f.geom)))
FROM pieces p
JOIN flood f ON ST_Intersects(p.geom, f.geom)
WHERE f.class = ANY({exposure}::text[])
GROUP BY p.code, p.zone, f.class
