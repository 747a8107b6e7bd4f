// The real durable store with a one-shot hook inside the next writeBatch, before the write:
// lets a test pause a sync mid-write (or fail it) and act meanwhile.
import type { BatchWritten, DurableStore, SyncBatch } from '../../src/adapters/durable/DurableStore.ts';

export interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

export function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

export class HookedDurable implements DurableStore {
  beforeWrite: (() => Promise<void>) | null = null;
  writes = 0;

  constructor(private readonly inner: DurableStore) {}

  createAccount(...args: Parameters<DurableStore['createAccount']>) {
    return this.inner.createAccount(...args);
  }

  findAccount(username: string) {
    return this.inner.findAccount(username);
  }

  changePassword(accountId: number, provenHash: string, passwordHash: string) {
    return this.inner.changePassword(accountId, provenHash, passwordHash);
  }

  setBanned(username: string, banned: boolean) {
    return this.inner.setBanned(username, banned);
  }

  deleteAccount(username: string, provenHash: string | null) {
    return this.inner.deleteAccount(username, provenHash);
  }

  deleteUnreferencedUniqueItems(limit: number, after?: string) {
    return this.inner.deleteUnreferencedUniqueItems(limit, after);
  }

  loadCharacter(characterId: number) {
    return this.inner.loadCharacter(characterId);
  }

  loadGround() {
    return this.inner.loadGround();
  }

  sharedSecret(name: string, configured: string | undefined) {
    return this.inner.sharedSecret(name, configured);
  }

  recordOnce(key: string, value: string) {
    return this.inner.recordOnce(key, value);
  }

  async writeBatch(batch: SyncBatch): Promise<BatchWritten> {
    this.writes += 1;
    const hook = this.beforeWrite;
    this.beforeWrite = null;
    if (hook) await hook();
    return this.inner.writeBatch(batch);
  }

  /** Each batch pulled from the source counts as a write and runs the hook first (inside the transaction). */
  writeBatches(batches: AsyncIterable<SyncBatch> | Iterable<SyncBatch>): Promise<BatchWritten> {
    const hooked = async function* (this: HookedDurable): AsyncGenerator<SyncBatch> {
      for await (const batch of batches) {
        this.writes += 1;
        const hook = this.beforeWrite;
        this.beforeWrite = null;
        if (hook) await hook();
        yield batch;
      }
    };
    return this.inner.writeBatches(hooked.call(this));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The next writeBatch waits until released (then fails if asked); `entered` resolves once it waits. */
  pauseNextWrite({ fail = false } = {}): { entered: Promise<void>; release: () => void } {
    const entered = deferred();
    const gate = deferred();
    this.beforeWrite = async () => {
      entered.resolve();
      await gate.promise;
      if (fail) throw new Error('database unreachable');
    };
    return { entered: entered.promise, release: gate.resolve };
  }

  failNextWrite(): void {
    this.beforeWrite = () => Promise.reject(new Error('database unreachable'));
  }
}
