// Every statement the SQL durable store runs. Batch writes pass one array per column and expand
// them with unnest, so a statement's text and count never depend on how many rows it carries.

export const INSERT_ACCOUNT = `
  INSERT INTO accounts (username, password_hash) VALUES ($1, $2)
  RETURNING id`;

/** The unique index whose violation means "username taken". */
export const USERNAME_KEY = 'accounts_username_lower_key';

export const INSERT_CHARACTER = `
  INSERT INTO characters
    (account_id, name, location_id, hp, max_hp, stamina, max_stamina, level, xp, vitals_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  RETURNING id`;

export const FIND_ACCOUNT = `
  SELECT a.id, a.username, a.password_hash, a.banned, a.token_generation, c.id AS character_id
  FROM accounts a JOIN characters c ON c.account_id = a.id
  WHERE lower(a.username) = lower($1)`;

// A password change or a ban starts a new token generation: every token issued before is refused.
// The change applies only if the password proven is still the account's and no ban came meanwhile.
export const UPDATE_PASSWORD = `
  UPDATE accounts SET password_hash = $3, token_generation = token_generation + 1
  WHERE id = $1 AND password_hash = $2 AND NOT banned
  RETURNING token_generation`;

export const UPDATE_BANNED = `
  UPDATE accounts a
  SET banned = $2, token_generation = a.token_generation + CASE WHEN $2 THEN 1 ELSE 0 END
  FROM characters c
  WHERE lower(a.username) = lower($1) AND c.account_id = a.id
  RETURNING a.id, a.username, a.password_hash, a.banned, a.token_generation, c.id AS character_id`;

// Deleting an account: its row and its character's are locked first, so that a batch writing the
// character waits (and then finds no row: its rows are skipped as stale); the character's unique
// items go explicitly (nothing cascades from a slot to the item it holds), then the account, which
// cascades to the character and their slots. $2 null: an operator's deletion, no password proven.
export const LOCK_ACCOUNT_FOR_DELETION = `
  SELECT a.id, a.username, a.password_hash, a.banned, a.token_generation, c.id AS character_id
  FROM accounts a JOIN characters c ON c.account_id = a.id
  WHERE lower(a.username) = lower($1) AND ($2::text IS NULL OR (a.password_hash = $2 AND NOT a.banned))
  FOR UPDATE`;

// The character's unique items are locked first: a batch writing another player's slot that
// holds one of them (picked up from this character) has then committed, and the deletion's next
// statement, with a snapshot of its own, sees that slot.
export const LOCK_HELD_UNIQUE_ITEMS = `
  SELECT u.id FROM unique_items u WHERE u.id IN (
    SELECT unique_item_id FROM inventory WHERE character_id = $1 AND unique_item_id IS NOT NULL
    UNION ALL
    SELECT unique_item_id FROM equipment WHERE character_id = $1 AND unique_item_id IS NOT NULL)
  FOR UPDATE`;

// An item the store also has elsewhere (dropped just before, or since picked up by another
// player, the bag not synced since) is no longer theirs: it stays, with the row that holds it.
export const DELETE_HELD_UNIQUE_ITEMS = `
  DELETE FROM unique_items u WHERE u.id IN (
    SELECT unique_item_id FROM inventory WHERE character_id = $1 AND unique_item_id IS NOT NULL
    UNION ALL
    SELECT unique_item_id FROM equipment WHERE character_id = $1 AND unique_item_id IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM ground_items g WHERE g.unique_item_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM inventory i WHERE i.unique_item_id = u.id AND i.character_id <> $1)
  AND NOT EXISTS (SELECT 1 FROM equipment e WHERE e.unique_item_id = u.id AND e.character_id <> $1)`;

export const DELETE_ACCOUNT = 'DELETE FROM accounts WHERE id = $1';

