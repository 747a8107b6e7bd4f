// A password change and a ban end what the old credentials opened: the open session is signed
// out (close 4004), every token issued before is refused, and the character is kept as it was.
import { describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { useOperatorServer } from '../support/operatorServer.ts';
import type { PlayView } from '../support/views.ts';

const ADMIN_TOKEN = 'operator-token-for-sign-out-tests';
const REVOKED = { code: 'E_BAD_TOKEN', message: 'This token was revoked: the password was changed, or the account banned or deleted. Log in again.' };

const world = useOperatorServer(ADMIN_TOKEN);
const { playing, admin } = world;

describe('changing a password', () => {
  it('signs the open session out, refuses the old token and password, and keeps the character', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const watcher = await playing((await registerPlayer(world.server().baseUrl)).token);
    const before = await playing(player.token);
    const moved = await before.client.ok<PlayView>('move', { direction: 'north' });
    await watcher.client.ok('move', { direction: 'north' });

    const changed = await post(world.server().baseUrl, '/api/auth/password', { username: player.username, password: player.password, newPassword: 'a-brand-new-secret' });
    expect(changed.status).toBe(200);
    expect(changed.json.character).toEqual({ id: player.id, name: player.username });

    expect(await before.client.event('signed_out')).toEqual({
      code: 'E_SIGNED_OUT',
      message: 'The password of this account was changed; log in with the new one.',
      reason: 'password_changed',
    });
    expect((await before.client.whenClosed()).code).toBe(4004);
    // Left as at any disconnect: others see it.
    await watcher.client.event<{ player: { id: number } }>('player_disconnected', (d) => d.player.id === player.id);

    expect(await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).toMatchObject({ status: 401 });
    expect((await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: 'a-brand-new-secret' })).status).toBe(200);

    // The old token is refused and the socket stays open for a good one.
    const again = await GameClient.connect(world.server().wsUrl);
    world.keep(again);
    expect(await again.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });
    const back = await again.ok<PlayView>('auth', { token: String(changed.json.token) });
    expect(back.location.id).toBe(moved.location.id);
  });

  it('refuses a wrong current password or an unusable new one, and changes nothing', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const session = await playing(player.token);
    const change = (password: string, newPassword: unknown) => post(world.server().baseUrl, '/api/auth/password', { username: player.username, password, newPassword });

    expect(await change('not-the-password', 'another-good-one')).toEqual({ status: 401, json: { error: { code: 'E_BAD_CREDENTIALS', message: 'Wrong username or password.' } } });
    expect(await change(player.password, 'short')).toMatchObject({ status: 400, json: { error: { code: 'E_WEAK_PASSWORD' } } });
    expect(await change(player.password, player.password)).toEqual({
      status: 400,
      json: { error: { code: 'E_WEAK_PASSWORD', message: 'The new password must differ from the current one.' } },
    });
    expect(await change(player.password, 42)).toMatchObject({ status: 400, json: { error: { code: 'E_INVALID' } } });

    // Nothing happened: the session plays on, the token and the password still work.
    await session.client.ok('look');
    expect(session.client.closed).toBeNull();
    expect((await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).status).toBe(200);
    await playing(player.token);
  });

  it('does not let a revoked token unseat the session of the new one', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const changed = await post(world.server().baseUrl, '/api/auth/password', { username: player.username, password: player.password, newPassword: 'the-next-secret' });
    const current = await playing(String(changed.json.token));

    const thief = await GameClient.connect(world.server().wsUrl);
    world.keep(thief);
    expect(await thief.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });
    await current.client.ok('look');
    expect(current.client.events('session_replaced')).toEqual([]);
    expect(current.client.closed).toBeNull();
  });
});

describe('a sign-out heard while authenticating', () => {
  it('fails that auth only: the next auth on the socket, with a token issued since, plays', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const client = await GameClient.connect(world.server().wsUrl);
    world.keep(client);
    // Hold the auth's last read (its view) until the ban has been heard on the character's channel.
    const hot = world.server().adapters.hot;
    const readView = hot.readView.bind(hot);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reading: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (reading = resolve));
    hot.readView = async (view) => {
      hot.readView = readView;
      reading();
      await held;
      return readView(view);
    };
    const auth = client.request('auth', { token: player.token });
    await reached;
    expect((await admin('/api/admin/ban', { username: player.username })).status).toBe(200);
    release();
    expect(await auth).toMatchObject({ type: 'error', data: REVOKED });
    expect(client.closed).toBeNull();

    await admin('/api/admin/unban', { username: player.username });
    const login = await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password });
    await client.ok('auth', { token: String(login.json.token) });
  });
});

describe('banning', () => {
  it('signs the player out, refuses their logins and tokens, and lifting it lets them log in again', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const session = await playing(player.token);

    expect(await admin('/api/admin/ban', { username: player.username.toUpperCase() })).toEqual({
      status: 200,
      json: { ok: true, account: { username: player.username, characterId: player.id, banned: true } },
    });
    expect(await session.client.event('signed_out')).toEqual({ code: 'E_SIGNED_OUT', message: 'This account is banned.', reason: 'banned' });
    expect((await session.client.whenClosed()).code).toBe(4004);

    expect(await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).toEqual({
      status: 401,
      json: { error: { code: 'E_BAD_CREDENTIALS', message: 'This account is banned.' } },
    });
    expect(await post(world.server().baseUrl, '/api/auth/password', { username: player.username, password: player.password, newPassword: 'get-me-back-in' })).toMatchObject({ status: 401 });
    const refused = await GameClient.connect(world.server().wsUrl);
    world.keep(refused);
    expect(await refused.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });

    expect(await admin('/api/admin/unban', { username: player.username })).toMatchObject({ status: 200, json: { account: { banned: false } } });
    const login = await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password });
    expect(login.status).toBe(200);
    // The token from before the ban stays refused; the new one plays.
    expect(await refused.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });
    await refused.ok('auth', { token: String(login.json.token) });
  });

  it('answers an unknown or malformed name clearly', async () => {
    expect(await admin('/api/admin/ban', { username: 'nobody_by_that_name' })).toEqual({ status: 404, json: { error: { code: 'E_NOT_FOUND', message: 'No account has that username.' } } });
    expect(await admin('/api/admin/ban', { username: 'not a name!' })).toMatchObject({ status: 404 });
    expect(await admin('/api/admin/unban', {})).toEqual({ status: 400, json: { error: { code: 'E_INVALID', message: 'Send {"username": string}.' } } });
    const player = await registerPlayer(world.server().baseUrl);
    const response = await fetch(new URL('/api/admin/ban', world.server().baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: player.username }),
    });
    expect(response.status).toBe(401);
    expect((await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).status).toBe(200);
  });
});
