// SqlDurableStore as a contract: every case runs on PGlite (PostgreSQL in WASM, embedded mode)
// and on a real PostgreSQL server through pg (DATABASE_URL). Each driver gets one database for
// the file's cases (creating one is slow), so every test registers its own accounts under fresh
// names; the PostgreSQL one is created for this file and dropped at the end.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Character, GroundItem, InventoryEntry, UniqueItem } from '../../src/domain/model.ts';
import type { NewCharacter, StartingKit, SyncBatch } from '../../src/adapters/durable/DurableStore.ts';
import { MIGRATIONS_DIR, runMigrations } from '../../src/adapters/durable/migrations.ts';
import { openPglite } from '../../src/adapters/durable/pgliteClient.ts';
import { openPostgres } from '../../src/adapters/durable/pgClient.ts';
import type { SqlClient } from '../../src/adapters/durable/SqlClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import * as sql from '../../src/adapters/durable/sql.ts';
import { GameError } from '../../src/errors.ts';
import { createDatabase } from '../support/services/postgresServer.ts';
import { deferred, type Deferred } from '../support/hookedDurable.ts';

const INITIAL = '20261121_0001_initial.sql';
const ALL_MIGRATIONS = [INITIAL, '20261122_0002_character_version.sql', '20261122_0003_ground_version.sql', '20261122_0004_token_generation.sql'];
const noKit: StartingKit = { inventory: [], uniqueItems: [] };

/** An empty database that can be opened, closed and opened again, then thrown away. */
interface TestDatabase {
  open(): Promise<SqlClient>;
  drop(): Promise<void>;
}

/** How one driver provides databases to the contract. */
interface Driver {
  /** A database for the cases that share one: in memory where the driver allows it. */
  shared(): Promise<{ client: SqlClient; drop: () => Promise<void> }>;
  /** A new, empty, persistent database. */
  fresh(): Promise<TestDatabase>;
}

const openPgliteFactory: Driver = {
  shared: async () => ({ client: await openPglite(undefined), drop: () => Promise.resolve() }),
  fresh: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cinder-pglite-'));
    return {
      open: () => openPglite(join(dir, 'data')),
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error('DATABASE_URL is not set: the PostgreSQL half of the durable contract needs a server (postgres://user@host:port/db)');
  }
  return url;
}

