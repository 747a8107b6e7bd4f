// Graceful shutdown ends whatever the clients do (docs/protocol.md "Disconnecting, reconnecting and
// shutdown"): from its first moment no WebSocket is accepted, and at the end every socket still
// open is closed, cut if its client does not answer the close in time, so that the server exits.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { deferred } from '../support/hookedDurable.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

let server: InProcessServer | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
});

/** What an upgrade of `url` gets: the socket opened, or the refusal's status and JSON body. */
async function upgrade(url: string): Promise<'open' | { status: number; body: unknown }> {
  const socket = new WebSocket(url);
  const outcome = await Promise.race([
    once(socket, 'open').then(() => 'open' as const),
    once(socket, 'unexpected-response').then(async ([, response]) => {
      const refusal = response as IncomingMessage;
      let text = '';
      for await (const chunk of refusal) text += String(chunk);
      return { status: refusal.statusCode ?? 0, body: JSON.parse(text) as unknown };
    }),
  ]);
  if (outcome === 'open') socket.terminate();
  return outcome;
}

/** A client that completes the WebSocket handshake, then never sends a frame, not even a close. */
async function silentClient(wsUrl: string): Promise<Socket> {
  const { hostname, port, pathname } = new URL(wsUrl);
  const socket = connect(Number(port), hostname);
  socket.write(
    `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
  );
  const [head] = (await once(socket, 'data')) as [Buffer];
  expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  return socket;
}

describe('shutdown', () => {
  it('refuses WebSocket upgrades with 503 E_SHUTTING_DOWN from the moment it begins', async () => {
    const s = (server = await startInProcessServer());
    const { token } = await registerPlayer(s.baseUrl);
    const player = await GameClient.connect(s.wsUrl);
    await player.ok('auth', { token });
    // The final sync waits until the test lets it go: shutdown is under way meanwhile.
    const gsm = s.server.ctx.gsm;
    const sync = gsm.syncDirty.bind(gsm);
    const syncing = deferred();
    const finish = deferred();
    vi.spyOn(gsm, 'syncDirty').mockImplementationOnce(async () => {
      syncing.resolve();
      await finish.promise;
      return sync();
    });

    const stopping = s.stop();
    await syncing.promise;
    expect(await player.whenClosed()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(player.events('server_shutdown')).toHaveLength(1);
    expect(await upgrade(s.wsUrl)).toEqual({ status: 503, body: { error: { code: 'E_SHUTTING_DOWN', message: 'The server is shutting down.' } } });
    // HTTP requests too, in the shape of every other error.
    const health = await fetch(`${s.baseUrl}/api/health`);
    expect({ status: health.status, body: await health.json() }).toEqual({
      status: 503,
      body: { error: { code: 'E_SHUTTING_DOWN', message: 'The server is shutting down; try another or try again shortly.' } },
    });

    finish.resolve();
    await stopping;
    server = undefined;
  });

  it('cuts a socket whose client does not answer the close, and ends', async () => {
    const logs: Record<string, unknown>[] = [];
    const s = (server = await startInProcessServer({ CINDER_SHUTDOWN_CLOSE_TIMEOUT_MS: '200' }, { logs }));
    const polite = await GameClient.connect(s.wsUrl);
    const silent = await silentClient(s.wsUrl);
    const silentClosed = once(silent, 'close');

    await s.stop();
    server = undefined;
    expect((await polite.whenClosed()).code).toBe(1001);
    await silentClosed;
    expect(logs.filter((line) => line.level === 40).map(({ msg, sockets }) => ({ msg, sockets }))).toEqual([
      { msg: 'cut sockets whose clients did not answer the close within CINDER_SHUTDOWN_CLOSE_TIMEOUT_MS', sockets: 1 },
    ]);
  });
});
