// What only the memory store can show: window edges to the millisecond on a clock the test moves
// by hand. The behaviour it shares with Redis is in test/contract/hotStore.test.ts.
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
});
