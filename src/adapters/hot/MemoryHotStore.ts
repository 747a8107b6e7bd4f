// In-process hot store for embedded mode. Every method completes synchronously inside its
// promise, so a transaction can never interleave with another change: the JavaScript event
// loop gives the atomicity that Lua gives in Redis. The atomic operations are the in-memory
// twins in atomicOps.ts, next to their Lua bodies.
import type { HotStore } from './HotStore.ts';
import { readViewOp, type HotView, type HotViewResult } from './readView.ts';
import { transactionKeys, type HotTransaction, type HotTransactionResult } from './transaction.ts';
import {
  assertKind,
  claimSetOp,
  createdHash,
  createdSet,
  deleteKey,
  dropExpiredCounters,
  dropIfEmpty,
  emptyMemoryData,
  hashOf,
  incrWindowOp,
  raiseCounterOp,
  liveCounter,
  returnClaimOp,
  setOf,
  transactOp,
  type KeyKind,
} from './atomicOps.ts';

/** How often counting sweeps out the counters whose window is over: the sweep walks every counter. */
const COUNTER_SWEEP_MS = 1000;

export class MemoryHotStore implements HotStore {
  private readonly data = emptyMemoryData();
  /** Expiry times of hashes set with hsetExpiring, applied lazily when such a key is read. */
  private readonly expiries = new Map<string, number>();
  private counterSweepAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  /** Runs `operation` synchronously, turning a thrown error into a rejected promise as Redis would. */
  private run<T>(operation: () => T): Promise<T> {
    try {
      return Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private kind(key: string, kind: KeyKind): void {
    this.expireIfDue(key);
    assertKind(this.data, key, kind, this.now());
  }

  private expireIfDue(key: string): void {
    const at = this.expiries.get(key);
    if (at === undefined || at > this.now()) return;
    this.expiries.delete(key);
    deleteKey(this.data, key);
  }

  private readHash(key: string): Record<string, string> {
    this.kind(key, 'hash');
    return Object.fromEntries(hashOf(this.data, key) ?? []);
  }

  /** Keys held in memory, expired ones not yet dropped included (Redis's DBSIZE). */
  get size(): number {
    return this.data.hashes.size + this.data.sets.size + this.data.counters.size;
  }

  hget(key: string, field: string): Promise<string | null> {
    return this.run(() => {
      this.kind(key, 'hash');
      return hashOf(this.data, key)?.get(field) ?? null;
    });
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.run(() => this.readHash(key));
  }

  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]> {
    return this.run(() => keys.map((key) => this.readHash(key)));
  }

  hgetallGroups(groups: readonly (readonly string[])[]): Promise<Record<string, string>[][]> {
    return this.run(() => groups.map((group) => group.map((key) => this.readHash(key))));
  }

  readView(view: HotView): Promise<HotViewResult> {
    return this.run(() => {
      // Only heartbeat hashes expire, and a view never finds one through another key.
      for (const key of view.hashes) this.expireIfDue(key);
      return readViewOp.memory(this.data, this.now(), view);
    });
  }

  hset(key: string, values: Readonly<Record<string, string>>): Promise<void> {
    // Like the Redis adapter, asking for no change changes nothing (and checks nothing).
    const entries = Object.entries(values);
    if (entries.length === 0) return Promise.resolve();
    return this.run(() => {
      this.kind(key, 'hash');
      const hash = createdHash(this.data, key);
      for (const [field, value] of entries) hash.set(field, value);
    });
  }

  async hsetExpiring(key: string, values: Readonly<Record<string, string>>, ttlMs: number): Promise<void> {
    await this.hset(key, values);
    this.expiries.set(key, this.now() + ttlMs);
  }

  hdel(key: string, fields: readonly string[]): Promise<void> {
    if (fields.length === 0) return Promise.resolve();
    return this.run(() => {
      this.kind(key, 'hash');
      const hash = hashOf(this.data, key);
      for (const field of fields) hash?.delete(field);
      dropIfEmpty(this.data, key);
    });
  }

  del(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      deleteKey(this.data, key);
      this.expiries.delete(key);
    }
    return Promise.resolve();
  }

  exists(key: string): Promise<boolean> {
    this.expireIfDue(key);
    const { hashes, sets } = this.data;
    return Promise.resolve(hashes.has(key) || sets.has(key) || liveCounter(this.data, key, this.now()) !== undefined);
  }

  sadd(key: string, members: readonly string[]): Promise<number> {
    if (members.length === 0) return Promise.resolve(0);
    return this.run(() => {
      this.kind(key, 'set');
      const set = createdSet(this.data, key);
      const before = set.size;
      for (const member of members) set.add(member);
      return set.size - before;
    });
  }

  srem(key: string, members: readonly string[]): Promise<void> {
    if (members.length === 0) return Promise.resolve();
    return this.run(() => {
      this.kind(key, 'set');
      const set = setOf(this.data, key);
      for (const member of members) set?.delete(member);
      dropIfEmpty(this.data, key);
    });
  }

  smembers(key: string): Promise<string[]> {
    return this.run(() => {
      this.kind(key, 'set');
      return [...(setOf(this.data, key) ?? [])];
    });
  }

  incrWindow(key: string, windowMs: number, by: 1 | -1 = 1): Promise<number> {
    return this.run(() => incrWindowOp.memory(this.data, this.sweptNow(), key, windowMs, by));
  }

  raiseCounter(key: string, value: number, ttlMs: number): Promise<number> {
    return this.run(() => raiseCounterOp.memory(this.data, this.sweptNow(), key, value, ttlMs));
  }

  /** The time, after dropping expired counters now and then: counters are made only by the two calls above. */
  private sweptNow(): number {
    const now = this.now();
    if (now - this.counterSweepAt >= COUNTER_SWEEP_MS) {
      this.counterSweepAt = now;
      dropExpiredCounters(this.data, now);
    }
    return now;
  }

  readCounter(key: string): Promise<number> {
    return this.run(() => {
      this.kind(key, 'counter');
      return liveCounter(this.data, key, this.now())?.value ?? 0;
    });
  }

  claimSet(key: string, claimKey: string): Promise<string[]> {
    return this.run(() => claimSetOp.memory(this.data, this.now(), key, claimKey));
  }

  returnClaim(key: string, claimKey: string, members: readonly string[]): Promise<void> {
    return this.run(() => {
      returnClaimOp.memory(this.data, this.now(), key, claimKey, members);
    });
  }

  transact(tx: HotTransaction): Promise<HotTransactionResult> {
    return this.run(() => {
      // As Redis would: a key past its expiry is absent to the guards, not stale.
      for (const key of transactionKeys(tx)) this.expireIfDue(key);
      return transactOp.memory(this.data, this.now(), tx);
    });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
