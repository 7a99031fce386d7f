-- Code, name and area (m²) of each reporting area.
WITH units AS MATERIALIZED ({units})
SELECT code, name, ST_Area(geom) AS area_m2 FROM units ORDER BY code