// A unique item no inventory, equipment or ground row refers to any more (it despawned) is
// deleted by the sweep in two steps. First its row is locked, skipping rows a writer holds: a
// batch that writes a reference locks the item too (its upsert, or the foreign-key check), so it
// either has committed (the second step sees its reference) or waits for the sweep to commit and
// then writes the item anew (the upsert inserts it again). The second step, with a snapshot taken
// after the locks, deletes only what is still unreferenced: a plain DELETE … NOT EXISTS would check
// against a snapshot older than a reference committed meanwhile, and the cascade would take the
// slot that holds the item with it.
const UNREFERENCED = `
  NOT EXISTS (SELECT 1 FROM inventory i WHERE i.unique_item_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM equipment e WHERE e.unique_item_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM ground_items g WHERE g.unique_item_id = u.id)`;

// In key order from $2 on: a sweep of many rounds walks the table once, not once per round.
export const LOCK_UNREFERENCED_UNIQUE_ITEMS = `
  SELECT u.id FROM unique_items u WHERE u.id > $2 AND ${UNREFERENCED}
  ORDER BY u.id LIMIT $1 FOR UPDATE OF u SKIP LOCKED`;

export const DELETE_UNREFERENCED_UNIQUE_ITEMS = `
  DELETE FROM unique_items u WHERE u.id = ANY($1::text[]) AND ${UNREFERENCED}
  RETURNING u.id`;

// The three reads of loadCharacter run in one REPEATABLE READ transaction so that a batch
// committing between them cannot mix two versions of the character.
// Generated secrets live in world_state; the first writer wins and everyone reads its value.
export const INSERT_SECRET = `
  INSERT INTO world_state (key, value) VALUES ($1, to_jsonb($2::text))
  ON CONFLICT (key) DO NOTHING`;

export const SELECT_SECRET = 'SELECT value #>> \'{}\' AS secret FROM world_state WHERE key = $1';

export const READ_SNAPSHOT = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY';

export const SELECT_CHARACTER = `
  SELECT c.id, c.account_id, c.name, c.location_id, c.hp, c.max_hp, c.stamina, c.max_stamina, c.level, c.xp,
         c.vitals_at, c.version, a.token_generation
  FROM characters c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1`;

// Each row carries its unique item (if any), so no separate unique_items query is needed.
export const SELECT_INVENTORY = `
  SELECT i.slot, i.item_id, i.qty, i.unique_item_id,
         u.item_id AS u_item_id, u.durability, u.max_durability
  FROM inventory i LEFT JOIN unique_items u ON u.id = i.unique_item_id
  WHERE i.character_id = $1 ORDER BY i.slot`;

export const SELECT_EQUIPMENT = `
  SELECT e.slot, e.item_id, e.unique_item_id,
         u.item_id AS u_item_id, u.durability, u.max_durability
  FROM equipment e LEFT JOIN unique_items u ON u.id = e.unique_item_id
  WHERE e.character_id = $1 ORDER BY e.slot`;

export const SELECT_GROUND = `
  SELECT g.id, g.location_id, g.item_id, g.qty, g.unique_item_id, g.dropped_by, g.despawn_at,
         u.item_id AS u_item_id, u.durability, u.max_durability
  FROM ground_items g LEFT JOIN unique_items u ON u.id = g.unique_item_id
  ORDER BY g.location_id, g.id`;

// ---- writeBatch, in this order: characters and ground versions (which rows are not stale), then
// unique items (the other rows reference them), then slots and ground rows.

// The unique items a batch refers to without carrying them (their data left the hot store
// between two reads, e.g. an eviction that had just saved them), as far as they exist: locked so
// that the unique-item sweep cannot delete them before the batch commits.
export const KEEP_UNIQUE_ITEMS = 'SELECT id FROM unique_items WHERE id = ANY($1::text[]) FOR KEY SHARE';

export const UPSERT_UNIQUE_ITEMS = `
  INSERT INTO unique_items (id, item_id, durability, max_durability)
  SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[])
  ON CONFLICT (id) DO UPDATE SET
    item_id = EXCLUDED.item_id,
    durability = EXCLUDED.durability,
    max_durability = EXCLUDED.max_durability`;

