// Redis stopped and started again in the middle of a session (DESIGN.md §8, docs/scaling.md "What
// happens when something fails"): while it is away every action answers E_DEGRADED and the
// sockets stay open; once it is back (its append-only file keeps the data) play resumes by itself
// on every worker, with the state of before the outage, events crossing workers again and not one
// item created or lost.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, registerPlayer } from '../support/accounts.ts';
import { GameClient, type Reply } from '../support/GameClient.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import { slotOf, type ItemSlot, type PlayView } from '../support/views.ts';
import { until } from '../support/heldState.ts';
import { MARKET, SQUARE } from '../support/twoLocations.ts';

interface Seen {
  locationId: string;
  inventory: ItemSlot[];
  equipment: PlayView['equipment'];
}

interface Joined {
  label: string;
  id: number;
  worker: number;
  client: GameClient;
}

let world: ScaledWorld;
let redis: Redis | undefined;
const players: Joined[] = [];

async function join(label: string, worker: number): Promise<Joined> {
  const { token, id } = await registerPlayer(world.worker(worker).baseUrl);
  const client = await GameClient.connect(world.worker(worker).wsUrl);
  const joined = { label, id, worker, client };
  players.push(joined);
  await client.ok('auth', { token });
  return joined;
}

async function seen(player: Joined): Promise<Seen> {
  const { inventory, equipment, self } = await player.client.ok<PlayView>('inventory');
  return { locationId: self.locationId, inventory: inventory.items, equipment };
}

/** Every item unit held, worn or lying in the two locations play uses, by item id; unique items counted once. */
async function totals(): Promise<Record<string, number>> {
  const counted: Record<string, number> = {};
  const uniques = new Set<string>();
  const add = (itemId: string, qty: number, uniqueItemId?: string) => {
    if (uniqueItemId !== undefined) {
      expect(uniques.has(uniqueItemId), `unique item ${uniqueItemId} counted twice`).toBe(false);
      uniques.add(uniqueItemId);
    }
    counted[itemId] = (counted[itemId] ?? 0) + qty;
  };
  const grounds = new Map<string, PlayView['location']['ground']>();
  for (const player of players) {
    const view = await player.client.ok<PlayView>('inventory');
    for (const item of view.inventory.items) add(item.itemId, item.qty, item.uniqueItemId);
    for (const worn of Object.values(view.equipment)) if (worn) add(worn.itemId, 1, worn.uniqueItemId);
    const look = await player.client.ok<PlayView>('look');
    grounds.set(look.location.id, look.location.ground);
  }
  expect([...grounds.keys()].sort()).toEqual([SQUARE, MARKET].sort());
  for (const ground of grounds.values()) for (const item of ground) add(item.itemId, item.qty, (item as { uniqueItemId?: string }).uniqueItemId);
  return counted;
}

beforeAll(async () => {
  // Heartbeat keys outlive the outage here: the test at the end covers an outage longer
  // than CINDER_WORKER_TIMEOUT_MS, which the dead-worker grace lets live workers survive.
  world = await startScaledWorld({ workers: 2, env: { CINDER_WORKER_TIMEOUT_MS: '10000' } });
}, 120_000);

afterAll(async () => {
  // A failure during the outage must not leave workers unable to shut down cleanly.
  if (!world.redis.running) await world.redis.restart();
  await Promise.all(players.map((player) => player.client.close()));
  await redis?.quit();
  await world.stop();
}, 60_000);

