// Login limits guard passwords without handing anyone a way to lock a player out: a name counts
// only failed logins, and a request refused for its address counts against no name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer, uniqueName } from '../support/accounts.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

/** Failed logins per name per window; five times as many attempts per address. */
const LIMIT = 3;

let server: InProcessServer;

beforeAll(async () => {
  // A window of a day: no window ends in the middle of a test.
  server = await startInProcessServer({ CINDER_LOGIN_ATTEMPTS: String(LIMIT), CINDER_LOGIN_WINDOW_MS: String(24 * 3600_000), CINDER_TRUST_PROXY: 'loopback' });
}, 60_000);

afterAll(async () => {
  await server.stop();
});

/** Logs in from `address` (as the trusted proxy forwards it); resolves with the status and error code. */
async function loginFrom(address: string, username: string, password: string): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${server.baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password }),
  });
  const json = (await response.json()) as { error?: { code: string } };
  return { status: response.status, ...(json.error ? { code: json.error.code } : {}) };
}

async function statuses(address: string, username: string | (() => string), password: string, times: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < times; i++) seen.push((await loginFrom(address, typeof username === 'string' ? username : username(), password)).status);
  return seen;
}

describe('login limits per name', () => {
  it('count failed logins only: a player may log in as often as they like', async () => {
    const player = await registerPlayer(server.baseUrl);
    expect(await statuses('192.0.2.10', player.username, player.password, LIMIT + 2)).toEqual(Array<number>(LIMIT + 2).fill(200));
    // Failures still count, whatever the case of the name: after LIMIT of them even the right password waits.
    expect(await statuses('192.0.2.11', player.username.toUpperCase(), 'wrong password', LIMIT)).toEqual(Array<number>(LIMIT).fill(401));
    expect(await loginFrom('192.0.2.10', player.username, player.password)).toEqual({ status: 429, code: 'E_RATE_LIMITED' });
  });

  it('check no more passwords than the limit when the guesses are sent all at once', async () => {
    // Registered from an address of its own: registrations are limited per address too.
    const player = { username: uniqueName(), password: 'ash-and-embers' };
    const registered = await fetch(`${server.baseUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.200' },
      body: JSON.stringify(player),
    });
    expect(registered.status).toBe(201);
    // From as many addresses, so that no address limit gets in the way.
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => loginFrom(`198.51.100.${String(i + 1)}`, player.username, `guess ${String(i)}`)));
    const codes = guesses.map((guess) => guess.code).sort();
    expect(codes).toEqual([...Array<string>(LIMIT).fill('E_BAD_CREDENTIALS'), ...Array<string>(12 - LIMIT).fill('E_RATE_LIMITED')]);
    expect(await loginFrom('198.51.100.99', player.username, player.password)).toEqual({ status: 429, code: 'E_RATE_LIMITED' });
  });

  it('count nothing against a name for a request refused for its address', async () => {
    const victim = await registerPlayer(server.baseUrl);
    const attacker = '192.0.2.66';
    // The attacker spends its address's budget on names that do not exist …
    const spent = await statuses(attacker, () => uniqueName('nobody'), 'wrong password', 5 * LIMIT + 1);
    expect(spent).toEqual([...Array<number>(5 * LIMIT).fill(401), 429]);
    // … then every guess at the victim's password is refused for the address, and is not counted.
    expect(await statuses(attacker, victim.username, 'wrong password', 2 * LIMIT)).toEqual(Array<number>(2 * LIMIT).fill(429));
    expect(await loginFrom('192.0.2.67', victim.username, victim.password)).toEqual({ status: 200 });
  });
});

describe('a login with a name no account can have', () => {
  it('is answered exactly as a wrong password is, and counts against nothing', async () => {
    const player = await registerPlayer(server.baseUrl);
    const address = '192.0.2.90';
    const answer = async (username: string) => {
      const response = await fetch(`${server.baseUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ username, password: 'wrong password' }),
      });
      return { status: response.status, body: await response.json() };
    };
    const wrongPassword = await answer(player.username);
    expect(wrongPassword).toEqual({ status: 401, body: { error: { code: 'E_BAD_CREDENTIALS', message: 'Wrong username or password.' } } });
    // Far more than the address may try: too long (up to the body limit), too short, spaces, other scripts.
    const malformed = ['x'.repeat(60_000), 'ab', '', 'two words', 'ünïcödé', 'a'.repeat(21)];
    for (let round = 0; round < 5 * LIMIT; round++) {
      for (const username of malformed) expect(await answer(username)).toEqual(wrongPassword);
    }
    // Only the one wrong password counted against the address and the name.
    expect(await loginFrom(address, player.username, player.password)).toEqual({ status: 200 });
  });
});
