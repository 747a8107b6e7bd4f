// In-process leases for embedded mode, with the same expiry and token rules as the Redis ones.
import { randomUUID } from 'node:crypto';
import type { Lease, Locks } from './Locks.ts';

export class LocalLocks implements Locks {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  /** Monotonic by default: leases never leave the process, and a wall clock can step back. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Leases held, expired ones not yet swept included. */
  get size(): number {
    return this.held.size;
  }

  acquire(name: string, ttlMs: number): Promise<Lease | null> {
    // Each job tick claims a lease of its own name (see JobScheduler.tick) that nobody takes
    // again: without a sweep, one entry a tick would stay for the life of the process.
    const now = this.now();
    for (const [held, lease] of this.held) if (lease.expiresAt <= now) this.held.delete(held);
    // Swept above: a lease still held under this name has not expired.
    if (this.held.has(name)) return Promise.resolve(null);
    const token = randomUUID();
    this.held.set(name, { token, expiresAt: now + ttlMs });
    return Promise.resolve({ name, token });
  }

  renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const current = this.held.get(lease.name);
    if (current?.token !== lease.token || current.expiresAt <= this.now()) return Promise.resolve(false);
    current.expiresAt = this.now() + ttlMs;
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  release(lease: Lease): Promise<void> {
    if (this.held.get(lease.name)?.token === lease.token) this.held.delete(lease.name);
    return Promise.resolve();
  }
}