// Characters are created at registration only, so the batch updates existing rows (and only
// the columns play changes). Only rows whose stored version is not newer change; RETURNING names
// them, and only their inventories and equipment are replaced. The same version is written again:
// a batch may carry a character's slots at the version an earlier batch wrote without them (the
// dirty sets are claimed one by one).
export const UPDATE_CHARACTERS = `
  UPDATE characters AS c SET
    location_id = u.location_id, hp = u.hp, max_hp = u.max_hp,
    stamina = u.stamina, max_stamina = u.max_stamina,
    level = u.level, xp = u.xp, vitals_at = u.vitals_at, version = u.version, updated_at = now()
  FROM unnest($1::bigint[], $2::text[], $3::double precision[], $4::integer[],
              $5::double precision[], $6::integer[], $7::integer[], $8::bigint[], $9::bigint[],
              $10::bigint[])
    AS u(id, location_id, hp, max_hp, stamina, max_stamina, level, xp, vitals_at, version)
  WHERE c.id = u.id AND c.version <= u.version
  RETURNING c.id`;

// A batch carries each player's whole inventory and equipment, but between two syncs a player
// changes a slot or two: rows that are gone are deleted, changed or new ones upserted, and
// identical rows are left alone (no new row version, WAL record or foreign-key check for them).
// $1: the characters whose slots the batch carries; then their slots, as in the upsert.
export const DELETE_INVENTORY_GONE = `
  DELETE FROM inventory
  WHERE character_id = ANY($1::bigint[])
    AND (character_id, slot) NOT IN (SELECT * FROM unnest($2::bigint[], $3::integer[]))`;

export const UPSERT_INVENTORY = `
  INSERT INTO inventory AS i (character_id, slot, item_id, qty, unique_item_id)
  SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::integer[], $5::text[])
  ON CONFLICT (character_id, slot) DO UPDATE SET
    item_id = EXCLUDED.item_id, qty = EXCLUDED.qty, unique_item_id = EXCLUDED.unique_item_id
  WHERE (i.item_id, i.qty, i.unique_item_id) IS DISTINCT FROM (EXCLUDED.item_id, EXCLUDED.qty, EXCLUDED.unique_item_id)`;

export const DELETE_EQUIPMENT_GONE = `
  DELETE FROM equipment
  WHERE character_id = ANY($1::bigint[])
    AND (character_id, slot) NOT IN (SELECT * FROM unnest($2::bigint[], $3::text[]))`;

export const UPSERT_EQUIPMENT = `
  INSERT INTO equipment AS e (character_id, slot, item_id, unique_item_id)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
  ON CONFLICT (character_id, slot) DO UPDATE SET
    item_id = EXCLUDED.item_id, unique_item_id = EXCLUDED.unique_item_id
  WHERE (e.item_id, e.unique_item_id) IS DISTINCT FROM (EXCLUDED.item_id, EXCLUDED.unique_item_id)`;

export const SELECT_GROUND_VERSIONS = 'SELECT location_id, version FROM ground_versions ORDER BY location_id';

// Like UPDATE_CHARACTERS: only locations whose stored version is not newer are written, and
// RETURNING names them; only their ground rows are replaced.
export const UPSERT_GROUND_VERSIONS = `
  INSERT INTO ground_versions AS g (location_id, version)
  SELECT * FROM unnest($1::text[], $2::bigint[])
  ON CONFLICT (location_id) DO UPDATE SET version = EXCLUDED.version
  WHERE g.version <= EXCLUDED.version
  RETURNING location_id`;

export const DELETE_GROUND = 'DELETE FROM ground_items WHERE location_id = ANY($1::text[])';

// An id already lying in a location outside this batch is moved rather than refused, so one
// stale row cannot make every later sync fail.
export const INSERT_GROUND = `
  INSERT INTO ground_items (id, location_id, item_id, qty, unique_item_id, dropped_by, despawn_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[],
                       $6::bigint[], $7::bigint[])
  ON CONFLICT (id) DO UPDATE SET
    location_id = EXCLUDED.location_id, item_id = EXCLUDED.item_id, qty = EXCLUDED.qty,
    unique_item_id = EXCLUDED.unique_item_id, dropped_by = EXCLUDED.dropped_by,
    despawn_at = EXCLUDED.despawn_at`;
