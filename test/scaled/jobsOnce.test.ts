// A background job runs exactly once per tick across workers (DESIGN.md §7, docs/scaling.md):
// three JobSchedulers, each on its own Redis connection, with real timers; then three real
// worker processes, whose sync runs are watched through Redis keyspace notifications and counted
// by the workers themselves.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { closeRedis, connectRedis } from '../../src/adapters/hot/RedisHotStore.ts';
import { RedisLocks } from '../../src/adapters/locks/RedisLocks.ts';
import { JobScheduler, type JobDefinition } from '../../src/jobs/JobScheduler.ts';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startScaledWorld, type ScaledWorld } from '../support/scaledWorld.ts';
import { slotOf, type ItemSlot } from '../support/views.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL is not set: run the tests through vitest (test/setup/services.ts provides it).');
const redisUrl: string = REDIS_URL;

const INTERVAL = 100;
/** Ticks each run watches. */
const TICKS = 30;
const WORKERS = 3;

/** Resources to release after each test, whatever happened. */
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  const pending = cleanups.splice(0).reverse();
  for (const cleanup of pending) await cleanup();
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets real time pass until `until` (epoch ms), in small bounded steps. */
async function passTimeUntil(until: number): Promise<void> {
  for (let step = 0; step < 10_000 && Date.now() < until; step++) await delay(Math.min(20, Math.max(1, until - Date.now())));
}

function capturingLog() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { log, lines };
}

/** Ticks that appear more than once. */
function repeated(ticks: readonly number[]): number[] {
  const seen = new Set<number>();
  const twice = new Set<number>();
  for (const tick of ticks) (seen.has(tick) ? twice : seen).add(tick);
  return [...twice].sort((a, b) => a - b);
}

interface Run {
  worker: number;
  tick: number;
}

describe('three JobSchedulers on three Redis connections', () => {
  /**
   * Three schedulers standing for three workers: each has its own RedisLocks connection and its own
   * clock, and runs its own copy of the same job (same name, same interval), whose effect is a
   * record of which worker ran which tick.
   */
  async function threeWorkers(name: string, wallClock: () => number = Date.now): Promise<{ schedulers: JobScheduler[]; jobs: JobDefinition[]; runs: Run[]; lines: { msg: string }[] }> {
    const { log, lines } = capturingLog();
    // The tick a run belongs to is the one its scheduler claimed: floor(now / interval) with the
    // `now` that tick() read. Reading the clock again inside the run could name the next tick when a
    // claim lands just before a tick boundary, and count one run twice. The clock stores its tick in
    // the async context of the tick() call that read it, so the run started by that call sees it.
    const claimedTick = new AsyncLocalStorage<number>();
    const clock = () => {
      const now = wallClock();
      claimedTick.enterWith(Math.floor(now / INTERVAL));
      return now;
    };
    const runs: Run[] = [];
    const schedulers: JobScheduler[] = [];
    const jobs: JobDefinition[] = [];
    for (let worker = 0; worker < WORKERS; worker++) {
      const locks = await RedisLocks.connect(redisUrl);
      cleanups.push(() => locks.close());
      const scheduler = new JobScheduler(locks, log, clock);
      cleanups.push(() => scheduler.stop());
      schedulers.push(scheduler);
      jobs.push({
        name,
        intervalMs: INTERVAL,
        run: () => {
          const tick = claimedTick.getStore();
          if (tick === undefined) throw new Error('a run outside a tick');
          runs.push({ worker, tick });
          return Promise.resolve();
        },
      });
    }
    return { schedulers, jobs, runs, lines };
  }

  it(`runs the job at most once per tick, and at least 90% of ${TICKS} ticks, with real timers`, async () => {
    const { schedulers, jobs, runs, lines } = await threeWorkers(`jobs-once-${randomUUID()}`);
    const startedAt = Date.now();
    schedulers.forEach((scheduler, index) => {
      scheduler.start(jobAt(jobs, index));
    });
    await passTimeUntil(startedAt + (TICKS + 1) * INTERVAL);
    const stoppedAt = Date.now();
    await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
    const runsAtStop = runs.length;

    const ticks = runs.map((run) => run.tick);
    expect(repeated(ticks), 'ticks that ran more than once').toEqual([]);
    // The first timers fire one interval after start; the tick in progress at stop may be cut short.
    const first = Math.floor((startedAt + INTERVAL) / INTERVAL);
    const last = Math.floor(stoppedAt / INTERVAL) - 1;
    for (const tick of ticks) {
      expect(tick).toBeGreaterThanOrEqual(first - 1);
      expect(tick).toBeLessThanOrEqual(last + 1);
    }
    const expected = last - first + 1;
    const ran = new Set(ticks.filter((tick) => tick >= first && tick <= last)).size;
    const byWorker = [0, 1, 2].map((worker) => runs.filter((run) => run.worker === worker).length);
    console.log(`[jobsOnce] in-process: ${ran} of ${expected} ticks ran (runs by worker ${byWorker.join(' ')})`);
    expect(expected).toBeGreaterThanOrEqual(TICKS - 1);
    expect(ran).toBeGreaterThanOrEqual(Math.ceil(0.9 * expected));
    expect(lines).toEqual([]);

    // Stopped means stopped: nothing runs afterwards.
    await passTimeUntil(Date.now() + 3 * INTERVAL);
    expect(runs).toHaveLength(runsAtStop);
  }, 30_000);

  it('three workers calling tick() at the same moment: one run per tick, 50 ticks in a row', async () => {
    // Clocks of our own, one tick per round, far from any real tick so no earlier claim exists.
    let now = 0;
    const { schedulers, jobs, runs, lines } = await threeWorkers(`jobs-once-now-${randomUUID()}`, () => now);
    const base = Math.floor(Date.now() / INTERVAL) + 1_000_000;
    const winners: number[] = [];
    for (let round = 0; round < 50; round++) {
      now = (base + round) * INTERVAL + ((round * 7) % INTERVAL);
      const won = await Promise.all(schedulers.map((scheduler, index) => scheduler.tick(jobAt(jobs, index))));
      winners.push(won.filter(Boolean).length);
    }
    expect(winners).toEqual(new Array<number>(50).fill(1));
    expect(runs.map((run) => run.tick)).toEqual(Array.from({ length: 50 }, (_, round) => base + round));
    expect(lines).toEqual([]);
  });
});

