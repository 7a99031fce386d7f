-- Versions of every layer and what each run did. Owned by the loading role; safe to rerun.
-- onemap_hist.<layer> (created from the layer model, see onemap/db/models.py) keeps every
-- superseded row version; the reader may read it (grants: onemap/db/schema.py), as it
-- reads the published layers.
CREATE SCHEMA IF NOT EXISTS onemap_hist;
COMMENT ON SCHEMA onemap_hist IS
    'Superseded row versions of the onemap layers (onemap.load.history).';
-- An early draft made the history tables partitioned; drop those while still empty so
-- that they are created again as plain tables (a replaced table becomes a child by INHERIT).
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c
              WHERE c.relnamespace = 'onemap_hist'::regnamespace AND c.relkind = 'p'
                AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid)
    LOOP
        EXECUTE format('DROP TABLE %s', t);
    END LOOP;
END $$;

ALTER TABLE onemap_meta.loads ADD COLUMN IF NOT EXISTS details jsonb NOT NULL DEFAULT '{}';
ALTER TABLE onemap_meta.loads ADD COLUMN IF NOT EXISTS run_by text;
ALTER TABLE onemap_meta.loads ADD COLUMN IF NOT EXISTS restored_from bigint;
COMMENT ON COLUMN onemap_meta.loads.details IS
    'Counts beyond the columns: repaired, z_dropped, empty_dropped, promoted_to_multi, unchanged, archived…';
COMMENT ON COLUMN onemap_meta.loads.run_by IS 'Operating-system user and host that ran the load';
COMMENT ON COLUMN onemap_meta.loads.restored_from IS 'For a rollback: the run whose version it restored';
DO $$
BEGIN
    ALTER TABLE onemap_meta.loads ADD CONSTRAINT loads_mode_check
        CHECK (mode IN ('replace', 'upsert', 'append', 'rollback'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS loads_published_idx
    ON onemap_meta.loads (layer, finished_at) WHERE status = 'succeeded';

-- What would stop a replace from swapping in a new table by rename: objects that refer to
-- the published table by its OID and would silently follow the old version. When any
-- exists the loader replaces the rows in place instead (slower, same result).
CREATE OR REPLACE FUNCTION onemap_meta.swap_blockers(t regclass) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT DISTINCT format('%s %s',
               CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               r.ev_class::regclass)
      FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN pg_class c ON c.oid = r.ev_class
     WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = t AND r.ev_class <> t
    UNION ALL
    SELECT format('function %s', d.objid::regprocedure)
      FROM pg_depend d
     WHERE d.classid = 'pg_proc'::regclass AND d.refobjid = t
    UNION ALL
    SELECT format('foreign key %s on %s', conname, conrelid::regclass)
      FROM pg_constraint WHERE contype = 'f' AND confrelid = t
    UNION ALL
    SELECT format('trigger %s', tgname) FROM pg_trigger WHERE tgrelid = t AND NOT tgisinternal
    UNION ALL
    SELECT format('policy %s', polname) FROM pg_policy WHERE polrelid = t
    UNION ALL
    SELECT format('publication %s', p.pubname)
      FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
     WHERE pr.prrelid = t;
$$;

-- The table-level grants of a table, to re-apply them to the table that replaces it.
CREATE OR REPLACE FUNCTION onemap_meta.table_grants(t regclass)
RETURNS TABLE (grantee name, privilege text)
LANGUAGE sql STABLE AS $$
    SELECT r.rolname, a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
      JOIN pg_roles r ON r.oid = a.grantee
     WHERE c.oid = t AND a.grantee <> c.relowner;
$$;
