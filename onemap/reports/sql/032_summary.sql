-- Public summary for the maps (read as the read-only role): reports per kecamatan code,
-- per status and per category; the caller joins the kecamatan codes to their polygons.
SELECT 'kode_kec' AS dimension, coalesce(kode_kec, '') AS value, count(*) AS reports,
       count(*) FILTER (WHERE status NOT IN ('selesai', 'ditolak')) AS open
  FROM onemap.reports GROUP BY kode_kec
UNION ALL
SELECT 'status', status, count(*), count(*) FILTER (WHERE status NOT IN ('selesai', 'ditolak'))
  FROM onemap.reports GROUP BY status
UNION ALL
SELECT 'category', category, count(*),
       count(*) FILTER (WHERE status NOT IN ('selesai', 'ditolak'))
  FROM onemap.reports GROUP BY category
ORDER BY 1, 2;
