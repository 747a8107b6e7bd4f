-- The hot store's state version of each character: a batch write carrying an older version
-- than the stored one is skipped, so a stale read can never overwrite a newer save.
ALTER TABLE characters ADD COLUMN version bigint NOT NULL DEFAULT 0;
