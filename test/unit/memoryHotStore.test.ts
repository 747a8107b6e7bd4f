// What only the memory store can show: window edges to the millisecond, and counters let go once
// their window is over, on a clock the test moves by hand. The behaviour it shares with Redis is in
// test/contract/hotStore.test.ts.
import { describe, expect, it } from 'vitest';
import { MemoryHotStore } from '../../src/adapters/hot/MemoryHotStore.ts';

describe('MemoryHotStore on an injected clock', () => {
  it('closes a window exactly windowMs after its first count', async () => {
    let now = 1_790_000_000_000;
    const store = new MemoryHotStore(() => now);
    expect(await store.incrWindow('rate', 1000)).toBe(1);
    now += 999;
    expect(await store.incrWindow('rate', 1000)).toBe(2);
    expect(await store.exists('rate')).toBe(true);
    now += 1;
    expect(await store.exists('rate')).toBe(false);
    expect(await store.incrWindow('rate', 1000)).toBe(1);
  });

  it('lets go of counters whose window is over, though their keys are never used again', async () => {
    let now = 1_790_000_000_000;
    const store = new MemoryHotStore(() => now);
    // What rate limits leave behind: a key per subject and window, each counted in one window only.
    for (let window = 0; window < 5; window++) {
      for (let subject = 0; subject < 1000; subject++) await store.incrWindow(`login:name:${subject}:${window}`, 60_000);
      now += 60_000;
    }
    await store.incrWindow('login:name:last', 60_000);
    expect(store.size).toBe(1);

    // Counters still running are kept, with their counts.
    await store.incrWindow('login:name:last', 60_000);
    now += 59_999;
    expect(await store.incrWindow('other', 1000)).toBe(1);
    expect(await store.readCounter('login:name:last')).toBe(2);
    expect(store.size).toBe(2);
  });
});
