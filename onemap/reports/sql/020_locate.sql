-- Spatial lookups made when a report arrives, generated from config/reports.yaml
-- (`locate:`) by onemap.reports.db: one LEFT JOIN LATERAL per lookup (021_nearest.sql), each
-- taking the nearest feature of a published layer within a distance, and the fill
-- trigger that applies them to rows inserted without any derived value (imports,
-- `onemap load`). SECURITY DEFINER: the intake role needs no privilege on the layers.
-- Both run with search_path = pg_catalog, pg_temp and name every object with its schema
-- (PostGIS lives in public), so no object a caller creates can stand in for one of
-- theirs (PostgreSQL manual, CREATE FUNCTION, "Writing SECURITY DEFINER Functions Safely").
DROP FUNCTION IF EXISTS onemap_private.reports_locate(public.geometry);  -- its columns may change
CREATE FUNCTION onemap_private.reports_locate(pt public.geometry)
RETURNS TABLE ({outputs})
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT {selects}
      FROM (SELECT 1) one
    {joins}
$fn$;
REVOKE ALL ON FUNCTION onemap_private.reports_locate(public.geometry) FROM PUBLIC;

CREATE OR REPLACE FUNCTION onemap_private.reports_fill() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF num_nonnulls({derived}) = 0 THEN
        SELECT {outputs_list} INTO {targets} FROM onemap_private.reports_locate(NEW.geom) l;
    END IF;
    RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION onemap_private.reports_fill() FROM PUBLIC;
CREATE OR REPLACE TRIGGER reports_fill BEFORE INSERT ON onemap.reports
    FOR EACH ROW EXECUTE FUNCTION onemap_private.reports_fill();
