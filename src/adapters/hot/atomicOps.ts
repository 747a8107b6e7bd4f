// Every atomic operation of the hot store, defined once (DESIGN.md §4): its Lua body for Redis and
// its in-memory twin for embedded mode, side by side so that they cannot drift apart. The contract
// suite (test/contract/hotStore.test.ts) runs the same cases through both. A Lua body checks
// everything that could fail before its first write, because Redis never rolls a script back.
import { transactionKeys, type HotTransaction, type HotTransactionResult } from './transaction.ts';

// ---------------------------------------------------------------------------------------------
// The memory store's data, and the Redis rules it imitates.

export interface Counter {
  value: number;
  /** Epoch ms at which the counter stops existing. */
  expiresAt: number;
}

export interface MemoryData {
  readonly hashes: Map<string, Map<string, string>>;
  readonly sets: Map<string, Set<string>>;
  readonly counters: Map<string, Counter>;
}

export function emptyMemoryData(): MemoryData {
  return { hashes: new Map(), sets: new Map(), counters: new Map() };
}

/** Redis's own messages, so that callers see the same error from either store. */
export const hotStoreErrors = {
  wrongType: 'WRONGTYPE Operation against a key holding the wrong kind of value',
  notInteger: 'ERR hash value is not an integer',
  overflow: 'ERR increment or decrement would overflow',
} as const;

export type KeyKind = 'hash' | 'set' | 'counter';

/** The counter under `key` unless its window is over (an expired counter is removed, as in Redis). */
export function liveCounter(data: MemoryData, key: string, now: number): Counter | undefined {
  const counter = data.counters.get(key);
  if (counter && counter.expiresAt <= now) {
    data.counters.delete(key);
    return undefined;
  }
  return counter;
}

/**
 * Drops every counter whose window is over. Rate limits give each window its own key, never used
 * again once the window ends; Redis expires such keys by itself, and so must the memory store.
 */
export function dropExpiredCounters(data: MemoryData, now: number): void {
  for (const [key, counter] of data.counters) if (counter.expiresAt <= now) data.counters.delete(key);
}

/** Like Redis, a key holds one kind of value: using it as another is a WRONGTYPE error. */
export function assertKind(data: MemoryData, key: string, kind: KeyKind, now: number): void {
  const clash =
    (kind !== 'hash' && data.hashes.has(key)) ||
    (kind !== 'set' && data.sets.has(key)) ||
    (kind !== 'counter' && liveCounter(data, key, now) !== undefined);
  if (clash) throw new Error(hotStoreErrors.wrongType);
}

export function hashOf(data: MemoryData, key: string): Map<string, string> | undefined {
  return data.hashes.get(key);
}

export function createdHash(data: MemoryData, key: string): Map<string, string> {
  let hash = data.hashes.get(key);
  if (!hash) data.hashes.set(key, (hash = new Map<string, string>()));
  return hash;
}

export function setOf(data: MemoryData, key: string): Set<string> | undefined {
  return data.sets.get(key);
}

export function createdSet(data: MemoryData, key: string): Set<string> {
  let set = data.sets.get(key);
  if (!set) data.sets.set(key, (set = new Set<string>()));
  return set;
}

/** Like Redis, an emptied hash or set stops existing. */
export function dropIfEmpty(data: MemoryData, key: string): void {
  if (data.hashes.get(key)?.size === 0) data.hashes.delete(key);
  if (data.sets.get(key)?.size === 0) data.sets.delete(key);
}

export function deleteKey(data: MemoryData, key: string): void {
  data.hashes.delete(key);
  data.sets.delete(key);
  data.counters.delete(key);
}

// ---------------------------------------------------------------------------------------------
// The operations. Each: `lua` (KEYS and ARGV as built by `encode`), `decode` for its reply, and
// `memory`, the twin that applies the same change to MemoryData synchronously.

export interface ScriptCall {
  keys: string[];
  argv: string[];
}

/** Fields hincrby may produce or read: safe integers, so that JavaScript and Lua agree exactly. */
const INTEGER = /^(?:0|-?[1-9]\d*)$/;

function integerOrThrow(current: string | undefined): number {
  if (current === undefined) return 0;
  if (!INTEGER.test(current)) throw new Error(hotStoreErrors.notInteger);
  const value = Number(current);
  if (!Number.isSafeInteger(value)) throw new Error(hotStoreErrors.overflow);
  return value;
}

