-- The load history the public catalogue shows (onemap.serve.records): each published run's
-- id, end time, file name (not its path), hash, features, loading role and staged sources.
-- SECURITY DEFINER so that the reader, which may not read onemap_meta.loads itself (failed
-- runs' messages, full paths, client hosts), writes the catalogue: no API node needs the
-- owner's password (least privilege). Safe to rerun.
CREATE OR REPLACE FUNCTION onemap_meta.published_runs(p_layer text)
RETURNS TABLE (load_id bigint, finished_at timestamptz, source_file text,
               source_sha256 text, rows_loaded integer, loaded_by text, sources jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp  -- every name qualified (manual: CREATE FUNCTION)
AS $$
    SELECT l.load_id, l.finished_at, pg_catalog.regexp_replace(l.source_file, '^.*[/\\]', ''),
           l.source_sha256, l.rows_loaded, l.loaded_by, l.details OPERATOR(pg_catalog.->) 'sources'
      FROM onemap_meta.loads l
     WHERE l.layer = p_layer AND l.status = 'succeeded'
     ORDER BY l.load_id
$$;
