// What one client address may hold of a worker: a flood of sockets from one address must not use
// up the worker's file descriptors, while the players behind one NAT still all get in.
import { afterEach, describe, expect, it } from 'vitest';
import { GameClient, type RefusedUpgrade } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

let server: InProcessServer | undefined;
const clients: GameClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.stop();
  server = undefined;
});

async function started(env: Record<string, string>): Promise<InProcessServer> {
  server = await startInProcessServer(env);
  return server;
}

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
