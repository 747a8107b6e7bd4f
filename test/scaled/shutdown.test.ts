// SIGTERM when a store is away (DESIGN.md §8, docs/scaling.md "What happens when something
// fails"): the worker still tells its players, closes their sockets, says what it could not save
// and why, and exits 0, because what it could not save is still marked dirty in Redis.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { WAY } from '../support/twoLocations.ts';

let world: ScaledWorld | undefined;

afterEach(async () => {
  if (world && !world.redis.running) await world.redis.restart();
  await world?.stop();
  world = undefined;
});

/** A player on `worker` with a change only the final sync would write (the sync job is off). */
async function playerWithUnsavedMove(worker: ServerProcess): Promise<{ id: number; client: GameClient }> {
  const { token, id } = await registerPlayer(worker.baseUrl);
  const client = await GameClient.connect(worker.wsUrl);
  const { self } = await client.ok<{ self: { locationId: string } }>('auth', { token });
  await client.ok('move', { direction: WAY[self.locationId]?.direction });
  return { id, client };
}

/** The pino messages a worker logged at `level` and above (40 warn, 50 error, 60 fatal). */
function messages(worker: ServerProcess, level: number): string[] {
  return worker.logs.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as { level: number; msg: string };
    return entry.level >= level ? [entry.msg] : [];
  });
}

describe('SIGTERM while Redis is down', () => {
  it('tells the players, closes their sockets, warns that the final sync could not run, and exits 0', async () => {
    world = await startScaledWorld({ workers: 1, env: { CINDER_SYNC_INTERVAL_MS: '0' } });
    const worker = world.worker(0);
    const { id, client } = await playerWithUnsavedMove(worker);

    await world.redis.stop();
    expect(await worker.stop()).toBe(0);
    expect(client.events('server_shutdown')).toHaveLength(1);
    expect((await client.whenClosed()).code).toBe(1001);
    const warnings = messages(worker, 40);
    expect(warnings).toContain('final sync could not run: Redis is unreachable; nothing is lost, the dirty sets stay in Redis for the next sync once it is back');
    expect(messages(worker, 50)).toEqual([]);

    // Nothing was lost: the move is still marked for the next sync.
    await world.redis.restart();
    const redis = new Redis(world.redis.url);
    try {
      const dirty = [...(await redis.smembers('dirty:position')), ...(await redis.smembers('dirty:position:syncing'))];
      expect(dirty).toContain(String(id));
    } finally {
      redis.disconnect();
    }
  });
});
