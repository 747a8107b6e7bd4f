// The GameStateManager's writes to the durable store (DESIGN.md §5): batch sync of dirty state,
// forced sync on disconnect, eviction of lingering players. A real MemoryHotStore and a real
// in-memory PGlite; the durable store is wrapped only to pause or fail writeBatch on cue.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/adapters/durable/pgliteClient.ts';
import type { SqlClient } from '../../src/adapters/durable/SqlClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import { MemoryHotStore } from '../../src/adapters/hot/MemoryHotStore.ts';
import { DIRTY_KINDS, keys } from '../../src/adapters/keys.ts';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import type { CharacterSnapshot, GroundItem, InventoryEntry } from '../../src/domain/model.ts';
import { GameStateManager } from '../../src/state/GameStateManager.ts';
import type { PlayerRead } from '../../src/state/playerRead.ts';
import { deferred, HookedDurable } from '../support/hookedDurable.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));
const T0 = 1_790_000_000_000;


let catalog: Catalog;
let sqlClient: SqlClient;
let sqlStore: SqlDurableStore;
let nextName = 0;

let now: number;
let hot: MemoryHotStore;
let durable: HookedDurable;
let gsm: GameStateManager;
/** What the GSM reported of each transaction of forced saves: [players, written]. */
let forcedSaves: [number, boolean][];
let start: string;
/** Two neighbours of the start location. */
let placeA: string;
let placeB: string;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
  sqlClient = await openPglite(undefined);
  sqlStore = await SqlDurableStore.open(sqlClient);
  start = catalog.rules.startLocation;
  const exits = Object.values(catalog.locations.get(start)?.exits ?? {});
  const [first, second] = exits;
  if (first === undefined || second === undefined) throw new Error(`${start} needs two exits for these tests`);
  placeA = first;
  placeB = second;
});

afterAll(async () => {
  await sqlStore.close();
});

beforeEach(async () => {
  now = T0;
  hot = new MemoryHotStore(() => now);
  durable = new HookedDurable(sqlStore);
  forcedSaves = [];
  gsm = new GameStateManager(hot, durable, catalog, () => now, ({ players, ok }) => forcedSaves.push([players, ok]));
  // As a server does at start: a new hot store takes the durable ground and its versions.
  await gsm.loadWorld();
});

interface TestPlayer {
  id: number;
  name: string;
  pipeId: string;
}

/** Registers a character with bandages, a pipe and scrap, and brings them into the world on session "s". */
async function newPlayer(): Promise<TestPlayer> {
  nextName += 1;
  const name = `syncer${String(nextName)}`;
  const pipeId = `pipe-of-${name}`;
  const account = await gsm.createAccount(
    name,
    'not-a-real-hash',
    { name, locationId: start, hp: 80, maxHp: 100, stamina: 90, maxStamina: 100, level: 1, xp: 0, vitalsAt: T0 },
    {
      inventory: [
        [0, { itemId: 'bandage', qty: 5 }],
        [1, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: pipeId }],
        [2, { itemId: 'scrap-metal', qty: 10 }],
      ],
      uniqueItems: [{ id: pipeId, itemId: 'rusty-pipe', durability: 60, maxDurability: 60 }],
    },
  );
  await gsm.enterWorld(account.characterId, { workerId: 'w', sessionId: 's' });
  return { id: account.characterId, name, pipeId };
}

async function read(id: number): Promise<PlayerRead> {
  const player = await gsm.readPlayer(id);
  if (!player) throw new Error(`character ${String(id)} is not in the hot store`);
  return player;
}

async function saved(id: number): Promise<CharacterSnapshot> {
  const snapshot = await sqlStore.loadCharacter(id);
  if (!snapshot) throw new Error(`character ${String(id)} is not in the durable store`);
  return snapshot;
}

function slots(snapshot: CharacterSnapshot): [number, string, number][] {
  return [...snapshot.inventory].sort((a, b) => a[0] - b[0]).map(([slot, entry]) => [slot, entry.itemId, entry.qty]);
}

async function groundSaved(locationId: string, id: string): Promise<GroundItem | undefined> {
  return (await sqlStore.loadGround()).items.find((item) => item.locationId === locationId && item.id === id);
}

async function move(id: number, to: string): Promise<void> {
  const player = await read(id);
  const { hp, stamina } = player.character;
  const result = await gsm.moveCharacter(player, to, { hp, stamina: stamina - 2, vitalsAt: now }, now + 400);
  expect(result).toEqual({ ok: true });
}

let nextGroundId = 0;

/** Drops `qty` from `slot` where the player stands; returns the ground item's id. */
async function drop(id: number, slot: number, qty: number): Promise<string> {
  const player = await read(id);
  const entry = player.inventory.get(slot);
  if (!entry) throw new Error(`slot ${String(slot)} is empty`);
  nextGroundId += 1;
  const groundId = `ground-${String(process.pid)}-${String(nextGroundId)}`;
  const remaining: InventoryEntry | null = qty === entry.qty ? null : { ...entry, qty: entry.qty - qty };
  const dropped: GroundItem = { id: groundId, itemId: entry.itemId, qty, uniqueItemId: entry.uniqueItemId, droppedBy: id, despawnAt: null };
  expect(await gsm.dropItem(player, slot, remaining, dropped)).toEqual({ ok: true });
  return groundId;
}

async function dirtyMembers(): Promise<Record<string, string[]>> {
  const sets: Record<string, string[]> = {};
  for (const kind of DIRTY_KINDS) sets[kind] = (await hot.smembers(keys.dirty(kind))).sort();
  return sets;
}

/** A worker that beat once, then went silent long enough for the dead-worker job to find it dead. */
async function takenForDead(workerId: string): Promise<void> {
  await gsm.heartbeat(workerId, {}, 1_000);
  now += 3_000;
  await gsm.deadWorkers('live', 500);
  now += 1_000;
  expect(await gsm.deadWorkers('live', 500)).toEqual([workerId]);
}

/**
 * While a release of `workerId` saves its first player, the worker beats again and takes a session
 * for `characterId`; `silentFor` ms then pass before the save goes on.
 */
function backDuringRelease(workerId: string, characterId: number, silentFor = 0): void {
  const syncPlayer = gsm.syncPlayer.bind(gsm);
  gsm.syncPlayer = async (id) => {
    gsm.syncPlayer = syncPlayer;
    await gsm.heartbeat(workerId, {}, 1_000);
    await gsm.enterWorld(characterId, { workerId, sessionId: `s-${String(characterId)}` });
    now += silentFor;
    return syncPlayer(id);
  };
}

