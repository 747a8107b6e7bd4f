// A session's ending can be lost on its way (pub/sub drops what is published while a worker
// reconnects, and a publish can fail): each worker checks its sessions against the hot store once
// per CINDER_SESSION_AUDIT_INTERVAL_MS, and ends those that should have ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

const ADMIN_TOKEN = 'operator-token-for-audit-tests';

let server: InProcessServer;
const clients: GameClient[] = [];
/** Messages of these types are lost instead of published. */
const lost = new Set<string>();

beforeAll(async () => {
  server = await startInProcessServer({ CINDER_ADMIN_TOKEN: ADMIN_TOKEN, CINDER_SESSION_AUDIT_INTERVAL_MS: '1000' });
  const bus = server.adapters.bus;
  const publish = bus.publish.bind(bus);
  bus.publish = (channel, message) => {
    const { type } = JSON.parse(message) as { type: string };
    return lost.has(type) ? Promise.resolve() : publish(channel, message);
  };
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server.stop();
});

async function playing(token: string): Promise<GameClient> {
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  await client.ok('auth', { token });
  return client;
}

describe('the session audit', () => {
  it('signs out a session whose sign-out notice was lost, and leaves the sessions that stand', async () => {
    lost.add('signed_out');
    try {
      const bystander = await playing((await registerPlayer(server.baseUrl)).token);
      const player = await registerPlayer(server.baseUrl);
      const session = await playing(player.token);
      const ban = await fetch(new URL('/api/admin/ban', server.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ username: player.username }),
      });
      expect(ban.status).toBe(200);
      expect(await session.event('signed_out')).toMatchObject({ code: 'E_SIGNED_OUT', reason: 'revoked' });
      expect((await session.whenClosed()).code).toBe(4004);
      // The audit that found it (every session each second here) passed over the bystander too.
      await bystander.ok('look');
      expect(bystander.closed).toBeNull();
    } finally {
      lost.delete('signed_out');
    }
  });
});
