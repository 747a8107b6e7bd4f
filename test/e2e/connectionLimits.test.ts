// What one client may hold of a worker: a flood of sockets from one address, sockets that never
// authenticate or requests that trickle in must not use up the worker's file descriptors, while
// the players behind one NAT still all get in.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient, type RefusedUpgrade } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { serverPerTest } from '../support/inProcessServer.ts';

const { start: started, clients } = serverPerTest();

/** An upgrade from `address`, as the trusted proxy (loopback) forwards it. */
async function attemptFrom(url: string, address: string): Promise<GameClient | RefusedUpgrade> {
  const answer = await GameClient.attempt(url, { 'x-forwarded-for': address });
  if (answer instanceof GameClient) clients.push(answer);
  return answer;
}

async function openFrom(url: string, address: string): Promise<GameClient> {
  const answer = await attemptFrom(url, address);
  if (!(answer instanceof GameClient)) throw new Error(`upgrade refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer;
}

describe('WebSockets per client address', () => {
  it('refuses an address its next socket once it holds the limit, with 429 and an error body, and others still get in', async () => {
    const { wsUrl } = await started({ CINDER_MAX_CONNECTIONS_PER_ADDRESS: '3', CINDER_TRUST_PROXY: 'loopback' });
    const held = [await openFrom(wsUrl, '203.0.113.5'), await openFrom(wsUrl, '203.0.113.5'), await openFrom(wsUrl, '203.0.113.5')];
    expect(await attemptFrom(wsUrl, '203.0.113.5')).toEqual({
      status: 429,
      body: { error: { code: 'E_RATE_LIMITED', message: 'Too many connections from your address (at most 3); close one first.' } },
    });
    // The limit is per client address, as the trusted proxy forwards it: the next player gets in.
    const neighbour = await openFrom(wsUrl, '203.0.113.6');
    expect(await neighbour.ok('ping')).toEqual({ pong: true });
    // The refusal took nothing from the sockets already open.
    for (const client of held) expect(await client.ok('ping')).toEqual({ pong: true });
  });

  it('gives an address its place back whenever one of its sockets closes, however often', async () => {
    const { wsUrl } = await started({ CINDER_MAX_CONNECTIONS_PER_ADDRESS: '2', CINDER_TRUST_PROXY: 'loopback' });
    const kept = await openFrom(wsUrl, '198.51.100.9');
    for (let round = 0; round < 20; round++) {
      // The server hears of a close a moment after the client: the place comes back then.
      let second: GameClient | RefusedUpgrade = { status: 0, body: null };
      await until(async () => (second = await attemptFrom(wsUrl, '198.51.100.9')) instanceof GameClient, `round ${round}: the place the last close freed`, 5_000);
      expect(await attemptFrom(wsUrl, '198.51.100.9')).toMatchObject({ status: 429 });
      if (second instanceof GameClient) await second.close();
    }
    expect(await kept.ok('ping')).toEqual({ pong: true });
  });
});

describe('a WebSocket that does not authenticate', () => {
  it('is closed with 4003 once CINDER_AUTH_TIMEOUT_MS has passed, pinging or not, while players stay', async () => {
    const { wsUrl, baseUrl } = await started({ CINDER_AUTH_TIMEOUT_MS: '1000' });
    const player = await GameClient.connect(wsUrl);
    clients.push(player);
    await player.ok('auth', { token: (await registerPlayer(baseUrl)).token });
    // Opened after the player's socket: closed after the player's own deadline has passed.
    const idle = await GameClient.connect(wsUrl);
    const pinging = await GameClient.connect(wsUrl);
    clients.push(idle, pinging);
    pinging.socket.send(JSON.stringify({ type: 'ping', seq: 1 }));

    expect(await idle.whenClosed()).toEqual({ code: 4003, reason: 'authentication timeout' });
    expect(await pinging.whenClosed()).toEqual({ code: 4003, reason: 'authentication timeout' });
    expect(player.closed).toBeNull();
    expect(await player.ok('look')).toMatchObject({ self: { id: expect.any(Number) as unknown } });
  });

  it('lets an auth under way at the deadline finish: a player plays on, a failed guess is closed', async () => {
    const { wsUrl, baseUrl, server: cinder } = await started({ CINDER_AUTH_TIMEOUT_MS: '1000' });
    const { token } = await registerPlayer(baseUrl);
    // Both auths wait at their first step (the attempt count) until the deadline has passed.
    const { gsm } = cinder.ctx;
    const reserveAttempt = gsm.reserveAttempt.bind(gsm);
    let resume = () => {};
    const held = new Promise<void>((resolve) => (resume = resolve));
    let waiting = 0;
    let bothWaiting = () => {};
    const bothHeld = new Promise<void>((resolve) => (bothWaiting = resolve));
    const hold = vi.spyOn(gsm, 'reserveAttempt').mockImplementation(async (...args) => {
      if (++waiting === 2) bothWaiting();
      await held;
      return reserveAttempt(...args);
    });
    try {
      const entering = await GameClient.connect(wsUrl);
      const guessing = await GameClient.connect(wsUrl);
      clients.push(entering, guessing);
      const entered = entering.request('auth', { token });
      const guessed = guessing.request('auth', { token: 'not.a.token' });
      await bothHeld;
      const later = await GameClient.connect(wsUrl);
      clients.push(later);
      expect(await later.whenClosed()).toMatchObject({ code: 4003 });
      resume();

      expect(await entered).toMatchObject({ type: 'ok' });
      expect(await guessed).toMatchObject({ type: 'error', data: { code: 'E_BAD_TOKEN' } });
      expect(await guessing.whenClosed()).toEqual({ code: 4003, reason: 'authentication timeout' });
      expect(await entering.ok('ping')).toEqual({ pong: true });
      expect(entering.closed).toBeNull();
    } finally {
      hold.mockRestore();
    }
  });
});

describe('an HTTP request that trickles in', () => {
  /** Sends `start`, then one more byte of `drip` every 50 ms, and resolves with all the server answered once it closed. */
  async function trickle(baseUrl: string, start: string, drip: string): Promise<string> {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => {});
    socket.write(start);
    const dripping = setInterval(() => socket.write(drip), 50);
    try {
      await once(socket, 'close');
    } finally {
      clearInterval(dripping);
    }
    return answer;
  }

  it('is cut with 408 once CINDER_REQUEST_TIMEOUT_MS has passed, body or headers, and WebSockets are not', async () => {
    const { baseUrl, wsUrl } = await started({ CINDER_REQUEST_TIMEOUT_MS: '500' });
    const player = await GameClient.connect(wsUrl);
    clients.push(player);
    await player.ok('auth', { token: (await registerPlayer(baseUrl)).token });
    const timedOut = { error: { code: 'E_INVALID', message: 'The request took too long to arrive.' } };

    const body = await trickle(baseUrl, 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"username":"', 'a');
    expect(body.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4))).toEqual(timedOut);
    const headers = await trickle(baseUrl, 'GET /api/health HTTP/1.1\r\nHost: x\r\n', 'X');
    expect(headers.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');

    // The player's socket was opened before both requests, and outlived them.
    expect(await player.ok('ping')).toEqual({ pong: true });
    expect((await fetch(`${baseUrl}/api/health`)).status).toBe(200);
  });
});

describe('TCP connections per peer address', () => {
  /** A raw connection to the server; resolves once it is open. */
  async function open(baseUrl: string): Promise<Socket> {
    const { hostname, port } = new URL(baseUrl);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    await once(socket, 'connect');
    return socket;
  }

  /** Sends `request` (or nothing) and reads what the server answers until it closes or answers. */
  async function answer(socket: Socket, request?: string): Promise<string> {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    if (request !== undefined) socket.write(request);
    await until(() => Promise.resolve(text.includes('\r\n\r\n')), 'an answer', 5_000);
    return text;
  }

  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  it('refuses a peer its next connection once it holds twice the WebSocket limit, idle HTTP ones included', async () => {
    const { baseUrl } = await started({ CINDER_MAX_CONNECTIONS_PER_ADDRESS: '2' });
    const idle = [await open(baseUrl), await open(baseUrl), await open(baseUrl), await open(baseUrl)];
    const refused = await answer(await open(baseUrl));
    expect(refused.split('\r\n')[0]).toBe('HTTP/1.1 429 Too Many Requests');
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'E_RATE_LIMITED', message: 'Too many connections from your address (at most 4); close one first.' },
    });
    // A connection closed gives its place back.
    idle[0]?.destroy();
    await until(async () => (await answer(await open(baseUrl), 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n')).startsWith('HTTP/1.1 200'), 'a place freed', 5_000);
  });

  it('handles nothing a refused connection carries, even sent at once', async () => {
    const { baseUrl } = await started({ CINDER_MAX_CONNECTIONS_PER_ADDRESS: '1' });
    const held = [await open(baseUrl), await open(baseUrl)];
    const name = `refused_${String(process.pid % 10000)}`;
    const body = JSON.stringify({ username: name, password: 'never-registered' });
    // Sent at once, and again later on a connection that keeps its own half open.
    const { hostname, port } = new URL(baseUrl);
    const eager = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    sockets.push(eager);
    eager.on('error', () => undefined);
    eager.resume();
    eager.write(`POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\n\r\n${body}`);
    // The server is done with it: a close (a reset), or its end of the stream.
    await Promise.race([once(eager, 'close'), once(eager, 'end')]);
    for (const socket of held) socket.destroy();
    // The name is still free: the request was never handled.
    await until(async () => (await fetch(`${baseUrl}/api/health`).then((r) => r.status, () => 0)) === 200, 'a place freed', 5_000);
    const registered = await fetch(`${baseUrl}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(registered.status).toBe(201);
  });

  it('does not limit a trusted proxy, whose connections carry everyone', async () => {
    const { baseUrl } = await started({ CINDER_MAX_CONNECTIONS_PER_ADDRESS: '2', CINDER_TRUST_PROXY: 'loopback' });
    for (let count = 0; count < 6; count++) await open(baseUrl);
    expect((await answer(await open(baseUrl), 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n')).split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });
});
