// The hot store: shared, fast game state (DESIGN.md §4). Redis-shaped so that the Redis adapter
// maps each call to one command; the memory adapter is its in-process twin.
import type { HotView, HotViewResult } from './readView.ts';
import type { HotTransaction, HotTransactionResult } from './transaction.ts';

export interface HotStore {
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  /** One round trip for many hashes: the Redis adapter pipelines it. */
  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]>;
  /**
   * Like hgetallMany, but the hashes of each group are read together, as of one moment (different
   * groups may be read at different moments): e.g. a player's hash with their slots.
   */
  hgetallGroups(groups: readonly (readonly string[])[]): Promise<Record<string, string>[][]>;
  /** Several hashes, and those their values name, read together in one round trip: see readView.ts. */
  readView(view: HotView): Promise<HotViewResult>;
  hset(key: string, values: Readonly<Record<string, string>>): Promise<void>;
  /** Sets fields and (re)starts the hash's expiry: a key that lives only while refreshed (worker heartbeats). */
  hsetExpiring(key: string, values: Readonly<Record<string, string>>, ttlMs: number): Promise<void>;
  hdel(key: string, fields: readonly string[]): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Resolves with how many of `members` were not in the set before. */
  sadd(key: string, members: readonly string[]): Promise<number>;
  srem(key: string, members: readonly string[]): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /**
   * Adds `by` (1, or -1 to give a count back) to a counter, starting its expiry when it is created
   * (fixed-window rate limits); resolves with the new count.
   */
  incrWindow(key: string, windowMs: number, by?: 1 | -1): Promise<number>;
  /** A counter's value, without counting: 0 when it does not exist (e.g. no window is running). */
  readCounter(key: string): Promise<number>;
  /** Raises a counter to `value` unless it is higher already, and (re)starts its expiry; answers its value. */
  raiseCounter(key: string, value: number, ttlMs: number): Promise<number>;
  /**
   * Atomically moves every member of `key` into `claimKey` and returns all members of `claimKey`
   * (including any left there by a run that died). Used to take dirty sets for a sync.
   */
  claimSet(key: string, claimKey: string): Promise<string[]>;
  /**
   * Puts `members`, what one sync claimed, back into `key` (that sync failed) and takes them out of
   * `claimKey`, atomically. What another sync claimed meanwhile stays in the claim, for it to settle.
   */
  returnClaim(key: string, claimKey: string, members: readonly string[]): Promise<void>;
  /** All-or-nothing change guarded by expected values: see transaction.ts. */
  transact(tx: HotTransaction): Promise<HotTransactionResult>;
  /** Resolves when the store answers, rejects when it cannot be reached (health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
