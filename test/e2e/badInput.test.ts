// Every bad input gets a stable error code and a message, and the connection keeps working.
import { once } from 'node:events';
import { connect } from 'node:net';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { post, registerPlayer, uniqueName } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { slotOf, type PlayView } from '../support/views.ts';

let server: InProcessServer;
let client: GameClient;
let token: string;
/** Everything the server logged. */
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startInProcessServer({}, { logs });
  token = (await registerPlayer(server.baseUrl)).token;
  client = await GameClient.connect(server.wsUrl);
}, 60_000);

afterAll(async () => {
  await client.close();
  await server.stop();
});

/** Sends `raw` bytes on a fresh TCP connection and resolves with all the server answered. */
async function rawHttp(raw: string): Promise<string> {
  const { hostname, port } = new URL(server.baseUrl);
  const socket = connect(Number(port), hostname);
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.end(raw);
  await once(socket, 'close');
  return answer;
}

/** The status line and the JSON body of a raw HTTP answer. */
function parsed(answer: string): { statusLine: string; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { statusLine: head.split('\r\n')[0] ?? '', body: JSON.parse(body) as unknown };
}

/** After every refusal the same socket still answers. */
async function stillWorks() {
  expect(await client.ok('ping')).toEqual({ pong: true });
  expect(client.closed).toBeNull();
}

describe('an auth that fails half-way', () => {
  it('leaves the character shown as disconnected, not connected with no socket', async () => {
    const watcher = await GameClient.connect(server.wsUrl);
    await watcher.ok('auth', { token: (await registerPlayer(server.baseUrl)).token });
    const player = await registerPlayer(server.baseUrl);
    // The character is taken for the session, then listening on its channel fails (a bus blip).
    const subscribe = vi.spyOn(server.adapters.bus, 'subscribe').mockRejectedValueOnce(new Error('Connection is closed.'));
    const failing = await GameClient.connect(server.wsUrl);
    try {
      expect(await failing.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: { code: 'E_INTERNAL' } });
      await watcher.event<{ player: { id: number } }>('player_disconnected', (left) => left.player.id === player.id);
      const seen = await watcher.ok<PlayView>('look');
      expect(seen.location.players.find((other) => other.id === player.id)?.connected).toBe(false);
      // The same connection may try again, and then plays.
      expect(await failing.ok<PlayView>('auth', { token: player.token })).toMatchObject({ self: { id: player.id } });
    } finally {
      subscribe.mockRestore();
      await failing.close();
      await watcher.close();
    }
  });
});

