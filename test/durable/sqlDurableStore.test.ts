// SqlDurableStore on a real PGlite. One in-memory database is shared by the file (creating one
// takes seconds), so every test registers its own accounts under fresh names.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Character, GroundItem, InventoryEntry, UniqueItem } from '../../src/domain/model.ts';
import type { NewCharacter, StartingKit, SyncBatch } from '../../src/adapters/durable/DurableStore.ts';
import { MIGRATIONS_DIR, runMigrations } from '../../src/adapters/durable/migrations.ts';
import { openPglite } from '../../src/adapters/durable/pgliteClient.ts';
import type { SqlClient } from '../../src/adapters/durable/SqlClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import { GameError } from '../../src/errors.ts';

const INITIAL = '20261121_0001_initial.sql';
const ALL_MIGRATIONS = [INITIAL, '20261122_0002_character_version.sql'];
const noKit: StartingKit = { inventory: [], uniqueItems: [] };

let client: SqlClient;
let store: SqlDurableStore;
let nextName = 0;

beforeAll(async () => {
  client = await openPglite(undefined);
  store = await SqlDurableStore.open(client);
});

afterAll(async () => {
  await store.close();
});

function newCharacter(name: string): NewCharacter {
  return {
    name, locationId: 'ashgate-square', hp: 20, maxHp: 20, stamina: 10, maxStamina: 10,
    level: 1, xp: 0, vitalsAt: 1_790_000_000_000,
  };
}

/** Registers a fresh account and returns its character as the store holds it. */
async function register(): Promise<Character> {
  const name = `hero${String(nextName++)}`;
  const account = await store.createAccount(name, 'hash', newCharacter(name), noKit);
  return { id: account.characterId, accountId: account.id, ...newCharacter(name), version: 0 };
}

function emptyBatch(): SyncBatch {
  return { characters: [], inventories: [], equipment: [], ground: [], uniqueItems: [] };
}

async function count(table: string): Promise<number> {
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
  return Number(rows[0]?.n);
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

describe('migrations', () => {
  it('apply once, are idempotent on reopen, and roll back a failing file whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cinder-pglite-'));
    try {
      const dataDir = join(dir, 'data');
      let db = await openPglite(dataDir);
      expect(await runMigrations(db)).toEqual(ALL_MIGRATIONS);
      const fileStore = new SqlDurableStore(db);
      await fileStore.createAccount('Persisted', 'hash', newCharacter('Persisted'), noKit);
      await db.close();

      db = await openPglite(dataDir);
      try {
        expect(await runMigrations(db)).toEqual([]);
        const recorded = await db.query('SELECT name FROM schema_migrations');
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
    }
  });
});

describe('accounts', () => {
  it('creates an account with its character and finds it whatever the case', async () => {
    const account = await store.createAccount('Ember_Knight', 'argon2-hash', newCharacter('Ember_Knight'), noKit);
    expect(account).toMatchObject({ username: 'Ember_Knight', passwordHash: 'argon2-hash', banned: false });
    expect(await store.findAccount('ember_KNIGHT')).toEqual(account);
    expect(await store.findAccount('nobody')).toBeNull();

    const snapshot = await store.loadCharacter(account.characterId);
    expect(snapshot).toEqual({
      character: { id: account.characterId, accountId: account.id, ...newCharacter('Ember_Knight'), version: 0 },
      inventory: new Map(),
      equipment: new Map(),
      uniqueItems: [],
    });
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

  it('returns null for a character that does not exist', async () => {
    expect(await store.loadCharacter(987_654)).toBeNull();
  });
});

describe('writeBatch', () => {
  const sword: UniqueItem = { id: 'u-sword-1', itemId: 'bronze-sword', durability: 37, maxDurability: 50 };
  const helm: UniqueItem = { id: 'u-helm-1', itemId: 'iron-helm', durability: 80, maxDurability: 80 };

  it('writes what loadCharacter then returns exactly', async () => {
    const hero = await register();
    const moved: Character = { ...hero, locationId: 'cinder-road', hp: 12.5, stamina: 3.25, xp: 2 ** 40, level: 7, vitalsAt: 1_790_000_123_456 };
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

  it('replaces the ground of the listed locations only', async () => {
    const axe: UniqueItem = { id: 'u-axe-1', itemId: 'wood-axe', durability: 5, maxDurability: 40 };
    const pebble = (id: string): GroundItem => ({ id, itemId: 'pebble', qty: 2, droppedBy: null, despawnAt: null });
    await store.writeBatch({
      ...emptyBatch(),
      uniqueItems: [axe],
      ground: [
        { locationId: 'ground-a', items: [pebble('g-a1'), pebble('g-a2')] },
        { locationId: 'ground-b', items: [{ id: 'g-b1', itemId: 'wood-axe', qty: 1, uniqueItemId: axe.id, droppedBy: 42, despawnAt: 1_790_000_999_000 }] },
      ],
    });
    await store.writeBatch({ ...emptyBatch(), ground: [{ locationId: 'ground-a', items: [pebble('g-a3')] }] });

    const { items, uniqueItems } = await store.loadGround();
    const here = items.filter((item) => item.locationId.startsWith('ground-'));
    expect(here).toStrictEqual([
      { id: 'g-a3', locationId: 'ground-a', itemId: 'pebble', qty: 2, droppedBy: null, despawnAt: null },
      { id: 'g-b1', locationId: 'ground-b', itemId: 'wood-axe', qty: 1, uniqueItemId: axe.id, droppedBy: 42, despawnAt: 1_790_000_999_000 },
    ]);
    expect(uniqueItems).toContainEqual(axe);
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

    // The same version again is the same state: rewriting it is harmless and allowed.
    await store.writeBatch({ ...emptyBatch(), characters: [{ ...newer, hp: 12 }] });
    expect((await store.loadCharacter(hero.id))?.character.hp).toBe(12);
  });

  it('uses as many statements for 500 characters as for 5', async () => {
    const heroes: Character[] = [];
    for (let i = 0; i < 500; i++) heroes.push(await register());

    const batchFor = (group: Character[], tag: string): SyncBatch => ({
      characters: group.map((c) => ({ ...c, xp: 100, hp: 19.5 })),
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
      ground: [{ locationId: `count-${tag}`, items: group.map((c) => ({ id: `g-${tag}-${String(c.id)}`, itemId: 'pebble', qty: 1, droppedBy: c.id, despawnAt: null })) }],
    });

    const small = counting(client);
    await new SqlDurableStore(small.client).writeBatch(batchFor(heroes.slice(0, 5), 'small'));
    const large = counting(client);
    await new SqlDurableStore(large.client).writeBatch(batchFor(heroes, 'large'));

    expect(small.statements()).toBe(8);
    expect(large.statements()).toBe(small.statements());

    const last = heroes[499];
    if (last === undefined) throw new Error('500 heroes expected');
    const snapshot = await store.loadCharacter(last.id);
    expect(snapshot?.character).toEqual({ ...last, xp: 100, hp: 19.5 });
    expect(snapshot?.inventory.size).toBe(3);
    expect(snapshot?.inventory.get(2)).toEqual({ itemId: 'bronze-sword', qty: 1, uniqueItemId: `u-large-${String(last.id)}` });
    expect(snapshot?.equipment.get('feet')).toEqual({ itemId: 'sandals' });
  });
});
