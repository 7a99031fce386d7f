-- The reports of a month (as in 030_evaluation.sql) still open at %(as_of)s after their
-- due date, oldest due first.
SELECT r.report_id, r.office, r.category, r.status, r.reported_at, r.sla_due, r.kode_kec
  FROM onemap.reports r
 WHERE r.reported_at >= %(start)s AND r.reported_at < %(end)s
   AND r.reported_at <= %(as_of)s
   AND NOT (r.status IN ('selesai', 'ditolak')
            AND coalesce(r.closed_at, r.updated_at) <= %(as_of)s)
   AND r.sla_due < (%(as_of)s::timestamptz AT TIME ZONE %(tz)s)::date
 ORDER BY r.sla_due, r.report_id;