describe('bad WebSocket input', () => {
  it('refuses actions before authentication', async () => {
    expect(await client.request('look')).toMatchObject({ type: 'error', data: { code: 'E_UNAUTHENTICATED' } });
    await stillWorks();
  });

  it('refuses a forged token', async () => {
    expect(await client.request('auth', { token: 'not.a.token' })).toMatchObject({ type: 'error', data: { code: 'E_BAD_TOKEN' } });
    await stillWorks();
    await client.ok('auth', { token });
  });

  it('refuses malformed JSON', async () => {
    const reply = await client.raw('{"type": "look", ');
    expect(reply).toMatchObject({ type: 'error', seq: null, data: { code: 'E_BAD_JSON' } });
    expect(typeof reply.data.message).toBe('string');
    await stillWorks();
  });

  it('refuses a text frame that is not UTF-8 without closing the connection', async () => {
    const mark = client.received.length;
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    const reply = await client.waitFor((message) => message.type === 'error', 10_000, mark);
    expect(reply).toMatchObject({ seq: null, data: { code: 'E_BAD_JSON', message: 'The message is not valid UTF-8 text.' } });
    await stillWorks();
  });

  it('refuses an unknown type, echoing the seq', async () => {
    expect(await client.raw(JSON.stringify({ type: 'fly', seq: 77 }), 77)).toMatchObject({ type: 'error', seq: 77, data: { code: 'E_UNKNOWN_TYPE' } });
    await stillWorks();
  });

  it('refuses missing fields and wrong types, naming the field', async () => {
    const missing = await client.request('move', {});
    expect(missing).toMatchObject({ type: 'error', data: { code: 'E_INVALID' } });
    expect(String(missing.data.message)).toContain('direction');
    const wrong = await client.request('drop', { slot: 'first' });
    expect(wrong).toMatchObject({ type: 'error', data: { code: 'E_INVALID' } });
    expect(String(wrong.data.message)).toContain('slot');
    expect(await client.raw(JSON.stringify(['look']))).toMatchObject({ type: 'error', data: { code: 'E_INVALID' } });
    expect(await client.request('say', { text: 42 })).toMatchObject({ type: 'error', data: { code: 'E_INVALID' } });
    await stillWorks();
  });

  it('refuses a 1 MiB frame without dropping the connection', async () => {
    const huge = JSON.stringify({ type: 'say', seq: 5, data: { text: 'a'.repeat(1024 * 1024) } });
    expect(await client.raw(huge)).toMatchObject({ type: 'error', data: { code: 'E_TOO_LARGE' } });
    await stillWorks();
  });

  it('refuses picking up what is not there', async () => {
    expect(await client.request('pickup', { groundItemId: 'no-such-item' })).toMatchObject({ type: 'error', data: { code: 'E_ITEM_GONE' } });
    await stillWorks();
  });

  it('refuses equipping what you do not own or cannot wear', async () => {
    expect(await client.request('equip', { slot: 27 })).toMatchObject({ type: 'error', data: { code: 'E_SLOT_EMPTY' } });
    const inventory = await client.ok<PlayView>('inventory');
    const bandage = slotOf(inventory.inventory.items, 'bandage');
    expect(await client.request('equip', { slot: bandage.slot })).toMatchObject({ type: 'error', data: { code: 'E_NOT_EQUIPPABLE' } });
    expect(await client.request('unequip', { slot: 'head' })).toMatchObject({ type: 'error', data: { code: 'E_NOTHING_EQUIPPED' } });
    expect(await client.request('use', { slot: slotOf(inventory.inventory.items, 'rusty-pipe').slot })).toMatchObject({ type: 'error', data: { code: 'E_NOT_USABLE' } });
    expect(await client.request('drop', { slot: bandage.slot, qty: bandage.qty + 1 })).toMatchObject({ type: 'error', data: { code: 'E_NOT_ENOUGH' } });
    const unchanged = await client.ok<PlayView>('inventory');
    expect(unchanged.inventory).toEqual(inventory.inventory);
    await stillWorks();
  });

  it('refuses walking where there is no exit and searching what is not here', async () => {
    const here = await client.ok<PlayView>('look');
    const blocked = ['north', 'south', 'east', 'west', 'up', 'down'].find((d) => !here.location.exits.some((e) => e.direction === d));
    expect(await client.request('move', { direction: blocked })).toMatchObject({ type: 'error', data: { code: 'E_NO_EXIT' } });
    expect(await client.request('interact', { interactableId: 'nothing-here' })).toMatchObject({ type: 'error', data: { code: 'E_NO_SUCH_THING' } });
    expect(await client.request('auth', { token })).toMatchObject({ type: 'error', data: { code: 'E_ALREADY_AUTHENTICATED' } });
    await stillWorks();
  });
});

describe('a flood of malformed frames', () => {
  it('spends the action budget as a flood of actions does', async () => {
    // A burst of four whose clock stands still, so it never refills: what the budget allows is exact.
    const strict = await startInProcessServer({ CINDER_ACTION_BURST: '4', CINDER_ACTIONS_PER_SECOND: '1' }, { actionClock: () => 0 });
    const junk = await GameClient.connect(strict.wsUrl);
    try {
      const binary = async () => {
        const mark = junk.received.length;
        junk.socket.send(Buffer.from('{"type":"ping"}'), { binary: true });
        return (await junk.waitFor((message) => message.type === 'error', 10_000, mark)).data;
      };
      expect((await junk.raw('not json')).data.code).toBe('E_BAD_JSON');
      expect((await junk.raw(JSON.stringify({ type: 'fly', seq: 7 }), 7)).data.code).toBe('E_UNKNOWN_TYPE');
      expect((await junk.raw(JSON.stringify({ type: 'move', seq: 8, data: {} }), 8)).data.code).toBe('E_INVALID');
      expect((await junk.raw('x'.repeat(20_000))).data.code).toBe('E_TOO_LARGE');
      // The budget is spent: junk and actions alike are refused until it refills, and echo their seq.
      expect(await binary()).toMatchObject({ code: 'E_RATE_LIMITED' });
      expect(await junk.raw(JSON.stringify({ type: 'fly', seq: 9 }), 9)).toMatchObject({ type: 'error', seq: 9, data: { code: 'E_RATE_LIMITED' } });
      expect(await junk.request('ping')).toMatchObject({ type: 'error', data: { code: 'E_RATE_LIMITED' } });
      expect(junk.closed).toBeNull();
    } finally {
      await junk.close();
      await strict.stop();
    }
  });
});

