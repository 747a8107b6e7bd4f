// Where a revocation is kept (DESIGN.md §5, immediate writes): the durable store holds each
// account's token generation; the hot store holds it for the connections' checks, for as long as a
// token lives, and gets it back from the durable store when it lost it. A real MemoryHotStore and
// a real in-memory PGlite.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountRecord } from '../../src/adapters/durable/DurableStore.ts';
import { openPglite } from '../../src/adapters/durable/pgliteClient.ts';
import { SqlDurableStore } from '../../src/adapters/durable/SqlDurableStore.ts';
import { MemoryHotStore } from '../../src/adapters/hot/MemoryHotStore.ts';
import { keys } from '../../src/adapters/keys.ts';
import type { Catalog } from '../../src/content/catalog.ts';
import { loadContent } from '../../src/content/loader.ts';
import { GameStateManager } from '../../src/state/GameStateManager.ts';

const CONTENT_DIR = fileURLToPath(new URL('../../content/ashlands', import.meta.url));
const TOKEN_TTL_MS = 24 * 3600 * 1000;

let catalog: Catalog;
let durable: SqlDurableStore;
let now: number;
let names = 0;

beforeAll(async () => {
  catalog = await loadContent(CONTENT_DIR);
  durable = await SqlDurableStore.open(await openPglite(undefined));
});

afterAll(async () => {
  await durable.close();
});

beforeEach(() => {
  now = 1_790_000_000_000;
});

/** A game state manager over a hot store of its own and the shared durable store: one Redis's life. */
function freshHotStore(): GameStateManager {
  return new GameStateManager(new MemoryHotStore(() => now), durable, catalog, () => now, undefined, TOKEN_TTL_MS);
}

async function newAccount(gsm: GameStateManager): Promise<AccountRecord> {
  names += 1;
  const name = `revoked${String(names)}`;
  const { startLocation, maxHp, maxStamina } = catalog.rules;
  return gsm.createAccount(name, 'hash', { name, locationId: startLocation, hp: maxHp, maxHp, stamina: maxStamina, maxStamina, level: 1, xp: 0, vitalsAt: now }, { inventory: [], uniqueItems: [] });
}

const session = (sessionId: string) => ({ workerId: 'w', sessionId });

describe('token revocation', () => {
  it('is kept in the hot store for as long as a token lives, and five minutes more', async () => {
    const gsm = freshHotStore();
    const account = await newAccount(gsm);
    expect(await gsm.tokenFloor(account.characterId)).toBe(0);
    expect(await gsm.changePassword(account, 'hash-2')).toBe(1);
    expect(await gsm.tokenFloor(account.characterId)).toBe(1);
    now += TOKEN_TTL_MS + 5 * 60_000 - 1;
    expect(await gsm.tokenFloor(account.characterId)).toBe(1);
    // Every token older than the change has expired by now.
    now += 1;
    expect(await gsm.tokenFloor(account.characterId)).toBe(0);
  });

  it('comes back from the durable store when the hot store lost it, before the character enters', async () => {
    const account = await newAccount(freshHotStore());
    await freshHotStore().changePassword(account, 'hash-2');

    // A Redis that lost its data: the character is loaded from the durable store, which refuses
    // the older token there and puts the generation back for the checks of later connections.
    const afterLoss = freshHotStore();
    expect(await afterLoss.tokenFloor(account.characterId)).toBe(0);
    await expect(afterLoss.enterWorld(account.characterId, session('old'), 0)).rejects.toMatchObject({ code: 'E_BAD_TOKEN' });
    expect(await afterLoss.readPlayer(account.characterId)).toBeNull();
    expect(await afterLoss.tokenFloor(account.characterId)).toBe(1);

    const again = freshHotStore();
    const { player } = await again.enterWorld(account.characterId, session('new'), 1);
    expect(player.character.id).toBe(account.characterId);
    expect(await again.tokenFloor(account.characterId)).toBe(1);
  });

  it('outlives its own key while the character is in the world, and is never lowered there', async () => {
    const hot = new MemoryHotStore(() => now);
    const gsm = new GameStateManager(hot, durable, catalog, () => now, undefined, TOKEN_TTL_MS);
    const account = await newAccount(gsm);
    await gsm.enterWorld(account.characterId, session('s'), 0);
    expect(await gsm.changePassword(account, 'hash-2')).toBe(1);
    // The key lost (a failover to a replica that missed it, an eviction): the character's hash has it.
    await hot.del([keys.tokenFloor(account.characterId)]);
    expect(await gsm.tokenFloor(account.characterId)).toBe(1);
    // Expired keys too: the character's hash keeps it as long as they are in the world.
    now += TOKEN_TTL_MS;
    expect(await gsm.tokenFloor(account.characterId)).toBe(1);
    expect(await gsm.setBanned(account.username, true)).toMatchObject({ tokenGeneration: 2 });
    await hot.del([keys.tokenFloor(account.characterId)]);
    expect(await gsm.tokenFloor(account.characterId)).toBe(2);
  });

  it('is raised in the background when the hot store refused it after the durable write', async () => {
    const hot = new MemoryHotStore(() => now);
    let refuse = true;
    const raise = hot.raiseCounter.bind(hot);
    hot.raiseCounter = (key, value, ttlMs) => (refuse ? Promise.reject(new Error('Connection is closed.')) : raise(key, value, ttlMs));
    const gsm = new GameStateManager(hot, durable, catalog, () => now, undefined, TOKEN_TTL_MS);
    const account = await newAccount(gsm);
    // The change is made (the durable store has it): the caller goes on and signs the session out.
    expect(await gsm.changePassword(account, 'hash-2')).toBe(1);
    expect((await durable.findAccount(account.username))?.tokenGeneration).toBe(1);
    expect(await gsm.tokenFloor(account.characterId)).toBe(0);
    refuse = false;
    // The first retry comes a second later.
    const giveUp = Date.now() + 10_000;
    while ((await gsm.tokenFloor(account.characterId)) !== 1) {
      if (Date.now() > giveUp) throw new Error('the floor was never raised');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('is raised by a ban and left by lifting it', async () => {
    const gsm = freshHotStore();
    const account = await newAccount(gsm);
    expect(await gsm.changePassword(account, 'hash-2')).toBe(1);
    expect(await gsm.setBanned(account.username, true)).toMatchObject({ banned: true, tokenGeneration: 2 });
    expect(await gsm.tokenFloor(account.characterId)).toBe(2);
    expect(await gsm.setBanned(account.username, false)).toMatchObject({ banned: false, tokenGeneration: 2 });
    expect(await gsm.tokenFloor(account.characterId)).toBe(2);
    expect(await gsm.setBanned('no-such-account', true)).toBeNull();
  });
});
