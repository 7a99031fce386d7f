-- Staff rules in the database: what a staff token may see and change is decided here, not
-- only in Python (onemap.reports.staff), so no bug in the server can hand one office's
-- reports to another. The staff role has no privilege on the tables: it reads the staff
-- view (rows scoped by the token the transaction carries) and changes reports through
-- the two functions below, which check the token, the office, If-Match and the status
-- workflow. Formatted by onemap.reports.db.staff_rules with the status workflow of
-- onemap.reports.staff. Safe to rerun.
--
-- SECURITY DEFINER functions run with search_path = pg_catalog, pg_temp and name every
-- object with its schema (PostgreSQL manual, CREATE FUNCTION, "Writing SECURITY DEFINER
-- Functions Safely"). Errors carry SQLSTATEs of class OM (onemap.reports.staff maps them
-- to HTTP): OM401 no valid token, OM403 not yours, OM404 no such report, OM409 status
-- cannot move so, OM412 stale If-Match, OM428 If-Match missing.

-- The staff member a token belongs to: not revoked, not expired. Tokens are compared by
-- their SHA-256 (only that is stored, onemap.reports.auth).
CREATE OR REPLACE FUNCTION onemap_private.staff_session(p_token text)
RETURNS TABLE (user_id bigint, name text, role text, office text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT u.user_id, u.name, u.role, u.office
      FROM onemap_private.staff_users u
     WHERE u.token_sha256 = pg_catalog.sha256(pg_catalog.convert_to(p_token, 'UTF8'))
       AND u.revoked_at IS NULL
       AND u.expires_at > pg_catalog.now()
$fn$;
REVOKE ALL ON FUNCTION onemap_private.staff_session(text) FROM PUBLIC;

-- The ETag of a report version, as onemap.reports.staff.etag spells it: the hex number
-- of microseconds since 1970 of updated_at, quoted.
CREATE OR REPLACE FUNCTION onemap_private.report_etag(p_updated timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT '"' || pg_catalog.to_hex((EXTRACT(EPOCH FROM p_updated) * 1000000)::bigint) || '"'
$fn$;

-- The report, locked, once the token, its office and If-Match allow touching it.
CREATE OR REPLACE FUNCTION onemap_private.staff_claim(p_token text, p_report_id text,
                                                      p_if_match text, p_admin_only boolean)
RETURNS TABLE (who text, status text, office text, category text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    u record;
    r record;
BEGIN
    SELECT s.* INTO u FROM onemap_private.staff_session(p_token) s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'a valid staff token is required' USING ERRCODE = 'OM401';
    END IF;
    IF p_admin_only AND u.role <> 'admin' THEN
        RAISE EXCEPTION 'only admins delete reports' USING ERRCODE = 'OM403';
    END IF;
    SELECT t.status, t.office, t.category, t.updated_at INTO r
      FROM onemap.reports t WHERE t.report_id = p_report_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no report %', p_report_id USING ERRCODE = 'OM404';
    END IF;
    IF u.role <> 'admin' AND r.office IS DISTINCT FROM u.office THEN
        RAISE EXCEPTION 'operators of % change only their office''s reports', u.office
            USING ERRCODE = 'OM403';
    END IF;
    IF p_if_match IS NULL THEN
        RAISE EXCEPTION 'send the report''s ETag as If-Match (read it with GET first)'
            USING ERRCODE = 'OM428';
    END IF;
    IF pg_catalog.btrim(p_if_match) NOT IN (onemap_private.report_etag(r.updated_at), '*') THEN
        RAISE EXCEPTION 'the report changed since you read it: GET it again'
            USING ERRCODE = 'OM412';
    END IF;
    RETURN QUERY SELECT u.name, r.status, r.office, r.category;
END
$fn$;
REVOKE ALL ON FUNCTION onemap_private.staff_claim(text, text, text, boolean) FROM PUBLIC;

-- A status, office or category change (NULL: unchanged) with its note; returns the new
-- updated_at (the new ETag). Status moves forward along the workflow (steps may be
-- skipped), or to ditolak from any open status; the closing statuses are final.
CREATE OR REPLACE FUNCTION onemap_private.staff_change(p_token text, p_report_id text,
                                                       p_if_match text, p_status text,
                                                       p_office text, p_category text,
                                                       p_note text)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    c record;
    new_status text;
    new_office text;
    workflow constant text[] := {order};
    closing constant text[] := {final};
    changed timestamptz;
BEGIN
    SELECT * INTO c FROM onemap_private.staff_claim(p_token, p_report_id, p_if_match, false);
    new_status := COALESCE(p_status, c.status);
    new_office := COALESCE(p_office, c.office);
    IF new_status <> c.status AND (
        c.status = ANY (closing)
        OR (new_status <> 'ditolak'
            AND COALESCE(pg_catalog.array_position(workflow, new_status), 0)
                <= COALESCE(pg_catalog.array_position(workflow, c.status), 0)))
    THEN
        RAISE EXCEPTION 'status cannot go from % to %', c.status, new_status
            USING ERRCODE = 'OM409';
    END IF;
    UPDATE onemap.reports t
       SET status = new_status, office = new_office,
           category = COALESCE(p_category, c.category),
           updated_at = pg_catalog.clock_timestamp(),
           closed_at = CASE WHEN new_status = ANY (closing) AND NOT c.status = ANY (closing)
                            THEN pg_catalog.clock_timestamp() ELSE t.closed_at END
     WHERE t.report_id = p_report_id
     RETURNING t.updated_at INTO changed;
    INSERT INTO onemap_private.reports_status (report_id, status, office, changed_by, note)
    VALUES (p_report_id, new_status, new_office, c.who, p_note);
    RETURN changed;
END
$fn$;
REVOKE ALL ON FUNCTION onemap_private.staff_change(text, text, text, text, text, text, text)
    FROM PUBLIC;

-- Delete a report with its personal data and history (admins only), recording who and why.
CREATE OR REPLACE FUNCTION onemap_private.staff_delete(p_token text, p_report_id text,
                                                       p_if_match text, p_note text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    c record;
BEGIN
    SELECT * INTO c FROM onemap_private.staff_claim(p_token, p_report_id, p_if_match, true);
    DELETE FROM onemap.reports t WHERE t.report_id = p_report_id;
    INSERT INTO onemap_private.reports_deleted (report_id, deleted_by, note)
    VALUES (p_report_id, c.who, p_note);
END
$fn$;
REVOKE ALL ON FUNCTION onemap_private.staff_delete(text, text, text, text) FROM PUBLIC;

-- Every token expires: those made before expiry was the default get the default from
-- their creation (config/reports.yaml staff.token_days).
UPDATE onemap_private.staff_users
   SET expires_at = created_at + pg_catalog.make_interval(days => {token_days})
 WHERE expires_at IS NULL;
ALTER TABLE onemap_private.staff_users
    ALTER COLUMN expires_at SET DEFAULT pg_catalog.now() + pg_catalog.make_interval(days => {token_days}),
    ALTER COLUMN expires_at SET NOT NULL;
