-- The published version of a layer at a moment, as a key that no other version of any
-- database shares: the run's id and the microsecond it finished (UTC). Run ids alone
-- repeat when a database is dropped and built again (they restart at 1), and a tile cache
-- or archive keyed by them would serve the old database's tiles under the new one's
-- (onemap.serve.tiles.version_key, ETags). SECURITY DEFINER like run_at (035_run_at.sql):
-- it reveals a run id and a time only. Safe to rerun.
CREATE OR REPLACE FUNCTION onemap_meta.version_at(p_layer text, p_when timestamptz)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp  -- every name qualified (manual: CREATE FUNCTION)
AS $$
    SELECT l.load_id::text || '.'
           || pg_catalog.to_char(l.finished_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISSUS')
      FROM onemap_meta.loads l
     WHERE l.layer = p_layer AND l.status = 'succeeded' AND l.finished_at <= p_when
     ORDER BY l.load_id DESC
     LIMIT 1
$$;
