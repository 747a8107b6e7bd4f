// Redis comes back empty (no persistence, or its data lost) under two workers whose batch sync is
// off: the workers find themselves unregistered at their next heartbeat and load the durable
// ground again at once; players reconnect and find what was saved; the ground plays again.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/adapters/hot/RedisHotStore.ts';
import { keys } from '../../src/adapters/keys.ts';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import { slotOf, type PlayView } from '../support/views.ts';

let world: ScaledWorld;
const clients: GameClient[] = [];

beforeAll(async () => {
  world = await startScaledWorld({ workers: 2, env: { CINDER_SYNC_INTERVAL_MS: '0' } });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await world.stop();
});

async function playing(token: string, worker: number): Promise<{ client: GameClient; view: PlayView }> {
  const client = await GameClient.connect(world.worker(worker).wsUrl);
  clients.push(client);
  return { client, view: await client.ok<PlayView>('auth', { token }) };
}

describe('Redis restarted empty', () => {
  it('loads the saved ground again at the next heartbeat, and players carry on from their last save', async () => {
    const dropper = await registerPlayer(world.worker(0).baseUrl);
    const { client } = await playing(dropper.token, 0);
    const kit = (await client.ok<PlayView>('inventory')).inventory.items;
    const { dropped } = await client.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(kit, 'bandage').slot, qty: 1 });
    // Leaving saves the player and the ground where they stand (the batch sync is off).
    await client.close();
    const redis = await connectRedis(world.redis.url);
    const postgres = new Client({ connectionString: world.databaseUrl });
    await postgres.connect();
    try {
      const saved = async () => (await postgres.query('SELECT 1 FROM ground_items WHERE id = $1', [dropped.id])).rowCount === 1;
      await until(saved, 'the save at disconnect to write the dropped bandage');
      await redis.flushall();
      await until(async () => (await redis.hget(keys.world(), 'ground_ready')) === '1', 'a worker to load the ground again');
    } finally {
      await redis.quit();
      await postgres.end();
    }

    const login = await post(world.worker(1).baseUrl, '/api/auth/login', { username: dropper.username, password: dropper.password });
    const back = await playing(String(login.json.token), 1);
    expect(back.view.location.ground.map((item) => item.id)).toContain(dropped.id);
    expect(slotOf((await back.client.ok<PlayView>('inventory')).inventory.items, 'bandage').qty).toBe(slotOf(kit, 'bandage').qty - 1);
    await back.client.ok('pickup', { groundItemId: dropped.id });
  });
});