interface KeyRoles {
  hashKeys: string[];
  setKeys: string[];
}

/**
 * The keys a transaction uses as hashes and as sets (one key used as both can never succeed), after
 * refusing increments that are not safe integers: both stores check these before anything else.
 */
function keyRoles(tx: HotTransaction): KeyRoles {
  const hashKeys = new Set<string>();
  const setKeys = new Set<string>();
  for (const list of [tx.expect, tx.room ?? [], tx.hset ?? [], tx.hdel ?? [], tx.hincrby ?? []]) for (const { key } of list) hashKeys.add(key);
  for (const { below } of tx.room ?? []) {
    if (!Number.isSafeInteger(below) || below < 1) throw new RangeError(`room below ${String(below)}: not a positive integer`);
  }
  for (const list of [tx.sadd ?? [], tx.srem ?? []]) for (const { key } of list) setKeys.add(key);
  for (const key of setKeys) if (hashKeys.has(key)) throw new Error(hotStoreErrors.wrongType);
  for (const { by } of tx.hincrby ?? []) {
    if (!Number.isSafeInteger(by)) throw new RangeError(`hincrby by ${String(by)}: not a safe integer`);
  }
  return { hashKeys: [...hashKeys], setKeys: [...setKeys] };
}

/** Names a field of a key unambiguously (keys and fields may hold any character). */
const slotId = (key: string, field: string) => JSON.stringify([key, field]);