describe('syncDirty', () => {
  it('writes a change made after its claims in the next batch, at the version it already wrote', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    // The dirty sets are claimed one by one; the drop lands after the claims, before the read:
    // this batch writes the character at the drop's version, without the inventory.
    const hgetallGroups = hot.hgetallGroups.bind(hot);
    hot.hgetallGroups = async (groups) => {
      hot.hgetallGroups = hgetallGroups;
      await drop(player.id, 0, 2);
      return hgetallGroups(groups);
    };
    await gsm.syncDirty();
    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);
    await gsm.syncDirty();
    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 3], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);
  });

  it('writes moves, drops and equipment changes made through the GSM, and only when it runs', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    const groundId = await drop(player.id, 0, 2);
    const beforeEquip = await read(player.id);
    const { hp, stamina } = beforeEquip.character;
    expect(await gsm.equipItem(beforeEquip, 1, 'mainHand', { itemId: 'rusty-pipe', uniqueItemId: player.pipeId }, null, { hp, stamina, vitalsAt: now })).toEqual({ ok: true });

    // Nothing reaches the durable store before the sync.
    expect((await saved(player.id)).character.locationId).toBe(start);
    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);

    const report = await gsm.syncDirty();
    expect(report).toMatchObject({ characters: 1, inventories: 1, equipment: 1, ground: 1 });

    const after = await saved(player.id);
    expect(after.character.locationId).toBe(placeA);
    expect(after.character.stamina).toBe(88);
    expect(slots(after)).toEqual([[0, 'bandage', 3], [2, 'scrap-metal', 10]]);
    expect([...after.equipment]).toEqual([['mainHand', { itemId: 'rusty-pipe', uniqueItemId: player.pipeId }]]);
    expect(after.uniqueItems).toEqual([{ id: player.pipeId, itemId: 'rusty-pipe', durability: 60, maxDurability: 60 }]);
    expect(await groundSaved(placeA, groundId)).toMatchObject({ itemId: 'bandage', qty: 2, droppedBy: player.id });

    // Everything synced is no longer dirty, and no claim is left behind.
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
    for (const kind of DIRTY_KINDS) expect(await hot.exists(keys.dirtyClaim(kind))).toBe(false);
    expect(await gsm.syncDirty()).toEqual({ characters: 0, inventories: 0, equipment: 0, ground: 0, uniqueItems: 0, skippedCharacters: 0, skippedLocations: 0, detachedUniqueItems: 0 });
  });

  it('saves an inventory emptied to nothing as empty', async () => {
    const player = await newPlayer();
    for (const slot of [0, 1, 2]) {
      const current = await read(player.id);
      const entry = current.inventory.get(slot);
      if (entry) await drop(player.id, slot, entry.qty);
    }
    expect(await hot.exists(keys.inventory(player.id))).toBe(false);
    await gsm.syncDirty();
    expect(slots(await saved(player.id))).toEqual([]);
  });

  it('writes a change made while a sync is running on the next sync', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);

    const paused = durable.pauseNextWrite();
    const firstSync = gsm.syncDirty();
    await paused.entered;
    // The first sync has read the hot state and is writing it; the player keeps playing.
    await move(player.id, start);
    await move(player.id, placeB);
    const groundId = await drop(player.id, 2, 4);
    paused.release();
    await firstSync;

    // The first sync wrote what it had read; the later changes are still marked dirty.
    expect((await saved(player.id)).character.locationId).toBe(placeA);
    expect(await dirtyMembers()).toMatchObject({ position: [String(player.id)], inventory: [String(player.id)], ground: [placeB] });

    await gsm.syncDirty();
    const after = await saved(player.id);
    expect(after.character.locationId).toBe(placeB);
    expect(slots(after)).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 6]]);
    expect(await groundSaved(placeB, groundId)).toMatchObject({ itemId: 'scrap-metal', qty: 4 });
  });

  it('puts the claimed ids back when writeBatch fails, so the next sync writes them', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    const groundId = await drop(player.id, 0, 1);

    durable.failNextWrite();
    await expect(gsm.syncDirty()).rejects.toThrow('database unreachable');
    expect((await saved(player.id)).character.locationId).toBe(start);
    expect(await dirtyMembers()).toEqual({ position: [String(player.id)], inventory: [String(player.id)], equipment: [], ground: [placeA] });
    for (const kind of DIRTY_KINDS) expect(await hot.exists(keys.dirtyClaim(kind))).toBe(false);

    await gsm.syncDirty();
    const after = await saved(player.id);
    expect(after.character.locationId).toBe(placeA);
    expect(slots(after)).toEqual([[0, 'bandage', 4], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);
    expect(await groundSaved(placeA, groundId)).toMatchObject({ itemId: 'bandage', qty: 1 });
  });

  it('loses nothing when a sync fails while the player keeps playing', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    const groundId = await drop(player.id, 0, 2);
    const paused = durable.pauseNextWrite({ fail: true });
    const failing = gsm.syncDirty();
    await paused.entered;
    // Only the position changes again while the doomed sync runs; the drop is marked dirty only in its claim.
    await move(player.id, start);
    await move(player.id, placeB);
    paused.release();
    await expect(failing).rejects.toThrow('database unreachable');
    expect((await saved(player.id)).character.locationId).toBe(start);

    await gsm.syncDirty();
    const after = await saved(player.id);
    expect(after.character.locationId).toBe(placeB);
    expect(slots(after)).toEqual([[0, 'bandage', 3], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);
    expect(await groundSaved(placeA, groundId)).toMatchObject({ itemId: 'bandage', qty: 2 });
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
  });

  it('writes the ids claimed by a sync that crashed before finishing', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    // A run that claimed the dirty sets and died before writing or returning them.
    for (const kind of DIRTY_KINDS) await hot.claimSet(keys.dirty(kind), keys.dirtyClaim(kind));
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });

    await gsm.syncDirty();
    expect((await saved(player.id)).character.locationId).toBe(placeA);
  });

  it('loses nothing when two syncs overlap and the second fails after the first succeeded', async () => {
    const first = await newPlayer();
    const second = await newPlayer();
    await gsm.syncDirty();
    await move(first.id, placeA);
    const slow = durable.pauseNextWrite();
    const firstSync = gsm.syncDirty();
    await slow.entered;
    // Its lease ran out while it waited on the database: a second run starts and claims more.
    await move(second.id, placeB);
    const doomed = durable.pauseNextWrite({ fail: true });
    const secondSync = gsm.syncDirty();
    await doomed.entered;
    slow.release();
    await firstSync;
    doomed.release();
    await expect(secondSync).rejects.toThrow('database unreachable');

    expect((await dirtyMembers()).position).toContain(String(second.id));
    await gsm.syncDirty();
    expect((await saved(first.id)).character.locationId).toBe(placeA);
    expect((await saved(second.id)).character.locationId).toBe(placeB);
  });
});

