// The four swappable parts behind the GameStateManager and the gateway.
import type { Bus } from './bus/Bus.ts';
import type { DurableStore } from './durable/DurableStore.ts';
import type { HotStore } from './hot/HotStore.ts';
import type { Locks } from './locks/Locks.ts';

export interface Adapters {
  hot: HotStore;
  durable: DurableStore;
  bus: Bus;
  locks: Locks;
  /** True when the hot store outlives this process (Redis): what a shutdown cannot sync is not lost. */
  sharedHotStore: boolean;
  /** Run after every store is closed (e.g. giving the embedded data directory back). */
  release?: () => Promise<void>;
  /** Which store an error says is unreachable (so clients get E_DEGRADED or E_STORAGE_UNAVAILABLE), or null. */
  failureOf: (error: unknown) => StoreFailure;
}

export type StoreFailure = 'hot' | 'durable' | null;

export async function closeAdapters(adapters: Adapters): Promise<void> {
  await adapters.bus.close();
  await adapters.locks.close();
  await adapters.hot.close();
  await adapters.durable.close();
  await adapters.release?.();
}
