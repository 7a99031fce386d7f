-- How far back each layer's history reaches after `onemap prune-history`: versions
-- published by runs before oldest_kept are gone. Readable by the reader (default
-- privileges of onemap_hist), so that "as of" requests through the API can say so
-- instead of answering from a partial history. Safe to rerun.
CREATE TABLE IF NOT EXISTS onemap_hist._pruned (
    layer       text        PRIMARY KEY,
    oldest_kept bigint      NOT NULL,
    pruned_at   timestamptz NOT NULL DEFAULT now(),
    pruned_by   text        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE onemap_hist._pruned IS
    'Per layer, the oldest run whose version the history still holds (onemap prune-history).';
