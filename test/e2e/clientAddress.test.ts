// Per-address limits behind a load balancer: with CINDER_TRUST_PROXY naming the proxy, each
// client is counted by the address the proxy forwarded (registrations over HTTP, token guesses
// over WebSockets); without it, X-Forwarded-For is ignored, so a client cannot dodge the limits
// by sending the header itself.
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';
import { proxyTrust } from '../../src/gateway/clientAddress.ts';

const started: InProcessServer[] = [];

afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
});

/** One registration allowed per address per window; five WebSocket auth attempts. */
async function limitedServer(env: Record<string, string> = {}): Promise<InProcessServer> {
  const server = await startInProcessServer({ CINDER_LOGIN_ATTEMPTS: '1', ...env });
  started.push(server);
  return server;
}

async function registerFrom(server: InProcessServer, forwardedFor: string): Promise<number> {
  const response = await fetch(`${server.baseUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    body: JSON.stringify({ username: uniqueName('fwd'), password: 'ash-and-embers' }),
  });
  return response.status;
}

function connectFrom(server: InProcessServer, forwardedFor: string): Promise<GameClient> {
  return GameClient.connect(server.wsUrl, { 'x-forwarded-for': forwardedFor });
}

async function guessCodes(client: GameClient, guesses: number): Promise<unknown[]> {
  const codes: unknown[] = [];
  for (let i = 0; i < guesses; i++) codes.push((await client.request('auth', { token: 'guess' })).data.code);
  return codes;
}

describe('client addresses behind a trusted proxy', () => {
  it('counts registrations and token guesses per forwarded address', async () => {
    const server = await limitedServer({ CINDER_TRUST_PROXY: 'loopback' });
    expect(await registerFrom(server, '203.0.113.1')).toBe(201);
    expect(await registerFrom(server, '203.0.113.1')).toBe(429);
    expect(await registerFrom(server, '203.0.113.2')).toBe(201);

    const first = await connectFrom(server, '203.0.113.7');
    expect(await guessCodes(first, 6)).toEqual([...Array<string>(5).fill('E_BAD_TOKEN'), 'E_RATE_LIMITED']);
    const second = await connectFrom(server, '203.0.113.8');
    expect(await guessCodes(second, 1)).toEqual(['E_BAD_TOKEN']);
    await Promise.all([first.close(), second.close()]);
  });
});

describe('IPv6 client addresses', () => {
  it('count every address of one /64 as one client', async () => {
    const server = await limitedServer({ CINDER_TRUST_PROXY: 'loopback' });
    expect(await registerFrom(server, '2001:db8:1:2::a')).toBe(201);
    // Another address of the same /64: the same subscriber.
    expect(await registerFrom(server, '2001:db8:1:2:ffff::b')).toBe(429);
    expect(await registerFrom(server, '2001:db8:1:3::a')).toBe(201);

    const first = await connectFrom(server, '2001:db8:5:6::1');
    expect(await guessCodes(first, 5)).toEqual(Array<string>(5).fill('E_BAD_TOKEN'));
    const second = await connectFrom(server, '2001:db8:5:6::2');
    expect(await guessCodes(second, 1)).toEqual(['E_RATE_LIMITED']);
    await Promise.all([first.close(), second.close()]);
  });
});

describe('client addresses with no trusted proxy (the default)', () => {
  it('ignores X-Forwarded-For: every request counts against the peer address', async () => {
    const server = await limitedServer();
    expect(await registerFrom(server, '203.0.113.1')).toBe(201);
    expect(await registerFrom(server, '203.0.113.2')).toBe(429);

    const first = await connectFrom(server, '203.0.113.7');
    expect(await guessCodes(first, 5)).toEqual(Array<string>(5).fill('E_BAD_TOKEN'));
    const second = await connectFrom(server, '203.0.113.8');
    expect(await guessCodes(second, 1)).toEqual(['E_RATE_LIMITED']);
    await Promise.all([first.close(), second.close()]);
  });

  it('refuses a CINDER_TRUST_PROXY entry that is not an address, range or name', () => {
    expect(() => proxyTrust(['10.0.0.0/8', 'not-an-address'])).toThrow(/CINDER_TRUST_PROXY: .*not-an-address/);
  });
});
