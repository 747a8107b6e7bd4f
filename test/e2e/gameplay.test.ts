// Searching, moving limits, sessions and lingering: what a player meets beyond the basics.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';
import { keys } from '../../src/adapters/keys.ts';
import { encodeEntry } from '../../src/state/codec.ts';

let server: InProcessServer;
const open: GameClient[] = [];

async function joined(token: string): Promise<{ client: GameClient; view: PlayView }> {
  const client = await GameClient.connect(server.wsUrl);
  open.push(client);
  return { client, view: await client.ok<PlayView>('auth', { token }) };
}

beforeAll(async () => {
  // The game's clock stands still: a cooldown the tests expect cannot run out while a busy machine answers.
  const frozen = Date.now();
  server = await startInProcessServer({ CINDER_DISCONNECT_LINGER_MS: '0', CINDER_CLEANUP_INTERVAL_MS: '0' }, { now: () => frozen });
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((client) => client.close()));
  await server.stop();
});

describe('interactables', () => {
  it('a search rolls loot into the inventory, starts a cooldown, and others see it', async () => {
    const searcher = await joined((await registerPlayer(server.baseUrl)).token);
    const watcher = await joined((await registerPlayer(server.baseUrl)).token);
    const thing = searcher.view.location.interactables[0];
    if (!thing) throw new Error('the start location has no interactable');

    const result = await searcher.client.ok<PlayView & { found: { itemId: string; qty: number }[]; readyInMs: number }>('interact', { interactableId: thing.id });
    expect(result.readyInMs).toBeGreaterThan(0);
    for (const { itemId } of result.found) expect(result.inventory.items.some((item) => item.itemId === itemId)).toBe(true);
    const seen = await watcher.client.event<{ player: { id: number }; interactable: { id: string } }>('player_searched');
    expect(seen.interactable.id).toBe(thing.id);

    const again = await searcher.client.request('interact', { interactableId: thing.id });
    expect(again).toMatchObject({ type: 'error', data: { code: 'E_COOLDOWN' } });
    const look = await searcher.client.ok<PlayView>('look');
    expect(look.location.interactables.find((i) => i.id === thing.id)?.readyInMs).toBeGreaterThan(0);
  });
});

describe('movement limits', () => {
  it('moving costs stamina and a second step too soon is refused', async () => {
    const { client, view } = await joined((await registerPlayer(server.baseUrl)).token);
    const exit = view.location.exits[0];
    if (!exit) throw new Error('no exit');
    const moved = await client.ok<PlayView>('move', { direction: exit.direction });
    expect(moved.self.stamina).toBeLessThan(view.self.stamina);
    const back = moved.location.exits[0];
    expect(await client.request('move', { direction: back?.direction })).toMatchObject({ type: 'error', data: { code: 'E_COOLDOWN' } });
  });
});

describe('sessions', () => {
  it('a second connection for the same character replaces the first', async () => {
    const { token } = await registerPlayer(server.baseUrl);
    const first = await joined(token);
    const second = await joined(token);
    const closed = first.client.whenClosed();
    expect(await first.client.event('session_replaced')).toMatchObject({ code: 'E_SESSION_REPLACED' });
    expect((await closed).code).toBe(4001);
    expect(await second.client.ok('ping')).toEqual({ pong: true });
    const look = await second.client.ok<PlayView>('look');
    expect(look.self.id).toBe(second.view.self.id);
  });

  it('a flood of actions is refused with E_RATE_LIMITED and the connection survives', async () => {
    const limited = await startInProcessServer({ CINDER_ACTION_BURST: '5', CINDER_ACTIONS_PER_SECOND: '1' });
    try {
      const client = await GameClient.connect(limited.wsUrl);
      const replies = await Promise.all(Array.from({ length: 12 }, () => client.request('ping')));
      expect(replies.filter((reply) => reply.type === 'ok').length).toBeLessThanOrEqual(6);
      expect(replies.some((reply) => reply.type === 'error' && reply.data.code === 'E_RATE_LIMITED')).toBe(true);
      expect(client.closed).toBeNull();
      await client.close();
    } finally {
      await limited.stop();
    }
  });
});

