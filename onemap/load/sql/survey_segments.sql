-- The piece of each surveyed link between its STA from and STA to (docs/standards.md §2.8).
-- Chainage is metres from the link's start, measured in the city's metric CRS ({srid}):
-- the link is merged into one line there, cut with ST_LineSubstring at from/length and
-- to/length (clamped to the line: a chainage within the tolerance past the end is the end)
-- and returned in WGS 84. A link that does not merge into one line has no piece.
-- Placeholders: {network} relation, {link} field, {srid}; {carry} and {carry_out}: the
-- network fields copied onto the pieces, as text (each after a comma; empty for none).
-- Parameters: row numbers, link ids, STA from, STA to (metres).
WITH survey AS (
    SELECT * FROM unnest(%s::int[], %s::text[], %s::float8[], %s::float8[])
        AS s(row_no, link, sta_from, sta_to)
),
links AS MATERIALIZED (
    SELECT {link}::text AS link, ST_LineMerge(ST_Transform(geom, {srid})) AS g{carry}
    FROM {network}
    WHERE {link}::text IN (SELECT link FROM survey)
),
measured AS (
    SELECT l.*, ST_Length(l.g) AS len, GeometryType(l.g) = 'LINESTRING' AS single FROM links l
)
SELECT s.row_no, m.link IS NOT NULL AS known, m.single, m.len, ST_NumGeometries(m.g) AS parts,
       CASE WHEN m.single AND m.len > 0 THEN ST_AsBinary(ST_Transform(ST_LineSubstring(
           m.g,
           least(s.sta_from / m.len, 1.0),
           least(s.sta_to / m.len, 1.0)
       ), 4326)) END AS wkb{carry_out}
FROM survey s
LEFT JOIN measured m ON m.link = s.link
ORDER BY s.row_no
