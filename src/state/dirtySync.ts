// Writes dirty hot state to the durable store in batches (DESIGN.md §5). Dirty sets are claimed
// atomically before the values are read, so a change made while a sync runs marks its id dirty
// again and is written by the next run; a failed write puts the claimed ids back.
import type { BatchWritten, DurableStore, SyncBatch } from '../adapters/durable/DurableStore.ts';
import type { HotStore } from '../adapters/hot/HotStore.ts';
import { DIRTY_KINDS, GROUND_READY, keys, type DirtyKind } from '../adapters/keys.ts';
import { decodeCharacter, decodeEntry, decodeEquipped, decodeGround, decodeUniqueItem } from './codec.ts';
import type { EquipSlot } from '../content/schema.ts';
import type { EquippedItem, InventoryEntry } from '../domain/model.ts';

export interface SyncReport {
  characters: number;
  inventories: number;
  equipment: number;
  ground: number;
  uniqueItems: number;
  /** Left unwritten: the durable store holds newer versions of them (see BatchWritten). */
  skippedCharacters: number;
  skippedLocations: number;
  /** Written as plain items: their unique item's data was gone from both stores (see BatchWritten). */
  detachedUniqueItems: number;
}

type Claimed = Record<DirtyKind, string[]>;

/**
 * Players per part of a batch sync. Large enough that a part's fixed cost (a handful of
 * statements) stays small beside its rows; small enough that reading one part from the hot store
 * overlaps writing the previous one for most of a large sync.
 */
export const SYNC_BATCH_PLAYERS = 2000;

/** One transaction of forced saves: how many players it held, how long it took, whether it was written. */
export interface ForcedSaveReport {
  players: number;
  seconds: number;
  ok: boolean;
}

export class DirtySync {
  /** The forced saves waiting for the one being written (see syncPlayer). */
  private nextSave: { ids: Set<number>; written: Promise<void> } | null = null;
  private saving: Promise<void> | null = null;

  constructor(
    private readonly hot: HotStore,
    private readonly durable: DurableStore,
    private readonly onForcedSave: (report: ForcedSaveReport) => void = () => undefined,
    /** Players per part of a batch sync (see syncDirty). */
    private readonly batchPlayers = SYNC_BATCH_PLAYERS,
  ) {}

  /**
   * A run settles exactly the ids it claimed: written, they leave the claim; failed, they go back
   * to the dirty set. Never the whole claim key: a run that overlaps this one (its lease ran out
   * while it waited on the durable store) may have claimed more into it, and those are its own.
   *
   * A large claim is read in parts of at most `batchPlayers` players, and each part is read from
   * the hot store while the one before is written: the sync then takes about as long as the
   * slower of the two stores rather than both together. The parts still go in one transaction:
   * a sync is written whole or not at all. (Its reads are still made at different moments, part
   * by part and 100 keys a script call, as before; what moved between two reads is written again,
   * consistently, by the next sync.) The transaction, and the row locks of the characters written
   * so far, last until the last part is read and written: a forced save of one of them waits.
   */
  async syncDirty(): Promise<SyncReport> {
    const claimed = {} as Claimed;
    // The ground waits (dirty) until it is loaded: written half loaded, it would delete the rest.
    const groundReady = await this.groundReady();
    for (const kind of DIRTY_KINDS) {
      claimed[kind] = kind === 'ground' && !groundReady ? [] : await this.hot.claimSet(keys.dirty(kind), keys.dirtyClaim(kind));
    }
    const parts = splitClaim(claimed, this.batchPlayers);
    const batches: SyncBatch[] = [];
    try {
      let written: BatchWritten;
      if (parts.length === 1) {
        // Any steady-state sync: one batch, and no transaction at all when it is empty.
        const batch = await this.collect(claimed);
        batches.push(batch);
        written = await this.durable.writeBatch(batch);
      } else {
        written = await this.durable.writeBatches(this.readParts(parts, batches));
      }
      for (const kind of DIRTY_KINDS) await this.hot.srem(keys.dirtyClaim(kind), claimed[kind]);
      return { ...report(batches), ...written };
    } catch (error) {
      for (const kind of DIRTY_KINDS) await this.hot.returnClaim(keys.dirty(kind), keys.dirtyClaim(kind), claimed[kind]);
      throw error;
    }
  }