describe('a batch sync larger than one part', () => {
  it('writes all its parts in one transaction: a part that fails leaves nothing of the sync written', async () => {
    gsm = new GameStateManager(hot, durable, catalog, () => now, undefined, undefined, 2);
    const players = [];
    for (let i = 0; i < 5; i += 1) players.push(await newPlayer());
    await gsm.syncDirty();
    for (const player of players) await move(player.id, placeA);
    const dropper = players[4]?.id ?? 0;
    const groundId = await drop(dropper, 0, 1);
    const writesBefore = durable.writes;

    // Parts of two players: the first is written, the second fails, the third (with the ground) is never read into the store.
    durable.beforeWrite = () => {
      durable.failNextWrite();
      return Promise.resolve();
    };
    await expect(gsm.syncDirty()).rejects.toThrow('database unreachable');
    expect(durable.writes - writesBefore).toBe(2);
    for (const player of players) expect((await saved(player.id)).character.locationId).toBe(start);
    expect(slots(await saved(dropper))[0]).toEqual([0, 'bandage', 5]);
    expect(await groundSaved(placeA, groundId)).toBeUndefined();
    expect(await dirtyMembers()).toEqual({ position: players.map((p) => String(p.id)).sort(), inventory: [String(dropper)], equipment: [], ground: [placeA] });
    for (const kind of DIRTY_KINDS) expect(await hot.exists(keys.dirtyClaim(kind))).toBe(false);

    const report = await gsm.syncDirty();
    expect(report).toMatchObject({ characters: 5, inventories: 1, ground: 1 });
    expect(durable.writes - writesBefore).toBe(5);
    for (const player of players) expect((await saved(player.id)).character.locationId).toBe(placeA);
    expect(slots(await saved(dropper))[0]).toEqual([0, 'bandage', 4]);
    expect(await groundSaved(placeA, groundId)).toMatchObject({ itemId: 'bandage', qty: 1 });
    expect(await dirtyMembers()).toEqual({ position: [], inventory: [], equipment: [], ground: [] });
  });
});

describe('despawn', () => {
  /** Drops `qty` from `slot` to despawn at `despawnAt`; returns the ground item's id. */
  async function dropExpiring(id: number, slot: number, qty: number, despawnAt: number): Promise<string> {
    const player = await read(id);
    const entry = player.inventory.get(slot);
    if (!entry) throw new Error(`slot ${String(slot)} is empty`);
    nextGroundId += 1;
    const groundId = `expiring-${String(process.pid)}-${String(nextGroundId)}`;
    const remaining: InventoryEntry | null = qty === entry.qty ? null : { ...entry, qty: entry.qty - qty };
    const dropped: GroundItem = { id: groundId, itemId: entry.itemId, qty, uniqueItemId: entry.uniqueItemId, droppedBy: id, despawnAt };
    expect(await gsm.dropItem(player, slot, remaining, dropped)).toEqual({ ok: true });
    return groundId;
  }

  /** The job's next read of a ground is answered, then `change` is made before the job goes on. */
  function afterGroundRead(change: () => Promise<unknown>): void {
    const hgetall = hot.hgetall.bind(hot);
    hot.hgetall = async (key) => {
      hot.hgetall = hgetall;
      const read = await hgetall(key);
      await change();
      return read;
    };
  }

  it('takes items past their time off the ground, keeps the rest, and the sync saves the ground without them', async () => {
    const player = await newPlayer();
    const soon = await dropExpiring(player.id, 0, 1, now + 1_000);
    const later = await dropExpiring(player.id, 0, 1, now + 5_000);
    const kept = await drop(player.id, 2, 1);
    await gsm.syncDirty();
    expect(await gsm.despawningLocations()).toEqual([start]);
    expect(await gsm.despawnExpired(start, now)).toEqual([]);

    now += 1_000;
    expect((await gsm.despawnExpired(start, now))?.map((item) => item.id)).toEqual([soon]);
    expect([...(await gsm.groundAt(start)).keys()]).toEqual(expect.arrayContaining([later, kept]));
    expect((await gsm.groundAt(start)).has(soon)).toBe(false);
    expect(await gsm.despawningLocations()).toEqual([start]);

    now += 4_000;
    expect((await gsm.despawnExpired(start, now))?.map((item) => item.id)).toEqual([later]);
    // Nothing left there that will despawn: the job no longer reads this ground.
    expect(await gsm.despawningLocations()).toEqual([]);
    await gsm.syncDirty();
    expect(await groundSaved(start, soon)).toBeUndefined();
    expect(await groundSaved(start, later)).toBeUndefined();
    expect(await groundSaved(start, kept)).toMatchObject({ itemId: 'scrap-metal', qty: 1 });
  });

  it('takes its items even when the ground changed while read, and unlists the location at the next run', async () => {
    const player = await newPlayer();
    const due = await dropExpiring(player.id, 0, 1, now);
    afterGroundRead(() => drop(player.id, 2, 1));
    expect((await gsm.despawnExpired(start, now))?.map((item) => item.id)).toEqual([due]);
    expect((await gsm.groundAt(start)).has(due)).toBe(false);
    expect(await gsm.despawningLocations()).toEqual([start]);
    expect(await gsm.despawnExpired(start, now)).toEqual([]);
    expect(await gsm.despawningLocations()).toEqual([]);
  });

  it('leaves an item picked up while it was read with whoever took it', async () => {
    const player = await newPlayer();
    const taker = await newPlayer();
    const due = await dropExpiring(player.id, 2, 4, now);
    afterGroundRead(async () => {
      const item = (await gsm.groundAt(start)).get(due);
      if (!item) throw new Error('the scrap is not on the ground');
      expect(await gsm.pickupGroundItem(await read(taker.id), item, new Map([[3, { itemId: 'scrap-metal', qty: 4 }]]))).toEqual({ ok: true });
    });
    expect(await gsm.despawnExpired(start, now)).toBeNull();
    expect((await read(taker.id)).inventory.get(3)).toEqual({ itemId: 'scrap-metal', qty: 4 });
  });

  it('is not put off by other changes of a busy ground while something there is still to despawn', async () => {
    const player = await newPlayer();
    const due = await dropExpiring(player.id, 0, 1, now);
    const later = await dropExpiring(player.id, 0, 1, now + 60_000);
    afterGroundRead(() => drop(player.id, 2, 1));
    expect((await gsm.despawnExpired(start, now))?.map((item) => item.id)).toEqual([due]);
    expect((await gsm.groundAt(start)).has(later)).toBe(true);
    expect(await gsm.despawningLocations()).toEqual([start]);
  });

  it('takes a unique item out of the hot store with it', async () => {
    const player = await newPlayer();
    await dropExpiring(player.id, 1, 1, now);
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(true);
    expect(await gsm.despawnExpired(start, now)).toHaveLength(1);
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(false);
  });

  it('does not fail the sync when a unique item despawns between its ground\'s read and its own, even if PostgreSQL has lost it', async () => {
    const player = await newPlayer();
    const due = await dropExpiring(player.id, 1, 1, now);
    await gsm.syncDirty();
    // PostgreSQL no longer has the pipe (as after a sweep that found it unreferenced).
    await sqlClient.query('DELETE FROM ground_items WHERE id = $1', [due]);
    await sqlClient.query('DELETE FROM unique_items WHERE id = $1', [player.pipeId]);

    // The next sync reads the ground with the pipe; the pipe despawns before its data is read.
    const kept = await drop(player.id, 2, 1);
    const hgetallMany = hot.hgetallMany.bind(hot);
    hot.hgetallMany = async (keyList) => {
      if (keyList.includes(keys.uniqueItem(player.pipeId))) {
        hot.hgetallMany = hgetallMany;
        expect(await gsm.despawnExpired(start, now)).toHaveLength(1);
      }
      return hgetallMany(keyList);
    };
    expect(await gsm.syncDirty()).toMatchObject({ ground: 1, detachedUniqueItems: 1 });
    expect(await groundSaved(start, due)).toEqual({ id: due, locationId: start, itemId: 'rusty-pipe', qty: 1, droppedBy: player.id, despawnAt: now });
    expect(await groundSaved(start, kept)).toMatchObject({ itemId: 'scrap-metal', qty: 1 });

    // The despawn marked the ground dirty: the next sync saves it without the pipe.
    expect(await gsm.syncDirty()).toMatchObject({ ground: 1, detachedUniqueItems: 0 });
    expect(await groundSaved(start, due)).toBeUndefined();
    expect(await groundSaved(start, kept)).toMatchObject({ itemId: 'scrap-metal', qty: 1 });
  });

  it('is followed by the unique-item sweep, which deletes every unreferenced row in rounds and keeps the rest', async () => {
    const player = await newPlayer();
    await gsm.sweepUniqueItems(); // what earlier cases left
    for (const n of [1, 2, 3, 4, 5]) {
      await sqlClient.query('INSERT INTO unique_items (id, item_id, durability, max_durability) VALUES ($1, $2, 1, 60)', [`gone-pipe-${String(n)}`, 'rusty-pipe']);
    }
    expect(await gsm.sweepUniqueItems(2)).toBe(5);
    expect(await gsm.sweepUniqueItems(2)).toBe(0);
    expect((await saved(player.id)).uniqueItems.map((item) => item.id)).toEqual([player.pipeId]);
  });

  it('lists again, in a hot store loaded from the durable store, the grounds with items still to despawn', async () => {
    const player = await newPlayer();
    const due = await dropExpiring(player.id, 0, 1, now + 60_000);
    await gsm.syncDirty();
    hot = new MemoryHotStore(() => now);
    gsm = new GameStateManager(hot, durable, catalog, () => now);
    await gsm.loadWorld();
    expect(await gsm.despawningLocations()).toEqual([start]);
    now += 60_000;
    expect((await gsm.despawnExpired(start, now))?.map((item) => item.id)).toEqual([due]);
  });
});