describe('disconnecting', () => {
  it('saves at once, lingers as disconnected, and fades when the cleanup job runs', async () => {
    const leaver = await registerPlayer(server.baseUrl);
    const stayer = await joined((await registerPlayer(server.baseUrl)).token);
    const gone = await joined(leaver.token);
    const inventory = await gone.client.ok<PlayView>('inventory');
    await gone.client.ok('drop', { slot: inventory.inventory.items[0]?.slot ?? 0, qty: 1 });
    await gone.client.close();

    const notice = await stayer.client.event<{ player: { id: number; connected: boolean } }>('player_disconnected', (d) => d.player.id === leaver.id);
    expect(notice.player.connected).toBe(false);
    const saved = await server.adapters.durable.loadCharacter(leaver.id);
    const hot = await server.server.ctx.gsm.readPlayer(leaver.id);
    expect(saved?.inventory).toEqual(hot?.inventory);

    expect(await server.server.scheduler.tick(server.server.jobs.cleanup)).toBe(true);
    const faded = await stayer.client.event<{ player: { id: number }; reason: string }>('player_left', (d) => d.player.id === leaver.id);
    expect(faded.reason).toBe('faded');
    const look = await stayer.client.ok<PlayView>('look');
    expect(look.location.players.map((p) => p.id)).not.toContain(leaver.id);

    // Coming back loads the saved state from the durable store.
    const back = await joined(leaver.token);
    const after = await back.client.ok<PlayView>('inventory');
    expect(after.inventory.items.map(({ itemId, qty }) => ({ itemId, qty }))).toEqual(
      [...(saved?.inventory.values() ?? [])].map(({ itemId, qty }) => ({ itemId, qty })),
    );
  });
});

describe('equipping', () => {
  it('refuses to wear one of a stack (left by a content change) and keeps the whole stack', async () => {
    const player = await joined((await registerPlayer(server.baseUrl)).token);
    const pipe = slotOf((await player.client.ok<PlayView>('inventory')).inventory.items, 'rusty-pipe');
    // The pipe slot holds three plain pipes, as if pipes had stacked before a change of the content.
    await server.adapters.hot.transact({
      expect: [],
      hset: [{ key: keys.inventory(player.view.self.id), field: String(pipe.slot), value: encodeEntry({ itemId: 'rusty-pipe', qty: 3 }) }],
    });
    expect(await player.client.request('equip', { slot: pipe.slot })).toMatchObject({ type: 'error', data: { code: 'E_NOT_EQUIPPABLE', message: 'Only one Rusty Pipe can be worn; drop the others first.' } });
    const after = await player.client.ok<PlayView>('inventory');
    expect(slotOf(after.inventory.items, 'rusty-pipe')).toMatchObject({ slot: pipe.slot, qty: 3 });
    expect(after.equipment.mainHand).toBeUndefined();
  });
});

describe('metrics', () => {
  it('counts actions, errors and SQL statements for operators at /metrics', async () => {
    const { client } = await joined((await registerPlayer(server.baseUrl)).token);
    await client.ok('look');
    await client.request('move', { direction: 'nowhere-at-all' });
    const response = await fetch(`${server.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^cinder_actions_total\{[^}]*type="look"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^cinder_errors_total\{[^}]*code="E_INVALID"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^cinder_sql_statements_total\S* [1-9]/m);
  });

  it('counts a frame over the message limit as too_large, and never parses it', async () => {
    const metrics = async () => (await fetch(`${server.baseUrl}/metrics`)).text();
    const tooLarge = (text: string) => Number(/^cinder_actions_total\{type="too_large"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = tooLarge(await metrics());
    const { client } = await joined((await registerPlayer(server.baseUrl)).token);
    // Nested brackets: the costliest thing to parse that fits in a frame.
    const brackets = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(await client.raw(brackets)).toMatchObject({ type: 'error', seq: null, data: { code: 'E_TOO_LARGE' } });
      expect(parse.mock.calls.filter(([text]) => text.length > 16 * 1024)).toEqual([]);
    } finally {
      parse.mockRestore();
    }
    expect(tooLarge(await metrics())).toBe(before + 1);
  });

  it('counts the players saved at once when they disconnect', async () => {
    const metrics = async () => (await fetch(`${server.baseUrl}/metrics`)).text();
    const written = (text: string) => Number(/^cinder_forced_saves_total\{result="written"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = written(await metrics());
    const { client } = await joined((await registerPlayer(server.baseUrl)).token);
    await client.close();
    let text = '';
    await until(async () => written((text = await metrics())) > before, 'a forced save in /metrics');
    expect(text).toMatch(/^cinder_forced_save_duration_seconds_count\{result="written"\} [1-9]/m);
  });
});