export const transactOp = {
  name: 'cinderTransact',
  /**
   * ARGV[1] is JSON naming keys by their 1-based index in KEYS, so the script touches only
   * declared keys. Order: kinds, expectations, room, increments; then every write, as in `memory`.
   * Returns the 0-based index of the first failed expectation, or -1 once all is applied.
   */
  lua: `
local spec = cjson.decode(ARGV[1])
local function holds(key, kind)
  local actual = redis.call('TYPE', key).ok
  return actual == 'none' or actual == kind
end
for _, i in ipairs(spec.hashKeys) do
  if not holds(KEYS[i], 'hash') then return redis.error_reply('${hotStoreErrors.wrongType}') end
end
for _, i in ipairs(spec.setKeys) do
  if not holds(KEYS[i], 'set') then return redis.error_reply('${hotStoreErrors.wrongType}') end
end
for n, e in ipairs(spec.expect) do
  local wanted = e[3]
  -- cjson decodes JSON null as cjson.null; HGET answers false for an absent field.
  if wanted == cjson.null or wanted == nil then wanted = false end
  if redis.call('HGET', KEYS[e[1]], e[2]) ~= wanted then return n - 1 end
end
for n, r in ipairs(spec.room) do
  if redis.call('HLEN', KEYS[r[1]]) >= r[2] then return #spec.expect + n - 1 end
end
local pending = {}
for _, c in ipairs(spec.hset) do pending[c[1] .. ' ' .. c[2]] = c[3] end
for _, c in ipairs(spec.hdel) do pending[c[1] .. ' ' .. c[2]] = false end
for _, c in ipairs(spec.hincrby) do
  local slot = c[1] .. ' ' .. c[2]
  local current = pending[slot]
  if current == nil then current = redis.call('HGET', KEYS[c[1]], c[2]) end
  local value = 0
  if current then
    if current ~= '0' and not string.match(current, '^%-?[1-9]%d*$') then
      return redis.error_reply('${hotStoreErrors.notInteger}')
    end
    value = tonumber(current)
  end
  -- 'by' travels as a string: cjson numbers are doubles and tostring() may print 1e+15.
  local result = value + tonumber(c[3])
  if math.abs(value) > 9007199254740991 or math.abs(result) > 9007199254740991 then
    return redis.error_reply('${hotStoreErrors.overflow}')
  end
  pending[slot] = string.format('%d', result)
end
for _, c in ipairs(spec.hset) do redis.call('HSET', KEYS[c[1]], c[2], c[3]) end
for _, c in ipairs(spec.hdel) do redis.call('HDEL', KEYS[c[1]], c[2]) end
for _, c in ipairs(spec.hincrby) do redis.call('HINCRBY', KEYS[c[1]], c[2], c[3]) end
for _, c in ipairs(spec.sadd) do redis.call('SADD', KEYS[c[1]], c[2]) end
for _, c in ipairs(spec.srem) do redis.call('SREM', KEYS[c[1]], c[2]) end
for _, i in ipairs(spec.del) do redis.call('DEL', KEYS[i]) end
return -1
`,

  encode(tx: HotTransaction): ScriptCall {
    const { hashKeys, setKeys } = keyRoles(tx);
    const keys = transactionKeys(tx);
    const index = new Map(keys.map((key, i) => [key, i + 1]));
    const at = (key: string): number => {
      const i = index.get(key);
      if (i === undefined) throw new Error(`transact: ${key} missing from transactionKeys`);
      return i;
    };
    const spec = {
      hashKeys: hashKeys.map(at),
      setKeys: setKeys.map(at),
      expect: tx.expect.map((e) => [at(e.key), e.field, e.value]),
      room: (tx.room ?? []).map((r) => [at(r.key), r.below]),
      hset: (tx.hset ?? []).map((c) => [at(c.key), c.field, c.value]),
      hdel: (tx.hdel ?? []).map((c) => [at(c.key), c.field]),
      hincrby: (tx.hincrby ?? []).map((c) => [at(c.key), c.field, String(c.by)]),
      sadd: (tx.sadd ?? []).map((c) => [at(c.key), c.member]),
      srem: (tx.srem ?? []).map((c) => [at(c.key), c.member]),
      del: (tx.del ?? []).map(at),
    };
    return { keys, argv: [JSON.stringify(spec)] };
  },

  decode(reply: unknown): HotTransactionResult {
    if (typeof reply !== 'number') throw new Error(`transact: unexpected reply ${String(reply)}`);
    return reply === -1 ? { ok: true } : { ok: false, failed: reply };
  },

  memory(data: MemoryData, now: number, tx: HotTransaction): HotTransactionResult {
    const { hashKeys, setKeys } = keyRoles(tx);
    for (const key of hashKeys) assertKind(data, key, 'hash', now);
    for (const key of setKeys) assertKind(data, key, 'set', now);
    const failed = tx.expect.findIndex(({ key, field, value }) => (hashOf(data, key)?.get(field) ?? null) !== value);
    if (failed !== -1) return { ok: false, failed };
    const full = (tx.room ?? []).findIndex(({ key, below }) => (hashOf(data, key)?.size ?? 0) >= below);
    if (full !== -1) return { ok: false, failed: tx.expect.length + full };
    const pending = new Map<string, string | undefined>();
    for (const { key, field, value } of tx.hset ?? []) pending.set(slotId(key, field), value);
    for (const { key, field } of tx.hdel ?? []) pending.set(slotId(key, field), undefined);
    for (const { key, field, by } of tx.hincrby ?? []) {
      const slot = slotId(key, field);
      const current = pending.has(slot) ? pending.get(slot) : hashOf(data, key)?.get(field);
      const result = integerOrThrow(current) + by;
      if (!Number.isSafeInteger(result)) throw new Error(hotStoreErrors.overflow);
      pending.set(slot, String(result));
    }
    // Nothing can fail from here on: apply in the Lua body's order.
    for (const { key, field, value } of tx.hset ?? []) createdHash(data, key).set(field, value);
    for (const { key, field } of tx.hdel ?? []) hashOf(data, key)?.delete(field);
    for (const { key, field, by } of tx.hincrby ?? []) {
      const hash = createdHash(data, key);
      hash.set(field, String(Number(hash.get(field) ?? 0) + by));
    }
    for (const { key, member } of tx.sadd ?? []) createdSet(data, key).add(member);
    for (const { key, member } of tx.srem ?? []) setOf(data, key)?.delete(member);
    for (const { key } of [...(tx.hdel ?? []), ...(tx.srem ?? [])]) dropIfEmpty(data, key);
    for (const key of tx.del ?? []) deleteKey(data, key);
    return { ok: true };
  },
} as const;

export const claimSetOp = {
  name: 'cinderClaimSet',
  /** KEYS: live set, claim set. Returns every member of the claim, older claims included. */
  lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[1], KEYS[2])
  redis.call('DEL', KEYS[1])
