// A change made while a batch sync is writing reaches PostgreSQL with the next sync (DESIGN.md §5),
// on the real scaled stores: a GameStateManager over a Redis server of the file's own (emptied
// before each test, so never one that REDIS_URL names) and PostgreSQL (a fresh database). The durable store is wrapped only to hold writeBatch on cue.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/adapters/durable/pgClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import { closeRedis, connectRedis, RedisHotStore } from '../../src/adapters/hot/RedisHotStore.ts';
import { DIRTY_KINDS, keys } from '../../src/adapters/keys.ts';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { EquipSlot } from '../../src/content/schema.ts';
import { firstFreeSlot, planAdd } from '../../src/domain/inventory.ts';
import type { GroundItem, InventoryEntry } from '../../src/domain/model.ts';
import { GameStateManager } from '../../src/state/GameStateManager.ts';
import type { PlayerRead } from '../../src/state/playerRead.ts';
import { createDatabase } from '../support/services/postgresServer.ts';
import { HookedDurable } from '../support/hookedDurable.ts';
import { startRedisServer, type RedisServerHandle } from '../support/services/redisServer.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));
function requiredEnv(name: 'DATABASE_URL'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through vitest (test/setup/services.ts provides it).`);
  return value;
}


let catalog: Catalog;
let databaseName: string;
let sqlStore: SqlDurableStore;
let db: pg.Client;
let hot: RedisHotStore;
let redis: Redis;
let redisServer: RedisServerHandle;
let durable: HookedDurable;
let gsm: GameStateManager;
let start: string;
let nextName = 0;
let nextGroundId = 0;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
  start = catalog.rules.startLocation;

  databaseName = `cinder_sync_${randomBytes(6).toString('hex')}`;
  const databaseUrl = await createDatabase(requiredEnv('DATABASE_URL'), databaseName);
  sqlStore = await SqlDurableStore.open(await openPostgres(databaseUrl));
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();

  redisServer = await startRedisServer();
  redis = await connectRedis(redisServer.url);
  hot = await RedisHotStore.connect(redisServer.url);
}, 60_000);

afterAll(async () => {
  await hot.close();
  await closeRedis(redis);
  await redisServer.dispose();
  await db.end();
  await sqlStore.close();
  const admin = new pg.Client({ connectionString: requiredEnv('DATABASE_URL') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName}"`);
  } finally {
    await admin.end();
  }
});

beforeEach(async () => {
  await redis.flushdb();
  durable = new HookedDurable(sqlStore);
  gsm = new GameStateManager(hot, durable, catalog);
  // As a server does at start: the emptied Redis takes the durable ground before play.
  await gsm.loadWorld();
});

// ── driving the named GSM changes, as the services would ──────────────────────

/** Registers a character with bandages, scrap, a pipe and a knife, and brings them into the world. */
async function newPlayer(): Promise<number> {
  nextName += 1;
  const name = `writer${String(process.pid % 10_000)}_${String(nextName)}`;
  const pipeId = `pipe-${databaseName}-${String(nextName)}`;
  const knifeId = `knife-${databaseName}-${String(nextName)}`;
  const now = Date.now();
  const account = await gsm.createAccount(
    name,
    'not-a-real-hash',
    { name, locationId: start, hp: 80, maxHp: 100, stamina: 90, maxStamina: 100, level: 1, xp: 0, vitalsAt: now },
    {
      inventory: [
        [0, { itemId: 'bandage', qty: 5 }],
        [1, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: pipeId }],
        [2, { itemId: 'scrap-metal', qty: 10 }],
        [3, { itemId: 'kitchen-knife', qty: 1, uniqueItemId: knifeId }],
      ],
      uniqueItems: [
        { id: pipeId, itemId: 'rusty-pipe', durability: 60, maxDurability: 60 },
        { id: knifeId, itemId: 'kitchen-knife', durability: 40, maxDurability: 40 },
      ],
    },
  );
  await gsm.enterWorld(account.characterId, { workerId: 'w', sessionId: 's' });
  return account.characterId;
}

async function read(id: number): Promise<PlayerRead> {
  const player = await gsm.readPlayer(id);
  if (!player) throw new Error(`character ${String(id)} is not in the hot store`);
  return player;
}

function exitsOf(locationId: string): string[] {
  return Object.values(catalog.locations.get(locationId)?.exits ?? {});
}

async function move(id: number, to: string): Promise<void> {
  const player = await read(id);
  const { hp, stamina } = player.character;
  const now = Date.now();
  expect(await gsm.moveCharacter(player, to, { hp, stamina, vitalsAt: now }, now + 400)).toEqual({ ok: true });
}

