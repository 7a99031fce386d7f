-- Monthly evaluation per office: the reports received in one month (local dates, from
-- %(start)s to %(end)s exclusive) and what had become of them at %(as_of)s. A report is
-- closed at closed_at (or updated_at when an import gave no closing time); selesai is
-- resolved, ditolak rejected; resolved within the service standard when its local
-- closing date is on or before sla_due; overdue when still open after sla_due.
WITH cohort AS (
    SELECT r.office, r.status, r.reported_at, r.sla_due,
           CASE WHEN r.status IN ('selesai', 'ditolak')
                 AND coalesce(r.closed_at, r.updated_at) <= %(as_of)s
                THEN coalesce(r.closed_at, r.updated_at) END AS closed
      FROM onemap.reports r
     WHERE r.reported_at >= %(start)s AND r.reported_at < %(end)s
       AND r.reported_at <= %(as_of)s
)
SELECT office, grouping(office) = 1 AS is_total,
       count(*) AS received,
       count(*) FILTER (WHERE closed IS NOT NULL AND status = 'ditolak') AS rejected,
       count(*) FILTER (WHERE closed IS NOT NULL AND status = 'selesai') AS resolved,
       count(*) FILTER (WHERE closed IS NOT NULL AND status = 'selesai'
                          AND (closed AT TIME ZONE %(tz)s)::date <= sla_due) AS within_sla,
       count(*) FILTER (WHERE closed IS NULL) AS open,
       count(*) FILTER (WHERE closed IS NULL
                          AND sla_due < (%(as_of)s::timestamptz AT TIME ZONE %(tz)s)::date) AS overdue,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM closed - reported_at) / 86400.0
       ) FILTER (WHERE closed IS NOT NULL AND status = 'selesai') AS median_days
  FROM cohort
 GROUP BY GROUPING SETS ((office), ())  -- the () row (office NULL) is the whole city
 ORDER BY office NULLS LAST;
