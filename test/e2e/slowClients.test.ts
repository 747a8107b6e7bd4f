// Clients that stop holding up their end: one whose network vanished without closing (it answers
// no ping), one that stops reading what it is sent. The worker lets neither hold a character
// shown as connected, nor memory without bound; the others play on.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

let server: InProcessServer | undefined;
const clients: GameClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.stop();
  server = undefined;
});

async function player(url: string, baseUrl: string): Promise<{ client: GameClient; id: number }> {
  const { token, id } = await registerPlayer(baseUrl);
  const client = await GameClient.connect(url);
  clients.push(client);
  await client.ok('auth', { token });
  return { client, id };
}

describe('a client whose network vanished', () => {
  it('is dropped once it leaves a ping unanswered, and its character shown disconnected', async () => {
    server = await startInProcessServer({ CINDER_CLIENT_PING_INTERVAL_MS: '100' });
    const watcher = await player(server.wsUrl, server.baseUrl);
    let pingsAnswered = 0;
    watcher.client.socket.on('ping', () => (pingsAnswered += 1));

    // A socket that never answers pings: what the server sees of a peer that is gone.
    const { token, id } = await registerPlayer(server.baseUrl);
    const silent = new WebSocket(server.wsUrl, { autoPong: false });
    await new Promise((resolve) => silent.once('open', resolve));
    silent.send(JSON.stringify({ type: 'auth', seq: 1, data: { token } }));
    const closed = new Promise<number>((resolve) => silent.once('close', resolve));

    await watcher.client.event<{ player: { id: number } }>('player_disconnected', (left) => left.player.id === id);
    expect(await closed).toBe(1006);
    // The watcher, which answers, was pinged as often and stays.
    expect(pingsAnswered).toBeGreaterThanOrEqual(2);
    expect(watcher.client.closed).toBeNull();
    expect(await watcher.client.ok('ping')).toEqual({ pong: true });
  });
});

describe('a client that stops reading', () => {
  it('is dropped once its unread messages pass the limit, and the others play on', async () => {
    server = await startInProcessServer({
      CINDER_MAX_SEND_BUFFER_BYTES: String(64 * 1024),
      CINDER_CLIENT_PING_INTERVAL_MS: '0',
      CINDER_ACTION_BURST: '1000000',
      CINDER_ACTIONS_PER_SECOND: '1000000',
    });
    const talker = await player(server.wsUrl, server.baseUrl);
    const reader = await player(server.wsUrl, server.baseUrl);
    // Its TCP socket stops reading: the operating system's buffers fill, then the worker's.
    (reader.client.socket as unknown as { _socket: Socket })._socket.pause();

    const seen = { gone: false };
    void talker.client
      .event<{ player: { id: number } }>('player_disconnected', (left) => left.player.id === reader.id)
      .then(() => (seen.gone = true), () => undefined);
    // 280 characters of three UTF-8 bytes each: every `say` sends the reader about 900 bytes.
    const line = '灰'.repeat(280);
    let said = 0;
    while (!seen.gone && said < 40_000) {
      await Promise.all(Array.from({ length: 50 }, () => talker.client.ok('say', { text: line })));
      said += 50;
    }
    expect(seen.gone).toBe(true);
    expect(await talker.client.ok('ping')).toEqual({ pong: true });
    expect(talker.client.closed).toBeNull();
    // Its own side, paused, would take ws's 30 s closing timeout to notice.
    reader.client.socket.terminate();
  });
});
