-- Citizen reports: the objects the layer model does not generate. Run as the owner by
-- onemap.reports.db.ensure after the layer tables exist (onemap.reports and its private
-- table onemap_private.reports come from layers/reports/reports.yaml). Safe to rerun.
-- Nothing here is readable by the read-only role: it has no USAGE on onemap_private.

-- New reports are numbered from this sequence (config/reports.yaml id_prefix: LS-000001).
CREATE SEQUENCE IF NOT EXISTS onemap_private.reports_number;

-- What intake does not set: a new report is 'baru', changed now, from the intake.
ALTER TABLE onemap.reports ALTER COLUMN status SET DEFAULT 'baru';
ALTER TABLE onemap.reports ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE onemap.reports ALTER COLUMN source SET DEFAULT 'intake';

-- Every status change: who, when, note. The first row of a report is its intake.
CREATE TABLE IF NOT EXISTS onemap_private.reports_status (
    change_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id   text        NOT NULL,
    status      text        NOT NULL,
    office      text,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_by  text        NOT NULL,
    note        text        CHECK (length(note) <= 2000)
);
COMMENT ON TABLE onemap_private.reports_status IS
    'Status history of onemap.reports: every change with who, when and a note (staff only).';
CREATE INDEX IF NOT EXISTS reports_status_report_idx
    ON onemap_private.reports_status (report_id, change_id);
-- Deleted with its report. After `onemap db rebuild reports` the report is gone: so is
-- its history (the constraint is added again here).
DELETE FROM onemap_private.reports_status s
 WHERE NOT EXISTS (SELECT 1 FROM onemap.reports r WHERE r.report_id = s.report_id);
DO $$
BEGIN
    ALTER TABLE onemap_private.reports_status ADD CONSTRAINT reports_status_report_fk
        FOREIGN KEY (report_id) REFERENCES onemap.reports (report_id) ON DELETE CASCADE;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Who deleted which report, when and why (the report and its personal data are gone).
CREATE TABLE IF NOT EXISTS onemap_private.reports_deleted (
    report_id   text        NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_by  text        NOT NULL,
    note        text        CHECK (length(note) <= 2000)
);

-- Staff tokens: only the SHA-256 of each token is stored (tokens are 256-bit random
-- strings, see onemap.reports.auth), with a short hint to recognise it in lists.
CREATE TABLE IF NOT EXISTS onemap_private.staff_users (
    user_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL CHECK (name ~ '^[A-Za-z0-9._@-]{2,64}$'),
    role         text        NOT NULL CHECK (role IN ('operator', 'admin')),
    office       text,
    token_sha256 bytea       NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    token_hint   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL DEFAULT session_user,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT staff_users_operator_office CHECK ((role = 'operator') = (office IS NOT NULL))
);
COMMENT ON TABLE onemap_private.staff_users IS
    'Staff allowed to change reports: operators of one office, admins. Tokens hashed.';
CREATE UNIQUE INDEX IF NOT EXISTS staff_users_active_name
    ON onemap_private.staff_users (name) WHERE revoked_at IS NULL;

-- Intake rate limit: one row per intake attempt, keyed by a keyed hash of the client
-- address (never the address itself). Unlogged: lost on a crash, which only resets it.
CREATE UNLOGGED TABLE IF NOT EXISTS onemap_private.intake_clients (
    client  bytea       NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS intake_clients_idx ON onemap_private.intake_clients (client, at);

-- Whether a client may post now (at most p_max attempts in p_seconds); records the
-- attempt when it may. One client's attempts are serialised by an advisory lock, so
-- concurrent requests from one address cannot overshoot the limit.
CREATE OR REPLACE FUNCTION onemap_private.intake_allow(p_client bytea, p_max integer, p_seconds integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(encode(p_client, 'hex'), 8374));
    DELETE FROM onemap_private.intake_clients
     WHERE client = p_client AND at < clock_timestamp() - make_interval(secs => p_seconds);
    IF random() < 0.001 THEN  -- now and then, forget clients that went quiet
        DELETE FROM onemap_private.intake_clients WHERE at < clock_timestamp() - interval '1 day';
    END IF;
    SELECT count(*) INTO n FROM onemap_private.intake_clients WHERE client = p_client;
    IF n >= p_max THEN
        RETURN false;
    END IF;
    INSERT INTO onemap_private.intake_clients (client) VALUES (p_client);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION onemap_private.intake_allow(bytea, integer, integer) FROM PUBLIC;
