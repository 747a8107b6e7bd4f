// Leases on Redis (DESIGN.md §7): SET NX PX with a random token to take one; renew and release
// compare the token inside a script, so a holder whose lease expired and was taken by another
// worker can neither extend nor delete the new holder's lease.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { keys } from '../keys.ts';
import { closeRedis, connectRedis, defineScript, type RedisConnectionOptions, type RedisScript } from '../hot/RedisHotStore.ts';
import type { Lease, Locks } from './Locks.ts';

/** KEYS: the lock; ARGV: token, ttl ms. 1 when extended, 0 when the lease is no longer this token's. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS: the lock; ARGV: token. Deletes the lock only while it still holds this token. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class RedisLocks implements Locks {
  private readonly renewScript: RedisScript;
  private readonly releaseScript: RedisScript;

  /** May share the hot store's client; close() is for a client of its own (see connect). */
  constructor(private readonly client: Redis) {
    this.renewScript = defineScript(client, 'cinderLockRenew', RENEW_LUA);
    this.releaseScript = defineScript(client, 'cinderLockRelease', RELEASE_LUA);
  }

  static async connect(url: string, options: RedisConnectionOptions = {}): Promise<RedisLocks> {
    return new RedisLocks(await connectRedis(url, options));
  }

  async acquire(name: string, ttlMs: number): Promise<Lease | null> {
    const token = randomUUID();
    const taken = await this.client.set(keys.lock(name), token, 'PX', ttlMs, 'NX');
    return taken === 'OK' ? { name, token } : null;
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const reply = await this.renewScript({ keys: [keys.lock(lease.name)], argv: [lease.token, String(ttlMs)] });
    return reply === 1;
  }

  async release(lease: Lease): Promise<void> {
    await this.releaseScript({ keys: [keys.lock(lease.name)], argv: [lease.token] });
  }

  close(): Promise<void> {
    return closeRedis(this.client);
  }
}
