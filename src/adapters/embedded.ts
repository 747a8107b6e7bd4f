// The embedded adapter set (DESIGN.md §2): memory hot store, PGlite in the data directory,
// in-process bus and locks. One process, nothing to install.
import { join } from 'node:path';
import { LocalBus } from './bus/LocalBus.ts';
import { meteredSqlClient } from './durable/meteredSqlClient.ts';
import { SqlDurableStore } from './durable/SqlDurableStore.ts';
import { openPglite } from './durable/pgliteClient.ts';
import { MemoryHotStore } from './hot/MemoryHotStore.ts';
import { LocalLocks } from './locks/LocalLocks.ts';
import type { Adapters } from './Adapters.ts';
import { lockDataDir } from './dataDirLock.ts';

/** `dataDir` undefined keeps PGlite in memory (tests); otherwise its files live in dataDir/pglite. */
export async function openEmbeddedAdapters(dataDir: string | undefined): Promise<Adapters> {
  const release = dataDir === undefined ? undefined : await lockDataDir(dataDir);
  const client = meteredSqlClient(await openPglite(dataDir === undefined ? undefined : join(dataDir, 'pglite')));
  return {
    ...(release ? { release } : {}),
    hot: new MemoryHotStore(),
    durable: await SqlDurableStore.open(client),
    bus: new LocalBus(),
    locks: new LocalLocks(),
    sharedHotStore: false,
    // In-process stores fail only with the process itself.
    failureOf: () => null,
  };
}
