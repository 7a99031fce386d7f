-- Which run published a layer's version at a moment. SECURITY DEFINER so that roles that
-- may not read the load history itself (the reader: indicators "as of" a date through the
-- OGC API Processes) can still name the version; it reveals only a run id. Safe to rerun.
CREATE OR REPLACE FUNCTION onemap_meta.run_at(p_layer text, p_when timestamptz)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, onemap_meta
AS $$
    SELECT max(load_id) FROM onemap_meta.loads
     WHERE layer = p_layer AND status = 'succeeded' AND finished_at <= p_when
$$;