describe('consumeItem', () => {
  it('deletes the data of a unique item used up, and only then', async () => {
    const player = await newPlayer();
    const vitals = () => read(player.id).then(({ character: { hp, stamina } }) => ({ hp, stamina, vitalsAt: now }));
    // The last of a stack of bandages: nothing unique to delete.
    expect(await gsm.consumeItem(await read(player.id), 0, { itemId: 'bandage', qty: 2 }, await vitals())).toEqual({ ok: true });
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(true);
    // The pipe, as a content's unique consumable would be: its data goes with it.
    expect(await gsm.consumeItem(await read(player.id), 1, null, await vitals())).toEqual({ ok: true });
    expect((await read(player.id)).inventory.has(1)).toBe(false);
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(false);
  });
});

describe('ground versions', () => {
  it('a forced save that read the ground before a pickup never puts the item back', async () => {
    const dropper = await newPlayer();
    const taker = await newPlayer();
    const groundId = await drop(dropper.id, 2, 4);
    await gsm.syncDirty();

    const slow = durable.pauseNextWrite();
    const leaving = gsm.leaveWorld(dropper.id, { workerId: 'w', sessionId: 's' });
    await slow.entered;
    // The leaving player's save has read the ground with the scrap on it; someone picks it up
    // and the batch sync writes both sides before that save commits.
    const player = await read(taker.id);
    const ground = (await gsm.groundAt(start)).get(groundId);
    if (!ground) throw new Error('the scrap is not on the ground');
    expect(await gsm.pickupGroundItem(player, ground, new Map([[3, { itemId: 'scrap-metal', qty: 4 }]]))).toEqual({ ok: true });
    await gsm.syncDirty();
    slow.release();
    await leaving;

    expect(await groundSaved(start, groundId)).toBeUndefined();
    expect(slots(await saved(taker.id))).toContainEqual([3, 'scrap-metal', 4]);
  });

  it('a forced save that read the ground before a drop never removes the dropped item', async () => {
    const leaver = await newPlayer();
    const dropper = await newPlayer();
    await gsm.syncDirty();

    const slow = durable.pauseNextWrite();
    const leaving = gsm.leaveWorld(leaver.id, { workerId: 'w', sessionId: 's' });
    await slow.entered;
    const groundId = await drop(dropper.id, 2, 10);
    await gsm.syncDirty();
    slow.release();
    await leaving;

    expect(await groundSaved(start, groundId)).toMatchObject({ itemId: 'scrap-metal', qty: 10 });
    expect(slots(await saved(dropper.id))).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1]]);
  });

  it('a new hot store carries on from the durable versions, so its ground is still saved', async () => {
    const player = await newPlayer();
    const first = await drop(player.id, 0, 1);
    await gsm.syncDirty();
    // Redis restarted empty: a fresh hot store, loaded again from the durable store by the next sync.
    hot = new MemoryHotStore(() => now);
    gsm = new GameStateManager(hot, durable, catalog, () => now);
    await gsm.syncDirty();
    expect((await gsm.groundAt(start)).has(first)).toBe(true);
    await gsm.enterWorld(player.id, { workerId: 'w', sessionId: 's2' });
    const second = await drop(player.id, 0, 1);
    await gsm.syncDirty();

    expect(await groundSaved(start, first)).toMatchObject({ itemId: 'bandage', qty: 1 });
    expect(await groundSaved(start, second)).toMatchObject({ itemId: 'bandage', qty: 1 });
  });

  it('of workers starting together on an empty hot store, one loads the ground and a later pickup stays picked up', async () => {
    const player = await newPlayer();
    const groundId = await drop(player.id, 2, 4);
    await gsm.syncDirty();

    const fresh = new MemoryHotStore(() => now);
    // The late worker has seen no ground loaded; its claim on the load waits until released.
    const claimGate = deferred();
    let gated = true;
    const slowClaim = new Proxy(fresh, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const bound = value.bind(target) as (...args: unknown[]) => Promise<unknown>;
        if (property !== 'transact') return bound;
        return async (...args: unknown[]) => {
          if (gated) {
            gated = false;
            await claimGate.promise;
          }
          return bound(...args);
        };
      },
    });
    const early = new GameStateManager(fresh, durable, catalog, () => now);
    const late = new GameStateManager(slowClaim, durable, catalog, () => now);
    const lateLoad = late.loadWorld();
    // Meanwhile the early one loads the world and play begins: the scrap is picked up.
    expect(await early.loadWorld()).toBeGreaterThan(0);
    const { player: back } = await early.enterWorld(player.id, { workerId: 'a', sessionId: 'sa' });
    const ground = (await early.groundAt(start)).get(groundId);
    if (!ground) throw new Error('the scrap is not on the ground');
    expect(await early.pickupGroundItem(back, ground, new Map([[3, { itemId: 'scrap-metal', qty: 4 }]]))).toEqual({ ok: true });
    claimGate.resolve();

    expect(await lateLoad).toBe(0);
    expect((await early.groundAt(start)).has(groundId)).toBe(false);
    expect((await early.readPlayer(player.id))?.inventory.get(3)).toMatchObject({ itemId: 'scrap-metal', qty: 4 });
  });

  it('loads a ground larger than one script, and takes over a load whose worker died', async () => {
    const many = Array.from({ length: 1_234 }, (_, i) => ({ id: `pebble-${String(i)}`, itemId: 'scrap-metal', qty: 1, droppedBy: null, despawnAt: null }));
    await durable.writeBatch({ characters: [], inventories: [], equipment: [], uniqueItems: [], ground: [{ locationId: placeB, items: many, version: 1_000_000 }] });
    const fresh = new MemoryHotStore(() => now);
    // A worker claimed the load a while ago and died: its claim has lapsed.
    await fresh.hset(keys.world(), { loading: 'dead-worker', loading_until: String(now - 1) });
    const loader = new GameStateManager(fresh, durable, catalog, () => now);
    expect(await loader.loadWorld()).toBeGreaterThanOrEqual(1_234);
    expect((await loader.groundAt(placeB)).size).toBe(1_234);
    expect(await fresh.hgetall(keys.world())).toEqual({ ground_loaded: String(now), ground_ready: '1' });

    // While another worker's claim is live, a worker leaves the load to it.
    const other = new MemoryHotStore(() => now);
    await other.hset(keys.world(), { loading: 'busy-worker', loading_until: String(now + 60_000) });
    expect(await new GameStateManager(other, durable, catalog, () => now).loadWorld()).toBe(0);
    expect(await other.hgetall(keys.ground(placeB))).toEqual({});
  });
});