describe('Redis stopped and restarted mid-session', () => {
  it('answers E_DEGRADED while it is away, keeps the sockets open, and resumes play with nothing lost', async () => {
    const ash = await join('ash', 0);
    const bram = await join('bram', 0);
    const cole = await join('cole', 1);
    const dina = await join('dina', 1);

    // Some play before the outage: a move, a pipe wielded, things dropped on both workers.
    await bram.client.ok('move', { direction: 'east' });
    const ashKit = await ash.client.ok<PlayView>('inventory');
    await ash.client.ok('equip', { slot: slotOf(ashKit.inventory.items, 'rusty-pipe').slot });
    await ash.client.ok('drop', { slot: slotOf(ashKit.inventory.items, 'bandage').slot, qty: 1 });
    const coleKit = await cole.client.ok<PlayView>('inventory');
    const { dropped } = await cole.client.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(coleKit.inventory.items, 'canned-beans').slot, qty: 1 });
    await dina.client.ok('pickup', { groundItemId: dropped.id });

    const before = new Map<Joined, Seen>();
    for (const player of players) before.set(player, await seen(player));
    const groundBefore = (await ash.client.ok<PlayView>('look')).location.ground;
    expect(groundBefore.length).toBeGreaterThan(0);
    const totalsBefore = await totals();
    expect(totalsBefore).toEqual({ 'rusty-pipe': 4, bandage: 12, 'canned-beans': 8 });

    // Redis goes away for a while (but not so long that the workers' heartbeat keys expire).
    await world.redis.stop();
    expect(world.redis.running).toBe(false);
    const stoppedAt = performance.now();
    const answers: Reply[] = [];
    let rounds = 0;
    await until(async () => {
      for (const player of players) {
        const own = before.get(player);
        const slot = own?.inventory[0]?.slot ?? 0;
        const refusals = await Promise.all([
          player.client.request('look'),
          player.client.request('inventory'),
          player.client.request('move', { direction: own?.locationId === SQUARE ? 'east' : 'west' }),
          player.client.request('drop', { slot, qty: 1 }),
          player.client.request('pickup', { groundItemId: groundBefore[0]?.id ?? 'none' }),
          player.client.request('equip', { slot }),
          player.client.request('unequip', { slot: 'mainHand' }),
          player.client.request('use', { slot }),
          player.client.request('interact', { interactableId: 'donation-crate' }),
          player.client.request('say', { text: 'is anyone there?' }),
        ]);
        answers.push(...refusals);
        // Ping needs no store: it still answers, and the socket is still open.
        expect((await player.client.request('ping')).type).toBe('ok');
        expect(player.client.closed, `${player.label}'s socket`).toBeNull();
      }
      rounds++;
      return performance.now() - stoppedAt > 1_500 && rounds >= 2;
    }, 'the outage to last 1.5 s');
    expect(answers.length).toBeGreaterThanOrEqual(2 * 10 * players.length);
    for (const answer of answers) expect({ type: answer.type, code: (answer.data as { code?: string }).code }).toEqual({ type: 'error', code: 'E_DEGRADED' });
    // REST needs the hot store too (attempt counting): registration answers 503 E_DEGRADED.
    const register = await post(world.worker(0).baseUrl, '/api/auth/register', { username: 'during_redis_outage', password: 'ash-and-embers' });
    expect({ status: register.status, code: (register.json.error as { code?: string } | undefined)?.code }).toEqual({ status: 503, code: 'E_DEGRADED' });
    // The workers are alive and answering, and their health check tells a load balancer to send
    // players elsewhere meanwhile.
    for (const worker of world.workers) {
      expect(worker.child.exitCode, 'worker exit code').toBeNull();
      const health = await fetch(`${worker.baseUrl}/api/health`);
      expect({ status: health.status, body: await health.json() }).toMatchObject({ status: 503, body: { status: 'degraded', unreachable: 'hot' } });
    }

    // Redis comes back with its data. Each player retries until an action goes through, and is
    // told that events were missed meanwhile.
    await world.redis.restart();
    for (const player of players) await player.client.event('events_missed');
    for (const player of players) {
      await until(async () => (await player.client.request('look')).type === 'ok', `${player.label}'s look to succeed again`);
    }
    const probe = new Redis(world.redis.url);
    redis = probe;
    const healths = await Promise.all(world.workers.map(async (worker) => (await fetch(`${worker.baseUrl}/api/health`)).json() as Promise<{ status: string; worker: string }>));
    expect(healths.map((health) => health.status)).toEqual(['ok', 'ok']);
    const workerIds = healths.map((health) => health.worker);
    await until(async () => (await Promise.all(workerIds.map((id) => probe.exists(`worker:${id}`)))).every((found) => found === 1), 'both heartbeats to be back');

    // Everything is as it was before the outage.
    for (const player of players) expect(await seen(player), `${player.label} after the outage`).toEqual(before.get(player));
    expect((await ash.client.ok<PlayView>('look')).location.ground).toEqual(groundBefore);

    // Both workers listen on the square's channel again (ioredis resubscribed), and chat crosses
    // between them in both directions.
    await until(async () => {
      const reply = (await probe.pubsub('NUMSUB', `location:${SQUARE}`)) as [string, number];
      return reply[1] === 2;
    }, 'both workers to resubscribe to the square');
    for (const [speaker, listener] of [
      [ash, cole],
      [cole, ash],
      [dina, ash],
    ] as const) {
      const text = `${speaker.label} is back`;
      const heard = listener.client.event<{ from: { id: number }; text: string }>('said', (said) => said.from.id === speaker.id && said.text === text);
      await speaker.client.ok('say', { text });
      await heard;
    }

    // Play resumes for everyone, with events crossing workers.
    await bram.client.ok('move', { direction: 'west' });
    await cole.client.event<{ player: { id: number } }>('player_arrived', (arrived) => arrived.player.id === bram.id);
    const bramKit = await bram.client.ok<PlayView>('inventory');
    const { dropped: pipe } = await bram.client.ok<{ dropped: { id: string } }>('drop', { slot: slotOf(bramKit.inventory.items, 'rusty-pipe').slot });
    await dina.client.event<{ item: { id: string } }>('item_dropped', (event) => event.item.id === pipe.id);
    await dina.client.ok('pickup', { groundItemId: pipe.id });
    await bram.client.event<{ item: { id: string } }>('item_picked_up', (event) => event.item.id === pipe.id);
    const dinaKit = await dina.client.ok<PlayView>('inventory');
    await dina.client.ok('equip', { slot: dinaKit.inventory.items.filter((item) => item.itemId === 'rusty-pipe').at(-1)?.slot });
    await ash.client.ok('unequip', { slot: 'mainHand' });
    await cole.client.ok('move', { direction: 'east' });
    await cole.client.ok('use', { slot: slotOf((await cole.client.ok<PlayView>('inventory')).inventory.items, 'bandage').slot });

    // Not one item was created or destroyed across the outage and the play after it (but the
    // bandage Cole used up).
    expect(await totals()).toEqual({ ...totalsBefore, bandage: (totalsBefore.bandage ?? 0) - 1 });

    // Nobody was taken for gone: no one saw anyone disconnect, everyone is online and shown
    // connected, and every socket is still the one opened at the start.
    const online = new Set(await probe.smembers('presence:online'));
    for (const player of players) {
      expect(online.has(String(player.id)), `${player.label} in presence:online`).toBe(true);
      expect(player.client.events('player_disconnected'), `player_disconnected seen by ${player.label}`).toEqual([]);
      expect(player.client.closed, `${player.label}'s socket`).toBeNull();
      for (const other of (await player.client.ok<PlayView>('look')).location.players) {
        expect(other.connected, `${other.name} as ${player.label} sees them`).toBe(true);
      }
    }

    // Each worker told its operator once that Redis went away and once that it is back, in that
    // order: the bus's and the locks' connections, reconnecting on their own schedule, leave no
    // "unreachable" standing after the "back".
    const upDown = (worker: number) =>
      world.worker(worker).logs.flatMap((line) => (line.includes('Redis unreachable') ? ['down'] : line.includes('Redis is back') ? ['up'] : []));
    for (const worker of [0, 1]) {
      await until(() => upDown(worker).includes('up'), `worker ${String(worker)} to log that Redis is back`);
      expect(upDown(worker), `worker ${String(worker)}'s Redis log lines`).toEqual(['down', 'up']);
    }
  }, 90_000);
});

