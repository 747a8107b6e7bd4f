// The behaviour every HotStore adapter must share (DESIGN.md §4): Redis semantics for hashes,
// sets and counters, the claim/return pair the dirty sync relies on, and all-or-nothing
// transactions. test/contract/hotStore.test.ts runs it against the memory store and Redis.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HotStore } from '../../src/adapters/hot/HotStore.ts';
import type { HotTransaction } from '../../src/adapters/hot/transaction.ts';

export interface HotStoreFixture {
  store: HotStore;
  /** Moves the store's clock forward by at least `ms` (a Redis fixture waits on the server's clock). */
  advance(ms: number): Promise<void>;
  /**
   * `count` stores over the same data, as separate workers would hold (one memory store is shared
   * by everyone in its process). The fixture closes them after the test.
   */
  peers(count: number): Promise<HotStore[]>;
  close(): Promise<void>;
}

/** Long enough that "still open" survives a slow round trip on a busy machine with real time. */
const WINDOW_MS = 1000;

const WRONGTYPE = /WRONGTYPE/;

let suiteRuns = 0;

export function hotStoreContract(name: string, makeFixture: () => HotStoreFixture | Promise<HotStoreFixture>): void {
  describe(`HotStore contract: ${name}`, () => {
    let fixture: HotStoreFixture;
    let store: HotStore;
    let advance: (ms: number) => Promise<void>;
    let prefix: string;

    /** A key of this test only; the shared hash tag keeps one test's keys on one Redis Cluster slot. */
    const k = (key: string) => `${prefix}:${key}`;

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
      advance = (ms) => fixture.advance(ms);
      suiteRuns += 1;
      prefix = `contract:{t${String(process.pid)}-${String(suiteRuns)}-${String(Date.now())}}`;
    });

    afterEach(async () => {
      await fixture.close();
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
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

    describe('readView', () => {
      const sorted = <T extends { member: string }>(members: T[]) => [...members].sort((a, b) => (a.member < b.member ? -1 : 1));

      it('reads hashes in the order asked, missing ones as empty, with no place or refs unless asked', async () => {
        await store.hset(k('one'), { n: '1' });
        await store.hset(k('three'), { n: '3', where: 'x' });
        expect(await store.readView({ hashes: [k('three'), k('two'), k('one')] })).toEqual({
          hashes: [{ n: '3', where: 'x' }, {}, { n: '1' }],
          place: null,
          refs: new Map(),
        });
      });

      it("follows a field of the first hash to that place's hashes and members, reading only the asked fields", async () => {
        await store.hset(k('me'), { where: 'cave', name: 'Ash' });
        await store.hset(k('ground:cave'), { g1: 'stone' });
        await store.sadd(k('in:cave'), ['1', '2', '3']);
        await store.hset(k('p:1'), { name: 'Ash', online: '1', secret: 's' });
        await store.hset(k('p:2'), { name: 'Birch' });
        await store.sadd(k('in:hill'), ['9']);
        const view = await store.readView({
          hashes: [k('me')],
          place: {
            field: 'where',
            hashes: [{ prefix: k('ground:'), suffix: '' }, { prefix: k('nothing:'), suffix: '' }],
            members: { set: { prefix: k('in:'), suffix: '' }, hash: { prefix: k('p:'), suffix: '' }, fields: ['name', 'online'] },
          },
        });
        expect(view.hashes).toEqual([{ where: 'cave', name: 'Ash' }]);
        expect(view.place?.value).toBe('cave');
        expect(view.place?.hashes).toEqual([{ g1: 'stone' }, {}]);
        expect(sorted(view.place?.members ?? [])).toEqual([
          { member: '1', fields: ['Ash', '1'] },
          { member: '2', fields: ['Birch', null] },
          { member: '3', fields: [null, null] },
        ]);
      });

      it('has no place when the first hash lacks the field, or does not exist', async () => {
        await store.hset(k('me'), { name: 'Ash' });
        const place = { field: 'where', hashes: [{ prefix: k('ground:'), suffix: '' }] };
        expect((await store.readView({ hashes: [k('me')], place })).place).toBeNull();
        expect((await store.readView({ hashes: [k('nobody')], place })).place).toBeNull();
      });

      it('follows a JSON property of the values of the chosen hashes to the hashes it names, once each', async () => {
        await store.hset(k('bag'), {
          '0': JSON.stringify({ item: 'pipe', uid: 'u1' }),
          '1': JSON.stringify({ item: 'bean' }),
          '2': 'not json',
          '3': JSON.stringify({ item: 'odd', uid: 7 }),
          '4': JSON.stringify({ item: 'lost', uid: 'u-missing' }),
          '5': JSON.stringify(['uid', 'u1']),
        });
        await store.hset(k('worn'), { hand: JSON.stringify({ item: 'pipe', uid: 'u1' }), head: JSON.stringify({ item: 'cap', uid: 'u2' }) });
        await store.hset(k('other'), { x: JSON.stringify({ uid: 'u3' }) });
        for (const uid of ['u1', 'u2', 'u3']) await store.hset(k(`unique:${uid}`), { wear: uid });
        const view = await store.readView({
          hashes: [k('bag'), k('other'), k('worn')],
          refs: { from: [0, 2], property: 'uid', hash: { prefix: k('unique:'), suffix: '' } },
        });
        expect(view.refs).toEqual(new Map([['u1', { wear: 'u1' }], ['u2', { wear: 'u2' }]]));
        expect(view.hashes[1]).toEqual({ x: JSON.stringify({ uid: 'u3' }) });
      });

      it('keeps every string exactly: unicode, quotes, backslashes, control characters', async () => {
        const awkward = ['Åsa 🔥', 'say "hi"', 'back\\slash', 'line\nbreak\ttab', '\u0001\u001f', '\u2028', '', '{"json":true}', '123', 'true'];
        const hash = Object.fromEntries(awkward.map((value, i) => [`${value}#${String(i)}`, value]));
        await store.hset(k('me'), { ...hash, where: 'Ω place' });
        await store.hset(k('ground:Ω place'), hash);
        await store.sadd(k('in:Ω place'), ['Åsa 🔥']);
        await store.hset(k('p:Åsa 🔥'), { name: 'say "hi"\n' });
        const view = await store.readView({
          hashes: [k('me')],
          place: {
            field: 'where',
            hashes: [{ prefix: k('ground:'), suffix: '' }],
            members: { set: { prefix: k('in:'), suffix: '' }, hash: { prefix: k('p:'), suffix: '' }, fields: ['name'] },
          },
        });
        expect(view.hashes[0]).toEqual({ ...hash, where: 'Ω place' });
        expect(view.place).toEqual({ value: 'Ω place', hashes: [hash], members: [{ member: 'Åsa 🔥', fields: ['say "hi"\n'] }] });
      });

      it('reads more hashes than one script call takes, in the order asked', async () => {
        const names = Array.from({ length: 1_234 }, (_, i) => k(`many:${String(i)}`));
        for (const [i, name] of names.entries()) if (i % 3 !== 1) await store.hset(name, { i: String(i) });
        const read = await store.hgetallMany(names);
        expect(read).toEqual(names.map((_, i) => (i % 3 === 1 ? {} : { i: String(i) })));
      });

      it('reads groups of hashes, each in one piece, in the order asked, more than one script call takes', async () => {
        const groups = Array.from({ length: 120 }, (_, g) => Array.from({ length: 1 + (g % 3) }, (_, i) => k(`group:${String(g)}:${String(i)}`)));
        for (const [g, group] of groups.entries()) for (const [i, name] of group.entries()) if ((g + i) % 4 !== 0) await store.hset(name, { at: `${String(g)}.${String(i)}` });
        const read = await store.hgetallGroups(groups);
        expect(read).toEqual(groups.map((group, g) => group.map((_, i) => ((g + i) % 4 === 0 ? {} : { at: `${String(g)}.${String(i)}` }))));
        expect(await store.hgetallGroups([])).toEqual([]);
        expect(await store.hgetallGroups([[]])).toEqual([[]]);
      });

      it('refuses to read a set as a hash', async () => {
        await store.sadd(k('s'), ['a']);
        await expect(store.readView({ hashes: [k('s')] })).rejects.toThrow(WRONGTYPE);
      });
    });

    describe('sets', () => {
      it('adds members once each, counting the new ones, and removes them', async () => {
        expect(await store.sadd(k('s'), ['a', 'b', 'a'])).toBe(2);
        expect(await store.sadd(k('s'), ['b', 'c'])).toBe(1);
        expect(await store.sadd(k('s'), ['c'])).toBe(0);
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

    describe('hsetExpiring', () => {
      it('keeps a hash while it is refreshed and lets it expire when it is not', async () => {
        await store.hsetExpiring(k('beat'), { pid: '1' }, WINDOW_MS);
        await advance(WINDOW_MS * 0.6);
        await store.hsetExpiring(k('beat'), { pid: '2' }, WINDOW_MS);
        await advance(WINDOW_MS * 0.6);
        expect(await store.exists(k('beat'))).toBe(true);
        expect(await store.hgetall(k('beat'))).toEqual({ pid: '2' });
        await advance(WINDOW_MS * 0.6);
        expect(await store.exists(k('beat'))).toBe(false);
        expect(await store.hgetall(k('beat'))).toEqual({});
      });

      it('is absent to a transaction once expired, before anything else read it', async () => {
        await store.hsetExpiring(k('beat'), { pid: '1' }, WINDOW_MS);
        await advance(WINDOW_MS * 1.2);
        expect(await store.transact({ expect: [{ key: k('beat'), field: 'pid', value: null }], hset: [{ key: k('after'), field: 'f', value: 'v' }] })).toEqual({ ok: true });
        expect(await store.hgetall(k('after'))).toEqual({ f: 'v' });
      });
    });

    describe('incrWindow', () => {
      it('counts within a window and starts again at 1 once the window is over', async () => {
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(2);
        await advance(WINDOW_MS / 2);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(3);
        await advance(WINDOW_MS / 2);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
      });

      it('is a fixed window: counting does not push its end back', async () => {
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
        await advance(WINDOW_MS * 0.6);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(2);
        await advance(WINDOW_MS * 0.6);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
      });

      it('exists while the window is open and not after', async () => {
        await store.incrWindow(k('rate'), WINDOW_MS);
        expect(await store.exists(k('rate'))).toBe(true);
        await advance(WINDOW_MS);
        expect(await store.exists(k('rate'))).toBe(false);
      });

      it('gives a count back within the window, without moving its end', async () => {
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(2);
        await advance(WINDOW_MS * 0.6);
        expect(await store.incrWindow(k('rate'), WINDOW_MS, -1)).toBe(1);
        await advance(WINDOW_MS * 0.6);
        expect(await store.exists(k('rate'))).toBe(false);
        await expect(store.incrWindow(k('rate'), WINDOW_MS, 2 as 1)).rejects.toThrow(RangeError);
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

      it('reads the count so far without counting, 0 when no window is running', async () => {
        expect(await store.readCounter(k('rate'))).toBe(0);
        expect(await store.exists(k('rate'))).toBe(false);
        await store.incrWindow(k('rate'), WINDOW_MS);
        await store.incrWindow(k('rate'), WINDOW_MS);
        expect(await store.readCounter(k('rate'))).toBe(2);
        expect(await store.readCounter(k('rate'))).toBe(2);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(3);
        await advance(WINDOW_MS);
        expect(await store.readCounter(k('rate'))).toBe(0);
        expect(await store.incrWindow(k('rate'), WINDOW_MS)).toBe(1);
      });

      it('refuses a window that is not a positive whole number of ms, counting nothing', async () => {
        for (const windowMs of [0, -5, 1.5, Number.NaN]) {
          await expect(store.incrWindow(k('rate'), windowMs)).rejects.toThrow(RangeError);
        }
        expect(await store.exists(k('rate'))).toBe(false);
      });
    });

    describe('raiseCounter', () => {
      it('raises a counter, never lowers it, and answers its value', async () => {
        expect(await store.raiseCounter(k('floor'), 2, 60_000)).toBe(2);
        expect(await store.readCounter(k('floor'))).toBe(2);
        // A stale writer (a load that read before the raise) changes nothing.
        expect(await store.raiseCounter(k('floor'), 1, 60_000)).toBe(2);
        expect(await store.raiseCounter(k('floor'), 5, 60_000)).toBe(5);
        expect(await store.readCounter(k('floor'))).toBe(5);
      });

      it('expires after its time, which each call starts again, even one that does not raise it', async () => {
        // Longer than a window: what must still be there is read with 600 ms to spare on a slow machine.
        const ttlMs = 4 * WINDOW_MS;
        await store.raiseCounter(k('floor'), 3, ttlMs);
        await advance(ttlMs / 2);
        expect(await store.raiseCounter(k('floor'), 1, ttlMs)).toBe(3);
        // Past the first expiry, within the second.
        await advance(ttlMs / 2 + 200);
        expect(await store.readCounter(k('floor'))).toBe(3);
        await advance(ttlMs);
        expect(await store.readCounter(k('floor'))).toBe(0);
        expect(await store.exists(k('floor'))).toBe(false);
      });

      it('refuses a value or an expiry that is not a whole number, changing nothing', async () => {
        for (const [value, ttlMs] of [[-1, 1000], [1.5, 1000], [Number.NaN, 1000], [1, 0], [1, 2.5]] as const) {
          await expect(store.raiseCounter(k('floor'), value, ttlMs)).rejects.toThrow(RangeError);
        }
        expect(await store.exists(k('floor'))).toBe(false);
        await store.hset(k('h'), { f: '1' });
        await expect(store.raiseCounter(k('h'), 1, 1000)).rejects.toThrow(WRONGTYPE);
        expect(await store.hgetall(k('h'))).toEqual({ f: '1' });
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
        const claimed = await store.claimSet(k('dirty'), k('dirty:syncing'));
        await store.sadd(k('dirty'), ['2', '9']);
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['2', '9']);
        // The sync succeeded: what it claimed leaves the claim, and the later members are still to be synced.
        await store.srem(k('dirty:syncing'), claimed);
        expect(await store.exists(k('dirty:syncing'))).toBe(false);
        expect((await store.claimSet(k('dirty'), k('dirty:syncing'))).sort()).toEqual(['2', '9']);
      });

      it('returns claimed members to the live set when a sync fails, merged with newer ones', async () => {
        await store.sadd(k('dirty'), ['1', '2']);
        const claimed = await store.claimSet(k('dirty'), k('dirty:syncing'));
        await store.sadd(k('dirty'), ['2', '3']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'), claimed);
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['1', '2', '3']);
        expect(await store.exists(k('dirty:syncing'))).toBe(false);
      });

      it('returns only the failed run\'s members: what an overlapping run claimed stays claimed', async () => {
        await store.sadd(k('dirty'), ['1', '2']);
        const first = await store.claimSet(k('dirty'), k('dirty:syncing'));
        await store.sadd(k('dirty'), ['3']);
        // A second run claims while the first still writes: it takes the first run's members too.
        expect((await store.claimSet(k('dirty'), k('dirty:syncing'))).sort()).toEqual(['1', '2', '3']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'), first);
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['1', '2']);
        expect(await store.smembers(k('dirty:syncing'))).toEqual(['3']);
      });

      it('returns a claim of more members than one Lua unpack() can spread', async () => {
        const many = Array.from({ length: 20_000 }, (_, i) => String(i));
        await store.sadd(k('dirty'), many);
        const claimed = await store.claimSet(k('dirty'), k('dirty:syncing'));
        expect(claimed).toHaveLength(20_000);
        await store.returnClaim(k('dirty'), k('dirty:syncing'), claimed);
        expect(await store.smembers(k('dirty'))).toHaveLength(20_000);
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

      it('returning nothing changes nothing, and members return even when the claim is gone', async () => {
        await store.returnClaim(k('dirty'), k('dirty:syncing'), []);
        expect(await store.exists(k('dirty'))).toBe(false);
        await store.sadd(k('dirty'), ['5']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'), []);
        expect(await store.smembers(k('dirty'))).toEqual(['5']);
        await store.returnClaim(k('dirty'), k('dirty:syncing'), ['6']);
        expect((await store.smembers(k('dirty'))).sort()).toEqual(['5', '6']);
        expect(await store.exists(k('dirty:syncing'))).toBe(false);
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

      it('adds to a hash only while it holds fewer fields than its room allows, naming the room after the expectations', async () => {
        await store.hset(k('ground'), { a: '1', b: '2' });
        await store.hset(k('bag'), { slot: 'x' });
        const drop = (field: string, below: number) =>
          store.transact({
            expect: [{ key: k('bag'), field: 'slot', value: 'x' }],
            room: [{ key: k('other'), below: 1 }, { key: k('ground'), below }],
            hset: [{ key: k('ground'), field, value: 'new' }],
          });
        expect(await drop('c', 3)).toEqual({ ok: true });
        expect(await drop('d', 3)).toEqual({ ok: false, failed: 2 });
        expect(await store.hgetall(k('ground'))).toEqual({ a: '1', b: '2', c: 'new' });
        // The expectations come first, and an absent hash has room for anything.
        await store.hset(k('bag'), { slot: 'y' });
        expect(await drop('d', 3)).toEqual({ ok: false, failed: 0 });
        await expect(drop('d', 0)).rejects.toThrow(RangeError);
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

      it('del removes a window counter too, which then starts again at 1', async () => {
        await store.incrWindow(k('rate'), 60_000);
        await store.incrWindow(k('rate'), 60_000);
        expect(await store.transact({ expect: [], del: [k('rate')] })).toEqual({ ok: true });
        expect(await store.exists(k('rate'))).toBe(false);
        expect(await store.incrWindow(k('rate'), 60_000)).toBe(1);
      });

      it('increments fields, an absent one from 0, after the hset and hdel of the same transaction', async () => {
        await store.hset(k('p'), { version: '41', gone: '10', reset: '99' });
        const result = await store.transact({
          expect: [{ key: k('p'), field: 'version', value: '41' }],
          hset: [{ key: k('p'), field: 'reset', value: '5' }],
          hdel: [{ key: k('p'), field: 'gone' }],
          hincrby: [
            { key: k('p'), field: 'version', by: 1 },
            { key: k('p'), field: 'reset', by: 2 },
            { key: k('p'), field: 'gone', by: 3 },
            { key: k('p'), field: 'new', by: -4 },
            { key: k('p'), field: 'version', by: 10 },
            { key: k('other'), field: 'n', by: 0 },
          ],
        });
        expect(result).toEqual({ ok: true });
        expect(await store.hgetall(k('p'))).toEqual({ version: '52', reset: '7', gone: '3', new: '-4' });
        expect(await store.hgetall(k('other'))).toEqual({ n: '0' });
      });

      it('refuses to increment a field that is not an integer, and writes nothing', async () => {
        for (const bad of ['abc', '1.5', '007', '', '-0', ' 1', '+1', '1e3']) {
          await store.hset(k('p'), { n: bad, kept: 'x' });
          const tx: HotTransaction = {
            expect: [{ key: k('p'), field: 'kept', value: 'x' }],
            hset: [{ key: k('p'), field: 'kept', value: 'changed' }],
            hincrby: [{ key: k('p'), field: 'n', by: 1 }],
            sadd: [{ key: k('s'), member: 'm' }],
          };
          await expect(store.transact(tx), `value ${JSON.stringify(bad)}`).rejects.toThrow('ERR hash value is not an integer');
          expect(await store.hgetall(k('p'))).toEqual({ n: bad, kept: 'x' });
          expect(await store.exists(k('s'))).toBe(false);
        }
      });

      it('refuses an increment beyond the safe integers, or by a non-integer, and writes nothing', async () => {
        await store.hset(k('p'), { top: String(Number.MAX_SAFE_INTEGER), huge: '99999999999999999999' });
        const attempt = (field: string, by: number) =>
          store.transact({ expect: [], hset: [{ key: k('p'), field: 'touched', value: 'yes' }], hincrby: [{ key: k('p'), field, by }] });
        await expect(attempt('top', 1)).rejects.toThrow('ERR increment or decrement would overflow');
        await expect(attempt('huge', -1)).rejects.toThrow('ERR increment or decrement would overflow');
        await expect(attempt('top', 0.5)).rejects.toThrow(RangeError);
        await expect(attempt('top', Number.MAX_SAFE_INTEGER + 2)).rejects.toThrow(RangeError);
        expect(await store.hget(k('p'), 'touched')).toBeNull();
        expect(await attempt('top', -1)).toEqual({ ok: true });
        expect(await store.hget(k('p'), 'top')).toBe(String(Number.MAX_SAFE_INTEGER - 1));
      });

      it('keeps every string exactly, as values, fields and expectations', async () => {
        const odd = ['', 'null', '-1', '0', '1e+15', ' padded ', 'quote " and \\ backslash', 'line\nbreak', 'nul\u0000byte', 'emoji 🔥 ünïcödé', '{"item_id":"pipe","qty":1}', '[]', '{}'];
        const hset = odd.map((value, i) => ({ key: k('h'), field: `${value}#${String(i)}`, value }));
        expect(await store.transact({ expect: odd.map((_, i) => ({ key: k('h'), field: `${odd[i] ?? ''}#${String(i)}`, value: null })), hset })).toEqual({ ok: true });
        expect(await store.hgetall(k('h'))).toEqual(Object.fromEntries(hset.map(({ field, value }) => [field, value])));
        const again = await store.transact({ expect: hset.map(({ key, field, value }) => ({ key, field, value })), hdel: hset.map(({ key, field }) => ({ key, field })) });
        expect(again).toEqual({ ok: true });
        expect(await store.exists(k('h'))).toBe(false);
        await store.sadd(k('s'), odd);
        expect((await store.smembers(k('s'))).sort()).toEqual([...odd].sort());
      });

      it('tells an empty string from an absent field', async () => {
        await store.hset(k('h'), { empty: '' });
        expect(await store.transact({ expect: [{ key: k('h'), field: 'empty', value: null }] })).toEqual({ ok: false, failed: 0 });
        expect(await store.transact({ expect: [{ key: k('h'), field: 'missing', value: '' }] })).toEqual({ ok: false, failed: 0 });
        expect(await store.transact({ expect: [{ key: k('h'), field: 'empty', value: '' }] })).toEqual({ ok: true });
      });

      it('accepts a transaction with nothing in it', async () => {
        expect(await store.transact({ expect: [] })).toEqual({ ok: true });
        expect(await store.transact({ expect: [], hset: [], hdel: [], sadd: [], srem: [], hincrby: [], del: [] })).toEqual({ ok: true });
      });

      it('sets before it deletes: hset then hdel of one field, sadd then srem of one member, leave nothing', async () => {
        const result = await store.transact({
          expect: [{ key: k('h'), field: 'f', value: null }],
          hset: [{ key: k('h'), field: 'f', value: 'v' }],
          hdel: [{ key: k('h'), field: 'f' }],
          sadd: [{ key: k('s'), member: 'm' }],
          srem: [{ key: k('s'), member: 'm' }],
        });
        expect(result).toEqual({ ok: true });
        expect(await store.exists(k('h'))).toBe(false);
        expect(await store.exists(k('s'))).toBe(false);
      });

      it('checks every expectation against the state before any of its changes', async () => {
        await store.hset(k('h'), { a: '1' });
        const tx: HotTransaction = {
          expect: [
            { key: k('h'), field: 'a', value: '1' },
            { key: k('h'), field: 'b', value: null },
          ],
          hset: [{ key: k('h'), field: 'b', value: '2' }],
          hdel: [{ key: k('h'), field: 'a' }],
        };
        expect(await store.transact(tx)).toEqual({ ok: true });
        expect(await store.transact(tx)).toEqual({ ok: false, failed: 0 });
        expect(await store.hgetall(k('h'))).toEqual({ b: '2' });
      });

      it('gives exactly one winner to many workers racing for one ground item, round after round', async () => {
        const workers = await fixture.peers(20);
        const inventories = workers.map((_, i) => k(`inventory-${String(i)}`));
        const inventoryOf = (i: number) => inventories[i] ?? k('nobody');
        for (let round = 0; round < 200; round += 1) {
          const item = `item-${String(round)}`;
          const raw = JSON.stringify({ item_id: 'pipe', qty: 1, round });
          await store.hset(k('ground'), { [item]: raw });
          const results = await Promise.all(
            workers.map((worker, i) =>
              worker.transact({
                expect: [{ key: k('ground'), field: item, value: raw }],
                hdel: [{ key: k('ground'), field: item }],
                hset: [{ key: inventoryOf(i), field: item, value: raw }],
              }),
            ),
          );
          expect(results.filter((result) => result.ok), `round ${String(round)}`).toHaveLength(1);
          expect(results.filter((result) => !result.ok)).toEqual(Array.from({ length: workers.length - 1 }, () => ({ ok: false, failed: 0 })));
          const [ground, ...held] = await store.hgetallMany([k('ground'), ...inventories]);
          expect(ground?.[item]).toBeUndefined();
          expect(held.filter((inventory) => inventory[item] === raw), `round ${String(round)}`).toHaveLength(1);
        }
        const everything = await store.hgetallMany(inventories);
        expect(everything.reduce((total, inventory) => total + Object.keys(inventory).length, 0)).toBe(200);
      });
    });

    describe('kinds of keys', () => {
      it('refuses to use a set, a hash or a counter as another kind, changing nothing', async () => {
        await store.sadd(k('s'), ['m']);
        await store.hset(k('h'), { f: '1' });
        await store.incrWindow(k('c'), 60_000);
        await expect(store.hget(k('s'), 'f')).rejects.toThrow(WRONGTYPE);
        await expect(store.hgetall(k('c'))).rejects.toThrow(WRONGTYPE);
        await expect(store.hgetallMany([k('h'), k('s')])).rejects.toThrow(WRONGTYPE);
        await expect(store.hset(k('s'), { f: '1' })).rejects.toThrow(WRONGTYPE);
        await expect(store.sadd(k('h'), ['m'])).rejects.toThrow(WRONGTYPE);
        await expect(store.smembers(k('c'))).rejects.toThrow(WRONGTYPE);
        await expect(store.incrWindow(k('h'), 1000)).rejects.toThrow(WRONGTYPE);
        await expect(store.readCounter(k('s'))).rejects.toThrow(WRONGTYPE);
        await expect(store.claimSet(k('h'), k('claim'))).rejects.toThrow(WRONGTYPE);
        await expect(store.claimSet(k('s'), k('h'))).rejects.toThrow(WRONGTYPE);
        await expect(store.returnClaim(k('h'), k('s'), ['1'])).rejects.toThrow(WRONGTYPE);
        await expect(store.returnClaim(k('s'), k('h'), [])).rejects.toThrow(WRONGTYPE);
        expect(await store.smembers(k('s'))).toEqual(['m']);
        expect(await store.hgetall(k('h'))).toEqual({ f: '1' });
        expect(await store.exists(k('claim'))).toBe(false);
        expect(await store.incrWindow(k('c'), 60_000)).toBe(2);
      });

      it('refuses a transaction that uses a key as the wrong kind before checking or writing anything', async () => {
        await store.sadd(k('s'), ['m']);
        await store.incrWindow(k('c'), 60_000);
        const writes = { hset: [{ key: k('h'), field: 'f', value: 'v' }], sadd: [{ key: k('other'), member: 'x' }] };
        const wrong: HotTransaction[] = [
          { expect: [{ key: k('h'), field: 'f', value: 'stale' }], ...writes, hdel: [{ key: k('s'), field: 'm' }] },
          { expect: [{ key: k('c'), field: 'f', value: null }], ...writes },
          { expect: [], ...writes, srem: [{ key: k('h'), member: 'x' }] },
          { expect: [], ...writes, hincrby: [{ key: k('s'), field: 'n', by: 1 }] },
        ];
        for (const [i, tx] of wrong.entries()) {
          await expect(store.transact(tx), `transaction ${String(i)}`).rejects.toThrow(WRONGTYPE);
        }
        expect(await store.exists(k('h'))).toBe(false);
        expect(await store.exists(k('other'))).toBe(false);
        expect(await store.smembers(k('s'))).toEqual(['m']);
      });
    });
  });
}
