// The behaviour every HotStore adapter must share (DESIGN.md §4): Redis semantics for hashes,
// sets and counters, the claim/return pair the dirty sync relies on, and all-or-nothing
// transactions. The memory adapter runs it now; a Redis adapter runs the same cases later.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HotStore } from '../../src/adapters/hot/HotStore.ts';

export interface HotStoreFixture {
  store: HotStore;
  /** Moves the store's clock forward by `ms` (a Redis fixture may have to wait that long). */
  advance(ms: number): Promise<void>;
}

let suiteRuns = 0;

export function hotStoreContract(name: string, makeStore: () => HotStoreFixture | Promise<HotStoreFixture>): void {
  describe(`HotStore contract: ${name}`, () => {
    let store: HotStore;
    let advance: (ms: number) => Promise<void>;
    let prefix: string;

    /** A key of this test only; the shared hash tag keeps one test's keys on one Redis Cluster slot. */
    const k = (key: string) => `${prefix}:${key}`;

    beforeEach(async () => {
      const fixture = await makeStore();
      store = fixture.store;
      advance = (ms) => fixture.advance(ms);
      suiteRuns += 1;
      prefix = `contract:{t${String(process.pid)}-${String(suiteRuns)}}`;
    });

    afterEach(async () => {
      await store.close();
    });

    describe('hashes', () => {
      it('reads a missing hash as empty and a missing field as null', async () => {
        expect(await store.hget(k('h'), 'f')).toBeNull();
        expect(await store.hgetall(k('h'))).toEqual({});
        expect(await store.exists(k('h'))).toBe(false);
      });

      it('sets fields, overwriting the given ones and keeping the others', async () => {
        await store.hset(k('h'), { a: '1', b: '2' });
        await store.hset(k('h'), { b: 'two', c: '3' });
        expect(await store.hgetall(k('h'))).toEqual({ a: '1', b: 'two', c: '3' });
        expect(await store.hget(k('h'), 'b')).toBe('two');
        expect(await store.exists(k('h'))).toBe(true);
      });

      it('stores empty strings as values, not as absence', async () => {
        await store.hset(k('h'), { empty: '' });
        expect(await store.hget(k('h'), 'empty')).toBe('');
        expect(await store.exists(k('h'))).toBe(true);
      });

      it('deletes fields, and a hash whose last field is deleted stops existing', async () => {
        await store.hset(k('h'), { a: '1', b: '2' });
        await store.hdel(k('h'), ['a', 'not-there']);
        expect(await store.hgetall(k('h'))).toEqual({ b: '2' });
        await store.hdel(k('h'), ['b']);
        expect(await store.exists(k('h'))).toBe(false);
        expect(await store.hgetall(k('h'))).toEqual({});
        await store.hdel(k('never'), ['x']);
        expect(await store.exists(k('never'))).toBe(false);
      });

      it('reads many hashes in the order asked, missing ones as empty', async () => {
        await store.hset(k('one'), { n: '1' });
        await store.hset(k('three'), { n: '3' });
        expect(await store.hgetallMany([k('three'), k('two'), k('one')])).toEqual([{ n: '3' }, {}, { n: '1' }]);
        expect(await store.hgetallMany([])).toEqual([]);
      });

      it('hands out copies: changing what was read changes nothing stored', async () => {
        await store.hset(k('h'), { a: '1' });
        const read = await store.hgetall(k('h'));
        read.a = 'changed';
        const [many] = await store.hgetallMany([k('h')]);
        if (many) many.b = 'added';
        expect(await store.hgetall(k('h'))).toEqual({ a: '1' });
      });
    });

    describe('sets', () => {
      it('adds members once each and removes them', async () => {
        await store.sadd(k('s'), ['a', 'b', 'a']);
        await store.sadd(k('s'), ['b', 'c']);
        expect((await store.smembers(k('s'))).sort()).toEqual(['a', 'b', 'c']);
        await store.srem(k('s'), ['b', 'not-there']);
        expect((await store.smembers(k('s'))).sort()).toEqual(['a', 'c']);
      });

      it('stops existing when the last member is removed, and reads as empty when missing', async () => {
        await store.sadd(k('s'), ['only']);
        expect(await store.exists(k('s'))).toBe(true);
        await store.srem(k('s'), ['only']);
        expect(await store.exists(k('s'))).toBe(false);
        expect(await store.smembers(k('s'))).toEqual([]);
        await store.srem(k('never'), ['x']);
        expect(await store.exists(k('never'))).toBe(false);
      });

      it('del removes whole hashes and sets, and ignores missing keys', async () => {
        await store.hset(k('h'), { a: '1' });
        await store.sadd(k('s'), ['m']);
        await store.del([k('h'), k('s'), k('missing')]);
        expect(await store.exists(k('h'))).toBe(false);
        expect(await store.exists(k('s'))).toBe(false);
        expect(await store.smembers(k('s'))).toEqual([]);
      });
    });

    describe('incrWindow', () => {
      it('counts within a window and starts again at 1 once the window is over', async () => {
        expect(await store.incrWindow(k('rate'), 1000)).toBe(1);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(2);
        await advance(999);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(3);
        await advance(1);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(1);
      });

      it('is a fixed window: counting does not push its end back', async () => {
        expect(await store.incrWindow(k('rate'), 1000)).toBe(1);
        await advance(600);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(2);
        await advance(600);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(1);
      });

      it('exists while the window is open and not after', async () => {
        await store.incrWindow(k('rate'), 500);
        expect(await store.exists(k('rate'))).toBe(true);
        await advance(500);
        expect(await store.exists(k('rate'))).toBe(false);
      });

      it('keeps separate counters per key', async () => {
        await store.incrWindow(k('a'), 1000);
        await store.incrWindow(k('a'), 1000);
        expect(await store.incrWindow(k('b'), 1000)).toBe(1);
        expect(await store.incrWindow(k('a'), 1000)).toBe(3);
      });

      it('starts again at 1 after del', async () => {
        await store.incrWindow(k('rate'), 1000);
        await store.incrWindow(k('rate'), 1000);
        await store.del([k('rate')]);
        expect(await store.exists(k('rate'))).toBe(false);
        expect(await store.incrWindow(k('rate'), 1000)).toBe(1);
      });
    });

    describe('claimSet and returnClaim', () => {
      it('takes every member and leaves the live set empty', async () => {
        await store.sadd(k('dirty'), ['1', '2', '3']);
        expect((await store.claimSet(k('dirty'), k('dirty:syncing'))).sort()).toEqual(['1', '2', '3']);
        expect(await store.smembers(k('dirty'))).toEqual([]);
        expect(await store.exists(k('dirty'))).toBe(false);
      });

      it('keeps members added after the claim in the live set, apart from the claim', async () => {
        await store.sadd(k('dirty'), ['1', '2']);
        await store.claimSet(k('dirty'), k('dirty:syncing'));
        await store.sadd(k('dirty'), ['2', '9']);
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['2', '9']);
        // The sync succeeded: its claim is deleted, and the later members are still to be synced.
        await store.del([k('dirty:syncing')]);
        expect((await store.claimSet(k('dirty'), k('dirty:syncing'))).sort()).toEqual(['2', '9']);
      });

      it('returns claimed members to the live set when a sync fails, merged with newer ones', async () => {
        await store.sadd(k('dirty'), ['1', '2']);
        await store.claimSet(k('dirty'), k('dirty:syncing'));
        await store.sadd(k('dirty'), ['2', '3']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'));
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['1', '2', '3']);
        expect(await store.exists(k('dirty:syncing'))).toBe(false);
      });

      it('includes a claim left behind by a run that crashed in the next claim', async () => {
        await store.sadd(k('dirty'), ['1', '2']);
        await store.claimSet(k('dirty'), k('dirty:syncing'));
        // The run dies here: neither del nor returnClaim. Later changes mark others dirty.
        await store.sadd(k('dirty'), ['3']);
        expect((await store.claimSet(k('dirty'), k('dirty:syncing'))).sort()).toEqual(['1', '2', '3']);
        expect(await store.exists(k('dirty'))).toBe(false);
      });

      it('claims nothing from an empty set and creates no keys', async () => {
        expect(await store.claimSet(k('dirty'), k('dirty:syncing'))).toEqual([]);
        expect(await store.exists(k('dirty'))).toBe(false);
        expect(await store.exists(k('dirty:syncing'))).toBe(false);
      });

      it('returning a claim that does not exist changes nothing', async () => {
        await store.returnClaim(k('dirty'), k('dirty:syncing'));
        expect(await store.exists(k('dirty'))).toBe(false);
        await store.sadd(k('dirty'), ['5']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'));
        expect(await store.smembers(k('dirty'))).toEqual(['5']);
      });
    });

    describe('transact', () => {
      it('applies every change when every expectation holds', async () => {
        await store.hset(k('from'), { slot: 'pipe', other: 'x' });
        await store.sadd(k('old'), ['7']);
        const result = await store.transact({
          expect: [
            { key: k('from'), field: 'slot', value: 'pipe' },
            { key: k('to'), field: 'slot', value: null },
          ],
          hset: [{ key: k('to'), field: 'slot', value: 'pipe' }],
          hdel: [{ key: k('from'), field: 'slot' }],
          sadd: [{ key: k('new'), member: '7' }],
          srem: [{ key: k('old'), member: '7' }],
        });
        expect(result).toEqual({ ok: true });
        expect(await store.hgetall(k('from'))).toEqual({ other: 'x' });
        expect(await store.hgetall(k('to'))).toEqual({ slot: 'pipe' });
        expect(await store.smembers(k('new'))).toEqual(['7']);
        expect(await store.exists(k('old'))).toBe(false);
      });

      it('writes nothing at all when one expectation fails, and names the first that failed', async () => {
        await store.hset(k('a'), { f: '1' });
        await store.hset(k('b'), { f: '2' });
        await store.sadd(k('s'), ['m']);
        const result = await store.transact({
          expect: [
            { key: k('a'), field: 'f', value: '1' },
            { key: k('b'), field: 'f', value: 'stale' },
            { key: k('a'), field: 'missing', value: 'also wrong' },
          ],
          hset: [{ key: k('a'), field: 'f', value: 'changed' }, { key: k('c'), field: 'f', value: 'new' }],
          hdel: [{ key: k('b'), field: 'f' }],
          sadd: [{ key: k('s'), member: 'added' }],
          srem: [{ key: k('s'), member: 'm' }],
          del: [k('a')],
        });
        expect(result).toEqual({ ok: false, failed: 1 });
        expect(await store.hgetall(k('a'))).toEqual({ f: '1' });
        expect(await store.hgetall(k('b'))).toEqual({ f: '2' });
        expect(await store.exists(k('c'))).toBe(false);
        expect(await store.smembers(k('s'))).toEqual(['m']);
      });

      it('treats an expected null as "the field must be absent"', async () => {
        const claim = { expect: [{ key: k('ground'), field: 'item-1', value: null }], hset: [{ key: k('ground'), field: 'item-1', value: 'taken' }] };
        expect(await store.transact(claim)).toEqual({ ok: true });
        // Someone else's identical attempt now finds the field present.
        expect(await store.transact(claim)).toEqual({ ok: false, failed: 0 });
        expect(await store.hget(k('ground'), 'item-1')).toBe('taken');
      });

      it('lets exactly one of two racing transactions on the same guard win', async () => {
        await store.hset(k('ground'), { 'item-1': 'pipe' });
        const take = (player: string) =>
          store.transact({
            expect: [{ key: k('ground'), field: 'item-1', value: 'pipe' }],
            hdel: [{ key: k('ground'), field: 'item-1' }],
            hset: [{ key: k(`inventory-${player}`), field: '0', value: 'pipe' }],
          });
        const results = await Promise.all([take('a'), take('b')]);
        expect(results.filter((result) => result.ok)).toHaveLength(1);
        const holders = await store.hgetallMany([k('inventory-a'), k('inventory-b')]);
        expect(holders.filter((inventory) => inventory['0'] === 'pipe')).toHaveLength(1);
        expect(await store.exists(k('ground'))).toBe(false);
      });

      it('makes a hash or set emptied by the transaction stop existing', async () => {
        await store.hset(k('h'), { only: '1' });
        await store.sadd(k('s'), ['only']);
        const result = await store.transact({
          expect: [],
          hdel: [{ key: k('h'), field: 'only' }],
          srem: [{ key: k('s'), member: 'only' }],
        });
        expect(result).toEqual({ ok: true });
        expect(await store.exists(k('h'))).toBe(false);
        expect(await store.exists(k('s'))).toBe(false);
      });

      it('del removes whole keys, after the other changes of the same transaction', async () => {
        await store.hset(k('player'), { name: 'Wren', hp: '10' });
        await store.sadd(k('members'), ['1', '2']);
        const result = await store.transact({
          expect: [{ key: k('player'), field: 'name', value: 'Wren' }],
          hset: [{ key: k('player'), field: 'hp', value: '11' }, { key: k('kept'), field: 'f', value: 'v' }],
          sadd: [{ key: k('members'), member: '3' }],
          del: [k('player'), k('members'), k('missing')],
        });
        expect(result).toEqual({ ok: true });
        expect(await store.exists(k('player'))).toBe(false);
        expect(await store.hgetall(k('player'))).toEqual({});
        expect(await store.exists(k('members'))).toBe(false);
        expect(await store.hgetall(k('kept'))).toEqual({ f: 'v' });
      });
    });
  });
}
