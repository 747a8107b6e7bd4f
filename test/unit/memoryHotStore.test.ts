// The in-memory hot store against the HotStore contract, on a clock the tests move by hand.
import { MemoryHotStore } from '../../src/adapters/hot/MemoryHotStore.ts';
import { hotStoreContract } from './hotStoreContract.ts';

hotStoreContract('MemoryHotStore', () => {
  let now = 1_790_000_000_000;
  return {
    store: new MemoryHotStore(() => now),
    advance: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
});