/** Runs one statement on the server's own database (DROP DATABASE cannot run inside a transaction). */
async function onServer(statement: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl() });
  admin.on('error', () => undefined); // a lost connection rejects the query below instead
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/** A database of its own on the DATABASE_URL server, so test files running at once never meet. */
async function createServerDatabase(): Promise<TestDatabase> {
  const name = `cinder_test_${randomBytes(6).toString('hex')}`;
  const url = await createDatabase(serverUrl(), name);
  return {
    open: () => openPostgres(url, { max: 4 }),
    drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

const openPostgresFactory: Driver = {
  shared: async () => {
    const database = await createServerDatabase();
    return { client: await database.open(), drop: () => database.drop() };
  },
  fresh: createServerDatabase,
};

function newCharacter(name: string): NewCharacter {
  return {
    name, locationId: 'ashgate-square', hp: 20, maxHp: 20, stamina: 10, maxStamina: 10,
    level: 1, xp: 0, vitalsAt: 1_790_000_000_000,
  };
}

function emptyBatch(): SyncBatch {
  return { characters: [], inventories: [], equipment: [], ground: [], uniqueItems: [] };
}

/** A client that counts the statements sent through it, inside transactions too. */
function counting(inner: SqlClient): { client: SqlClient; statements: () => number } {
  let statements = 0;
  const wrap = (c: SqlClient): SqlClient => ({
    query: (text, params) => {
      statements++;
      return c.query(text, params);
    },
    exec: (script) => {
      statements++;
      return c.exec(script);
    },
    transaction: (fn) => c.transaction((tx) => fn(wrap(tx))),
    close: () => c.close(),
  });
  return { client: wrap(inner), statements: () => statements };
}

/** A client whose transactions stop after sending `statement`, until `resume` resolves. */
function pausingAfter(inner: SqlClient, statement: string, sent: Deferred, resume: Promise<void>): SqlClient {
  const wrap = (c: SqlClient): SqlClient => ({
    query: async (text, params) => {
      const result = await c.query(text, params);
      if (text === statement) {
        sent.resolve();
        await resume;
      }
      return result;
    },
    exec: (script) => c.exec(script),
    transaction: (fn) => c.transaction((tx) => fn(wrap(tx))),
    close: () => c.close(),
  });
  return wrap(inner);
}

describe.each([
  ['PGlite', openPgliteFactory],
  ['PostgreSQL', openPostgresFactory],
] as const)('SqlDurableStore on %s', (driverName, driver) => {
  let client: SqlClient;
  let store: SqlDurableStore;
  let dropShared: () => Promise<void> = () => Promise.resolve();
  let nextName = 0;

  beforeAll(async () => {
    const shared = await driver.shared();
    client = shared.client;
    dropShared = shared.drop;
    store = await SqlDurableStore.open(client);
  });

  afterAll(async () => {
    try {
      await store.close();
    } finally {
      await dropShared();
    }
  });

  /** Registers a fresh account and returns its character as the store holds it. */
  async function register(): Promise<Character> {
    const name = `hero${String(nextName++)}`;
    const account = await store.createAccount(name, 'hash', newCharacter(name), noKit);
    return { id: account.characterId, accountId: account.id, ...newCharacter(name), version: 0 };
  }

  async function count(table: string): Promise<number> {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    return Number(rows[0]?.n);
  }

  describe('array parameters', () => {
    it('arrive exactly as sent: awkward text, numbers, booleans and nulls', async () => {
      const text = ['plain', '', 'NULL', 'null', 'a "quoted" word', 'back\\slash\\', 'end\\"', '{braces}', 'comma, space ', ' ', 'üñî ✓', null];
      const numbers = [0, -1, 2.5, 1e-7, 1763780000000.25, Number.MAX_SAFE_INTEGER, null];
      const { rows } = await client.query(
        `SELECT t.s, n.x, b.f FROM unnest($1::text[]) WITH ORDINALITY AS t(s, i)
           LEFT JOIN unnest($2::double precision[]) WITH ORDINALITY AS n(x, i) USING (i)
           LEFT JOIN unnest($3::boolean[]) WITH ORDINALITY AS b(f, i) USING (i)
         ORDER BY i`,
        [text, numbers, [true, false, null]],
      );
      expect(rows.map((row) => row.s)).toEqual(text);
      expect(rows.slice(0, numbers.length).map((row) => row.x)).toEqual(numbers);
      expect(rows.slice(0, 3).map((row) => row.f)).toEqual([true, false, null]);
      const { rows: ids } = await client.query('SELECT unnest($1::bigint[])::text AS id', [[Number.MAX_SAFE_INTEGER, -3]]);
      expect(ids.map((row) => row.id)).toEqual([String(Number.MAX_SAFE_INTEGER), '-3']);
    });
  });

  describe('migrations', () => {
    // A fresh database of the driver's own kind: file-backed PGlite, or a new server database.
    it('apply once, are idempotent on reopen, and roll back a failing file whole', async () => {
      const database = await driver.fresh();
      const dir = await mkdtemp(join(tmpdir(), 'cinder-migrations-'));
      try {
        let db = await database.open();
        expect(await runMigrations(db)).toEqual(ALL_MIGRATIONS);
        const fileStore = new SqlDurableStore(db);
        await fileStore.createAccount('Persisted', 'hash', newCharacter('Persisted'), noKit);
        await db.close();

        db = await database.open();
        try {
          expect(await runMigrations(db)).toEqual([]);
          const recorded = await db.query('SELECT name FROM schema_migrations ORDER BY name');
          expect(recorded.rows).toEqual(ALL_MIGRATIONS.map((name) => ({ name })));
          expect(await new SqlDurableStore(db).findAccount('persisted')).toMatchObject({ username: 'Persisted' });

          // A later file that fails halfway leaves neither its first statement nor a record.
          const migrations = join(dir, 'migrations');
          await mkdir(migrations);
          await copyFile(join(MIGRATIONS_DIR, INITIAL), join(migrations, INITIAL));
          await writeFile(join(migrations, '20261122_0001_broken.sql'), 'CREATE TABLE half (x int);\nSELECT 1 / 0;\n');
          await expect(runMigrations(db, migrations)).rejects.toThrow(/division by zero/);
          const half = await db.query(`SELECT to_regclass('half')::text AS t`);
          expect(half.rows).toEqual([{ t: null }]);
          expect((await db.query('SELECT name FROM schema_migrations')).rows).toHaveLength(ALL_MIGRATIONS.length);
        } finally {
          await db.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
        await database.drop();
      }
    });
  });

  describe('accounts', () => {
    it('creates an account with its character and finds it whatever the case', async () => {
      const account = await store.createAccount('Ember_Knight', 'argon2-hash', newCharacter('Ember_Knight'), noKit);
      expect(account).toMatchObject({ username: 'Ember_Knight', passwordHash: 'argon2-hash', banned: false, tokenGeneration: 0 });
      expect(await store.findAccount('ember_KNIGHT')).toEqual(account);
      expect(await store.findAccount('nobody')).toBeNull();

      const snapshot = await store.loadCharacter(account.characterId);
      expect(snapshot).toEqual({
        character: { id: account.characterId, accountId: account.id, ...newCharacter('Ember_Knight'), version: 0 },
        inventory: new Map(),
        equipment: new Map(),
        uniqueItems: [],
        tokenGeneration: 0,
      });
    });

    it('changes a password at once, each change and each ban starting a new token generation', async () => {
      const account = await store.createAccount('Gatekeeper', 'old-hash', newCharacter('Gatekeeper'), noKit);
      expect(await store.changePassword(account.id, 'old-hash', 'new-hash')).toBe(1);
      expect(await store.findAccount('gatekeeper')).toEqual({ ...account, passwordHash: 'new-hash', tokenGeneration: 1 });
      // A second change that proved the old password, racing the first, changes nothing.
      expect(await store.changePassword(account.id, 'old-hash', 'racing-hash')).toBeNull();
      expect((await store.findAccount('gatekeeper'))?.passwordHash).toBe('new-hash');
      expect((await store.loadCharacter(account.characterId))?.tokenGeneration).toBe(1);

      const banned = { ...account, passwordHash: 'new-hash', banned: true, tokenGeneration: 2 };
      expect(await store.setBanned('GATEKEEPER', true)).toEqual(banned);
      expect(await store.findAccount('Gatekeeper')).toEqual(banned);
      // A change that proved the password before the ban gets no new generation past it.
      expect(await store.changePassword(account.id, 'new-hash', 'after-the-ban')).toBeNull();
      // Lifting a ban gives no old token back its use.
      expect(await store.setBanned('gatekeeper', false)).toEqual({ ...banned, banned: false });
      expect((await store.loadCharacter(account.characterId))?.tokenGeneration).toBe(2);
      expect(await store.setBanned('nobody-here', true)).toBeNull();
    });

    it('writes the starting kit with the character, unique items included', async () => {
      const pipe: UniqueItem = { id: 'kit-pipe-1', itemId: 'rusty-pipe', durability: 40, maxDurability: 40 };
      const kit: StartingKit = {
        inventory: [[0, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: pipe.id }], [1, { itemId: 'bandage', qty: 3 }]],
        uniqueItems: [pipe],
      };
      const account = await store.createAccount('Kitted', 'hash', newCharacter('Kitted'), kit);
      const snapshot = await store.loadCharacter(account.characterId);
      expect(snapshot?.inventory).toEqual(new Map(kit.inventory));
      expect(snapshot?.uniqueItems).toEqual([pipe]);
    });

    it('refuses a username taken in another case and writes nothing', async () => {
      await store.createAccount('Ashwalker', 'hash', newCharacter('Ashwalker'), noKit);
      const [accounts, characters] = [await count('accounts'), await count('characters')];

      const attempt = store.createAccount('ASHWALKER', 'other', newCharacter('ASHWALKER'), noKit);
      await expect(attempt).rejects.toBeInstanceOf(GameError);
      await expect(attempt).rejects.toMatchObject({ code: 'E_USERNAME_TAKEN' });
      expect([await count('accounts'), await count('characters')]).toEqual([accounts, characters]);
      expect(await store.findAccount('ashwalker')).toMatchObject({ username: 'Ashwalker', passwordHash: 'hash' });
    });

    it('deletes an account with its character, slots and held unique items, and frees the name', async () => {
      const pipe: UniqueItem = { id: 'del-pipe-1', itemId: 'rusty-pipe', durability: 40, maxDurability: 40 };
      const helm: UniqueItem = { id: 'del-helm-1', itemId: 'iron-helm', durability: 80, maxDurability: 80 };
      const dropped: UniqueItem = { id: 'del-dropped-1', itemId: 'bronze-sword', durability: 9, maxDurability: 50 };
      const kit: StartingKit = { inventory: [[0, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: pipe.id }], [1, { itemId: 'bandage', qty: 3 }]], uniqueItems: [pipe] };
      const account = await store.createAccount('Leaving', 'the-hash', newCharacter('Leaving'), kit);
      const leaver: Character = { id: account.characterId, accountId: account.id, ...newCharacter('Leaving'), version: 1 };
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [helm, dropped],
        characters: [leaver],
        equipment: [{ characterId: leaver.id, entries: [['head', { itemId: 'iron-helm', uniqueItemId: helm.id }]] }],
        // What they dropped is the world's now: it stays.
        ground: [{ locationId: 'deletion-yard', items: [{ id: 'g-del-1', itemId: 'bronze-sword', qty: 1, uniqueItemId: dropped.id, droppedBy: leaver.id, despawnAt: null }], version: 1 }],
      });

      // A password that is no longer the account's proves nothing.
      expect(await store.deleteAccount('leaving', 'an-older-hash')).toBeNull();
      expect(await store.findAccount('Leaving')).not.toBeNull();

      expect(await store.deleteAccount('LEAVING', 'the-hash')).toEqual(account);
      expect(await store.findAccount('Leaving')).toBeNull();
      expect(await store.loadCharacter(leaver.id)).toBeNull();
      for (const table of ['inventory', 'equipment']) {
        const rows = await client.query(`SELECT 1 FROM ${table} WHERE character_id = $1`, [leaver.id]);
        expect(rows.rows, table).toEqual([]);
      }
      const uniques = await client.query('SELECT id FROM unique_items WHERE id = ANY($1::text[]) ORDER BY id', [[pipe.id, helm.id, dropped.id]]);
      expect(uniques.rows).toEqual([{ id: dropped.id }]);
      expect((await store.loadGround()).items.map((item) => item.id)).toContain('g-del-1');
      expect(await store.deleteAccount('Leaving', null)).toBeNull();

      // Dropped just before the deletion, its bag not synced since: the store has the item in
      // both places, and the ground keeps it.
      const knife: UniqueItem = { id: 'del-knife-1', itemId: 'bronze-sword', durability: 5, maxDurability: 50 };
      const late = await store.createAccount('LateDropper', 'hash', newCharacter('LateDropper'), { inventory: [[0, { itemId: 'bronze-sword', qty: 1, uniqueItemId: knife.id }]], uniqueItems: [knife] });
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [knife],
        ground: [{ locationId: 'late-yard', items: [{ id: 'g-late-1', itemId: 'bronze-sword', qty: 1, uniqueItemId: knife.id, droppedBy: late.characterId, despawnAt: null }], version: 1 }],
      });
      // And one since picked up by another player, whose save came first.
      const axe: UniqueItem = { id: 'del-axe-1', itemId: 'fire-axe', durability: 7, maxDurability: 60 };
      await store.writeBatch({ ...emptyBatch(), uniqueItems: [axe], inventories: [{ characterId: late.characterId, entries: [[1, { itemId: 'fire-axe', qty: 1, uniqueItemId: axe.id }]] }] });
      const taker = await register();
      await store.writeBatch({ ...emptyBatch(), uniqueItems: [axe], characters: [{ ...taker, version: 1 }], inventories: [{ characterId: taker.id, entries: [[0, { itemId: 'fire-axe', qty: 1, uniqueItemId: axe.id }]] }] });
      expect(await store.deleteAccount('LateDropper', null)).toMatchObject({ id: late.id });
      expect((await store.loadGround()).items.find((item) => item.id === 'g-late-1')).toMatchObject({ uniqueItemId: knife.id });
      expect((await store.loadCharacter(taker.id))?.inventory.get(0)).toEqual({ itemId: 'fire-axe', qty: 1, uniqueItemId: axe.id });

      // A sync that read the character before the deletion lands after it: skipped, their unique
      // items not written back, and nothing fails.
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [pipe, helm],
        characters: [{ ...leaver, version: 2 }],
        inventories: [{ characterId: leaver.id, entries: [[0, { itemId: 'bandage', qty: 1 }], [1, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: pipe.id }]] }],
        equipment: [{ characterId: leaver.id, entries: [['head', { itemId: 'iron-helm', uniqueItemId: helm.id }]] }],
      });
      expect(await store.loadCharacter(leaver.id)).toBeNull();
      expect((await client.query('SELECT id FROM unique_items WHERE id = ANY($1::text[])', [[pipe.id, helm.id]])).rows).toEqual([]);

      // The name is free: a new account takes it, with a character of its own.
      const again = await store.createAccount('leaving', 'new-hash', newCharacter('leaving'), noKit);
      expect(again.characterId).not.toBe(leaver.id);
    });

    it('deletes a banned account only as an operator', async () => {
      const account = await store.createAccount('Exiled', 'hash', newCharacter('Exiled'), noKit);
      await store.setBanned('exiled', true);
      expect(await store.deleteAccount('exiled', 'hash')).toBeNull();
      expect(await store.deleteAccount('exiled', null)).toMatchObject({ id: account.id, banned: true });
      expect(await store.findAccount('exiled')).toBeNull();
      expect(await store.deleteAccount('nobody-at-all', null)).toBeNull();
    });

    it('returns null for a character that does not exist', async () => {
      expect(await store.loadCharacter(987_654)).toBeNull();
    });
  });

  describe('writeBatch', () => {
    const sword: UniqueItem = { id: 'u-sword-1', itemId: 'bronze-sword', durability: 37, maxDurability: 50 };
    const helm: UniqueItem = { id: 'u-helm-1', itemId: 'iron-helm', durability: 80, maxDurability: 80 };

    it('writes what loadCharacter then returns exactly', async () => {
      const hero = await register();
      const moved: Character = { ...hero, locationId: 'cinder-road', hp: 12.5, stamina: 3.25, xp: 2 ** 40, level: 7, vitalsAt: 1_790_000_123_456, version: 1 };
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [sword, helm],
        characters: [moved],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'ash-berry', qty: 14 }], [3, { itemId: 'bronze-sword', qty: 1, uniqueItemId: sword.id }]] }],
        equipment: [{ characterId: hero.id, entries: [['head', { itemId: 'iron-helm', uniqueItemId: helm.id }], ['ring', { itemId: 'copper-ring' }]] }],
      });

      const snapshot = await store.loadCharacter(hero.id);
      expect(snapshot).toStrictEqual({
        character: moved,
        inventory: new Map<number, InventoryEntry>([[0, { itemId: 'ash-berry', qty: 14 }], [3, { itemId: 'bronze-sword', qty: 1, uniqueItemId: sword.id }]]),
        equipment: new Map([['head', { itemId: 'iron-helm', uniqueItemId: helm.id }], ['ring', { itemId: 'copper-ring' }]]),
        uniqueItems: expect.arrayContaining([sword, helm]) as unknown,
        tokenGeneration: 0,
      });
      expect(snapshot?.uniqueItems).toHaveLength(2);
    });

    it('replaces an inventory whole, dropping slots that disappeared', async () => {
      const hero = await register();
      const worn = { ...sword, id: 'u-sword-2', durability: 50 };
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [worn],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'ash-berry', qty: 3 }], [1, { itemId: 'flint', qty: 1 }], [2, { itemId: 'bronze-sword', qty: 1, uniqueItemId: worn.id }]] }],
        equipment: [{ characterId: hero.id, entries: [['body', { itemId: 'leather-vest' }]] }],
      });
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [{ ...worn, durability: 49 }],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'ash-berry', qty: 5 }], [2, { itemId: 'bronze-sword', qty: 1, uniqueItemId: worn.id }]] }],
        equipment: [{ characterId: hero.id, entries: [] }],
      });

      const snapshot = await store.loadCharacter(hero.id);
      expect(snapshot?.inventory).toEqual(new Map([[0, { itemId: 'ash-berry', qty: 5 }], [2, { itemId: 'bronze-sword', qty: 1, uniqueItemId: worn.id }]]));
      expect(snapshot?.equipment).toEqual(new Map());
      expect(snapshot?.uniqueItems).toEqual([{ ...worn, durability: 49 }]);
    });


    it('rewrites only the slots that changed: identical rows keep their row version', async () => {
      const hero = await register();
      const inventory: [number, InventoryEntry][] = [[0, { itemId: 'ash-berry', qty: 3 }], [1, { itemId: 'flint', qty: 1 }], [2, { itemId: 'bandage', qty: 2 }]];
      await store.writeBatch({
        ...emptyBatch(),
        inventories: [{ characterId: hero.id, entries: inventory }],
        equipment: [{ characterId: hero.id, entries: [['body', { itemId: 'leather-vest' }], ['ring', { itemId: 'copper-ring' }]] }],
      });
      // xmin names the transaction that wrote a row's current version.
      const versions = async () => {
        const slots = await client.query('SELECT slot::text AS slot, xmin::text AS written FROM inventory WHERE character_id = $1 UNION ALL SELECT slot, xmin::text FROM equipment WHERE character_id = $1', [hero.id]);
        return new Map(slots.rows.map((row) => [String(row.slot), String(row.written)]));
      };
      const before = await versions();

      await store.writeBatch({
        ...emptyBatch(),
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'ash-berry', qty: 3 }], [1, { itemId: 'flint', qty: 2 }], [4, { itemId: 'rope', qty: 1 }]] }],
        equipment: [{ characterId: hero.id, entries: [['body', { itemId: 'leather-vest' }]] }],
      });

      const after = await versions();
      expect([...after.keys()].sort()).toEqual(['0', '1', '4', 'body']);
      expect(after.get('0')).toBe(before.get('0'));
      expect(after.get('body')).toBe(before.get('body'));
      expect(after.get('1')).not.toBe(before.get('1'));
      const snapshot = await store.loadCharacter(hero.id);
      expect(snapshot?.inventory).toEqual(new Map([[0, { itemId: 'ash-berry', qty: 3 }], [1, { itemId: 'flint', qty: 2 }], [4, { itemId: 'rope', qty: 1 }]]));
      expect(snapshot?.equipment).toEqual(new Map([['body', { itemId: 'leather-vest' }]]));
    });
    it('replaces the ground of the listed locations only', async () => {
      const axe: UniqueItem = { id: 'u-axe-1', itemId: 'wood-axe', durability: 5, maxDurability: 40 };
      const pebble = (id: string): GroundItem => ({ id, itemId: 'pebble', qty: 2, droppedBy: null, despawnAt: null });
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [axe],
        ground: [
          { locationId: 'ground-a', items: [pebble('g-a1'), pebble('g-a2')], version: 1 },
          { locationId: 'ground-b', items: [{ id: 'g-b1', itemId: 'wood-axe', qty: 1, uniqueItemId: axe.id, droppedBy: 42, despawnAt: 1_790_000_999_000 }], version: 1 },
        ],
      });
      await store.writeBatch({ ...emptyBatch(), ground: [{ locationId: 'ground-a', items: [pebble('g-a3')], version: 2 }] });

      const { items, uniqueItems, versions } = await store.loadGround();
      const here = items.filter((item) => item.locationId.startsWith('ground-'));
      expect(here).toStrictEqual([
        { id: 'g-a3', locationId: 'ground-a', itemId: 'pebble', qty: 2, droppedBy: null, despawnAt: null },
        { id: 'g-b1', locationId: 'ground-b', itemId: 'wood-axe', qty: 1, uniqueItemId: axe.id, droppedBy: 42, despawnAt: 1_790_000_999_000 },
      ]);
      expect(uniqueItems).toContainEqual(axe);
      expect(versions.filter((v) => v.locationId.startsWith('ground-'))).toEqual([
        { locationId: 'ground-a', version: 2 },
        { locationId: 'ground-b', version: 1 },
      ]);
    });

    it('keeps a location\'s ground when the batch carries an older version of it', async () => {
      const pebble = (id: string): GroundItem => ({ id, itemId: 'pebble', qty: 1, droppedBy: null, despawnAt: null });
      // The newer save (version 7) lands first; a save that read the ground earlier (version 6) follows.
      await store.writeBatch({ ...emptyBatch(), ground: [{ locationId: 'stale-a', items: [pebble('g-new')], version: 7 }] });
      await store.writeBatch({
        ...emptyBatch(),
        ground: [
          { locationId: 'stale-a', items: [pebble('g-old'), pebble('g-new')], version: 6 },
          { locationId: 'stale-b', items: [pebble('g-b')], version: 1 },
        ],
      });
      // The same version again is the same ground: written (a retried batch is harmless).
      await store.writeBatch({ ...emptyBatch(), ground: [{ locationId: 'stale-b', items: [pebble('g-b2')], version: 1 }] });

      const { items, versions } = await store.loadGround();
      expect(items.filter((item) => item.locationId.startsWith('stale-')).map((item) => [item.locationId, item.id])).toEqual([
        ['stale-a', 'g-new'],
        ['stale-b', 'g-b2'],
      ]);
      expect(versions.filter((v) => v.locationId.startsWith('stale-'))).toEqual([
        { locationId: 'stale-a', version: 7 },
        { locationId: 'stale-b', version: 1 },
      ]);
    });

    it('changes nothing when a statement fails midway', async () => {
      const hero = await register();
      const before = await store.loadCharacter(hero.id);
      const lost: UniqueItem = { id: 'u-lost-1', itemId: 'bronze-sword', durability: 1, maxDurability: 50 };

      const badInventory = store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [lost],
        characters: [{ ...hero, hp: 1 }],
        inventories: [
          { characterId: hero.id, entries: [[0, { itemId: 'ash-berry', qty: 1 }]] },
          { characterId: 99_999_999, entries: [[0, { itemId: 'ash-berry', qty: 1 }]] },
        ],
      });
      await expect(badInventory).rejects.toThrow(/foreign key/);

      expect(await store.loadCharacter(hero.id)).toEqual(before);
      const unique = await client.query('SELECT 1 FROM unique_items WHERE id = $1', [lost.id]);
      expect(unique.rows).toEqual([]);
    });

    it('skips a character whose stored version is newer, rows and all', async () => {
      const hero = await register();
      const newer = { ...hero, locationId: 'newer-place', version: 5 };
      await store.writeBatch({
        ...emptyBatch(),
        characters: [newer],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'bandage', qty: 2 }]] }],
      });
      // A batch that read the character before those changes lands late: it must not win.
      await store.writeBatch({
        ...emptyBatch(),
        characters: [{ ...hero, locationId: 'older-place', version: 3 }],
        inventories: [{ characterId: hero.id, entries: [] }],
      });
      const snapshot = await store.loadCharacter(hero.id);
      expect(snapshot?.character).toEqual(newer);
      expect(snapshot?.inventory).toEqual(new Map([[0, { itemId: 'bandage', qty: 2 }]]));

      // The same version is written again: the dirty sets are claimed one by one, so a batch may
      // carry the slots of a character an earlier batch wrote at that version without them.
      const knife: UniqueItem = { id: `u-knife-${String(hero.id)}`, itemId: 'kitchen-knife', durability: 9, maxDurability: 30 };
      await store.writeBatch({ ...emptyBatch(), characters: [{ ...newer, hp: 12 }] });
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [knife],
        characters: [{ ...newer, hp: 12 }],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: 'bandage', qty: 2 }], [1, { itemId: 'kitchen-knife', qty: 1, uniqueItemId: knife.id }]] }],
      });
      expect((await store.loadCharacter(hero.id))?.character.hp).toBe(12);
      expect((await store.loadCharacter(hero.id))?.inventory.get(1)).toEqual({ itemId: 'kitchen-knife', qty: 1, uniqueItemId: knife.id });

      // The unique items of a skipped character are not written: the newer save has theirs.
      const spare: UniqueItem = { id: `u-spare-${String(hero.id)}`, itemId: 'kitchen-knife', durability: 1, maxDurability: 30 };
      await store.writeBatch({
        ...emptyBatch(),
        uniqueItems: [spare, { ...knife, durability: 1 }],
        characters: [{ ...hero, version: 2 }],
        inventories: [{ characterId: hero.id, entries: [[2, { itemId: 'kitchen-knife', qty: 1, uniqueItemId: spare.id }]] }],
      });
      const uniques = await client.query('SELECT id, durability FROM unique_items WHERE id = ANY($1::text[]) ORDER BY id', [[knife.id, spare.id]]);
      expect(uniques.rows).toEqual([{ id: knife.id, durability: 9 }]);
    });

    it('writes the batches of a source in one transaction, or none of them when the source fails', async () => {
      const [first, second] = [await register(), await register()];
      const moved = (hero: Character, locationId: string): SyncBatch => ({ ...emptyBatch(), characters: [{ ...hero, locationId, version: 1 }] });
      let pulled = 0;
      function* failing(): Generator<SyncBatch> {
        pulled += 1;
        yield moved(first, 'cinder-road');
        throw new Error('the hot store went away');
      }
      await expect(store.writeBatches(failing())).rejects.toThrow('the hot store went away');
      expect(pulled).toBe(1);
      expect((await store.loadCharacter(first.id))?.character.locationId).toBe(first.locationId);

      function* both(): Generator<SyncBatch> {
        yield moved(first, 'cinder-road');
        yield moved(second, 'ash-gate');
      }
      const counted = counting(client);
      expect(await new SqlDurableStore(counted.client).writeBatches(both())).toEqual({ skippedCharacters: 0, skippedLocations: 0, detachedUniqueItems: 0 });
      // One UPDATE_CHARACTERS per batch (the driver's BEGIN and COMMIT are not counted here).
      expect(counted.statements()).toBe(2);
      expect((await store.loadCharacter(first.id))?.character.locationId).toBe('cinder-road');
      expect((await store.loadCharacter(second.id))?.character.locationId).toBe('ash-gate');
    });

    it('uses as many statements for 500 characters as for 5', async () => {
      const heroes: Character[] = [];
      for (let i = 0; i < 500; i++) heroes.push(await register());

      const batchFor = (group: Character[], tag: string): SyncBatch => ({
        characters: group.map((c) => ({ ...c, xp: 100, hp: 19.5, version: 1 })),
        uniqueItems: group.map((c) => ({ id: `u-${tag}-${String(c.id)}`, itemId: 'bronze-sword', durability: 10, maxDurability: 50 })),
        inventories: group.map((c) => ({
          characterId: c.id,
          entries: [
            [0, { itemId: 'ash-berry', qty: 9 }],
            [1, { itemId: 'flint', qty: 2 }],
            [2, { itemId: 'bronze-sword', qty: 1, uniqueItemId: `u-${tag}-${String(c.id)}` }],
          ],
        })),
        equipment: group.map((c) => ({ characterId: c.id, entries: [['feet', { itemId: 'sandals' }]] })),
        ground: [{ locationId: `count-${tag}`, items: group.map((c) => ({ id: `g-${tag}-${String(c.id)}`, itemId: 'pebble', qty: 1, droppedBy: c.id, despawnAt: null })), version: 1 }],
      });

      const small = counting(client);
      await new SqlDurableStore(small.client).writeBatch(batchFor(heroes.slice(0, 5), 'small'));
      const large = counting(client);
      await new SqlDurableStore(large.client).writeBatch(batchFor(heroes, 'large'));

      expect(small.statements()).toBe(9);
      expect(large.statements()).toBe(small.statements());

      const last = heroes[499];
      if (last === undefined) throw new Error('500 heroes expected');
      const snapshot = await store.loadCharacter(last.id);
      expect(snapshot?.character).toEqual({ ...last, xp: 100, hp: 19.5, version: 1 });
      expect(snapshot?.inventory.size).toBe(3);
      expect(snapshot?.inventory.get(2)).toEqual({ itemId: 'bronze-sword', qty: 1, uniqueItemId: `u-large-${String(last.id)}` });
      expect(snapshot?.equipment.get('feet')).toEqual({ itemId: 'sandals' });
    });
  });

  describe('deleteUnreferencedUniqueItems', () => {
    const sword = (id: string): UniqueItem => ({ id, itemId: 'bronze-sword', durability: 3, maxDurability: 50 });
    const lyingAt = (items: UniqueItem[], tag: string): GroundItem[] =>
      items.map((u, i) => ({ id: `g-${tag}-${String(i)}`, itemId: u.itemId, qty: 1, uniqueItemId: u.id, droppedBy: null, despawnAt: 1 }));
    const stored = async (ids: string[]) =>
      (await client.query('SELECT id FROM unique_items WHERE id = ANY($1::text[]) ORDER BY id', [ids])).rows.map((row) => row.id);

    /** A unique item in the store that nothing refers to any more: written lying somewhere, then that ground written without it. */
    async function despawned(item: UniqueItem): Promise<void> {
      const locationId = `yard-of-${item.id}`;
      await store.writeBatch({ ...emptyBatch(), uniqueItems: [item], ground: [{ locationId, items: lyingAt([item], item.id), version: 1 }] });
      await store.writeBatch({ ...emptyBatch(), ground: [{ locationId, items: [], version: 2 }] });
    }

    it('deletes only what no bag, equipment or ground refers to, at most `limit` at a time', async () => {
      await store.deleteUnreferencedUniqueItems(1_000_000); // what earlier cases left (fewer than a million)
      const hero = await register();
      const [bagged, worn, lying, ...gone] = ['sw-bag', 'sw-worn', 'sw-lying', 'sw-gone-1', 'sw-gone-2', 'sw-gone-3'].map(sword);
      if (!bagged || !worn || !lying) throw new Error('six swords expected');
      await store.writeBatch({
        characters: [{ ...hero, version: 1 }],
        uniqueItems: [bagged, worn, lying, ...gone],
        inventories: [{ characterId: hero.id, entries: [[0, { itemId: bagged.itemId, qty: 1, uniqueItemId: bagged.id }]] }],
        equipment: [{ characterId: hero.id, entries: [['head', { itemId: worn.itemId, uniqueItemId: worn.id }]] }],
        ground: [{ locationId: 'sweep-yard', items: lyingAt([lying, ...gone], 'sweep'), version: 1 }],
      });
      expect(await store.deleteUnreferencedUniqueItems(10)).toEqual({ deleted: 0, next: null });

      // Three of them despawn: the yard is saved again without them. Rounds of two go on in id order.
      await store.writeBatch({ ...emptyBatch(), ground: [{ locationId: 'sweep-yard', items: lyingAt([lying], 'sweep'), version: 2 }] });
      expect(await store.deleteUnreferencedUniqueItems(2)).toEqual({ deleted: 2, next: 'sw-gone-2' });
      expect(await store.deleteUnreferencedUniqueItems(2, 'sw-gone-2')).toEqual({ deleted: 1, next: null });
      expect(await store.deleteUnreferencedUniqueItems(2)).toEqual({ deleted: 0, next: null });

      expect(await stored(['sw-bag', 'sw-gone-1', 'sw-gone-2', 'sw-gone-3', 'sw-lying', 'sw-worn'])).toEqual(['sw-bag', 'sw-lying', 'sw-worn']);
      const snapshot = await store.loadCharacter(hero.id);
      expect(snapshot?.inventory.get(0)).toEqual({ itemId: bagged.itemId, qty: 1, uniqueItemId: bagged.id });
      expect(snapshot?.equipment.get('head')).toEqual({ itemId: worn.itemId, uniqueItemId: worn.id });
      expect((await store.loadGround()).items.filter((item) => item.locationId === 'sweep-yard').map((item) => item.uniqueItemId)).toEqual([lying.id]);
    });

    // Two transactions at once: PGlite is one connection behind a mutex, so these cases are the server's.
    if (driverName === 'PostgreSQL') {
      it('passes over an item a save is giving a reference, which keeps it', async () => {
        await store.deleteUnreferencedUniqueItems(1_000_000);
        const hero = await register();
        const found = sword('sw-found-1');
        await despawned(found);
        // A player picked it up before it despawned in the hot store: their save has written the item and their slot, not committed yet.
        const written = deferred();
        const commit = deferred();
        const saving = client.transaction(async (tx) => {
          await store.writeBatch({
            ...emptyBatch(),
            uniqueItems: [found],
            characters: [{ ...hero, version: 1 }],
            inventories: [{ characterId: hero.id, entries: [[0, { itemId: found.itemId, qty: 1, uniqueItemId: found.id }]] }],
          }, tx);
          written.resolve();
          await commit.promise;
        });
        await written.promise;

        // Without waiting for the save (it could not: the save waits for this test).
        expect(await store.deleteUnreferencedUniqueItems(10)).toEqual({ deleted: 0, next: null });
        commit.resolve();
        await saving;
        expect((await store.loadCharacter(hero.id))?.inventory.get(0)).toEqual({ itemId: found.itemId, qty: 1, uniqueItemId: found.id });
        expect(await stored([found.id])).toEqual([found.id]);
      });

      it('lets a save that meets an item being deleted write it anew', async () => {
        await store.deleteUnreferencedUniqueItems(1_000_000);
        const hero = await register();
        const found = { ...sword('sw-found-2'), durability: 17 };
        await despawned(found);
        // The sweep has deleted the item, not committed yet.
        const deleted = deferred();
        const commit = deferred();
        const sweeping = new SqlDurableStore(pausingAfter(client, sql.DELETE_UNREFERENCED_UNIQUE_ITEMS, deleted, commit.promise)).deleteUnreferencedUniqueItems(10);
        await deleted.promise;

        const saving = store.writeBatch({
          ...emptyBatch(),
          uniqueItems: [found],
          characters: [{ ...hero, version: 1 }],
          inventories: [{ characterId: hero.id, entries: [[0, { itemId: found.itemId, qty: 1, uniqueItemId: found.id }]] }],
        });
        // The save waits on the item's row.
        for (;;) {
          const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
          if (Number(rows[0]?.n) > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        commit.resolve();
        expect(await sweeping).toEqual({ deleted: 1, next: null });
        await saving;
        const snapshot = await store.loadCharacter(hero.id);
        expect(snapshot?.inventory.get(0)).toEqual({ itemId: found.itemId, qty: 1, uniqueItemId: found.id });
        expect(snapshot?.uniqueItems).toEqual([found]);
      });
    }
  });
});