/** Drops `qty` from `slot` where the player stands; returns the ground item's id. */
async function drop(id: number, slot: number, qty: number): Promise<string> {
  const player = await read(id);
  const entry = player.inventory.get(slot);
  if (!entry) throw new Error(`slot ${String(slot)} is empty`);
  nextGroundId += 1;
  const groundId = `ground-${databaseName}-${String(nextGroundId)}`;
  const remaining: InventoryEntry | null = qty === entry.qty ? null : { ...entry, qty: entry.qty - qty };
  const dropped: GroundItem = { id: groundId, itemId: entry.itemId, qty, uniqueItemId: entry.uniqueItemId, droppedBy: id, despawnAt: null };
  expect(await gsm.dropItem(player, slot, remaining, dropped)).toEqual({ ok: true });
  return groundId;
}

/** Picks up a ground item where the player stands; false when it does not fit. */
async function pickup(id: number, groundId: string): Promise<boolean> {
  const player = await read(id);
  const target = (await gsm.groundAt(player.character.locationId)).get(groundId);
  if (!target) throw new Error(`no ground item ${groundId} at ${player.character.locationId}`);
  const plan = planAdd(catalog, player.inventory, player.equipment, target.item);
  if (!plan.ok) return false;
  expect(await gsm.pickupGroundItem(player, target, plan.writes)).toEqual({ ok: true });
  return true;
}

/** The player's vitals as stored: what an equipment change writes back when no time passed. */
function vitalsOf(player: PlayerRead) {
  return { hp: player.character.hp, stamina: player.character.stamina, vitalsAt: player.character.vitalsAt };
}

async function equip(id: number, slot: number): Promise<void> {
  const player = await read(id);
  const entry = player.inventory.get(slot);
  const equipSlot = entry ? catalog.items.get(entry.itemId)?.equipSlot : undefined;
  if (!entry || !equipSlot) throw new Error(`slot ${String(slot)} holds nothing to equip`);
  const previous = player.equipment.get(equipSlot) ?? null;
  expect(await gsm.equipItem(player, slot, equipSlot, { itemId: entry.itemId, uniqueItemId: entry.uniqueItemId }, previous, vitalsOf(player))).toEqual({ ok: true });
}

async function unequip(id: number, equipSlot: EquipSlot): Promise<boolean> {
  const player = await read(id);
  const free = firstFreeSlot(player.inventory, catalog.rules.inventorySlots);
  if (!player.equipment.has(equipSlot) || free === null) return false;
  expect(await gsm.unequipItem(player, equipSlot, free, vitalsOf(player))).toEqual({ ok: true });
  return true;
}

// ── what each side holds ───────────────────────────────────────────────────────

interface Held {
  locationId: string;
  version: number;
  inventory: [number, string, number, string | null][];
  equipment: [string, string, string | null][];
}

async function hotHeld(id: number): Promise<Held> {
  const player = await read(id);
  return {
    locationId: player.character.locationId,
    version: player.character.version,
    inventory: [...player.inventory]
      .map(([slot, e]): [number, string, number, string | null] => [slot, e.itemId, e.qty, e.uniqueItemId ?? null])
      .sort((a, b) => a[0] - b[0]),
    equipment: [...player.equipment]
      .map(([slot, e]): [string, string, string | null] => [slot, e.itemId, e.uniqueItemId ?? null])
      .sort((a, b) => a[0].localeCompare(b[0])),
  };
}

/** The character's rows, read with SQL straight from PostgreSQL. */
async function durableHeld(id: number): Promise<Held> {
  const character = await db.query<{ location_id: string; version: string }>('SELECT location_id, version FROM characters WHERE id = $1', [id]);
  const row = character.rows[0];
  if (!row) throw new Error(`character ${String(id)} is not in PostgreSQL`);
  const inventory = await db.query<{ slot: number; item_id: string; qty: number; unique_item_id: string | null }>(
    'SELECT slot, item_id, qty, unique_item_id FROM inventory WHERE character_id = $1 ORDER BY slot',
    [id],
  );
  const equipment = await db.query<{ slot: string; item_id: string; unique_item_id: string | null }>(
    'SELECT slot, item_id, unique_item_id FROM equipment WHERE character_id = $1',
    [id],
  );
  return {
    locationId: row.location_id,
    version: Number(row.version),
    inventory: inventory.rows.map((r): [number, string, number, string | null] => [r.slot, r.item_id, r.qty, r.unique_item_id]),
    equipment: equipment.rows
      .map((r): [string, string, string | null] => [r.slot, r.item_id, r.unique_item_id])
      .sort((a, b) => a[0].localeCompare(b[0])),
  };
}

type GroundRow = [id: string, itemId: string, qty: number, uniqueItemId: string | null];