describe('additions planned from one read', () => {
  it('land one at a time: the second, whose weight check did not see the first, is refused', async () => {
    const player = await newPlayer();
    const scrap = await drop(player.id, 2, 10);
    const bandages = await drop(player.id, 0, 5);
    // Two sessions of the player (one replacing the other) plan a pickup each from the same read.
    const seen = await read(player.id);
    const ground = await gsm.groundAt(start);
    const scrapRead = ground.get(scrap);
    const bandagesRead = ground.get(bandages);
    if (!scrapRead || !bandagesRead) throw new Error('the drops are not on the ground');
    expect(await gsm.pickupGroundItem(seen, scrapRead, new Map([[2, { itemId: 'scrap-metal', qty: 10 }]]))).toEqual({ ok: true });
    expect((await gsm.pickupGroundItem(seen, bandagesRead, new Map([[0, { itemId: 'bandage', qty: 5 }]]))).ok).toBe(false);
    expect((await gsm.groundAt(start)).has(bandages)).toBe(true);
  });
});

describe('vitals planned from one read', () => {
  it('land one at a time, even when the first wrote the same vitals time the second read', async () => {
    const player = await newPlayer();
    // Two sessions read the player in the same millisecond the last change stamped their vitals.
    const seen = await read(player.id);
    const { hp, stamina } = seen.character;
    expect(await gsm.moveCharacter(seen, placeA, { hp, stamina: stamina - 2, vitalsAt: now }, now + 400)).toEqual({ ok: true });
    // A bandage used from the same read would undo the move's stamina cost.
    const bandages = seen.inventory.get(0);
    if (!bandages) throw new Error('no bandages');
    expect((await gsm.consumeItem(seen, 0, { ...bandages, qty: bandages.qty - 1 }, { hp: hp + 10, stamina, vitalsAt: now })).ok).toBe(false);
    expect((await read(player.id)).character.stamina).toBe(stamina - 2);
  });
});

describe('a ground still loading', () => {
  it('answers a look for an item not there with E_DEGRADED, and asks for the load', async () => {
    const player = await newPlayer();
    const scrap = await drop(player.id, 2, 4);
    await gsm.syncDirty();
    await gsm.requireGroundLoaded();
    // The hot store lost the ground (Redis restarted empty).
    hot = new MemoryHotStore(() => now);
    gsm = new GameStateManager(hot, durable, catalog, () => now);
    expect((await gsm.groundAt(start)).has(scrap)).toBe(false);
    await expect(gsm.requireGroundLoaded()).rejects.toMatchObject({ code: 'E_DEGRADED' });
    // The load it asked for is done: the item is back, and the ground counts as loaded.
    expect((await gsm.groundAt(start)).has(scrap)).toBe(true);
    await gsm.requireGroundLoaded();
  });

  it('takes no change and is written by no sync, until it is loaded', async () => {
    const player = await newPlayer();
    const scrap = await drop(player.id, 2, 4);
    await gsm.syncDirty();
    const version = await hot.hget(keys.groundVersion(start), 'version');

    // A hot store whose load another worker has under way, half written: the start's version is
    // there, its items not yet; the location is marked dirty.
    const fresh = new MemoryHotStore(() => now);
    await fresh.hset(keys.world(), { loading: 'busy-worker', loading_until: String(now + 60_000) });
    await fresh.hset(keys.groundVersion(start), { version: String(version) });
    await fresh.sadd(keys.dirty('ground'), [start]);
    const worker = new GameStateManager(fresh, durable, catalog, () => now);
    const { player: back } = await worker.enterWorld(player.id, { workerId: 'w2', sessionId: 's2' });

    const bandage: GroundItem = { id: 'dropped-while-loading', itemId: 'bandage', qty: 1, droppedBy: player.id, despawnAt: null };
    await expect(worker.dropItem(back, 0, { itemId: 'bandage', qty: 4 }, bandage)).rejects.toMatchObject({
      code: 'E_DEGRADED',
      message: 'The world is still loading; try again in a moment.',
    });
    expect(await fresh.hgetall(keys.ground(start))).toEqual({});
    expect((await worker.readPlayer(player.id))?.inventory.get(0)).toEqual({ itemId: 'bandage', qty: 5 });

    // Neither the batch sync nor a forced save writes the half-loaded ground: the scrap stays saved.
    await worker.syncDirty();
    await worker.syncPlayer(player.id);
    expect(await groundSaved(start, scrap)).toMatchObject({ itemId: 'scrap-metal', qty: 4 });
    expect(await fresh.smembers(keys.dirty('ground'))).toContain(start);

    // Once loaded (the claim lapsed; the next sync takes it over), the ground plays again.
    now += 61_000;
    await worker.syncDirty();
    expect((await worker.groundAt(start)).has(scrap)).toBe(true);
    expect(await worker.dropItem(back, 0, { itemId: 'bandage', qty: 4 }, bandage)).toEqual({ ok: true });
  });

  it('asks for the load when a ground change finds none (the hot store lost it)', async () => {
    const player = await newPlayer();
    await hot.hdel(keys.world(), ['ground_ready']);
    const back = await read(player.id);
    const bandage: GroundItem = { id: 'dropped-after-the-loss', itemId: 'bandage', qty: 1, droppedBy: player.id, despawnAt: null };
    await expect(gsm.dropItem(back, 0, { itemId: 'bandage', qty: 4 }, bandage)).rejects.toMatchObject({ code: 'E_DEGRADED' });
    expect(await hot.hget(keys.world(), 'ground_ready')).toBe('1');
    expect(await gsm.dropItem(back, 0, { itemId: 'bandage', qty: 4 }, bandage)).toEqual({ ok: true });
  });
});

