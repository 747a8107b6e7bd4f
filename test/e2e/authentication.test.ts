// What an `auth` leaves behind when it fails half-way, what a connection hears while one is under
// way, and what a replaced connection answers: see docs/protocol.md "Authentication and sessions".
// Errors whose message is BLIP count as the hot store being unreachable, as a Redis blip would in
// scaled mode (the embedded store never fails by itself).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminPost, post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { deferred } from '../support/hookedDurable.ts';
import { until } from '../support/heldState.ts';
import { holdNextView as holdViewOf } from '../support/holdView.ts';
import { leaves, takes } from '../support/hotTransactions.ts';
import { BLIP, blipsAsHotFailures } from '../support/hotStoreBlip.ts';
import { startInProcessServer, TEST_TOKEN_SECRET, type InProcessServer } from '../support/inProcessServer.ts';
import { TokenIssuer } from '../../src/auth/tokens.ts';
import type { PlayView } from '../support/views.ts';

const ADMIN_TOKEN = 'operator-token-for-authentication-tests';

let server: InProcessServer;
const clients: GameClient[] = [];

beforeAll(async () => {
  server = await startInProcessServer(
    { CINDER_ADMIN_TOKEN: ADMIN_TOKEN },
    { adapt: blipsAsHotFailures },
  );
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

async function connected(): Promise<GameClient> {
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  return client;
}

async function watching(): Promise<GameClient> {
  const watcher = await connected();
  await watcher.ok('auth', { token: (await registerPlayer(server.baseUrl)).token });
  return watcher;
}

function shownConnected(view: PlayView, id: number): boolean | undefined {
  return view.location.players.find((player) => player.id === id)?.connected;
}

describe('a token whose character id now names another character (the store was restored from a backup, or wiped)', () => {
  /** A token signed with the server's secret for `characterId`, as issued to an earlier account of that id. */
  const earlierToken = (characterId: number) =>
    new TokenIssuer(TEST_TOKEN_SECRET, 3600).issue({ characterId, accountId: 999_999, name: 'Earlier_Owner', generation: 0 });

  it('is refused before the character is loaded: nobody sees them enter', async () => {
    const watcher = await watching();
    const owner = await registerPlayer(server.baseUrl);
    const stranger = await connected();
    expect(await stranger.request('auth', { token: await earlierToken(owner.id) })).toMatchObject({
      type: 'error',
      data: { code: 'E_BAD_TOKEN', message: 'This token was issued for a character this server no longer has under that id. Log in again.' },
    });
    expect(shownConnected(await watcher.ok<PlayView>('look'), owner.id)).toBeUndefined();
  });

  it('does not unseat the owner who is playing', async () => {
    const owner = await registerPlayer(server.baseUrl);
    const playing = await connected();
    await playing.ok('auth', { token: owner.token });
    const stranger = await connected();
    expect(await stranger.request('auth', { token: await earlierToken(owner.id) })).toMatchObject({ type: 'error', data: { code: 'E_BAD_TOKEN' } });
    expect(playing.events('session_replaced')).toEqual([]);
    expect((await playing.ok<PlayView>('look')).self.id).toBe(owner.id);
  });
});

describe('an auth that fails half-way', () => {
  it('does not let the late retry of its disconnect end the next auth on the same socket', async () => {
    const watcher = await watching();
    const player = await registerPlayer(server.baseUrl);
    const hot = server.adapters.hot;
    const transact = hot.transact.bind(hot);
    // The auth takes the character, then listening on its channel fails; so does the disconnect
    // that should undo it, which is then retried in the background a second later.
    vi.spyOn(server.adapters.bus, 'subscribe').mockRejectedValueOnce(new Error(BLIP));
    let failedLeave = false;
    const retried = deferred();
    const spy = vi.spyOn(hot, 'transact').mockImplementation(async (tx) => {
      if (leaves(tx) && !failedLeave) {
        failedLeave = true;
        throw new Error(BLIP);
      }
      const result = await transact(tx);
      if (leaves(tx) && failedLeave) retried.resolve();
      return result;
    });
    try {
      const client = await connected();
      expect(await client.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: { code: 'E_DEGRADED' } });
      expect(failedLeave).toBe(true);
      // The client tries again at once, as the docs advise, and plays.
      await client.ok('auth', { token: player.token });
      await retried.promise;
      // The retry was about the failed attempt: the session that plays now is untouched.
      expect(shownConnected(await watcher.ok<PlayView>('look'), player.id)).toBe(true);
      await client.ok('look');
      expect(client.closed).toBeNull();
      expect(watcher.events('player_disconnected')).not.toContainEqual(expect.objectContaining({ player: expect.objectContaining({ id: player.id }) as unknown }));
    } finally {
      spy.mockRestore();
    }
  });

  it('leaves the character shown disconnected when taking it was stored but its answer was lost', async () => {
    const watcher = await watching();
    const player = await registerPlayer(server.baseUrl);
    const hot = server.adapters.hot;
    const transact = hot.transact.bind(hot);
    let lost = false;
    const spy = vi.spyOn(hot, 'transact').mockImplementation(async (tx) => {
      const result = await transact(tx);
      if (takes(tx) && !lost) {
        lost = true;
        throw new Error(BLIP);
      }
      return result;
    });
    try {
      const client = await connected();
      expect(await client.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: { code: 'E_DEGRADED' } });
      expect(shownConnected(await watcher.ok<PlayView>('look'), player.id)).toBe(false);
      await client.ok('auth', { token: player.token });
      expect(shownConnected(await watcher.ok<PlayView>('look'), player.id)).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
  it('sends the failing auth its error, and nothing of the game, while the attempt is given back', async () => {
    const speaker = await watching();
    const player = await registerPlayer(server.baseUrl);
    const hot = server.adapters.hot;
    const incrWindow = hot.incrWindow.bind(hot);
    // The auth joins its location, then a read fails; its count goes back slowly.
    vi.spyOn(server.server.ctx.gsm, 'sessionEpoch').mockRejectedValueOnce(new Error(BLIP));
    const givingBack = deferred();
    const gaveBack = deferred();
    const spy = vi.spyOn(hot, 'incrWindow').mockImplementation(async (key, windowMs, by) => {
      if (by === -1) {
        givingBack.resolve();
        await gaveBack.promise;
      }
      return incrWindow(key, windowMs, by);
    });
    try {
      const client = await connected();
      const failed = client.request('auth', { token: player.token });
      await givingBack.promise;
      await speaker.ok('say', { text: 'not for the one failing' });
      gaveBack.resolve();
      expect(await failed).toMatchObject({ type: 'error', data: { code: 'E_DEGRADED' } });
      // Something the client can wait for, sent after the say: the say would have come first.
      await client.request('look');
      expect(client.events('said')).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});

const holdNextView = () => holdViewOf(server.adapters.hot);

describe('while an auth is under way', () => {

  /** An auth held at its last read while someone in the location speaks; `release` lets it finish. */
  async function authWhileSpoken(text: string) {
    const speaker = await watching();
    const player = await registerPlayer(server.baseUrl);
    const client = await connected();
    const { reached, release } = holdNextView();
    const auth = client.request('auth', { token: player.token });
    await reached;
    await speaker.ok('say', { text });
    return { player, client, auth, release };
  }

  it('what the location says reaches the connection only after the auth reply', async () => {
    const { client, auth, release } = await authWhileSpoken('said during the auth');
    release();
    expect(await auth).toMatchObject({ type: 'ok' });
    await client.event<{ text: string }>('said', (said) => said.text === 'said during the auth');
    const types = client.received.map((message) => message.type);
    expect(types.indexOf('ok')).toBeLessThan(types.indexOf('said'));
  });

  it('keeps the newest 1,000 events heard meanwhile, the oldest dropped', async () => {
    const player = await registerPlayer(server.baseUrl);
    const client = await connected();
    const { reached, release } = holdNextView();
    const auth = client.request('auth', { token: player.token });
    await reached;
    for (let n = 1; n <= 1005; n += 1) {
      expect((await adminPost(server.baseUrl, ADMIN_TOKEN, '/api/admin/announce', { text: `notice ${String(n)}` })).status).toBe(202);
    }
    release();
    expect(await auth).toMatchObject({ type: 'ok' });
    await client.event<{ text: string }>('announcement', (notice) => notice.text === 'notice 1005');
    const heard = client.events('announcement') as { text: string }[];
    expect(heard).toHaveLength(1000);
    expect(heard[0]?.text).toBe('notice 6');
    expect(client.received[0]?.type).toBe('ok');
  });

  it('an auth whose character another connection takes meanwhile is answered E_SESSION_REPLACED, not ok', async () => {
    const player = await registerPlayer(server.baseUrl);
    const first = await connected();
    const { reached, release } = holdNextView();
    const auth = first.request('auth', { token: player.token });
    await reached;
    const second = await connected();
    await second.ok('auth', { token: player.token });
    release();
    expect(await auth).toMatchObject({ type: 'error', data: { code: 'E_SESSION_REPLACED' } });
    expect((await first.whenClosed()).code).toBe(4001);
    expect(await second.ok('ping')).toEqual({ pong: true });
  });

  it('a connection whose auth then fails hears nothing of the game', async () => {
    const { player, client, auth, release } = await authWhileSpoken('not for the banned');
    const ban = await adminPost(server.baseUrl, ADMIN_TOKEN, '/api/admin/ban', { username: player.username });
    expect(ban.status).toBe(200);
    release();
    expect(await auth).toMatchObject({ type: 'error', data: { code: 'E_BAD_TOKEN' } });
    expect(await client.ok('ping')).toEqual({ pong: true });
    expect(client.received.map((message) => message.type)).toEqual(['error', 'ok']);
  });
});

describe('a replaced connection', () => {
  it('answers every action it had queued (E_SESSION_REPLACED once replaced), then closes with 4001', async () => {
    const player = await registerPlayer(server.baseUrl);
    const old = await connected();
    await old.ok('auth', { token: player.token });
    // The first of ten looks is held while another connection takes the character.
    const { reached, release } = holdNextView();
    const looks = Array.from({ length: 10 }, () => old.request('look'));
    await reached;
    const newer = await connected();
    await newer.ok('auth', { token: player.token });
    await old.event('session_replaced');
    // The game goes on while the old connection answers what it had queued (the held look, then
    // E_SESSION_REPLACED): it hears none of it.
    const speaker = await watching();
    await speaker.ok('say', { text: 'after the replacement' });
    await newer.event<{ text: string }>('said', (said) => said.text === 'after the replacement');
    release();
    const replies = await Promise.all(looks);
    expect(replies.slice(1).map((reply) => reply.data)).toEqual(
      Array.from({ length: 9 }, () => ({ code: 'E_SESSION_REPLACED', message: 'This character connected from somewhere else.' })),
    );
    expect((await old.whenClosed()).code).toBe(4001);
    const afterReplaced = old.received.slice(old.received.findIndex((message) => message.type === 'session_replaced') + 1);
    expect(new Set(afterReplaced.map((message) => message.type))).toEqual(new Set(['ok', 'error']));
    await newer.ok('look');
    expect((await post(server.baseUrl, '/api/auth/login', { username: player.username, password: player.password })).status).toBe(200);
  });
});

describe('auths from one address at once', () => {
  it('count only refused tokens: those that succeeded, or were refused for the address meanwhile, leave nothing counted', async () => {
    // Five auths per address per window (five times CINDER_LOGIN_ATTEMPTS).
    const limited = await startInProcessServer({ CINDER_LOGIN_ATTEMPTS: '1' });
    const opened: GameClient[] = [];
    try {
      const player = await registerPlayer(limited.baseUrl);
      // Every auth waits at its first check of the token's standing (before a token proven good
      // gives its count back): five get that far, and three more are refused meanwhile.
      const hot = limited.adapters.hot;
      const readCounter = hot.readCounter.bind(hot);
      const gate = deferred();
      let waiting = 0;
      let refused = 0;
      hot.readCounter = async (key) => {
        waiting += 1;
        await gate.promise;
        return readCounter(key);
      };
      const replies = Array.from({ length: 8 }, async () => {
        const client = await GameClient.connect(limited.wsUrl);
        opened.push(client);
        const reply = await client.request('auth', { token: player.token });
        const code = reply.type === 'ok' ? 'ok' : String(reply.data.code);
        if (code === 'E_RATE_LIMITED') refused += 1;
        return code;
      });
      await until(() => waiting === 5 && refused === 3, 'five auths under way and three refused');
      gate.resolve();
      const burst = await Promise.all(replies);
      hot.readCounter = readCounter;
      expect(burst.filter((code) => code === 'E_RATE_LIMITED')).toHaveLength(3);
      // The five let through each took the character in turn.
      expect(burst.filter((code) => code === 'ok')).toHaveLength(5);

      // None of the eight stayed counted: the address still has its five tries at a token.
      const guesser = await GameClient.connect(limited.wsUrl);
      opened.push(guesser);
      const codes: unknown[] = [];
      for (let attempt = 0; attempt < 6; attempt++) codes.push((await guesser.request('auth', { token: 'guess' })).data.code);
      expect(codes).toEqual([...Array<string>(5).fill('E_BAD_TOKEN'), 'E_RATE_LIMITED']);
    } finally {
      await Promise.all(opened.map((client) => client.close()));
      await limited.stop();
    }
  });
});
