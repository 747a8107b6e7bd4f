// DurableStore over any SqlClient (PGlite now, a pg Pool later): the SQL lives in sql.ts, the
// row conversions in rows.ts; this file decides which statements run and in which transaction.
import { randomBytes } from 'node:crypto';
import type { UniqueItem } from '../../domain/model.ts';
import { GameError } from '../../errors.ts';
import type { AccountRecord, BatchWritten, DurableStore, GroundSnapshot, NewCharacter, StartingKit, StoredCharacter, SyncBatch } from './DurableStore.ts';
import { runMigrations } from './migrations.ts';
import { toAccount, toCharacter, toTokenGeneration, toEquipped, toGroundItem, toId, toInventorySlot, toUniqueItem } from './rows.ts';
import * as sql from './sql.ts';
import { isUniqueViolation, type Row, type SqlClient } from './SqlClient.ts';

function first(rows: Row[], what: string): Row {
  const row = rows[0];
  if (row === undefined) throw new Error(`expected a row from ${what}`);
  return row;
}

/** Keeps the last value for each key: a key twice in one statement would fail the whole batch. */
function lastByKey<T>(values: readonly T[], key: (value: T) => unknown): T[] {
  return [...new Map(values.map((value) => [key(value), value])).values()];
}

/** The distinct unique items joined onto rows of inventory, equipment or ground. */
function uniqueItemsOf(rows: Row[]): UniqueItem[] {
  const found = new Map<string, UniqueItem>();
  for (const row of rows) {
    const unique = toUniqueItem(row);
    if (unique) found.set(unique.id, unique);
  }
  return [...found.values()];
}

export class SqlDurableStore implements DurableStore {
  constructor(private readonly client: SqlClient) {}

  /** Applies pending migrations, then returns a store over the client. */
  static async open(client: SqlClient): Promise<SqlDurableStore> {
    await runMigrations(client);
    return new SqlDurableStore(client);
  }

  async createAccount(username: string, passwordHash: string, character: NewCharacter, kit: StartingKit): Promise<AccountRecord> {
    try {
      return await this.client.transaction(async (tx) => {
        const account = await tx.query(sql.INSERT_ACCOUNT, [username, passwordHash]);
        const accountId = toId(first(account.rows, 'INSERT_ACCOUNT'));
        const { name, locationId, hp, maxHp, stamina, maxStamina, level, xp, vitalsAt } = character;
        const created = await tx.query(sql.INSERT_CHARACTER, [
          accountId, name, locationId, hp, maxHp, stamina, maxStamina, level, xp, vitalsAt,
        ]);
        const characterId = toId(first(created.rows, 'INSERT_CHARACTER'));
        await this.writeBatch(
          { characters: [], inventories: [{ characterId, entries: kit.inventory }], equipment: [], ground: [], uniqueItems: kit.uniqueItems },
          tx,
        );
        return { id: accountId, username, passwordHash, characterId, banned: false, tokenGeneration: 0 };
      });
    } catch (error) {
      if (isUniqueViolation(error, sql.USERNAME_KEY)) throw new GameError('E_USERNAME_TAKEN');
      throw error;
    }
  }

  async findAccount(username: string): Promise<AccountRecord | null> {
    const row = (await this.client.query(sql.FIND_ACCOUNT, [username])).rows[0];
    return row === undefined ? null : toAccount(row);
  }

  async changePassword(accountId: number, provenHash: string, passwordHash: string): Promise<number | null> {
    const row = (await this.client.query(sql.UPDATE_PASSWORD, [accountId, provenHash, passwordHash])).rows[0];
    return row === undefined ? null : toTokenGeneration(row);
  }

  async setBanned(username: string, banned: boolean): Promise<AccountRecord | null> {
    const row = (await this.client.query(sql.UPDATE_BANNED, [username, banned])).rows[0];
    return row === undefined ? null : toAccount(row);
  }

  async deleteAccount(username: string, provenHash: string | null): Promise<AccountRecord | null> {
    return this.client.transaction(async (tx) => {
      const row = (await tx.query(sql.LOCK_ACCOUNT_FOR_DELETION, [username, provenHash])).rows[0];
      if (row === undefined) return null;
      const account = toAccount(row);
      await tx.query(sql.LOCK_HELD_UNIQUE_ITEMS, [account.characterId]);
      await tx.query(sql.DELETE_HELD_UNIQUE_ITEMS, [account.characterId]);
      await tx.query(sql.DELETE_ACCOUNT, [account.id]);
      return account;
    });
  }

