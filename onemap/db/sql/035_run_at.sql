-- Which run published a layer's version at a moment. SECURITY DEFINER so that roles that
-- may not read the load history itself (the reader: indicators "as of" a date through the
-- OGC API Processes) can still name the version; it reveals only a run id. Safe to rerun.
CREATE OR REPLACE FUNCTION onemap_meta.run_at(p_layer text, p_when timestamptz)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp  -- every name qualified (manual: CREATE FUNCTION)
AS $$
    SELECT pg_catalog.max(l.load_id) FROM onemap_meta.loads l
     WHERE l.layer = p_layer AND l.status = 'succeeded' AND l.finished_at <= p_when
$$;
