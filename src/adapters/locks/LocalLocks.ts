// In-process leases for embedded mode, with the same expiry and token rules as the Redis ones.
import { randomUUID } from 'node:crypto';
import type { Lease, Locks } from './Locks.ts';

export class LocalLocks implements Locks {
  private readonly held = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  acquire(name: string, ttlMs: number): Promise<Lease | null> {
    const current = this.held.get(name);
    if (current && current.expiresAt > this.now()) return Promise.resolve(null);
    const token = randomUUID();
    this.held.set(name, { token, expiresAt: this.now() + ttlMs });
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