end
return redis.call('SMEMBERS', KEYS[2])
`,

  encode(key: string, claimKey: string): ScriptCall {
    return { keys: [key, claimKey], argv: [] };
  },

  decode(reply: unknown): string[] {
    if (Array.isArray(reply) && reply.every((member): member is string => typeof member === 'string')) return reply;
    throw new Error('claimSet: unexpected reply');
  },

  memory(data: MemoryData, now: number, key: string, claimKey: string): string[] {
    assertKind(data, key, 'set', now);
    assertKind(data, claimKey, 'set', now);
    const claimed = createdSet(data, claimKey);
    for (const member of setOf(data, key) ?? []) claimed.add(member);
    data.sets.delete(key);
    dropIfEmpty(data, claimKey);
    return [...claimed];
  },
} as const;

export const returnClaimOp = {
  name: 'cinderReturnClaim',
  /**
   * KEYS: live set, claim set; ARGV: the members one sync claimed. Adds them to the live set and
   * takes them out of the claim; anything else in the claim (what another run claimed since) stays.
   * In chunks: Lua's unpack() has a small limit on how many values it spreads.
   */
  lua: `
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'none' and kind ~= 'set' then return redis.error_reply('${hotStoreErrors.wrongType}') end
end
for first = 1, #ARGV, 1000 do
  local last = math.min(first + 999, #ARGV)
  redis.call('SADD', KEYS[1], unpack(ARGV, first, last))
  redis.call('SREM', KEYS[2], unpack(ARGV, first, last))
end
return 1
`,

  encode(key: string, claimKey: string, members: readonly string[]): ScriptCall {
    return { keys: [key, claimKey], argv: [...members] };
  },

  memory(data: MemoryData, now: number, key: string, claimKey: string, members: readonly string[]): void {
    assertKind(data, key, 'set', now);
    assertKind(data, claimKey, 'set', now);
    if (members.length === 0) return;
    const set = createdSet(data, key);
    const claimed = setOf(data, claimKey);
    for (const member of members) {
      set.add(member);
      claimed?.delete(member);
    }
    dropIfEmpty(data, claimKey);
  },
} as const;

function checkWindow(windowMs: number, op = 'incrWindow'): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new RangeError(`${op}: window ${String(windowMs)} ms is not a positive whole number`);
  }
}

export const incrWindowOp = {
  name: 'cinderIncrWindow',
  /**
   * KEYS: the counter; ARGV: window in ms, then how much to add (1 to count; -1 gives a count
   * back). The expiry is set only when none is running (a new counter), so counting never pushes
   * the window's end back.
   */
  lua: `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
`,

  encode(key: string, windowMs: number, by = 1): ScriptCall {
    checkWindow(windowMs);
    if (by !== 1 && by !== -1) throw new RangeError(`incrWindow: adds 1 or -1, not ${String(by)}`);
    return { keys: [key], argv: [String(windowMs), String(by)] };
  },

  decode(reply: unknown): number {
    if (typeof reply !== 'number') throw new Error(`incrWindow: unexpected reply ${String(reply)}`);
    return reply;
  },

  memory(data: MemoryData, now: number, key: string, windowMs: number, by = 1): number {
    incrWindowOp.encode(key, windowMs, by); // the same refusals as Redis
    assertKind(data, key, 'counter', now);
    const counter = liveCounter(data, key, now) ?? { value: 0, expiresAt: now + windowMs };
    counter.value += by;
    data.counters.set(key, counter);
    return counter.value;
  },
} as const;

export const raiseCounterOp = {
  name: 'cinderRaiseCounter',
  /**
   * KEYS: the counter; ARGV: the value, the expiry in ms. Never lowers it: of two writers racing,
   * e.g. a load from the durable store and a later revocation, the higher value stays. Each call
   * starts the expiry again. Answers the counter's value.
   */
  lua: `
local value = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if value > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return value
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return current
`,

  encode(key: string, value: number, ttlMs: number): ScriptCall {
    checkRaise(value, ttlMs);
    return { keys: [key], argv: [String(value), String(ttlMs)] };
  },

  decode(reply: unknown): number {
    if (typeof reply !== 'number') throw new Error(`raiseCounter: unexpected reply ${String(reply)}`);
    return reply;
  },

  memory(data: MemoryData, now: number, key: string, value: number, ttlMs: number): number {
    checkRaise(value, ttlMs);
    assertKind(data, key, 'counter', now);
    const current = liveCounter(data, key, now)?.value ?? 0;
    const raised = Math.max(current, value);
    data.counters.set(key, { value: raised, expiresAt: now + ttlMs });
    return raised;
  },
} as const;

function checkRaise(value: number, ttlMs: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`raiseCounter: ${String(value)} is not a whole number ≥ 0`);
  checkWindow(ttlMs, 'raiseCounter');
}
