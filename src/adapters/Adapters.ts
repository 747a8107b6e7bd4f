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
}

export async function closeAdapters(adapters: Adapters): Promise<void> {
  await adapters.bus.close();
  await adapters.hot.close();
  await adapters.durable.close();
}
