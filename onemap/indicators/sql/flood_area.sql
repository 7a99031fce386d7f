-- Flooded area (m²) per reporting area and hazard class: dissolved flood zones
-- intersected with each area.
WITH units AS MATERIALIZED ({units}),
     flood AS MATERIALIZED ({flood_classes})
SELECT u.code, f.class, sum(ST_Area(ST_Intersection(u.geom, f.geom))) AS area_m2
FROM units u
JOIN flood f ON ST_Intersects(u.geom, f.geom)
GROUP BY u.code, f.class
