-- Load history and rejected rows. Owned by the loading role; safe to rerun.
CREATE TABLE IF NOT EXISTS onemap_meta.loads (
    load_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer          text        NOT NULL,
    source_file    text        NOT NULL,
    source_sha256  text,
    mode           text        NOT NULL DEFAULT 'replace',
    status         text        NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_read      integer,
    rows_loaded    integer,
    rows_rejected  integer,
    rows_repaired  integer,
    message        text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    loaded_by      text        NOT NULL DEFAULT current_user,
    client_host    text        NOT NULL DEFAULT coalesce(inet_client_addr()::text, 'local')
);
COMMENT ON TABLE onemap_meta.loads IS 'One row per load run: layer, file, hash, counts, status, times, who.';
CREATE INDEX IF NOT EXISTS loads_layer_idx ON onemap_meta.loads (layer, load_id DESC);

CREATE TABLE IF NOT EXISTS onemap_meta.rejects (
    load_id     bigint  NOT NULL REFERENCES onemap_meta.loads ON DELETE CASCADE,
    row_number  integer,
    field       text,
    value       text,
    reason      text    NOT NULL
);
COMMENT ON TABLE onemap_meta.rejects IS 'Rows refused by a load, with the reason; kept even when the load is aborted.';
CREATE INDEX IF NOT EXISTS rejects_load_idx ON onemap_meta.rejects (load_id);

-- The loader's meta connection; a 'running' run whose backend is gone was killed.
ALTER TABLE onemap_meta.loads ADD COLUMN IF NOT EXISTS backend_pid integer DEFAULT pg_backend_pid();

-- The region (Kemendagri code) a run replaced, in a deployment partitioned by region
-- (onemap.load.regions); NULL: the whole layer.
ALTER TABLE onemap_meta.loads ADD COLUMN IF NOT EXISTS region text;