describe('leaveWorld', () => {
  it('saves the player at once, without waiting for a batch sync', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    const groundId = await drop(player.id, 0, 5);
    const writesBefore = durable.writes;

    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    expect(durable.writes).toBe(writesBefore + 1);
    const after = await saved(player.id);
    expect(after.character.locationId).toBe(placeA);
    expect(slots(after)).toEqual([[1, 'rusty-pipe', 1], [2, 'scrap-metal', 10]]);
    // What they dropped just before leaving is saved on the ground in the same write.
    expect(await groundSaved(placeA, groundId)).toMatchObject({ qty: 5 });
    // They stay in the location, shown as disconnected.
    expect(await gsm.playersIn(placeA)).toEqual([{ id: player.id, name: player.name, connected: false }]);
  });

  it('saves players who leave while a save is written together in one next write, with what they did last', async () => {
    const first = await newPlayer();
    const others = await Promise.all(Array.from({ length: 20 }, () => newPlayer()));
    const writesBefore = durable.writes;
    const paused = durable.pauseNextWrite();
    const firstLeft = gsm.leaveWorld(first.id, { workerId: 'w', sessionId: 's' });
    await paused.entered;

    // While the first save is being written, twenty players move and leave at once.
    for (const other of others) await move(other.id, placeB);
    const othersLeft = Promise.all(others.map((other) => gsm.leaveWorld(other.id, { workerId: 'w', sessionId: 's' })));
    // The first player acts again during their own save: the next save must write it, not the old read.
    await move(first.id, placeA);
    const firstAgain = gsm.syncPlayer(first.id);
    paused.release();

    expect(await firstLeft).toBe(true);
    expect(await othersLeft).toEqual(others.map(() => true));
    await firstAgain;
    expect(durable.writes).toBe(writesBefore + 2);
    // Reported per transaction: the first player alone, then the twenty with the first again.
    expect(forcedSaves).toEqual([[1, true], [21, true]]);
    for (const other of others) expect((await saved(other.id)).character.locationId).toBe(placeB);
    expect((await saved(first.id)).character.locationId).toBe(placeA);
  });

  it('rejects every save of a batch whose write fails, and the next save writes them', async () => {
    const players = await Promise.all(Array.from({ length: 3 }, () => newPlayer()));
    for (const player of players) await move(player.id, placeA);
    durable.failNextWrite();
    const results = await Promise.allSettled(players.map((player) => gsm.syncPlayer(player.id)));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    await Promise.all(players.map((player) => gsm.syncPlayer(player.id)));
    expect(forcedSaves).toEqual([[3, false], [3, true]]);
    for (const player of players) expect((await saved(player.id)).character.locationId).toBe(placeA);
  });

  it('ignores a leave from a session that was replaced by a newer connection', async () => {
    const player = await newPlayer();
    await gsm.enterWorld(player.id, { workerId: 'w2', sessionId: 's2' });
    await move(player.id, placeA);
    const writesBefore = durable.writes;

    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(false);
    expect(durable.writes).toBe(writesBefore);
    expect(await gsm.sessionOf(player.id)).toBe('s2');
    expect(await gsm.playersIn(placeA)).toEqual([{ id: player.id, name: player.name, connected: true }]);
  });

  it('takes up a release cut short (a store failing half-way) at the next run, unless the worker came back', async () => {
    const first = await newPlayer();
    const second = await newPlayer();
    for (const player of [first, second]) await gsm.enterWorld(player.id, { workerId: 'gone', sessionId: `s-${String(player.id)}` });
    await gsm.heartbeat('gone', {}, 1_000);
    now += 2_000;
    expect(await gsm.deadWorkers('live', 500)).toEqual([]);
    now += 1_000;
    expect(await gsm.deadWorkers('live', 500)).toEqual(['gone']);

    // The second player's release fails: the store went away for a moment.
    const transact = hot.transact.bind(hot);
    let releases = 0;
    hot.transact = async (tx) => {
      if (tx.expect[0]?.field === 'worker_id' && ++releases === 2) throw new Error('hot store unreachable');
      return transact(tx);
    };
    await expect(gsm.releaseDeadWorker('gone')).rejects.toThrow('hot store unreachable');
    hot.transact = transact;
    expect((await read(second.id)).fields.connected).toBe('1');

    // The next run finds the worker again and finishes the release.
    expect(await gsm.deadWorkers('live', 500)).toEqual(['gone']);
    const released = await gsm.releaseDeadWorker('gone');
    expect(released.map((player) => player.id)).toEqual([second.id]);
    expect((await read(second.id)).fields.connected).toBe('0');
    expect(await gsm.deadWorkers('live', 500)).toEqual([]);

    // A worker that comes back after a release cut short is left alone.
    await gsm.enterWorld(first.id, { workerId: 'stalled', sessionId: 's-stalled' });
    await gsm.heartbeat('stalled', {}, 1_000);
    now += 3_000;
    await gsm.deadWorkers('live', 500);
    now += 1_000;
    hot.transact = async (tx) => {
      if (tx.expect[0]?.field === 'worker_id') throw new Error('hot store unreachable');
      return transact(tx);
    };
    await expect(gsm.releaseDeadWorker('stalled')).rejects.toThrow('hot store unreachable');
    hot.transact = transact;
    expect(await hot.smembers(keys.workersReleasing())).toEqual(['stalled']);
    await gsm.heartbeat('stalled', {}, 1_000);
    // Should it stop for good later, it gets the grace again, as any worker.
    now += 1_500;
    expect(await gsm.deadWorkers('live', 500)).toEqual([]);
    expect((await read(first.id)).fields.connected).toBe('1');
  });

  it('releases none of the sessions a worker holds once it beats again, even those it held before', async () => {
    const first = await newPlayer();
    const second = await newPlayer();
    await gsm.enterWorld(first.id, { workerId: 'stalled', sessionId: 's-first' });
    await gsm.enterWorld(second.id, { workerId: 'stalled', sessionId: 's-second' });
    await takenForDead('stalled');
    // The release has read who the worker held when the worker beats again.
    const smembers = hot.smembers.bind(hot);
    hot.smembers = async (key) => {
      const members = await smembers(key);
      if (key === keys.workerPlayers('stalled')) {
        hot.smembers = smembers;
        await gsm.heartbeat('stalled', {}, 1_000);
      }
      return members;
    };
    expect(await gsm.releaseDeadWorker('stalled')).toEqual([]);
    for (const [player, session] of [[first, 's-first'], [second, 's-second']] as const) {
      expect((await read(player.id)).fields).toMatchObject({ connected: '1', session_id: session });
    }
  });

  it('keeps the sessions a worker took after coming back during its release, for the release should it die again', async () => {
    const before = await newPlayer();
    const after = await newPlayer();
    await gsm.enterWorld(before.id, { workerId: 'stalled', sessionId: 's-before' });
    await takenForDead('stalled');

    // While the release saves the first player, the worker beats again and takes a new session.
    backDuringRelease('stalled', after.id);
    expect((await gsm.releaseDeadWorker('stalled')).map((player) => player.id)).toEqual([before.id]);
    expect(await hot.smembers(keys.workerPlayers('stalled'))).toContain(String(after.id));
    expect(await hot.smembers(keys.workers())).toContain('stalled');

    // It dies for good: the next release finds the session it took.
    now += 3_000;
    await gsm.deadWorkers('live', 500);
    now += 1_000;
    expect(await gsm.deadWorkers('live', 500)).toEqual(['stalled']);
    expect((await gsm.releaseDeadWorker('stalled')).map((player) => player.id)).toEqual([after.id]);
    expect((await read(after.id)).fields.connected).toBe('0');
    expect(await hot.smembers(keys.workers())).not.toContain('stalled');
    expect(await hot.exists(keys.workerPlayers('stalled'))).toBe(false);
  });

  it('keeps them too when the worker came back and went silent again before the release ended', async () => {
    const before = await newPlayer();
    const after = await newPlayer();
    await gsm.enterWorld(before.id, { workerId: 'flaky', sessionId: 's-before' });
    await takenForDead('flaky');
    // Then silent again: its heartbeat key expires before the release ends.
    backDuringRelease('flaky', after.id, 2_000);
    await gsm.releaseDeadWorker('flaky');
    expect(await hot.smembers(keys.workerPlayers('flaky'))).toContain(String(after.id));
    expect(await hot.smembers(keys.workers())).toContain('flaky');
  });

  it('does not tell of a player released who connected again before the release read them', async () => {
    const player = await newPlayer();
    await gsm.enterWorld(player.id, { workerId: 'crashed', sessionId: 's-crashed' });
    await takenForDead('crashed');
    // The player reconnects elsewhere between their release and the release's read of them.
    const readPlayer = gsm.readPlayer.bind(gsm);
    gsm.readPlayer = async (id) => {
      gsm.readPlayer = readPlayer;
      await gsm.enterWorld(id, { workerId: 'live', sessionId: 's-back' });
      return readPlayer(id);
    };
    const told: number[] = [];
    expect(await gsm.releaseDeadWorker('crashed', ({ id }) => told.push(id))).toEqual([]);
    expect(told).toEqual([]);
    expect((await read(player.id)).fields).toMatchObject({ connected: '1', session_id: 's-back' });
  });

  it('tells of each player released even when their save then fails', async () => {
    const player = await newPlayer();
    await gsm.enterWorld(player.id, { workerId: 'crashed', sessionId: 's-crashed' });
    await takenForDead('crashed');
    durable.failNextWrite();
    const told: number[] = [];
    await expect(gsm.releaseDeadWorker('crashed', ({ id }) => told.push(id))).rejects.toThrow('database unreachable');
    expect(told).toEqual([player.id]);
    // Still saved later: the release marked them dirty.
    expect((await read(player.id)).fields.connected).toBe('0');
    expect((await dirtyMembers()).position).toContain(String(player.id));
  });

  it('does not take a worker for dead while its first beat after a release cut short is under way', async () => {
    const player = await newPlayer();
    await gsm.enterWorld(player.id, { workerId: 'back', sessionId: 's-back' });
    await gsm.heartbeat('back', {}, 1_000);
    now += 2_000;
    await gsm.deadWorkers('live', 500);
    now += 1_000;
    const transact = hot.transact.bind(hot);
    hot.transact = async (tx) => {
      if (tx.expect[0]?.field === 'worker_id') throw new Error('hot store unreachable');
      return transact(tx);
    };
    await expect(gsm.releaseDeadWorker('back')).rejects.toThrow('hot store unreachable');
    hot.transact = transact;

    // Another worker's dead-worker run lands in the middle of the beat.
    const sadd = hot.sadd.bind(hot);
    let seen: string[] | null = null;
    hot.sadd = async (key, members) => {
      if (key === keys.workers()) {
        hot.sadd = sadd;
        seen = await gsm.deadWorkers('live', 500);
      }
      return sadd(key, members);
    };
    await gsm.heartbeat('back', {}, 1_000);
    expect(seen).toEqual([]);
  });

  it('a late leave of a replaced session on the same worker still lets a crash of that worker release the player', async () => {
    const player = await newPlayer();
    await gsm.enterWorld(player.id, { workerId: 'w', sessionId: 's2' });
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(false);

    expect(await gsm.releaseDeadWorker('w')).toEqual([{ id: player.id, name: player.name, locationId: start }]);
    expect(await gsm.playersIn(start)).toContainEqual({ id: player.id, name: player.name, connected: false });
    expect(await hot.smembers(keys.presenceOnline())).not.toContain(String(player.id));
  });
});

