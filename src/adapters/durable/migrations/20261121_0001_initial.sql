-- Initial durable schema (DESIGN.md §5). PostgreSQL 15 compatible.

CREATE TABLE accounts (
  id            bigserial PRIMARY KEY,
  username      text        NOT NULL,
  password_hash text        NOT NULL,
  banned        boolean     NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique whatever their case; lookups go through lower(username) too.
CREATE UNIQUE INDEX accounts_username_lower_key ON accounts (lower(username));

-- One character per account for now (account_id UNIQUE).
CREATE TABLE characters (
  id          bigserial PRIMARY KEY,
  account_id  bigint           NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
  name        text             NOT NULL,
  location_id text             NOT NULL,
  hp          double precision NOT NULL,
  max_hp      integer          NOT NULL,
  stamina     double precision NOT NULL,
  max_stamina integer          NOT NULL,
  level       integer          NOT NULL,
  xp          bigint           NOT NULL,
  vitals_at   bigint           NOT NULL, -- epoch ms, the clock regeneration counts from
  updated_at  timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE unique_items (
  id             text    PRIMARY KEY,
  item_id        text    NOT NULL,
  durability     integer NOT NULL,
  max_durability integer NOT NULL
);

-- Deleting a unique item removes whatever row holds it, so no slot points at nothing.
CREATE TABLE inventory (
  character_id   bigint  NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
  slot           integer NOT NULL CHECK (slot >= 0),
  item_id        text    NOT NULL,
  qty            integer NOT NULL CHECK (qty > 0),
  unique_item_id text    REFERENCES unique_items (id) ON DELETE CASCADE,
  PRIMARY KEY (character_id, slot)
);
CREATE INDEX inventory_unique_item_id_idx ON inventory (unique_item_id) WHERE unique_item_id IS NOT NULL;

CREATE TABLE equipment (
  character_id   bigint NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
  slot           text   NOT NULL,
  item_id        text   NOT NULL,
  unique_item_id text   REFERENCES unique_items (id) ON DELETE CASCADE,
  PRIMARY KEY (character_id, slot)
);
CREATE INDEX equipment_unique_item_id_idx ON equipment (unique_item_id) WHERE unique_item_id IS NOT NULL;

CREATE TABLE skills (
  character_id bigint  NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
  skill        text    NOT NULL,
  level        integer NOT NULL,
  xp           bigint  NOT NULL,
  PRIMARY KEY (character_id, skill)
);

-- dropped_by is not a foreign key: an item outlives the character who dropped it.
CREATE TABLE ground_items (
  id             text    PRIMARY KEY,
  location_id    text    NOT NULL,
  item_id        text    NOT NULL,
  qty            integer NOT NULL CHECK (qty > 0),
  unique_item_id text    REFERENCES unique_items (id) ON DELETE CASCADE,
  dropped_by     bigint,
  despawn_at     bigint -- epoch ms; null keeps the item forever
);
CREATE INDEX ground_items_location_id_idx ON ground_items (location_id);
CREATE INDEX ground_items_unique_item_id_idx ON ground_items (unique_item_id) WHERE unique_item_id IS NOT NULL;

CREATE TABLE world_state (
  key   text  PRIMARY KEY,
  value jsonb NOT NULL
);

CREATE TABLE snapshots (
  id       bigserial   PRIMARY KEY,
  taken_at timestamptz NOT NULL DEFAULT now(),
  data     jsonb       NOT NULL
);
