// Deleting an account, by its player (password proven) or by an operator: the account, the
// character and what they carry are gone for good, the open session is signed out (close 4004),
// the character leaves the world in front of the players there, and the name is free again.
import { describe, expect, it } from 'vitest';
import { keys } from '../../src/adapters/keys.ts';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { deferred } from '../support/hookedDurable.ts';
import { useOperatorServer } from '../support/operatorServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';

const ADMIN_TOKEN = 'operator-token-for-deletion-tests';
const REVOKED = { code: 'E_BAD_TOKEN', message: 'This token was revoked: the password was changed, or the account banned or deleted. Log in again.' };

const world = useOperatorServer(ADMIN_TOKEN);
const { playing, admin } = world;

type Left = { player: { id: number; name: string }; reason: string };

describe('deleting one\'s own account', () => {
  it('signs the session out, takes the character out of the world and the store, keeps what they dropped, and frees the name', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const watcher = await playing((await registerPlayer(world.server().baseUrl)).token);
    const leaving = await playing(player.token);
    const kit = (await leaving.client.ok<PlayView>('inventory')).inventory.items;
    const pipe = slotOf(kit, 'rusty-pipe');
    const { dropped } = await leaving.client.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(kit, 'bandage').slot, qty: 1 });

    const deleted = await post(world.server().baseUrl, '/api/auth/delete', { username: player.username.toUpperCase(), password: player.password });
    expect(deleted).toEqual({ status: 200, json: { ok: true, deleted: { username: player.username, characterId: player.id } } });

    expect(await leaving.client.event('signed_out')).toEqual({ code: 'E_SIGNED_OUT', message: 'This account was deleted.', reason: 'deleted' });
    expect((await leaving.client.whenClosed()).code).toBe(4004);
    expect(await watcher.client.event<Left>('player_left', (d) => d.player.id === player.id)).toEqual({
      player: { id: player.id, name: player.username },
      reason: 'deleted',
    });
    const look = await watcher.client.ok<PlayView>('look');
    expect(look.location.players.map((p) => p.id)).not.toContain(player.id);
    // What they dropped is the world's: it lies there still, and can be taken.
    expect(look.location.ground.map((g) => g.id)).toContain(dropped.id);
    await watcher.client.ok('pickup', { groundItemId: dropped.id });

    // Nothing of the character is left in the hot store, their unique items included.
    const hot = world.server().adapters.hot;
    for (const key of [keys.player(player.id), keys.inventory(player.id), keys.equipment(player.id), keys.uniqueItem(String(pipe.uniqueItemId))]) {
      expect(await hot.hgetall(key), key).toEqual({});
    }
    for (const set of [keys.presenceOnline(), keys.presenceLingering(), keys.dirty('position'), keys.dirty('inventory')]) {
      expect(await hot.smembers(set), set).not.toContain(String(player.id));
    }
    // Nor in the durable store, even after a save.
    expect((await admin('/api/admin/save', {})).status).toBe(200);
    expect(await world.server().adapters.durable.loadCharacter(player.id)).toBeNull();

    // The password and the token open nothing; the socket stays open for a good token.
    expect(await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).toMatchObject({
      status: 401,
      json: { error: { code: 'E_BAD_CREDENTIALS' } },
    });
    const again = await GameClient.connect(world.server().wsUrl);
    world.keep(again);
    expect(await again.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });

    // The name is free: registering it makes a new character, who starts afresh.
    const reborn = await registerPlayer(world.server().baseUrl, player.username, 'a-second-life');
    expect(reborn.id).not.toBe(player.id);
    await again.ok<PlayView>('auth', { token: reborn.token });
    const freshKit = (await again.ok<PlayView>('inventory')).inventory.items;
    expect(slotOf(freshKit, 'bandage').qty).toBe(slotOf(kit, 'bandage').qty);
    expect(slotOf(freshKit, 'rusty-pipe').uniqueItemId).not.toBe(pipe.uniqueItemId);
  });

  it('refuses a wrong password, a banned account and a malformed body, and deletes nothing', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const session = await playing(player.token);
    const remove = (body: unknown) => post(world.server().baseUrl, '/api/auth/delete', body);

    expect(await remove({ username: player.username, password: 'not-the-password' })).toEqual({
      status: 401,
      json: { error: { code: 'E_BAD_CREDENTIALS', message: 'Wrong username or password.' } },
    });
    expect(await remove({ username: player.username })).toMatchObject({ status: 400, json: { error: { code: 'E_INVALID' } } });
    expect(await remove({ username: 'nobody-by-that-name', password: player.password })).toMatchObject({ status: 401, json: { error: { code: 'E_BAD_CREDENTIALS' } } });
    await session.client.ok('look');
    expect(session.client.closed).toBeNull();

    await admin('/api/admin/ban', { username: player.username });
    expect(await remove({ username: player.username, password: player.password })).toEqual({
      status: 401,
      json: { error: { code: 'E_BAD_CREDENTIALS', message: 'This account is banned.' } },
    });
    await admin('/api/admin/unban', { username: player.username });
    expect((await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).status).toBe(200);
  });
});