async function hotGround(locationId: string): Promise<GroundRow[]> {
  return [...(await gsm.groundAt(locationId)).values()]
    .map(({ item }): GroundRow => [item.id, item.itemId, item.qty, item.uniqueItemId ?? null])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

async function durableGround(locationId: string): Promise<GroundRow[]> {
  const { rows } = await db.query<{ id: string; item_id: string; qty: number; unique_item_id: string | null }>(
    'SELECT id, item_id, qty, unique_item_id FROM ground_items WHERE location_id = $1 ORDER BY id',
    [locationId],
  );
  return rows.map((r): GroundRow => [r.id, r.item_id, r.qty, r.unique_item_id]).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Unique item ids held in more than one row across inventory, equipment and ground. */
async function durableDuplicates(): Promise<string[]> {
  const { rows } = await db.query<{ unique_item_id: string }>(`
    SELECT unique_item_id FROM (
      SELECT unique_item_id FROM inventory UNION ALL
      SELECT unique_item_id FROM equipment UNION ALL
      SELECT unique_item_id FROM ground_items) AS held
    WHERE unique_item_id IS NOT NULL GROUP BY unique_item_id HAVING count(*) > 1`);
  return rows.map((r) => r.unique_item_id);
}

async function dirtyMembers(): Promise<Record<string, string[]>> {
  const sets: Record<string, string[]> = {};
  for (const kind of DIRTY_KINDS) sets[kind] = (await redis.smembers(keys.dirty(kind))).sort();
  return sets;
}

/** Runs syncDirty with its writeBatch held open while `during` runs; returns what the sync reported. */
async function syncWhile(during: () => Promise<void>, { fail = false } = {}) {
  const paused = durable.pauseNextWrite({ fail });
  const syncing = gsm.syncDirty();
  // A rejection is inspected below; this keeps it from counting as unhandled meanwhile.
  void syncing.catch(() => undefined);
  await paused.entered;
  try {
    await during();
  } finally {
    paused.release();
  }
  return syncing;
}

describe('a write made while a sync is writing', () => {
  it('a move is in PostgreSQL after the next sync', async () => {
    const id = await newPlayer();
    const [placeA, placeB] = exitsOf(start);
    if (placeA === undefined || placeB === undefined) throw new Error(`${start} needs two exits`);
    await move(id, placeA);
    const firstRead = await hotHeld(id);

    await syncWhile(async () => {
      await move(id, start);
      await move(id, placeB);
    });
    // The paused sync wrote what it had read, and the later move is marked dirty again.
    expect(await durableHeld(id)).toEqual(firstRead);
    expect((await dirtyMembers()).position).toEqual([String(id)]);

    await gsm.syncDirty();
    const after = await durableHeld(id);
    expect(after).toEqual(await hotHeld(id));
    expect(after.locationId).toBe(placeB);
    expect(after.version).toBe(firstRead.version + 2);
    expect((await sqlStore.loadCharacter(id))?.character.locationId).toBe(placeB);
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
  });

  it('a drop, a pickup and an equip are in PostgreSQL after the next sync, each item once', async () => {
    const id = await newPlayer();
    const early = await drop(id, 2, 4);

    let late = '';
    const report = await syncWhile(async () => {
      await equip(id, 1);
      late = await drop(id, 0, 2);
      expect(await pickup(id, early)).toBe(true);
      await equip(id, 3);
    });
    expect(report).toMatchObject({ inventories: 1, ground: 1 });
    // The first sync saw only the early drop. (An equip writes the vitals too: position is the
    // character's row.)
    expect(await durableGround(start)).toEqual([[early, 'scrap-metal', 4, null]]);
    expect(await dirtyMembers()).toEqual({ position: [String(id)], inventory: [String(id)], equipment: [String(id)], ground: [start] });

    await gsm.syncDirty();
    const after = await durableHeld(id);
    expect(after).toEqual(await hotHeld(id));
    expect(after.equipment.map(([slot, itemId]) => [slot, itemId])).toEqual([['mainHand', 'kitchen-knife']]);
    // The knife took the pipe's place in the knife's slot.
    expect(after.inventory.map(([slot, itemId, qty]) => [slot, itemId, qty])).toEqual([
      [0, 'bandage', 3],
      [2, 'scrap-metal', 10],
      [3, 'rusty-pipe', 1],
    ]);
    expect(await durableGround(start)).toEqual(await hotGround(start));
    expect(await durableGround(start)).toEqual([[late, 'bandage', 2, null]]);
    expect(await durableDuplicates()).toEqual([]);
  });

  it('a change made while a failing sync is writing is in PostgreSQL after the next sync', async () => {
    const id = await newPlayer();
    const [placeA] = exitsOf(start);
    if (placeA === undefined) throw new Error(`${start} needs an exit`);
    const before = await durableHeld(id);
    await drop(id, 0, 1);

    const failing = syncWhile(
      async () => {
        await move(id, placeA);
        await drop(id, 2, 3);
      },
      { fail: true },
    );
    await expect(failing).rejects.toThrow('database unreachable');
    expect(await durableHeld(id)).toEqual(before);

    await gsm.syncDirty();
    expect(await durableHeld(id)).toEqual(await hotHeld(id));
    expect(await durableGround(start)).toEqual(await hotGround(start));
    expect(await durableGround(placeA)).toEqual(await hotGround(placeA));
    expect((await durableGround(placeA)).map(([, itemId, qty]) => [itemId, qty])).toEqual([['scrap-metal', 3]]);
  });

  it('a sync whose worker dies after claiming leaves its claim to the next sync, run by another worker', async () => {
    const id = await newPlayer();
    const [placeA] = exitsOf(start);
    if (placeA === undefined) throw new Error(`${start} needs an exit`);
    const before = await durableHeld(id);
    await move(id, placeA);
    await drop(id, 2, 4);
    await equip(id, 1);

    // The dying worker's sync claims every dirty set and reads, then never writes: its process is
    // gone (killed with SIGKILL), so neither the write nor the return of its claim ever comes.
    const dying = durable.pauseNextWrite({ fail: true });
    const dead = gsm.syncDirty();
    void dead.catch(() => undefined);
    await dying.entered;
    expect(await redis.smembers(keys.dirtyClaim('position'))).toEqual([String(id)]);
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
    // Play goes on meanwhile.
    await move(id, start);
    await drop(id, 0, 2);

    // Another worker's sync, over the same stores, writes both what the dead one claimed and what
    // changed since.
    const other = new GameStateManager(hot, sqlStore, catalog);
    await other.syncDirty();
    expect(await durableHeld(id)).toEqual(await hotHeld(id));
    expect(await durableHeld(id)).not.toEqual(before);
    for (const place of [start, placeA]) expect(await durableGround(place), place).toEqual(await hotGround(place));
    expect(await durableDuplicates()).toEqual([]);
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
    for (const kind of DIRTY_KINDS) expect(await redis.exists(keys.dirtyClaim(kind)), kind).toBe(0);

    // (This process lives on: the held write ends, so its PostgreSQL connection goes back to the pool.)
    dying.release();
    await expect(dead).rejects.toThrow('database unreachable');
  });

  it('random changes before and during a held sync: after the next sync PostgreSQL equals Redis', async () => {
    type Op = { kind: 'move' | 'drop' | 'pickup' | 'equip' | 'unequip'; pick: number };
    const op: fc.Arbitrary<Op> = fc.record({ kind: fc.constantFrom<Op['kind']>('move', 'drop', 'pickup', 'equip', 'unequip'), pick: fc.nat() });

    /** Applies the op if it can apply now; returns the locations whose ground it may have touched. */
    const apply = async (id: number, { kind, pick }: Op): Promise<string[]> => {
      const player = await read(id);
      const here = player.character.locationId;
      if (kind === 'move') {
        const exits = exitsOf(here);
        const to = exits[pick % Math.max(1, exits.length)];
        if (to !== undefined) await move(id, to);
        return [];
      }
      if (kind === 'drop') {
        const slots = [...player.inventory.keys()].sort((a, b) => a - b);
        const slot = slots[pick % Math.max(1, slots.length)];
        const entry = slot === undefined ? undefined : player.inventory.get(slot);
        if (slot !== undefined && entry) await drop(id, slot, 1 + (pick % entry.qty));
        return [here];
      }
      if (kind === 'pickup') {
        const ground = [...(await gsm.groundAt(here)).keys()].sort();
        const target = ground[pick % Math.max(1, ground.length)];
        if (target !== undefined) await pickup(id, target);
        return [here];
      }
      if (kind === 'equip') {
        const wearable = [...player.inventory].filter(([, entry]) => catalog.items.get(entry.itemId)?.equipSlot !== undefined).map(([slot]) => slot);
        const slot = wearable.sort((a, b) => a - b)[pick % Math.max(1, wearable.length)];
        if (slot !== undefined) await equip(id, slot);
        return [];
      }
      await unequip(id, 'mainHand');
      return [];
    };

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 6 }), fc.array(op, { minLength: 1, maxLength: 6 }), async (before, during) => {
        runs += 1;
        const id = await newPlayer();
        const touched = new Set<string>([start]);
        for (const o of before) for (const place of await apply(id, o)) touched.add(place);
        await syncWhile(async () => {
          for (const o of during) for (const place of await apply(id, o)) touched.add(place);
        });
        await gsm.syncDirty();

        expect(await durableHeld(id)).toEqual(await hotHeld(id));
        for (const place of touched) expect(await durableGround(place), place).toEqual(await hotGround(place));
        expect(await durableDuplicates()).toEqual([]);
        expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
      }),
      { numRuns: 100, seed: 20261123 },
    );
    expect(runs).toBe(100);
  }, 60_000);
});