// An outage longer than CINDER_WORKER_TIMEOUT_MS expires every worker's heartbeat key. Live
// workers must not be taken for dead when Redis returns: they beat again within the grace the
// dead-worker job gives a missing heartbeat.
describe('Redis away for longer than the worker timeout', () => {
  it('leaves the players of live workers connected', async () => {
    const short = await startScaledWorld({ workers: 2 });
    const clients: GameClient[] = [];
    const probe = new Redis(short.redis.url, { lazyConnect: true });
    probe.on('error', () => {
      // Redis is stopped for a while: commands are only sent once it is back.
    });
    try {
      const ids: number[] = [];
      for (const worker of short.workers) {
        const { token, id } = await registerPlayer(worker.baseUrl);
        const client = await GameClient.connect(worker.wsUrl);
        clients.push(client);
        ids.push(id);
        await client.ok('auth', { token });
      }
      await short.redis.stop();
      const stoppedAt = performance.now();
      await until(async () => {
        for (const client of clients) expect((await client.request('look')).type).toBe('error');
        return performance.now() - stoppedAt > 1_500; // longer than the 1 s worker timeout
      }, 'the outage to outlast the heartbeat keys');
      await short.redis.restart();
      for (const client of clients) await until(async () => (await client.request('look')).type === 'ok', 'a look to succeed again');
      await probe.connect();
      const workerIds = await Promise.all(short.workers.map(async (worker) => ((await (await fetch(`${worker.baseUrl}/api/health`)).json()) as { worker: string }).worker));
      await until(async () => (await Promise.all(workerIds.map((id) => probe.exists(`worker:${id}`)))).every((found) => found === 1), 'both heartbeats to be back');
      // Two more ticks of the dead-worker job (300 ms each, claimed as lock:NAME:tick:N), so that
      // a release in progress when the heartbeats came back has landed.
      const tickNow = Math.floor(Date.now() / 300);
      await until(async () => {
        const claimed = await probe.keys('lock:dead-worker-cleanup:tick:*');
        return claimed.some((key) => Number(key.split(':').at(-1)) >= tickNow + 2);
      }, 'two more dead-worker ticks');
      const online = new Set(await probe.smembers('presence:online'));
      expect(ids.filter((id) => !online.has(String(id))), 'live players missing from presence:online').toEqual([]);
      for (const client of clients) expect(client.events('player_disconnected')).toEqual([]);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      probe.disconnect();
      await short.stop();
    }
  }, 60_000);
});