describe('a deletion racing a connect', () => {
  it('leaves no character behind when the connect loaded it just before the deletion', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const { client: watcher } = await playing((await registerPlayer(world.server().baseUrl)).token);
    // The connect reads the character from the durable store; its answer is held until the
    // deletion, which finds nothing in the world to remove, is done.
    const durable = world.server().adapters.durable;
    const loadCharacter = durable.loadCharacter.bind(durable);
    const read = deferred();
    const held = deferred();
    durable.loadCharacter = async (id) => {
      durable.loadCharacter = loadCharacter;
      const snapshot = await loadCharacter(id);
      read.resolve();
      await held.promise;
      return snapshot;
    };
    const client = await GameClient.connect(world.server().wsUrl);
    world.keep(client);
    const auth = client.request('auth', { token: player.token });
    await read.promise;
    expect((await admin('/api/admin/delete', { username: player.username })).status).toBe(200);
    held.resolve();
    expect(await auth).toMatchObject({ type: 'error', data: REVOKED });

    await watcher.event<Left>('player_left', (d) => d.player.id === player.id && d.reason === 'deleted');
    expect((await watcher.ok<PlayView>('look')).location.players.map((p) => p.id)).not.toContain(player.id);
    expect(await world.server().adapters.hot.hgetall(keys.player(player.id))).toEqual({});
  });
});

describe('an operator deleting an account', () => {
  it('deletes a banned account, and a disconnected character leaves the world in front of the players there', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const watcher = await playing((await registerPlayer(world.server().baseUrl)).token);
    const gone = await playing(player.token);
    await gone.client.close();
    await watcher.client.event<{ player: { id: number } }>('player_disconnected', (d) => d.player.id === player.id);
    expect((await admin('/api/admin/ban', { username: player.username })).status).toBe(200);

    expect(await admin('/api/admin/delete', { username: player.username })).toEqual({
      status: 200,
      json: { ok: true, deleted: { username: player.username, characterId: player.id } },
    });
    await watcher.client.event<Left>('player_left', (d) => d.player.id === player.id && d.reason === 'deleted');
    expect((await watcher.client.ok<PlayView>('look')).location.players.map((p) => p.id)).not.toContain(player.id);
    expect(await admin('/api/admin/delete', { username: player.username })).toEqual({
      status: 404,
      json: { error: { code: 'E_NOT_FOUND', message: 'No account has that username.' } },
    });
  });

  it('deletes an account whose character never entered the world, and needs the admin token', async () => {
    const player = await registerPlayer(world.server().baseUrl);
    const refused = await fetch(new URL('/api/admin/delete', world.server().baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: player.username }),
    });
    expect(refused.status).toBe(401);
    expect((await post(world.server().baseUrl, '/api/auth/login', { username: player.username, password: player.password })).status).toBe(200);

    expect((await admin('/api/admin/delete', { username: player.username })).status).toBe(200);
    expect(await admin('/api/admin/delete', { username: 42 })).toMatchObject({ status: 400, json: { error: { code: 'E_INVALID' } } });
    const client = await GameClient.connect(world.server().wsUrl);
    world.keep(client);
    expect(await client.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: REVOKED });
  });
});