describe('WebSocket upgrades', () => {
  /** The status a handshake is answered with when it is refused. */
  async function refusedStatus(url: string): Promise<number> {
    const socket = new WebSocket(url);
    // With this listener, ending the refused handshake is the caller's job (ws's documented contract).
    const [handshake, response] = (await once(socket, 'unexpected-response')) as [ClientRequest, IncomingMessage];
    handshake.destroy();
    return response.statusCode ?? 0;
  }

  it('accepts /ws with a query string', async () => {
    const other = await GameClient.connect(`${server.wsUrl}?client=test`);
    expect(await other.ok('ping')).toEqual({ pong: true });
    await other.close();
  });

  it('answers 404 to an upgrade of any other path, and to a plain GET of /ws', async () => {
    expect(await refusedStatus(`${server.wsUrl}s`)).toBe(404);
    expect(await refusedStatus(server.wsUrl.replace('/ws', '/api/ws'))).toBe(404);
    expect((await fetch(`${server.baseUrl}/ws`)).status).toBe(404);
    await stillWorks();
  });

  it('answers 400 to a handshake without a key', async () => {
    const request = httpRequest(`${server.baseUrl}/ws`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' } });
    request.end();
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    response.resume();
    expect(response.statusCode).toBe(400);
  });
});

describe('bad REST input', () => {
  it('answers each refusal with a code and a status', async () => {
    expect(await post(server.baseUrl, '/api/auth/register', '{"username": ')).toMatchObject({ status: 400, json: { error: { code: 'E_BAD_JSON' } } });
    expect(await post(server.baseUrl, '/api/auth/register', { username: 'x' })).toMatchObject({ status: 400, json: { error: { code: 'E_INVALID' } } });
    expect(await post(server.baseUrl, '/api/auth/register', { username: 'a b!', password: 'long enough pass' })).toMatchObject({ status: 400, json: { error: { code: 'E_INVALID_USERNAME' } } });
    expect(await post(server.baseUrl, '/api/auth/register', { username: uniqueName(), password: 'short' })).toMatchObject({ status: 400, json: { error: { code: 'E_WEAK_PASSWORD' } } });
    const taken = await registerPlayer(server.baseUrl);
    expect(await post(server.baseUrl, '/api/auth/register', { username: taken.username.toUpperCase(), password: 'another long one' })).toMatchObject({ status: 409, json: { error: { code: 'E_USERNAME_TAKEN' } } });
    expect(await post(server.baseUrl, '/api/auth/login', { username: taken.username, password: 'wrong password' })).toMatchObject({ status: 401, json: { error: { code: 'E_BAD_CREDENTIALS' } } });
    expect(await post(server.baseUrl, '/api/auth/login', { username: 'nobody_here', password: 'wrong password' })).toMatchObject({ status: 401, json: { error: { code: 'E_BAD_CREDENTIALS' } } });
  });

  it('takes a body with a "__proto__" key as valid JSON and ignores the key', async () => {
    const username = uniqueName();
    const body = `{"username":"${username}","password":"cinders-rise","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`;
    expect(await post(server.baseUrl, '/api/auth/register', body)).toMatchObject({ status: 201, json: { character: { name: username } } });
  });

  it('answers a malformed URL or request with the same error body as the routes', async () => {
    const badUrl = await fetch(`${server.baseUrl}/api/%zz`);
    expect(badUrl.status).toBe(400);
    expect(await badUrl.json()).toEqual({ error: { code: 'E_INVALID', message: expect.stringContaining('malformed') as unknown } });

    expect(parsed(await rawHttp('NONSENSE\r\n\r\n'))).toEqual({
      statusLine: 'HTTP/1.1 400 Bad Request',
      body: { error: { code: 'E_INVALID', message: 'The request is not valid HTTP.' } },
    });
    // A Content-Length that does not match: the answer keeps Fastify's status and our body.
    const mismatched = await rawHttp('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n');
    expect(parsed(mismatched)).toMatchObject({ statusLine: expect.stringMatching(/^HTTP\/1\.1 4\d\d /) as unknown, body: { error: { code: 'E_INVALID' } } });
  });

  it('logs an upload the client gave up on as the client\'s doing, not as a server error', async () => {
    const from = logs.length;
    const { hostname, port } = new URL(server.baseUrl);
    const socket = connect(Number(port), hostname);
    // "100 Continue" says the server has the request; then part of the body, and the client leaves.
    socket.write('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
    const [continued] = (await once(socket, 'data')) as [Buffer];
    expect(continued.toString()).toMatch(/^HTTP\/1\.1 100 Continue/);
    socket.write('{"username":"a"');
    socket.destroy();
    const since = () => logs.slice(from);
    await until(() => since().some((line) => line.msg === 'request aborted by the client' || Number(line.level) >= 50), 'the abort to be logged', 5000);
    expect(since().filter((line) => Number(line.level) >= 50)).toEqual([]);
  });

  it('refuses a password that is not valid Unicode, which argon2 would confuse with others', async () => {
    // Each lone UTF-16 half would become U+FFFD in the UTF-8 that is hashed.
    const username = uniqueName();
    expect(await post(server.baseUrl, '/api/auth/register', { username, password: '\ud800'.repeat(8) })).toEqual({
      status: 400,
      json: { error: { code: 'E_WEAK_PASSWORD', message: 'The password is not valid Unicode text.' } },
    });
    // Whole pairs are fine, and only the exact password logs in.
    const player = await registerPlayer(server.baseUrl, username, '\u{1f525}'.repeat(4) + 'ash');
    expect((await post(server.baseUrl, '/api/auth/login', { username, password: player.password })).status).toBe(200);
    for (const password of ['\ufffd'.repeat(4) + 'ash', '\ud83d'.repeat(4) + 'ash']) {
      expect(await post(server.baseUrl, '/api/auth/login', { username, password })).toMatchObject({ status: 401, json: { error: { code: 'E_BAD_CREDENTIALS' } } });
    }
  });
});

describe('login rate limit', () => {
  it('refuses further logins on one name and token guesses from one address after the limit', async () => {
    const limited = await startInProcessServer({ CINDER_LOGIN_ATTEMPTS: '3' });
    try {
      const player = await registerPlayer(limited.baseUrl);
      for (let attempt = 0; attempt < 3; attempt++) {
        expect((await post(limited.baseUrl, '/api/auth/login', { username: player.username, password: 'wrong password' })).status).toBe(401);
      }
      expect(await post(limited.baseUrl, '/api/auth/login', { username: player.username, password: player.password })).toMatchObject({ status: 429, json: { error: { code: 'E_RATE_LIMITED' } } });

      // A successful auth does not count: twenty in a row (a wave of reconnections behind one
      // address) lock nobody out …
      for (let attempt = 0; attempt < 20; attempt++) {
        const returning = await GameClient.connect(limited.wsUrl);
        await returning.ok('auth', { token: player.token });
        await returning.close();
      }
      // … but guessing tokens over WebSockets is limited per address (five times the login limit).
      const guesser = await GameClient.connect(limited.wsUrl);
      const codes: unknown[] = [];
      for (let attempt = 0; attempt < 16; attempt++) codes.push((await guesser.request('auth', { token: 'guess' })).data.code);
      expect(codes.slice(0, 15)).toEqual(Array<string>(15).fill('E_BAD_TOKEN'));
      expect(codes[15]).toBe('E_RATE_LIMITED');
      expect(await guesser.request('auth', { token: player.token })).toMatchObject({ type: 'error', data: { code: 'E_RATE_LIMITED' } });
      await guesser.close();
    } finally {
      await limited.stop();
    }
  });
});
