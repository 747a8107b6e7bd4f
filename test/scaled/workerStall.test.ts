// A live worker that stalls (a long GC pause, a paused VM, a network cut from Redis) for longer
// than other workers wait for its heartbeat is taken for dead, and its players are released
// (docs/scaling.md "What happens when something fails"). When it resumes it notices and closes its
// sockets with 4002, so that its players reconnect and enter the world again, rather than play on
// as disconnected characters whom the cleanup job would remove mid-session.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import type { ServerProcess } from '../support/serverProcess.ts';
import { WAY } from '../support/twoLocations.ts';
import type { PlayView } from '../support/views.ts';

let world: ScaledWorld;
let redis: Redis;
const clients: GameClient[] = [];

beforeAll(async () => {
  world = await startScaledWorld({ workers: 2 });
  redis = new Redis(world.redis.url);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  redis.disconnect();
  await world.stop();
});

async function connect(worker: ServerProcess, token: string): Promise<{ client: GameClient; view: PlayView }> {
  const client = await GameClient.connect(worker.wsUrl);
  clients.push(client);
  return { client, view: await client.ok<PlayView>('auth', { token }) };
}

async function workerIdOf(worker: ServerProcess): Promise<string> {
  return ((await (await fetch(`${worker.baseUrl}/api/health`)).json()) as { worker: string }).worker;
}

type PlayerEvent = { player: { id: number; connected?: boolean } };

describe('a worker that stalls past the heartbeat timeout', () => {
  it('closes its players\' sockets with 4002 when it resumes, and they reconnect into the world', async () => {
    const [stalling, other] = [world.worker(0), world.worker(1)];
    const stallingId = await workerIdOf(stalling);
    const ada = await registerPlayer(stalling.baseUrl);
    const bo = await registerPlayer(other.baseUrl);
    const first = await connect(stalling, ada.token);
    const watcher = await connect(other, bo.token);

    // The other worker takes the stopped one for dead and releases Ada.
    process.kill(stalling.child.pid ?? -1, 'SIGSTOP');
    try {
      await watcher.client.event<PlayerEvent>('player_disconnected', (data) => data.player.id === ada.id);
    } finally {
      process.kill(stalling.child.pid ?? -1, 'SIGCONT');
    }

    // Resumed, the worker finds it was released: it tells Ada's client to reconnect, and closes.
    expect(await first.client.event('session_released')).toEqual({ code: 'E_SESSION_RELEASED', message: expect.stringContaining('reconnect') as unknown });
    expect(await first.client.whenClosed()).toEqual({ code: 4002, reason: 'session released; reconnect' });

    // Ada reconnects (here to the same worker, which lives on) and is back in the world for good.
    const again = await connect(stalling, ada.token);
    expect(again.view.self.locationId).toBe(first.view.self.locationId);
    await watcher.client.event<PlayerEvent>('player_connected', (data) => data.player.id === ada.id && data.player.connected === true);
    const moved = await again.client.ok<PlayView>('move', { direction: WAY[again.view.self.locationId]?.direction });
    expect(moved.self.locationId).toBe(WAY[again.view.self.locationId]?.to);

    // Shown as connected, not lingering (the cleanup job leaves her alone), and held by a worker
    // that is registered again, so that its death would release her.
    expect(await redis.hmget(`player:{p:${ada.id}}`, 'connected', 'worker_id')).toEqual(['1', stallingId]);
    expect(await redis.sismember('presence:online', String(ada.id))).toBe(1);
    expect(await redis.sismember('presence:lingering', String(ada.id))).toBe(0);
    expect(await redis.sismember('workers', stallingId)).toBe(1);
    expect(await redis.sismember(`worker:${stallingId}:players`, String(ada.id))).toBe(1);
  });
});
