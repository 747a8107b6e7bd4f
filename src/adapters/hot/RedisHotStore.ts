// The hot store on Redis 7 / Valkey 8 (DESIGN.md §2, §4). Each method is one command or one
// script; the scripts are the Lua bodies of atomicOps.ts, run by SHA through defineCommand.
// Connections fail fast while Redis is away (DESIGN.md §8) and reconnect by themselves.
import { Redis, type RedisOptions } from 'ioredis';
import type { HotStore } from './HotStore.ts';
import { readViewOp, type HotView, type HotViewResult } from './readView.ts';
import type { HotTransaction, HotTransactionResult } from './transaction.ts';
import { claimSetOp, incrWindowOp, raiseCounterOp, returnClaimOp, transactOp, type ScriptCall } from './atomicOps.ts';

export interface RedisConnectionOptions {
  /** Reply deadline per command, so that a hung Redis fails fast like a stopped one. */
  commandTimeoutMs?: number;
  /** Connection errors as they happen; callers also see them as rejected commands. */
  onError?: (error: Error) => void;
  /** Anything else for ioredis (e.g. `db`, `keyPrefix`, `connectionName`). */
  redis?: RedisOptions;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/**
 * hgetallMany reads in script calls of this many hashes, at most HGETALL_WINDOW of them in flight.
 * Redis runs a connection's pipelined commands back to back: a sync's whole read sent at once (500
 * inventories took 15 ms under load) held every player's action behind it, and near saturation
 * such a pause grows into a queue that takes far longer to drain than the pause lasted.
 */
const HGETALL_CHUNK = 100;
const HGETALL_WINDOW = 2;
const RECONNECT_STEP_MS = 50;
const RECONNECT_MAX_MS = 1_000;

/**
 * ioredis settings shared by every Cinder connection: RESP2 replies (the v5 shapes), no offline
 * queue and no replay of unanswered commands (a script whose reply was lost must not run twice),
 * and reconnection forever with a capped backoff.
 */
export function redisConnectionOptions(options: RedisConnectionOptions = {}): RedisOptions {
  return {
    protocol: 2,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
    ...options.redis,
  };
}

/** Opens a client and waits until it is ready; rejects with the cause when Redis cannot be reached. */
export function connectRedis(url: string, options: RedisConnectionOptions = {}): Promise<Redis> {
  return openRedis(new Redis(url, redisConnectionOptions(options)), options.onError);
}

/** Connects a client made with `lazyConnect` (e.g. by `duplicate()`), as connectRedis does. */
export async function openRedis(client: Redis, onError?: (error: Error) => void): Promise<Redis> {
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
    onError?.(error);
  });
  try {
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    throw lastError ?? error;
  }
}

/** Closes a client politely when it can, at once when it cannot; also stops its reconnecting. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

export type RedisScript = (call: ScriptCall) => Promise<unknown>;

/** Defines `lua` on `client` (EVAL once per connection, then EVALSHA) and returns a typed caller. */
export function defineScript(client: Redis, name: string, lua: string): RedisScript {
  client.defineCommand(name, { lua });
  const command: unknown = Reflect.get(client, name);
  if (typeof command !== 'function') throw new Error(`ioredis did not define the script ${name}`);
  return ({ keys, argv }) => Reflect.apply(command, client, [keys.length, ...keys, ...argv]) as Promise<unknown>;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

const UNAVAILABLE_MESSAGES = [
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command timed out',
  'connect ETIMEDOUT',
];

const REFUSING_WRITES = ['OOM ', 'MISCONF ', 'READONLY ', 'MASTERDOWN '];

/**
 * True for the errors of a Redis that cannot answer right now (down, restarting, unreachable,
 * hung): the gateway answers E_DEGRADED. False for errors in what was asked (e.g. WRONGTYPE).
 */
export function isHotStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code: unknown = Reflect.get(error, 'code');
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (error.message.startsWith('LOADING ')) return true;
  // Up, but refusing writes: out of memory under noeviction, a failed snapshot save, a replica
  // after a failover. Nothing was written (a script stops at its first refused write), and the
  // operator has to act, as for a Redis that is down.
  if (REFUSING_WRITES.some((prefix) => error.message.startsWith(prefix))) return true;
  return UNAVAILABLE_MESSAGES.some((message) => error.message.startsWith(message));
}

export class RedisHotStore implements HotStore {
  private readonly transactScript: RedisScript;
  private readonly claimSetScript: RedisScript;
  private readonly returnClaimScript: RedisScript;
  private readonly incrWindowScript: RedisScript;
  private readonly raiseCounterScript: RedisScript;
  private readonly readViewScript: RedisScript;

  /** The store owns `client` from now on: close() quits it. */
  constructor(private readonly client: Redis) {
    this.transactScript = defineScript(client, transactOp.name, transactOp.lua);
    this.claimSetScript = defineScript(client, claimSetOp.name, claimSetOp.lua);
    this.returnClaimScript = defineScript(client, returnClaimOp.name, returnClaimOp.lua);
    this.incrWindowScript = defineScript(client, incrWindowOp.name, incrWindowOp.lua);
    this.raiseCounterScript = defineScript(client, raiseCounterOp.name, raiseCounterOp.lua);
    this.readViewScript = defineScript(client, readViewOp.name, readViewOp.lua);
  }

  static async connect(url: string, options: RedisConnectionOptions = {}): Promise<RedisHotStore> {
    return new RedisHotStore(await connectRedis(url, options));
  }

