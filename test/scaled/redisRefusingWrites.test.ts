// A Redis that still answers PING but refuses writes (here: out of memory under noeviction, as
// when maxmemory is reached): changes answer E_DEGRADED, not E_INTERNAL, and nothing is changed;
// the health check tells the load balancer; once Redis takes writes again, play resumes.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { PlayView } from '../support/views.ts';

let world: ScaledWorld;
let redis: Redis;
let client: GameClient | undefined;

beforeAll(async () => {
  world = await startScaledWorld({ workers: 1, env: { CINDER_HEARTBEAT_INTERVAL_MS: '100', CINDER_WORKER_TIMEOUT_MS: '60000' } });
  redis = new Redis(world.redis.url);
});

afterAll(async () => {
  await client?.close();
  redis.disconnect();
  await world.stop();
});

async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${world.worker(0).baseUrl}/api/health`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

it('answers E_DEGRADED to changes and fails the health check while Redis refuses writes, then recovers', async () => {
  const { token } = await registerPlayer(world.worker(0).baseUrl);
  client = await GameClient.connect(world.worker(0).wsUrl);
  const player = client;
  const before = await player.ok<PlayView>('auth', { token });
  const exit = before.location.exits[0];
  if (!exit) throw new Error(`${before.location.id} has no exit`);
  expect((await health()).status).toBe(200);

  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', '1');
  try {
    const refused = await player.request('move', { direction: exit.direction });
    expect(refused).toMatchObject({ type: 'error', data: { code: 'E_DEGRADED' } });
    // The next heartbeat is refused too: the load balancer hears of it although PING answers.
    await until(async () => (await health()).status === 503, 'the health check to report the refusal');
    const { body } = await health();
    expect(body).toMatchObject({ status: 'degraded', unreachable: 'hot' });
    expect(String(body.refusing)).toContain('OOM');
  } finally {
    await redis.config('SET', 'maxmemory', '0');
  }

  await until(async () => (await health()).status === 200, 'the health check to recover');
  // Nothing was changed by the refused move; the same move now goes through.
  expect((await player.ok<PlayView>('look')).location.id).toBe(before.location.id);
  expect((await player.ok<PlayView>('move', { direction: exit.direction })).location.id).toBe(exit.locationId);
});
