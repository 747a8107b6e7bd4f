// Leases that make a background job run on one worker per tick (DESIGN.md §7).

export interface Lease {
  readonly name: string;
  /** Random per acquisition: only the holder of this token may renew or release. */
  readonly token: string;
}

export interface Locks {
  /** The lease, or null when another holder has it and it has not expired. */
  acquire(name: string, ttlMs: number): Promise<Lease | null>;
  /** Extends a lease still held; false when it was lost (expired and taken, or released). */
  renew(lease: Lease, ttlMs: number): Promise<boolean>;
  release(lease: Lease): Promise<void>;
  close(): Promise<void>;
}