  /** Each part's batch as the durable store asks for it, the next one already being read. */
  private async *readParts(parts: readonly Claimed[], read: SyncBatch[]): AsyncGenerator<SyncBatch> {
    let reading = quietly(this.collect(parts[0] as Claimed));
    try {
      for (const [index] of parts.entries()) {
        const batch = await reading;
        const next = parts[index + 1];
        if (next) reading = quietly(this.collect(next));
        read.push(batch);
        yield batch;
      }
    } finally {
      // A write that failed lets the read under way finish, so nothing reads after the claims go back.
      await reading.catch(() => undefined);
    }
  }

  /** How many ids of each kind the durable store has not seen yet, claimed by a sync or not. */
  async unsynced(): Promise<Record<DirtyKind, number>> {
    const counts = {} as Record<DirtyKind, number>;
    for (const kind of DIRTY_KINDS) {
      const [waiting, claimed] = await Promise.all([this.hot.smembers(keys.dirty(kind)), this.hot.smembers(keys.dirtyClaim(kind))]);
      counts[kind] = new Set([...waiting, ...claimed]).size;
    }
    return counts;
  }

  /**
   * A forced save of one character, with the ground where they stand: what they last dropped or
   * picked up there is then in one place in the durable store, not in both or neither.
   *
   * Saves asked for while one is being written wait and go together in the next batch: when
   * thousands of players leave at once (a network blip), they cost a few transactions instead of
   * one each queueing for a pooled connection. A save never joins a batch already read from the
   * hot store, so it always writes the state after it was asked for.
   */
  syncPlayer(characterId: number): Promise<void> {
    if (!this.nextSave) {
      const ids = new Set<number>();
      const written = (this.saving ?? Promise.resolve()).then(
        () => this.saveNow(ids),
        () => this.saveNow(ids),
      );
      this.nextSave = { ids, written };
    }
    this.nextSave.ids.add(characterId);
    return this.nextSave.written;
  }

  private async saveNow(characterIds: Set<number>): Promise<void> {
    this.nextSave = null;
    const started = performance.now();
    const saving = this.writePlayers([...characterIds]);
    this.saving = saving;
    const observe = (ok: boolean) => {
      this.onForcedSave({ players: characterIds.size, seconds: (performance.now() - started) / 1000, ok });
    };
    try {
      await saving;
      observe(true);
    } catch (error) {
      observe(false);
      throw error;
    } finally {
      if (this.saving === saving) this.saving = null;
    }
  }

  private async writePlayers(characterIds: number[]): Promise<void> {
    const ids = characterIds.map(String);
    const places = await this.hot.hgetallMany(characterIds.map((id) => keys.player(id)));
    const ground = (await this.groundReady()) ? [...new Set(places.flatMap((fields) => (fields.location_id === undefined ? [] : [fields.location_id])))] : [];
    await this.durable.writeBatch(await this.collect({ position: ids, inventory: ids, equipment: ids, ground }));
    // A forced save that finds newer versions stored was overtaken by a batch: nothing to report.
  }

  private async groundReady(): Promise<boolean> {
    return (await this.hot.hget(keys.world(), GROUND_READY)) === '1';
  }