  async deleteUnreferencedUniqueItems(limit: number, after = ''): Promise<{ deleted: number; next: string | null }> {
    return this.client.transaction(async (tx) => {
      const locked = (await tx.query(sql.LOCK_UNREFERENCED_UNIQUE_ITEMS, [limit, after])).rows.map((row) => String(row.id));
      const next = locked.length < limit ? null : (locked[locked.length - 1] ?? null);
      if (locked.length === 0) return { deleted: 0, next };
      return { deleted: (await tx.query(sql.DELETE_UNREFERENCED_UNIQUE_ITEMS, [locked])).rows.length, next };
    });
  }

  async loadCharacter(characterId: number): Promise<StoredCharacter | null> {
    const read = await this.client.transaction(async (tx) => {
      await tx.query(sql.READ_SNAPSHOT);
      const character = (await tx.query(sql.SELECT_CHARACTER, [characterId])).rows[0];
      if (character === undefined) return null;
      const inventory = (await tx.query(sql.SELECT_INVENTORY, [characterId])).rows;
      const equipment = (await tx.query(sql.SELECT_EQUIPMENT, [characterId])).rows;
      return { character, inventory, equipment };
    });
    if (read === null) return null;
    return {
      character: toCharacter(read.character),
      inventory: new Map(read.inventory.map(toInventorySlot)),
      equipment: new Map(read.equipment.map(toEquipped)),
      uniqueItems: uniqueItemsOf([...read.inventory, ...read.equipment]),
      tokenGeneration: toTokenGeneration(read.character),
    };
  }

  async loadGround(): Promise<GroundSnapshot> {
    // One snapshot, so that the items and the versions agree.
    return this.client.transaction(async (tx) => {
      await tx.query(sql.READ_SNAPSHOT);
      const rows = (await tx.query(sql.SELECT_GROUND)).rows;
      const versions = (await tx.query(sql.SELECT_GROUND_VERSIONS)).rows;
      return {
        items: rows.map(toGroundItem),
        uniqueItems: uniqueItemsOf(rows),
        versions: versions.map((row) => ({ locationId: String(row.location_id), version: Number(row.version) })),
      };
    });
  }

  async sharedSecret(name: string, configured: string | undefined): Promise<string> {
    if (configured) return configured;
    return this.recordOnceIn(`secret:${name}`, randomBytes(32).toString('base64url'));
  }

  recordOnce(key: string, value: string): Promise<string> {
    return this.recordOnceIn(`record:${key}`, value);
  }

  private async recordOnceIn(key: string, value: string): Promise<string> {
    await this.client.query(sql.INSERT_SECRET, [key, value]);
    const row = first((await this.client.query(sql.SELECT_SECRET, [key])).rows, 'SELECT_SECRET');
    if (typeof row.secret !== 'string') throw new Error(`world_state ${key} is not a string`);
    return row.secret;
  }

