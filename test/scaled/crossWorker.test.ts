// Players on different worker processes see each other: arrivals, departures, chat, items and
// announcements cross workers through Redis pub/sub.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient, type Reply } from '../support/GameClient.ts';
import { connectRedis } from '../../src/adapters/hot/RedisHotStore.ts';
import { adminPost, startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import { slotOf, type PlayView } from '../support/views.ts';

let world: ScaledWorld;
const clients: GameClient[] = [];

async function joinAt(workerIndex: number): Promise<{ client: GameClient; id: number; view: PlayView }> {
  const worker = world.worker(workerIndex);
  const { token, id } = await registerPlayer(worker.baseUrl);
  const client = await GameClient.connect(worker.wsUrl);
  clients.push(client);
  return { client, id, view: await client.ok<PlayView>('auth', { token }) };
}

beforeAll(async () => {
  world = await startScaledWorld({ workers: 2 });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await world.stop();
});

describe('across workers', () => {
  it('the two workers are different processes', async () => {
    const pids = await Promise.all(world.workers.map(async (w) => ((await (await fetch(`${w.baseUrl}/api/health`)).json()) as { pid: number }).pid));
    expect(new Set(pids).size).toBe(2);
  });

  it('arrivals, chat, departures and pickups reach each player present exactly once, on either worker, and no one elsewhere', async () => {
    // Two players on each worker where the action is, and one on each worker a location away.
    const far = [await joinAt(0), await joinAt(1)];
    for (const { client } of far) await client.ok('move', { direction: 'north' });
    const ada = await joinAt(0);
    const cy = await joinAt(0);
    const bo = await joinAt(1);
    const dee = await joinAt(1);
    expect(dee.view.location.players.map((p) => p.id)).toEqual(expect.arrayContaining([ada.id, cy.id, bo.id]));

    await bo.client.ok('say', { text: 'from the second worker' });
    await ada.client.ok('say', { text: 'from the first worker' });
    const inventory = await ada.client.ok<PlayView>('inventory');
    const { dropped } = await ada.client.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(inventory.inventory.items, 'canned-beans').slot, qty: 1 });
    await bo.client.ok('pickup', { groundItemId: dropped.id });
    const moved = await bo.client.ok<PlayView>('move', { direction: 'north' });

    // Each worker publishes its events in order on one connection: once a later announcement of
    // each worker has arrived, any second copy of an earlier event would have arrived too.
    const barriers = ['the first worker is done', 'the second worker is done'];
    for (const [index, text] of barriers.entries()) expect((await adminPost(world.worker(index), '/api/admin/announce', { text })).status).toBe(202);
    const everyone = [...far, ada, cy, bo, dee];
    for (const { client } of everyone) for (const text of barriers) await client.event<{ text: string }>('announcement', (d) => d.text === text);

    type Seen = { player?: { id: number }; from?: { id: number }; item?: { id: string }; to?: { id: string }; text?: string };
    const count = (player: { client: GameClient }, type: string, where: (data: Seen) => boolean) => (player.client.events(type) as Seen[]).filter(where).length;
    const expectations: [string, string, (data: Seen) => boolean, (typeof everyone)[number][]][] = [
      ['dee arrives', 'player_arrived', (d) => d.player?.id === dee.id, [ada, cy, bo]],
      ['bo speaks', 'said', (d) => d.from?.id === bo.id && d.text === 'from the second worker', [ada, cy, dee]],
      ['ada speaks', 'said', (d) => d.from?.id === ada.id && d.text === 'from the first worker', [cy, bo, dee]],
      ['ada drops', 'item_dropped', (d) => d.item?.id === dropped.id, [cy, bo, dee]],
      ['bo picks up', 'item_picked_up', (d) => d.item?.id === dropped.id && d.player?.id === bo.id, [ada, cy, dee]],
      ['bo leaves', 'player_left', (d) => d.player?.id === bo.id && d.to?.id === moved.location.id, [ada, cy, dee]],
    ];
    for (const [what, type, where, present] of expectations) {
      for (const player of present) expect(count(player, type, where), `${what}: ${type} to player ${String(player.id)}`).toBe(1);
      for (const player of far) expect(count(player, type, where), `${what}: ${type} to player ${String(player.id)}, a location away`).toBe(0);
    }
    // Where Bo went, both far players see him arrive, once.
    for (const player of far) expect(count(player, 'player_arrived', (d) => d.player?.id === bo.id), `bo arrives: to player ${String(player.id)}`).toBe(1);
    for (const player of everyone) for (const text of barriers) expect(count(player, 'announcement', (d) => d.text === text)).toBe(1);
  });

  it('of two auths of one character at once, exactly one session survives, on one worker or two', async () => {
    const watcher = await joinAt(0);
    for (let round = 0; round < 6; round++) {
      const { token, id } = await registerPlayer(world.worker(0).baseUrl);
      const first = await GameClient.connect(world.worker(0).wsUrl);
      const second = await GameClient.connect(world.worker(round % 2).wsUrl);
      clients.push(first, second);
      // Both at once; the one replaced may be closed before it is answered.
      const replies = [first, second].map((client) => client.request('auth', { token }).catch(() => null));
      const loserIndex = await Promise.race([first.whenClosed().then(() => 0), second.whenClosed().then(() => 1)]);
      const loser = loserIndex === 0 ? first : second;
      const survivor = loserIndex === 0 ? second : first;
      expect((await loser.whenClosed()).code, `round ${String(round)}`).toBe(4001);
      expect(await replies[1 - loserIndex], `round ${String(round)}`).toMatchObject({ type: 'ok' });

      // The survivor plays on and is seen as connected; a round trip through the bus first, so
      // that a late announcement of the loser would have arrived.
      await survivor.ok('say', { text: `round ${String(round)}` });
      await watcher.client.event<{ from: { id: number } }>('said', (said) => said.from.id === id);
      expect(survivor.closed, `round ${String(round)}`).toBeNull();
      const seen = await watcher.client.ok<PlayView>('look');
      expect(seen.location.players.find((player) => player.id === id)?.connected, `round ${String(round)}`).toBe(true);

      // Its leaving is seen too: the character is not left shown as connected with no socket.
      await survivor.close();
      await watcher.client.event<{ player: { id: number } }>('player_disconnected', (left) => left.player.id === id);
    }
  });

  it('an announcement reaches every player on every worker', async () => {
    const listeners = [await joinAt(0), await joinAt(1), await joinAt(1)];
    const response = await adminPost(world.worker(0), '/api/admin/announce', { text: 'The bell rings: raiders at the north gate.' });
    expect(response.status).toBe(202);
    for (const { client } of listeners) {
      expect(await client.event<{ text: string }>('announcement')).toEqual({ text: 'The bell rings: raiders at the north gate.' });
    }
    const refused = await fetch(`${world.worker(1).baseUrl}/api/admin/announce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'no token' }),
    });
    expect(refused.status).toBe(401);
  });

  it('a password change on one worker signs out the session on the other', async () => {
    const { token, id, username, password } = await registerPlayer(world.worker(0).baseUrl);
    const client = await GameClient.connect(world.worker(1).wsUrl);
    clients.push(client);
    await client.ok('auth', { token });
    const changed = await post(world.worker(0).baseUrl, '/api/auth/password', { username, password, newPassword: 'changed-on-worker-0' });
    expect(changed.status).toBe(200);
    expect(await client.event('signed_out')).toMatchObject({ code: 'E_SIGNED_OUT', reason: 'password_changed' });
    expect((await client.whenClosed()).code).toBe(4004);
    // The old token is refused on both workers; the new one plays.
    for (const worker of world.workers) {
      const again = await GameClient.connect(worker.wsUrl);
      clients.push(again);
      expect(await again.request('auth', { token })).toMatchObject({ type: 'error', data: { code: 'E_BAD_TOKEN' } });
    }
    const back = await joinWith(String(changed.json.token), 1);
    expect(back.self.id).toBe(id);
  });

  it('a ban on one worker leaves no session of the player on any worker, even one authenticating at that moment', async () => {
    for (let round = 0; round < 8; round++) {
      const { token, username } = await registerPlayer(world.worker(0).baseUrl);
      const client = await GameClient.connect(world.worker(round % 2).wsUrl);
      clients.push(client);
      // Both at once, from the two workers.
      const [auth, ban] = await Promise.all([client.request('auth', { token }), adminPost(world.worker((round + 1) % 2), '/api/admin/ban', { username })]);
      expect(ban.status, `round ${String(round)}`).toBe(200);
      if (auth.type === 'ok') {
        // Authenticated before the ban: signed out.
        expect((await client.whenClosed()).code, `round ${String(round)}`).toBe(4004);
      } else {
        expect(auth.data, `round ${String(round)}`).toMatchObject({ code: 'E_BAD_TOKEN' });
        expect(client.closed, `round ${String(round)}`).toBeNull();
      }
    }
  });

  it('a session whose sign-out or replacement was published while its worker was not listening ends once it listens again', async () => {
    const banned = await registerPlayer(world.worker(0).baseUrl);
    const replaced = await registerPlayer(world.worker(0).baseUrl);
    const bannedSession = await joinWith(banned.token, 1).then(() => clients.at(-1));
    const replacedSession = await joinWith(replaced.token, 1).then(() => clients.at(-1));
    const taker = await GameClient.connect(world.worker(0).wsUrl);
    clients.push(taker);
    const admin = await connectRedis(world.redis.url);
    let taken: Reply;
    try {
      // Every worker's subscriber connection is cut; each reconnects within 50 ms or so, and what
      // is published meanwhile is lost to it.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      const [ban, auth] = await Promise.all([adminPost(world.worker(0), '/api/admin/ban', { username: banned.username }), taker.request('auth', { token: replaced.token })]);
      expect(ban.status).toBe(200);
      taken = auth;
    } finally {
      await admin.quit();
    }
    expect((await bannedSession?.whenClosed())?.code).toBe(4004);
    // The new session took the character (4001 for the old one); or it failed half-way, its own
    // worker not listening yet (E_DEGRADED), and gave the character up: the old one must reconnect (4002).
    if (taken.type === 'ok') expect((await replacedSession?.whenClosed())?.code).toBe(4001);
    else {
      expect(taken.data).toMatchObject({ code: 'E_DEGRADED' });
      expect((await replacedSession?.whenClosed())?.code).toBe(4002);
    }
  });

  it('deleting an account on one worker takes the character out of the world and the stores, even while they act on the other', async () => {
    const watcher = await joinAt(0);
    const redis = await connectRedis(world.redis.url);
    const postgres = new Client({ connectionString: world.databaseUrl });
    await postgres.connect();
    try {
      for (let round = 0; round < 4; round++) {
        const player = await registerPlayer(world.worker(0).baseUrl);
        const client = await GameClient.connect(world.worker(1).wsUrl);
        clients.push(client);
        await client.ok('auth', { token: player.token });
        const bandages = slotOf((await client.ok<PlayView>('inventory')).inventory.items, 'bandage');
        if (round % 2) await client.ok('move', { direction: 'north' });
        // On worker 1 the player drops a bandage and picks it up again, over and over, while
        // worker 0 deletes the account: changes are in flight whenever the removal lands.
        const acting = (async () => {
          while (client.closed === null) {
            const drop = await client.request('drop', { slot: bandages.slot, qty: 1 }).catch(() => null);
            const dropped = drop?.type === 'ok' ? (drop.data as { dropped: { id: string } }).dropped.id : null;
            if (dropped !== null) await client.request('pickup', { groundItemId: dropped }).catch(() => null);
          }
        })();
        const deleted = await post(world.worker(0).baseUrl, '/api/auth/delete', { username: player.username, password: player.password });
        expect(deleted.status, `round ${String(round)}`).toBe(200);
        expect((await client.whenClosed()).code, `round ${String(round)}`).toBe(4004);
        await acting;

        // Nothing of theirs is left in Redis (no change in flight wrote a key back), nor in PostgreSQL.
        const left = await redis.exists(`player:{p:${String(player.id)}}`, `inventory:{p:${String(player.id)}}`, `equipment:{p:${String(player.id)}}`);
        expect(left, `round ${String(round)}`).toBe(0);
        for (const set of ['presence:online', 'presence:lingering', 'dirty:position', 'dirty:inventory']) {
          expect(await redis.sismember(set, String(player.id)), `${set}, round ${String(round)}`).toBe(0);
        }
        const rows = await postgres.query('SELECT (SELECT count(*) FROM characters WHERE id = $1)::int AS characters, (SELECT count(*) FROM accounts WHERE lower(username) = lower($2))::int AS accounts', [player.id, player.username]);
        expect(rows.rows[0], `round ${String(round)}`).toEqual({ characters: 0, accounts: 0 });
        if (round % 2 === 0) {
          // Still where the watcher stands: gone from their view.
          const seen = await watcher.client.ok<PlayView>('look');
          expect(seen.location.players.map((p) => p.id), `round ${String(round)}`).not.toContain(player.id);
        }
      }
      // A sync after all that writes cleanly: nothing of theirs is left for it to trip on.
      expect((await adminPost(world.worker(1), '/api/admin/save')).status).toBe(200);
    } finally {
      await redis.quit();
      await postgres.end();
    }
  });
});

async function joinWith(token: string, workerIndex: number): Promise<PlayView> {
  const client = await GameClient.connect(world.worker(workerIndex).wsUrl);
  clients.push(client);
  return client.ok<PlayView>('auth', { token });
}