  /** Redis's maxmemory-policy; undefined where CONFIG is not allowed (managed services rename it). */
  async evictionPolicy(): Promise<string | undefined> {
    try {
      const reply: unknown = await this.client.config('GET', 'maxmemory-policy');
      return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
    } catch (error) {
      if (isHotStoreUnavailable(error)) throw error;
      return undefined;
    }
  }

  /** Calls `listener` each time the connection is ready again after being lost. */
  onReady(listener: () => void): void {
    this.client.on('ready', listener);
  }

  hget(key: string, field: string): Promise<string | null> {
    return this.client.hget(key, field);
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.client.hgetall(key);
  }

  /**
   * One script call per chunk of keys rather than one pipelined HGETALL each: ioredis's cost is
   * mostly per command (a Command, a promise, a write), and a chunk bounds how long Redis is busy.
   */
  async hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]> {
    const chunks = Math.ceil(keys.length / HGETALL_CHUNK);
    const read: Record<string, string>[][] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let chunk = next++; chunk < chunks; chunk = next++) {
        const start = chunk * HGETALL_CHUNK;
        read[chunk] = (await this.readView({ hashes: keys.slice(start, start + HGETALL_CHUNK) })).hashes;
      }
    };
    await Promise.all(Array.from({ length: Math.min(HGETALL_WINDOW, chunks) }, lane));
    return read.flat();
  }

  /** Whole groups per script call (a script runs alone), filled up to the chunk size; a larger group goes alone. */
  async hgetallGroups(groups: readonly (readonly string[])[]): Promise<Record<string, string>[][]> {
    const calls: (readonly string[])[][] = [];
    let call: (readonly string[])[] = [];
    let size = 0;
    for (const group of groups) {
      if (size > 0 && size + group.length > HGETALL_CHUNK) {
        calls.push(call);
        call = [];
        size = 0;
      }
      call.push(group);
      size += group.length;
    }
    if (call.length > 0) calls.push(call);
    const read: Record<string, string>[][][] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let index = next++; index < calls.length; index = next++) {
        const members = calls[index] ?? [];
        const { hashes } = await this.readView({ hashes: members.flat() });
        let cursor = 0;
        read[index] = members.map((group) =>
          group.map(() => {
            const hash = hashes[cursor++];
            // A short reply would read as empty hashes: slots that seem gone must never be written.
            if (hash === undefined) throw new Error('hgetallGroups: the script answered fewer hashes than asked');
            return hash;
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(HGETALL_WINDOW, calls.length) }, lane));
    return read.flat();
  }

  async readView(view: HotView): Promise<HotViewResult> {
    return readViewOp.decode(view, await this.readViewScript(readViewOp.encode(view)));
  }

  // Redis refuses these commands without fields or members; asking for none changes nothing.
  async hset(key: string, values: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(values).length > 0) await this.client.hset(key, values);
  }

  async hsetExpiring(key: string, values: Readonly<Record<string, string>>, ttlMs: number): Promise<void> {
    // MULTI: the fields and their expiry land together, so a key never lives on without a TTL.
    const replies = await this.client
      .multi()
      .hset(key, values)
      .pexpire(key, ttlMs)
      .exec()
      .catch((error: unknown) => {
        // EXECABORT: a command was refused as it was queued (OOM, say); that refusal is the cause.
        const queued: unknown = error instanceof Error ? Reflect.get(error, 'previousErrors') : undefined;
        throw Array.isArray(queued) && queued[0] instanceof Error ? queued[0] : error;
      });
    const failed = replies?.find(([error]) => error !== null);
    if (!replies || failed) throw failed?.[0] ?? new Error('hsetExpiring: transaction aborted');
  }

  async hdel(key: string, fields: readonly string[]): Promise<void> {
    if (fields.length > 0) await this.client.hdel(key, ...fields);
  }

  async del(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.client.del(...keys);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.client.exists(key)) === 1;
  }

  async sadd(key: string, members: readonly string[]): Promise<number> {
    return members.length > 0 ? this.client.sadd(key, ...members) : 0;
  }

  async srem(key: string, members: readonly string[]): Promise<void> {
    if (members.length > 0) await this.client.srem(key, ...members);
  }

  smembers(key: string): Promise<string[]> {
    return this.client.smembers(key);
  }

  async incrWindow(key: string, windowMs: number, by: 1 | -1 = 1): Promise<number> {
    return incrWindowOp.decode(await this.incrWindowScript(incrWindowOp.encode(key, windowMs, by)));
  }

  async raiseCounter(key: string, value: number, ttlMs: number): Promise<number> {
    return raiseCounterOp.decode(await this.raiseCounterScript(raiseCounterOp.encode(key, value, ttlMs)));
  }

  async readCounter(key: string): Promise<number> {
    return Number(await this.client.get(key));
  }

  async claimSet(key: string, claimKey: string): Promise<string[]> {
    return claimSetOp.decode(await this.claimSetScript(claimSetOp.encode(key, claimKey)));
  }

  async returnClaim(key: string, claimKey: string, members: readonly string[]): Promise<void> {
    await this.returnClaimScript(returnClaimOp.encode(key, claimKey, members));
  }

  async transact(tx: HotTransaction): Promise<HotTransactionResult> {
    return transactOp.decode(await this.transactScript(transactOp.encode(tx)));
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  close(): Promise<void> {
    return closeRedis(this.client);
  }
}
