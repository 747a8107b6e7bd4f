// An action still under way on a session that lost its character (to a reconnect elsewhere, or
// to a release of its stalled worker) is never made, and that session ends as its notice would
// have ended it.
import { afterEach, expect, it, vi } from 'vitest';
import { keys } from '../../src/adapters/keys.ts';
import { PlayerConnection } from '../../src/gateway/PlayerConnection.ts';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { serverForFile } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';

// No session audit: what ends a session here is the action's own answer. A slow heartbeat: a
// test stands for the release of this worker as if it had gone silent.
const file = serverForFile({ CINDER_SESSION_AUDIT_INTERVAL_MS: '0', CINDER_HEARTBEAT_INTERVAL_MS: '60000', CINDER_WORKER_TIMEOUT_MS: '120000' });
const { clients } = file;

afterEach(() => {
  vi.restoreAllMocks();
});

/** A player's first session, authenticated, with what it saw. */
async function firstSession(): Promise<{ player: { token: string; id: number }; old: GameClient; before: PlayView }> {
  const server = file.server();
  const player = await registerPlayer(server.baseUrl);
  const old = await GameClient.connect(server.wsUrl);
  clients.push(old);
  return { player, old, before: await old.ok<PlayView>('auth', { token: player.token }) };
}

/** A second session for the same player, not yet authenticated. */
async function secondConnection(): Promise<GameClient> {
  const fresh = await GameClient.connect(file.server().wsUrl);
  clients.push(fresh);
  return fresh;
}

/** The next drop (the change itself, after its reads) waits for `meanwhile` first. */
function beforeNextDrop(meanwhile: () => Promise<unknown>): void {
  const gsm = file.server().server.ctx.gsm;
  const dropItem = gsm.dropItem.bind(gsm);
  vi.spyOn(gsm, 'dropItem').mockImplementationOnce(async (...args) => {
    await meanwhile();
    return dropItem(...args);
  });
}

it('never moves a character for a session that lost it while its move was under way', async () => {
  const { player, old, before } = await firstSession();
  const exit = before.location.exits[0];
  if (!exit) throw new Error(`${before.location.id} has no exit`);
  const gsm = file.server().server.ctx.gsm;
  const moveCharacter = gsm.moveCharacter.bind(gsm);
  const fresh = await secondConnection();
  // The old session has planned its move; before it is made, the player reconnects elsewhere.
  vi.spyOn(gsm, 'moveCharacter').mockImplementationOnce(async (...args) => {
    await fresh.ok('auth', { token: player.token });
    return moveCharacter(...args);
  });
  expect(await old.request('move', { direction: exit.direction })).toMatchObject({ type: 'error', data: { code: 'E_SESSION_REPLACED' } });
  expect((await fresh.ok<PlayView>('look')).location.id).toBe(before.location.id);
});

it('never drops an item for a session that lost the character while its drop was under way', async () => {
  const { player, old } = await firstSession();
  const kit = await old.ok<PlayView>('inventory');
  const bandages = slotOf(kit.inventory.items, 'bandage');
  const fresh = await secondConnection();
  beforeNextDrop(() => fresh.ok('auth', { token: player.token }));
  expect(await old.request('drop', { slot: bandages.slot, qty: 1 })).toMatchObject({ type: 'error', data: { code: 'E_SESSION_REPLACED' } });
  const seen = await fresh.ok<PlayView>('inventory');
  expect(slotOf(seen.inventory.items, 'bandage').qty).toBe(bandages.qty);
  expect((await fresh.ok<PlayView>('look')).location.ground.filter((item) => item.itemId === 'bandage')).toEqual([]);
});

/** Resolves once the server has taken in the next frame any connection receives. */
function nextFrameTakenIn(): Promise<void> {
  const prototype = PlayerConnection.prototype as unknown as { receive: (...args: unknown[]) => void };
  const receive = prototype.receive;
  return new Promise((resolve) => {
    vi.spyOn(prototype, 'receive').mockImplementationOnce(function (this: unknown, ...args: unknown[]) {
      receive.apply(this, args);
      resolve();
    });
  });
}

it('answers each action that reaches a replaced session before it closes, then closes it with 4001', async () => {
  const { player, old } = await firstSession();
  const kit = await old.ok<PlayView>('inventory');
  const fresh = await secondConnection();
  let late: Promise<unknown> = Promise.resolve();
  // The old session's drop is under way when the player reconnects; the old client, not yet
  // closed, sends one more action, which the server takes in before the drop ends.
  beforeNextDrop(async () => {
    await fresh.ok('auth', { token: player.token });
    await old.event('session_replaced');
    const takenIn = nextFrameTakenIn();
    late = old.request('look');
    await takenIn;
  });
  expect(await old.request('drop', { slot: slotOf(kit.inventory.items, 'bandage').slot, qty: 1 })).toMatchObject({ type: 'error', data: { code: 'E_SESSION_REPLACED' } });
  expect(await late).toMatchObject({ type: 'error', data: { code: 'E_SESSION_REPLACED' } });
  expect((await old.whenClosed()).code).toBe(4001);
});

it('answers E_SESSION_RELEASED to an action of a session whose character was let go, and closes it with 4002', async () => {
  const { player, old } = await firstSession();
  // Another worker took this one for dead and released the character: it belongs to no session.
  await file.server().adapters.hot.transact({ expect: [], hset: [{ key: keys.player(player.id), field: 'session_id', value: '' }] });
  const kit = await old.ok<PlayView>('inventory');
  expect(await old.request('drop', { slot: slotOf(kit.inventory.items, 'bandage').slot, qty: 1 })).toMatchObject({ type: 'error', data: { code: 'E_SESSION_RELEASED' } });
  expect((await old.whenClosed()).code).toBe(4002);
});

it('never makes an action under way when the worker was taken for dead and let the character go', async () => {
  const { player, old } = await firstSession();
  const kit = await old.ok<PlayView>('inventory');
  const bandages = slotOf(kit.inventory.items, 'bandage');
  const { server } = file.server();
  const gsm = server.ctx.gsm;
  // The worker stalls between reading the player and dropping: its heartbeat key expires, and
  // meanwhile another worker releases the character.
  beforeNextDrop(async () => {
    await file.server().adapters.hot.transact({ expect: [], del: [keys.worker(server.workerId)] });
    expect((await gsm.releaseDeadWorker(server.workerId)).map((released) => released.id)).toContain(player.id);
  });
  expect(await old.request('drop', { slot: bandages.slot, qty: 1 })).toMatchObject({ type: 'error', data: { code: 'E_SESSION_RELEASED' } });
  expect((await old.whenClosed()).code).toBe(4002);
  expect((await gsm.readPlayer(player.id))?.inventory.get(bandages.slot)?.qty).toBe(bandages.qty);
});