  /** `within` joins a caller's transaction (registration writes the starting kit this way). */
  async writeBatch(batch: SyncBatch, within: SqlClient = this.client): Promise<BatchWritten> {
    const uniqueItems = lastByKey(batch.uniqueItems, (u) => u.id);
    const characters = lastByKey(batch.characters, (c) => c.id);
    const allInventories = lastByKey(batch.inventories, (i) => i.characterId);
    const allEquipment = lastByKey(batch.equipment, (e) => e.characterId);
    const allGround = lastByKey(batch.ground, (g) => g.locationId);
    if (uniqueItems.length + characters.length + allInventories.length + allEquipment.length + allGround.length === 0) {
      return { skippedCharacters: 0, skippedLocations: 0, detachedUniqueItems: 0 };
    }

    // One statement per table and step, each skipped when it has no rows: the count depends on
    // which kinds of change the batch holds, never on how many.
    return within.transaction(async (tx) => {
      // Characters first: a deletion locks the character before the unique items, and so does this.
      // A character whose stored version is newer than this batch's (or who is gone) keeps their rows untouched.
      const stale = new Set<number>();
      if (characters.length > 0) {
        const updated = await tx.query(sql.UPDATE_CHARACTERS, [
          characters.map((c) => c.id), characters.map((c) => c.locationId),
          characters.map((c) => c.hp), characters.map((c) => c.maxHp),
          characters.map((c) => c.stamina), characters.map((c) => c.maxStamina),
          characters.map((c) => c.level), characters.map((c) => c.xp), characters.map((c) => c.vitalsAt),
          characters.map((c) => c.version),
        ]);
        const written = new Set(updated.rows.map(toId));
        for (const c of characters) if (!written.has(c.id)) stale.add(c.id);
      }
      // Likewise a location whose stored ground is newer than this batch's.
      const freshGround = new Set<string>();
      if (allGround.length > 0) {
        const updated = await tx.query(sql.UPSERT_GROUND_VERSIONS, [allGround.map((g) => g.locationId), allGround.map((g) => g.version)]);
        for (const row of updated.rows) freshGround.add(String(row.location_id));
      }
      const fresh = <T extends { characterId: number }>(rows: T[]) => rows.filter((row) => !stale.has(row.characterId));
      const inventories = fresh(allInventories);
      const equipment = fresh(allEquipment);
      const ground = allGround.filter((g) => freshGround.has(g.locationId));
      let slots = inventories.flatMap(({ characterId, entries }) =>
        entries.map(([slot, entry]) => ({ characterId, slot, ...entry })));
      let worn = equipment.flatMap(({ characterId, entries }) =>
        entries.map(([slot, item]) => ({ characterId, slot, ...item })));
      let lying = ground.flatMap(({ locationId, items }) => items.map((item) => ({ locationId, ...item })));

      // Before the rows that reference them. Only those rows' unique items: the items of a skipped
      // character or location were written with the newer state, and a deleted character's must
      // not come back.
      const held = new Set([...slots, ...worn, ...lying].flatMap((row) => (row.uniqueItemId === undefined ? [] : [row.uniqueItemId])));
      const written = uniqueItems.filter((u) => held.has(u.id));
      // A reference to an item the batch does not carry (rare: the hot store lost its data between
      // two reads) keeps it if the store has it, and is written as the plain item it shows as if
      // not: a reference to nothing would fail the whole batch, every time it is retried.
      let detachedUniqueItems = 0;
      const carried = new Set(written.map((u) => u.id));
      const uncarried = [...held].filter((id) => !carried.has(id));
      if (uncarried.length > 0) {
        const kept = new Set((await tx.query(sql.KEEP_UNIQUE_ITEMS, [uncarried])).rows.map((row) => String(row.id)));
        const plain = <T extends { uniqueItemId?: string | undefined }>(row: T): T => {
          if (row.uniqueItemId === undefined || carried.has(row.uniqueItemId) || kept.has(row.uniqueItemId)) return row;
          detachedUniqueItems++;
          return { ...row, uniqueItemId: undefined };
        };
        slots = slots.map(plain);
        worn = worn.map(plain);
        lying = lying.map(plain);
      }
      if (written.length > 0) {
        await tx.query(sql.UPSERT_UNIQUE_ITEMS, [
          written.map((u) => u.id), written.map((u) => u.itemId),
          written.map((u) => u.durability), written.map((u) => u.maxDurability),
        ]);
      }
      if (inventories.length > 0) {
        await tx.query(sql.DELETE_INVENTORY_GONE, [inventories.map((i) => i.characterId), slots.map((s) => s.characterId), slots.map((s) => s.slot)]);
      }
      if (slots.length > 0) {
        await tx.query(sql.UPSERT_INVENTORY, [
          slots.map((s) => s.characterId), slots.map((s) => s.slot), slots.map((s) => s.itemId),
          slots.map((s) => s.qty), slots.map((s) => s.uniqueItemId ?? null),
        ]);
      }
      if (equipment.length > 0) {
        await tx.query(sql.DELETE_EQUIPMENT_GONE, [equipment.map((e) => e.characterId), worn.map((w) => w.characterId), worn.map((w) => w.slot)]);
      }
      if (worn.length > 0) {
        await tx.query(sql.UPSERT_EQUIPMENT, [
          worn.map((w) => w.characterId), worn.map((w) => w.slot), worn.map((w) => w.itemId),
          worn.map((w) => w.uniqueItemId ?? null),
        ]);
      }
      if (ground.length > 0) {
        await tx.query(sql.DELETE_GROUND, [ground.map((g) => g.locationId)]);
      }
      if (lying.length > 0) {
        await tx.query(sql.INSERT_GROUND, [
          lying.map((g) => g.id), lying.map((g) => g.locationId), lying.map((g) => g.itemId),
          lying.map((g) => g.qty), lying.map((g) => g.uniqueItemId ?? null),
          lying.map((g) => g.droppedBy), lying.map((g) => g.despawnAt),
        ]);
      }
      return { skippedCharacters: stale.size, skippedLocations: allGround.length - ground.length, detachedUniqueItems };
    });
  }

  /**
   * A sync's parts in one transaction. The transaction stays open while the source reads its next
   * part: each part locks its characters before their unique items, as everything else does, but
   * a later part's characters only after an earlier part's items, so a forced save racing an item
   * passed between two parts' players can deadlock with it. PostgreSQL then fails one of them,
   * and both are retried (a sync puts its claims back; see DirtySync).
   */
  async writeBatches(batches: AsyncIterable<SyncBatch> | Iterable<SyncBatch>): Promise<BatchWritten> {
    return this.client.transaction(async (tx) => {
      const total: BatchWritten = { skippedCharacters: 0, skippedLocations: 0, detachedUniqueItems: 0 };
      for await (const batch of batches) {
        const written = await this.writeBatch(batch, tx);
        total.skippedCharacters += written.skippedCharacters;
        total.skippedLocations += written.skippedLocations;
        total.detachedUniqueItems += written.detachedUniqueItems;
      }
      return total;
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