describe('evictLingering', () => {
  it('never strips a unique item from a player evicted while a sync read them', async () => {
    const player = await newPlayer();
    await drop(player.id, 2, 10);
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    // The sync reads the player's slots; the eviction (which saves them, then deletes them and
    // their pipe's data from the hot store) lands before the sync reads the pipe.
    const hgetallMany = hot.hgetallMany.bind(hot);
    hot.hgetallMany = async (keyList) => {
      if (keyList.includes(keys.uniqueItem(player.pipeId))) {
        hot.hgetallMany = hgetallMany;
        expect(await gsm.evictLingering(0)).toHaveLength(1);
      }
      return hgetallMany(keyList);
    };
    expect(await gsm.syncDirty()).toMatchObject({ inventories: 1, detachedUniqueItems: 0 });
    const after = await saved(player.id);
    expect(after.inventory.get(1)).toEqual({ itemId: 'rusty-pipe', qty: 1, uniqueItemId: player.pipeId });
    expect(after.uniqueItems.map((item) => item.id)).toEqual([player.pipeId]);
  });

  it('saves a disconnected player, then removes them from their location and the hot store', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    // A change after the disconnect sync (e.g. loot taken from a lingering body) must still be saved.
    await drop(player.id, 2, 10);

    // Only disconnected characters are on the list the cleanup job reads.
    expect(await hot.smembers(keys.presenceLingering())).toEqual([String(player.id)]);
    const evicted = await gsm.evictLingering(0);
    expect(evicted).toEqual([{ id: player.id, name: player.name, locationId: placeA }]);
    expect(await hot.smembers(keys.locationPlayers(placeA))).not.toContain(String(player.id));
    expect(await hot.smembers(keys.presenceLingering())).not.toContain(String(player.id));
    expect(await gsm.playersIn(placeA)).toEqual([]);
    expect(await gsm.readPlayer(player.id)).toBeNull();
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(false);

    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1]]);
    // The dirty marks left behind point at a player no longer in the hot store: the next sync
    // must not fail on them nor overwrite what the eviction saved.
    expect(await gsm.syncDirty()).toMatchObject({ characters: 0, inventories: 0 });
    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 5], [1, 'rusty-pipe', 1]]);
  });

  it('never lets a batch that read before a later save overwrite it, even after eviction', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    const paused = durable.pauseNextWrite();
    const batch = gsm.syncDirty();
    await paused.entered;
    // The batch has read the player in placeA; they move on, leave, and fade away meanwhile.
    await move(player.id, placeB);
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    expect(await gsm.evictLingering(0)).toHaveLength(1);
    paused.release();
    // Left unwritten, and said so (operators count these: a steady stream means Redis went back in time).
    expect(await batch).toMatchObject({ characters: 1, skippedCharacters: 1, skippedLocations: 0 });

    expect((await saved(player.id)).character.locationId).toBe(placeB);
  });

  it('brings an evicted player back with everything they had', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    await drop(player.id, 0, 2);
    await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' });
    await gsm.evictLingering(0);

    const { player: back, lingering } = await gsm.enterWorld(player.id, { workerId: 'w', sessionId: 's3' });
    expect(lingering).toBe(false);
    expect(back.character.locationId).toBe(placeA);
    expect([...back.inventory].sort((a, b) => a[0] - b[0])).toEqual([
      [0, { itemId: 'bandage', qty: 3, uniqueItemId: undefined }],
      [1, { itemId: 'rusty-pipe', qty: 1, uniqueItemId: player.pipeId }],
      [2, { itemId: 'scrap-metal', qty: 10, uniqueItemId: undefined }],
    ]);
    expect(await gsm.uniqueItems([player.pipeId])).toEqual(
      new Map([[player.pipeId, { id: player.pipeId, itemId: 'rusty-pipe', durability: 60, maxDurability: 60 }]]),
    );
  });

  it('brings back a player whose reconnect raced their eviction, instead of locking them out', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' });
    // The eviction runs right after the reconnect has read the lingering character.
    let evictOnce = true;
    const racing = new Proxy(hot, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const read = value.bind(target) as (key: string) => Promise<unknown>;
        if (property !== 'hgetall' && property !== 'exists') return read;
        // Whatever read of the character the reconnect starts with, the eviction lands after it.
        return async (key: string) => {
          const found = await read(key);
          if (evictOnce && key === keys.player(player.id)) {
            evictOnce = false;
            expect(await gsm.evictLingering(0)).toHaveLength(1);
          }
          return found;
        };
      },
    });
    const reconnecting = new GameStateManager(racing, durable, catalog, () => now);

    const { player: back, lingering } = await reconnecting.enterWorld(player.id, { workerId: 'w2', sessionId: 's2' });
    expect(evictOnce).toBe(false);
    expect(lingering).toBe(false);
    expect(back.character).toMatchObject({ name: player.name, locationId: placeA });
    expect(back.inventory.size).toBe(3);
    expect(await gsm.playersIn(placeA)).toEqual([{ id: player.id, name: player.name, connected: true }]);
    expect(await hot.smembers(keys.workerPlayers('w2'))).toEqual([String(player.id)]);
  });

  it('waits for the linger time before evicting', async () => {
    const player = await newPlayer();
    await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' });
    now += 59_999;
    expect(await gsm.evictLingering(60_000)).toEqual([]);
    expect(await gsm.playersIn(start)).toEqual([{ id: player.id, name: player.name, connected: false }]);
    now += 1;
    expect(await gsm.evictLingering(60_000)).toEqual([{ id: player.id, name: player.name, locationId: start }]);
  });

  it('never lets a batch whose read an eviction cut in two wipe the saved slots', async () => {
    const player = await newPlayer();
    await drop(player.id, 2, 4);
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    await drop(player.id, 0, 1);
    // The batch's read is split, as a large one is on Redis (script calls of 100 keys): the
    // eviction saves the player and deletes their keys between two calls. The player's hash and
    // slots are one group, read in one call.
    const hgetallGroups = hot.hgetallGroups.bind(hot);
    hot.hgetallGroups = async (groups) => {
      hot.hgetallGroups = hgetallGroups;
      const first = await hgetallGroups(groups.slice(0, 1));
      expect(await gsm.evictLingering(0)).toHaveLength(1);
      return [...first, ...(await hgetallGroups(groups.slice(1)))];
    };
    await gsm.syncDirty();
    expect(slots(await saved(player.id))).toEqual([[0, 'bandage', 4], [1, 'rusty-pipe', 1], [2, 'scrap-metal', 6]]);
  });

  it('leaves a player who changed after their save for the next run, which saves the change first', async () => {
    const player = await newPlayer();
    expect(await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' })).toBe(true);
    // A late action (of the closed socket) lands between the eviction's save and its removal.
    const syncPlayer = gsm.syncPlayer.bind(gsm);
    gsm.syncPlayer = async (id) => {
      gsm.syncPlayer = syncPlayer;
      await syncPlayer(id);
      await move(id, placeA);
    };
    expect(await gsm.evictLingering(0)).toEqual([]);
    expect((await read(player.id)).character.locationId).toBe(placeA);
    expect((await gsm.evictLingering(0)).map((evicted) => evicted.id)).toEqual([player.id]);
    expect((await saved(player.id)).character.locationId).toBe(placeA);
  });

  it('leaves connected and reconnected players alone', async () => {
    const stays = await newPlayer();
    const returns = await newPlayer();
    await gsm.leaveWorld(returns.id, { workerId: 'w', sessionId: 's' });
    await gsm.enterWorld(returns.id, { workerId: 'w', sessionId: 's2' });

    expect(await gsm.evictLingering(0)).toEqual([]);
    const members = await hot.smembers(keys.locationPlayers(start));
    expect(members).toContain(String(stays.id));
    expect(members).toContain(String(returns.id));
    expect((await read(returns.id)).fields.connected).toBe('1');
  });

  it('keeps listing a player who came back and left again while the job read them', async () => {
    const player = await newPlayer();
    await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' });
    // The job lists them; they come back before it reads them, and leave again before it unlists them.
    const hgetallMany = hot.hgetallMany.bind(hot);
    hot.hgetallMany = async (keysRead) => {
      hot.hgetallMany = hgetallMany;
      await gsm.enterWorld(player.id, { workerId: 'w', sessionId: 's2' });
      const read = await hgetallMany(keysRead);
      await gsm.markDisconnected(player.id, { workerId: 'w', sessionId: 's2' });
      return read;
    };
    expect(await gsm.evictLingering(0)).toEqual([]);
    expect(await hot.smembers(keys.presenceLingering())).toContain(String(player.id));
    expect(await gsm.evictLingering(0)).toEqual([{ id: player.id, name: player.name, locationId: start }]);
  });

  it('leaves alone a player who reconnects while their eviction is saving them', async () => {
    const player = await newPlayer();
    await move(player.id, placeA);
    await gsm.leaveWorld(player.id, { workerId: 'w', sessionId: 's' });
    // The reconnect lands while the eviction's forced sync is writing.
    durable.beforeWrite = async () => {
      await gsm.enterWorld(player.id, { workerId: 'w2', sessionId: 's2' });
    };

    expect(await gsm.evictLingering(0)).toEqual([]);
    expect(await hot.smembers(keys.locationPlayers(placeA))).toContain(String(player.id));
    const still = await read(player.id);
    expect(still.fields.connected).toBe('1');
    expect(still.inventory.size).toBe(3);
    expect(await hot.exists(keys.uniqueItem(player.pipeId))).toBe(true);
  });
});
