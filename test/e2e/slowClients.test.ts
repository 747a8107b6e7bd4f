// Clients that stop holding up their end: one whose network vanished without closing (it answers
// no ping), one that stops reading what it is sent. The worker lets neither hold a character
// shown as connected, nor memory without bound; the others play on.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient, newPlayerOn } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { serverPerTest } from '../support/inProcessServer.ts';
import { PlayerConnection } from '../../src/gateway/PlayerConnection.ts';

/** A client that authenticates, says so, answers pings (ws does it by itself) and reports a close. */
const HEALTHY_CLIENT = `
import WebSocket from ${JSON.stringify(new URL('../../node_modules/ws/wrapper.mjs', import.meta.url).pathname)};
const [url, token] = process.argv.slice(1);
const socket = new WebSocket(url);
socket.on('open', () => socket.send(JSON.stringify({ type: 'auth', seq: 1, data: { token } })));
socket.on('message', (data) => { if (String(data).includes('"seq":1')) console.log('playing'); });
socket.on('close', (code) => console.log('closed ' + code));
`;

/** Holds this process's event loop, as a long GC pause would. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // stalled on purpose
  }
}

const { start, clients } = serverPerTest();

async function player(url: string, baseUrl: string): Promise<{ client: GameClient; id: number }> {
  const joined = await newPlayerOn({ wsUrl: url, baseUrl });
  clients.push(joined.client);
  return joined;
}

describe('a client whose network vanished', () => {
  it('is dropped once it leaves a ping unanswered, and its character shown disconnected', async () => {
    const server = await start({ CINDER_CLIENT_PING_INTERVAL_MS: '100' });
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

describe('a worker that stalls itself', () => {
  it('drops no healthy client for the pongs it could not read meanwhile', async () => {
    const server = await start({ CINDER_CLIENT_PING_INTERVAL_MS: '200' });
    const { token } = await registerPlayer(server.baseUrl);
    // The client in a process of its own, so that it answers while this one (the server) stalls.
    const client = spawn(process.execPath, ['--input-type=module', '-e', HEALTHY_CLIENT, server.wsUrl, token], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: client.stdout });
    const said: string[] = [];
    lines.on('line', (line) => said.push(line));
    try {
      await until(() => said.includes('playing'), 'the client to authenticate', 10_000);
      let rounds = 0;
      const { probe: original } = Object.getOwnPropertyDescriptors(PlayerConnection.prototype);
      const probe = vi.spyOn(PlayerConnection.prototype, 'probe').mockImplementation(function (this: PlayerConnection, judge: boolean) {
        (original.value as PlayerConnection['probe']).call(this, judge);
        rounds += 1;
        // Right after a ping went out, the worker is held up for longer than an interval.
        if (rounds === 2) {
          setImmediate(() => {
            busyFor(350);
          });
        }
      });
      await until(() => rounds >= 6 || said.some((line) => line.startsWith('closed')), 'six liveness rounds', 10_000);
      probe.mockRestore();
      expect(said).toEqual(['playing']);
    } finally {
      client.kill();
    }
  });
});

describe('a client that stops reading', () => {
  it('is dropped once its unread messages pass the limit, and the others play on', async () => {
    const server = await start({
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