function jobAt(jobs: readonly JobDefinition[], index: number): JobDefinition {
  const job = jobs[index];
  if (!job) throw new Error(`no job ${index}`);
  return job;
}

describe('three worker processes', () => {
  interface KeyEvent {
    event: string;
    key: string;
  }

  it('run the sync job once per tick between them: tick claims, non-overlapping runs and dirty claims seen through Redis', async () => {
    const world: ScaledWorld = await startScaledWorld({ workers: WORKERS, env: { CINDER_SYNC_INTERVAL_MS: String(INTERVAL) } });
    cleanups.push(() => world.stop());
    expect(world.workers).toHaveLength(WORKERS);

    // Keyspace notifications (E: key events; $ strings, g generic, s sets, x expiries) on the world's
    // own Redis: far lighter than MONITOR, and delivered in the order the commands ran.
    const commands: Redis = await connectRedis(world.redis.url);
    cleanups.push(() => closeRedis(commands));
    const subscriber: Redis = await connectRedis(world.redis.url);
    cleanups.push(() => closeRedis(subscriber));
    await commands.config('SET', 'notify-keyspace-events', 'E$gsx');
    const events: KeyEvent[] = [];
    subscriber.on('message', (channel: string, key: string) => {
      if (key === 'lock:sync' || key.startsWith('lock:sync:tick:') || /^dirty:[a-z]+:syncing$/.test(key) || key.startsWith('marker:')) {
        events.push({ event: channel.slice(channel.lastIndexOf(':') + 1), key });
      }
    });
    await subscriber.subscribe('__keyevent@0__:set', '__keyevent@0__:del', '__keyevent@0__:expired', '__keyevent@0__:sunionstore');

    // A player keeps changing things, so that sync runs have dirty sets to claim.
    const worker0 = world.worker(0);
    const { token } = await registerPlayer(worker0.baseUrl);
    const client = await GameClient.connect(worker0.wsUrl);
    cleanups.push(() => client.close());
    await client.ok('auth', { token });
    const { inventory } = await client.ok<{ inventory: { items: ItemSlot[] } }>('inventory');
    const bandages = slotOf(inventory.items, 'bandage').slot;
    let playing = true;
    let changes = 0;
    const play = (async () => {
      while (playing) {
        const { dropped } = await client.ok<{ dropped: { id: string } }>('drop', { slot: bandages, qty: 1 });
        await client.ok('pickup', { groundItemId: dropped.id });
        changes += 2;
      }
    })();

    // The job's runs as each worker counts them (cinder_job_runs_total, whatever the result).
    const syncRunsCounted = async () => {
      let sum = 0;
      for (const worker of world.workers) {
        const text = await (await fetch(`${worker.baseUrl}/metrics`)).text();
        for (const match of text.matchAll(/^cinder_job_runs_total\{([^}]*)\} (\d+)$/gm)) if (match[1]?.includes('job="sync"')) sum += Number(match[2]);
      }
      return sum;
    };
    const countedBefore = await syncRunsCounted();

    const startedAt = Date.now();
    await passTimeUntil(startedAt + (TICKS + 2) * INTERVAL);
    const stoppedAt = Date.now();
    playing = false;
    await play;
    const countedRuns = (await syncRunsCounted()) - countedBefore;
    // Everything Redis did up to now has been delivered once this marker's own event arrives.
    const marker = `marker:${randomUUID()}`;
    await commands.set(marker, '1');
    for (let step = 0; step < 500 && !events.some((e) => e.key === marker); step++) await delay(10);
    const stopAt = events.findIndex((e) => e.key === marker);
    expect(stopAt).toBeGreaterThanOrEqual(0);

    // Analyse from the first run that started after subscribing; before it a run may be half seen.
    const firstRun = events.findIndex((e) => e.key === 'lock:sync' && e.event === 'set');
    expect(firstRun).toBeGreaterThanOrEqual(0);
    const seen = events.slice(firstRun, stopAt);

    const claims = seen.filter((e) => e.event === 'set' && e.key.startsWith('lock:sync:tick:')).map((e) => Number(e.key.slice('lock:sync:tick:'.length)));
    expect(repeated(claims), 'ticks claimed twice').toEqual([]);

    // The running lease: taken (a run starts), then released by its holder, never overlapping,
    // never left to expire; and each run needs a tick claim of its own.
    let running = false;
    let runs = 0;
    let claimsSoFar = 0;
    let dirtyClaims = 0;
    const claimedThisRun = new Set<string>();
    const problems: string[] = [];
    for (const [index, { event, key }] of seen.entries()) {
      if (event === 'set' && key.startsWith('lock:sync:tick:')) claimsSoFar += 1;
      if (key === 'lock:sync') {
        if (event === 'set') {
          if (running) problems.push(`#${index}: a run started while another was running`);
          running = true;
          runs += 1;
          claimedThisRun.clear();
          if (runs > claimsSoFar + 1) problems.push(`#${index}: run ${runs} after only ${claimsSoFar} tick claims`);
        } else if (event === 'del') {
          if (!running) problems.push(`#${index}: a release without a run`);
          running = false;
        } else {
          problems.push(`#${index}: the running lease ${event}`);
        }
      }
      if (event === 'sunionstore' && /^dirty:[a-z]+:syncing$/.test(key)) {
        dirtyClaims += 1;
        if (!running) problems.push(`#${index}: ${key} claimed outside a sync run`);
        // A run claims each kind once: a second claim under one lease is the job run twice.
        if (claimedThisRun.has(key)) problems.push(`#${index}: ${key} claimed twice in run ${runs}`);
        claimedThisRun.add(key);
      }
    }
    expect(problems).toEqual([]);

    const first = Math.floor(startedAt / INTERVAL) + 1;
    const last = Math.floor(stoppedAt / INTERVAL) - 1;
    const expected = last - first + 1;
    const claimedInWindow = new Set(claims.filter((tick) => tick >= first && tick <= last)).size;
    console.log(
      `[jobsOnce] ${WORKERS} processes: ${claimedInWindow} of ${expected} ticks claimed, ${runs} sync runs, ` +
        `${dirtyClaims} dirty-set claims, ${changes} player changes, ${countedRuns} runs counted by the workers`,
    );
    expect(expected).toBeGreaterThanOrEqual(TICKS);
    expect(claimedInWindow).toBeGreaterThanOrEqual(Math.ceil(0.9 * expected));
    // The first run seen may belong to the tick just before the window, the last to the tick after it.
    expect(runs).toBeLessThanOrEqual(claims.length + 1);
    expect(runs).toBeGreaterThanOrEqual(Math.ceil(0.9 * expected));
    expect(dirtyClaims).toBeGreaterThan(0);
    // Each run seen through Redis ran the job once: the workers counted as many runs, give or take
    // the one under way at each of the two scrapes.
    expect(Math.abs(countedRuns - runs), `${countedRuns} runs counted by the workers, ${runs} seen`).toBeLessThanOrEqual(2);
  }, 120_000);
});
