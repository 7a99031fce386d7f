-- The reporting area is one polygon a user gave as GeoJSON (RFC 7946: WGS 84 lon/lat),
-- repaired if invalid, in the metric CRS.
-- Placeholders: {code} {name} labels, {geojson} the geometry, {srid} metric CRS.
SELECT {code}::text AS code, {name}::text AS name,
       ST_CollectionExtract(
           ST_MakeValid(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON({geojson}::text), 4326), {srid})),
           3) AS geom
