// In-process hot store for embedded mode. Every method completes synchronously inside its
// promise, so a transaction can never interleave with another change: the JavaScript event
// loop gives the atomicity that Lua gives in Redis.
import type { HotStore } from './HotStore.ts';
import type { HotTransaction, HotTransactionResult } from './transaction.ts';

interface Counter {
  value: number;
  expiresAt: number;
}

export class MemoryHotStore implements HotStore {
  private readonly hashes = new Map<string, Map<string, string>>();
  private readonly sets = new Map<string, Set<string>>();
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly now: () => number = Date.now) {}

  private hash(key: string, create: true): Map<string, string>;
  private hash(key: string, create?: false): Map<string, string> | undefined;
  private hash(key: string, create = false): Map<string, string> | undefined {
    let hash = this.hashes.get(key);
    if (!hash && create) this.hashes.set(key, (hash = new Map<string, string>()));
    return hash;
  }

  private set(key: string, create: true): Set<string>;
  private set(key: string, create?: false): Set<string> | undefined;
  private set(key: string, create = false): Set<string> | undefined {
    let set = this.sets.get(key);
    if (!set && create) this.sets.set(key, (set = new Set<string>()));
    return set;
  }

  // Like Redis, an emptied hash or set stops existing.
  private dropIfEmpty(key: string): void {
    if (this.hashes.get(key)?.size === 0) this.hashes.delete(key);
    if (this.sets.get(key)?.size === 0) this.sets.delete(key);
  }

  hget(key: string, field: string): Promise<string | null> {
    return Promise.resolve(this.hash(key)?.get(field) ?? null);
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.hash(key) ?? []));
  }

  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]> {
    return Promise.resolve(keys.map((key) => Object.fromEntries(this.hash(key) ?? [])));
  }

  hset(key: string, values: Readonly<Record<string, string>>): Promise<void> {
    const hash = this.hash(key, true);
    for (const [field, value] of Object.entries(values)) hash.set(field, value);
    this.dropIfEmpty(key);
    return Promise.resolve();
  }

  hdel(key: string, fields: readonly string[]): Promise<void> {
    const hash = this.hash(key);
    for (const field of fields) hash?.delete(field);
    this.dropIfEmpty(key);
    return Promise.resolve();
  }

  del(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.hashes.delete(key);
      this.sets.delete(key);
      this.counters.delete(key);
    }
    return Promise.resolve();
  }

  exists(key: string): Promise<boolean> {
    return Promise.resolve(this.hashes.has(key) || this.sets.has(key) || this.liveCounter(key) !== undefined);
  }

  sadd(key: string, members: readonly string[]): Promise<void> {
    const set = this.set(key, true);
    for (const member of members) set.add(member);
    this.dropIfEmpty(key);
    return Promise.resolve();
  }

  srem(key: string, members: readonly string[]): Promise<void> {
    const set = this.set(key);
    for (const member of members) set?.delete(member);
    this.dropIfEmpty(key);
    return Promise.resolve();
  }

  smembers(key: string): Promise<string[]> {
    return Promise.resolve([...(this.set(key) ?? [])]);
  }

  private liveCounter(key: string): Counter | undefined {
    const counter = this.counters.get(key);
    if (counter && counter.expiresAt <= this.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }

  incrWindow(key: string, windowMs: number): Promise<number> {
    const counter = this.liveCounter(key) ?? { value: 0, expiresAt: this.now() + windowMs };
    counter.value += 1;
    this.counters.set(key, counter);
    return Promise.resolve(counter.value);
  }

  claimSet(key: string, claimKey: string): Promise<string[]> {
    const claimed = this.set(claimKey, true);
    for (const member of this.set(key) ?? []) claimed.add(member);
    this.sets.delete(key);
    this.dropIfEmpty(claimKey);
    return Promise.resolve([...claimed]);
  }

  returnClaim(key: string, claimKey: string): Promise<void> {
    const claimed = this.set(claimKey);
    if (claimed) {
      const set = this.set(key, true);
      for (const member of claimed) set.add(member);
      this.sets.delete(claimKey);
    }
    return Promise.resolve();
  }

  transact(tx: HotTransaction): Promise<HotTransactionResult> {
    const failed = tx.expect.findIndex(({ key, field, value }) => (this.hash(key)?.get(field) ?? null) !== value);
    if (failed !== -1) return Promise.resolve({ ok: false, failed });
    for (const { key, field, value } of tx.hset ?? []) this.hash(key, true).set(field, value);
    for (const { key, field } of tx.hdel ?? []) this.hash(key)?.delete(field);
    for (const { key, field, by } of tx.hincrby ?? []) {
      const hash = this.hash(key, true);
      hash.set(field, String(Number(hash.get(field) ?? 0) + by));
    }
    for (const { key, member } of tx.sadd ?? []) this.set(key, true).add(member);
    for (const { key, member } of tx.srem ?? []) this.set(key)?.delete(member);
    for (const key of new Set([...(tx.hdel ?? []), ...(tx.srem ?? [])].map((change) => change.key))) {
      this.dropIfEmpty(key);
    }
    for (const key of tx.del ?? []) {
      this.hashes.delete(key);
      this.sets.delete(key);
      this.counters.delete(key);
    }
    return Promise.resolve({ ok: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