  /** Reads the current hot values of everything claimed: script calls of 100 keys, then one for unique items. */
  private async collect(claimed: Claimed): Promise<SyncBatch> {
    const playerIds = [...new Set([...claimed.position, ...claimed.inventory, ...claimed.equipment])].map(Number);
    const inventoryIds = new Set(claimed.inventory.map(Number));
    const equipmentIds = new Set(claimed.equipment.map(Number));
    // Each player's hash with the slots written for them, and each location's items with its
    // version, read as of one moment: a large read takes several script calls, and the version
    // the durable store compares must be that of the slots it comes with (a player evicted
    // between two reads would otherwise be written as present with empty slots).
    // One list of groups: a small batch (a forced save: a player and the ground they stand on) is
    // then read in a single call, so an item cannot be read both in the bag and on the ground.
    const read = await this.hot.hgetallGroups([
      ...playerIds.map((id) => [
        keys.player(id),
        ...(inventoryIds.has(id) ? [keys.inventory(id)] : []),
        ...(equipmentIds.has(id) ? [keys.equipment(id)] : []),
      ]),
      ...claimed.ground.map((locationId) => [keys.ground(locationId), keys.groundVersion(locationId)]),
    ]);
    const players = read.slice(0, playerIds.length);
    const grounds = read.slice(playerIds.length);
    const batch: SyncBatch = { characters: [], inventories: [], equipment: [], ground: [], uniqueItems: [] };
    const uniqueIds = new Set<string>();
    for (const [index, id] of playerIds.entries()) {
      const [fields = {}, ...slots] = players[index] ?? [];
      // A player no longer in the hot store was synced when evicted: nothing of theirs to write.
      const character = decodeCharacter(id, fields);
      if (!character) continue;
      // Every character touched goes in, carrying the version the durable store compares.
      batch.characters.push(character);
      if (inventoryIds.has(id)) {
        const entries = Object.entries(slots.shift() ?? {}).map(([slot, raw]) => [Number(slot), decodeEntry(raw)] as [number, InventoryEntry]);
        entries.forEach(([, entry]) => entry.uniqueItemId && uniqueIds.add(entry.uniqueItemId));
        batch.inventories.push({ characterId: id, entries });
      }
      if (equipmentIds.has(id)) {
        const entries = Object.entries(slots.shift() ?? {}).map(([slot, raw]) => [slot as EquipSlot, decodeEquipped(raw)] as [EquipSlot, EquippedItem]);
        entries.forEach(([, item]) => item.uniqueItemId && uniqueIds.add(item.uniqueItemId));
        batch.equipment.push({ characterId: id, entries });
      }
    }
    for (const [index, locationId] of claimed.ground.entries()) {
      const [itemsHash = {}, versionHash = {}] = grounds[index] ?? [];
      const items = Object.entries(itemsHash).map(([id, raw]) => decodeGround(id, raw));
      items.forEach((item) => item.uniqueItemId && uniqueIds.add(item.uniqueItemId));
      batch.ground.push({ locationId, items, version: Number(versionHash.version ?? 0) });
    }
    const ids = [...uniqueIds];
    const uniqueHashes = await this.hot.hgetallMany(ids.map((id) => keys.uniqueItem(id)));
    batch.uniqueItems = ids.flatMap((id, index) => {
      const item = decodeUniqueItem(id, uniqueHashes[index] ?? {});
      return item ? [item] : [];
    });
    return batch;
  }
}

/**
 * A claim cut into parts of at most `players` players: a player's position, inventory and
 * equipment ids stay in one part. The ground goes with the last part (one part when there is
 * nothing else).
 */
export function splitClaim(claimed: Claimed, players: number): Claimed[] {
  const ids = [...new Set([...claimed.position, ...claimed.inventory, ...claimed.equipment])];
  const parts: Claimed[] = [];
  for (let start = 0; start === 0 || start < ids.length; start += players) {
    const chunk = new Set(ids.slice(start, start + players));
    const of = (members: string[]) => members.filter((id) => chunk.has(id));
    parts.push({ position: of(claimed.position), inventory: of(claimed.inventory), equipment: of(claimed.equipment), ground: [] });
  }
  (parts[parts.length - 1] as Claimed).ground = claimed.ground;
  return parts;
}

/** A promise whose rejection is handled now (by nobody) and again by whoever awaits it later. */
function quietly<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function report(batches: readonly SyncBatch[]): Omit<SyncReport, keyof BatchWritten> {
  const count = (rows: (batch: SyncBatch) => readonly unknown[]) => batches.reduce((sum, batch) => sum + rows(batch).length, 0);
  return {
    characters: count((batch) => batch.characters),
    inventories: count((batch) => batch.inventories),
    equipment: count((batch) => batch.equipment),
    ground: count((batch) => batch.ground),
    uniqueItems: count((batch) => batch.uniqueItems),
  };
}
