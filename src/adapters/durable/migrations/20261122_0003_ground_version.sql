-- The hot store's version of each location's ground: a batch carrying an older version than the
-- stored one leaves that location's rows alone, so a forced save that read the ground before a
-- later sync wrote it can never put back an item since picked up (or remove one since dropped).
CREATE TABLE ground_versions (
  location_id text   PRIMARY KEY,
  version     bigint NOT NULL
);
