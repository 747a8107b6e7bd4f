// The durable store: PostgreSQL (or PGlite, the same SQL in WASM) behind one interface (DESIGN.md §5).
// The GameStateManager is its only caller.
import type { Character, CharacterSnapshot, EquippedItem, GroundItem, InventoryEntry, UniqueItem } from '../../domain/model.ts';
import type { EquipSlot } from '../../content/schema.ts';

export interface AccountRecord {
  id: number;
  username: string;
  passwordHash: string;
  characterId: number;
  banned: boolean;
  /** Tokens issued with a lower generation are refused: raised by a password change or a ban. */
  tokenGeneration: number;
}

/** A character as saved, with the token generation their account accepts (see AccountRecord). */
export interface StoredCharacter extends CharacterSnapshot {
  tokenGeneration: number;
}

/** What registration writes for the new account's one character. */
export type NewCharacter = Omit<Character, 'id' | 'accountId' | 'version'>;

/** What a new character starts with in their inventory. */
export interface StartingKit {
  inventory: [slot: number, entry: InventoryEntry][];
  uniqueItems: UniqueItem[];
}

/** Dirty hot state taken by one sync run (or a part of it), written in one transaction. */
export interface SyncBatch {
  /**
   * Every character the batch touches. A character whose stored version is newer is
   * skipped, and so are their inventory and equipment below: stale writes never win.
   */
  characters: Character[];
  /** Each listed character's inventory is replaced whole by these entries. */
  inventories: { characterId: number; entries: [slot: number, entry: InventoryEntry][] }[];
  equipment: { characterId: number; entries: [slot: EquipSlot, item: EquippedItem][] }[];
  /**
   * Each listed location's ground is replaced whole by these items, unless the stored ground of
   * that location has a newer version (then the location is skipped).
   */
  ground: { locationId: string; items: GroundItem[]; version: number }[];
  /** Upserted before the rows that reference them. */
  uniqueItems: UniqueItem[];
}

/**
 * What a batch left unwritten because the durable store holds a newer version (or, for a
 * character, no longer has them: a deleted account). Now and then when a save races a sync; a
 * steady stream means the hot store went back in time (restored from an older snapshot).
 */
export interface BatchWritten {
  skippedCharacters: number;
  skippedLocations: number;
  /**
   * Slots and ground items written as plain items: they referred to a unique item the batch did
   * not carry (the hot store no longer had its data) and the durable store no longer had either.
   */
  detachedUniqueItems: number;
}

export interface GroundSnapshot {
  items: (GroundItem & { locationId: string })[];
  uniqueItems: UniqueItem[];
  /** The version of every location whose ground was ever saved (see SyncBatch.ground). */
  versions: { locationId: string; version: number }[];
}

export interface DurableStore {
  /** Immediate write of account, character and kit. Throws GameError E_USERNAME_TAKEN when the name exists (any case). */
  createAccount(username: string, passwordHash: string, character: NewCharacter, kit: StartingKit): Promise<AccountRecord>;
  findAccount(username: string): Promise<AccountRecord | null>;
  /**
   * Immediate write of a new password hash, only if the account's hash is still `provenHash` and it
   * is not banned; starts a new token generation and answers it. Null when it changed nothing.
   */
  changePassword(accountId: number, provenHash: string, passwordHash: string): Promise<number | null>;
  /**
   * Immediate write of an account's ban (`banned` true, which also starts a new token generation)
   * or its lifting. Null when no account has that name (any case).
   */
  setBanned(username: string, banned: boolean): Promise<AccountRecord | null>;
  /**
   * Immediate deletion of an account with its character, their slots and the unique items they
   * held; the username is free again. With `provenHash`, only if it is still the account's hash
   * and the account is not banned (a player's own request); null: whatever they are (an
   * operator's). Answers the account as it was, or null when it deleted nothing.
   */
  deleteAccount(username: string, provenHash: string | null): Promise<AccountRecord | null>;
  /**
   * Deletes up to `limit` unique items that no inventory, equipment or ground row refers to (they
   * despawned), the first in id order after `after`; answers how many, and the id to go on after
   * (null when none are left). Never one a concurrent write is giving a reference: that item is
   * skipped, or written anew by that write.
   */
  deleteUnreferencedUniqueItems(limit: number, after?: string): Promise<{ deleted: number; next: string | null }>;
  loadCharacter(characterId: number): Promise<StoredCharacter | null>;
  /** Every ground item of the world with the unique items lying there, and each location's ground version. */
  loadGround(): Promise<GroundSnapshot>;
  /**
   * A secret every worker and machine must share (e.g. for signing tokens): `configured` when
   * given, else one generated on first use and kept in world_state, so all agree and it survives restarts.
   */
  sharedSecret(name: string, configured: string | undefined): Promise<string>;
  /** Keeps `value` under `key` unless a value is kept there already; answers the one kept. */
  recordOnce(key: string, value: string): Promise<string>;
  /** One transaction; a fixed number of statements whatever the batch size. */
  writeBatch(batch: SyncBatch): Promise<BatchWritten>;
  /**
   * Every batch `batches` yields, in one transaction, each as writeBatch writes it. They are
   * pulled one at a time, so the source may read its next batch while this one is written. All
   * or nothing: when the source throws, nothing of it is written.
   */
  writeBatches(batches: AsyncIterable<SyncBatch> | Iterable<SyncBatch>): Promise<BatchWritten>;
  close(): Promise<void>;
}
