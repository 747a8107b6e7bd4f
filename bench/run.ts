// `npm run bench`: Cinder in scaled mode on real Redis + PostgreSQL, driven over real WebSockets by
// open-loop load generators, then the bare baseline under the same load; prints a human summary
// and the JSON result (also written to OUT/result.json). See docs/benchmarks.md.
//
// Phases: seed players → start workers → connect every player → hold them at 1 action / 5 s
// (memory, steady-state SQL) → dirty every player and time the batch sync → step the offered rate
// with the active players until p99 passes the bound → broadcast latency at a fixed rate →
// disconnect everyone → the baseline's steps and broadcast → CPU profiles → targets.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { openPostgres } from '../src/adapters/durable/pgClient.ts';
import { DIRTY_KINDS, keys } from '../src/adapters/keys.ts';
import { startRelays, stopRelays, type RelayProcess } from './baseline/relayProcesses.ts';
import { nowUs, sleep } from './clock.ts';
import { parseFlags } from './flags.ts';
import type { BotSpec, PhaseSpec } from './loadgen/messages.ts';
import { GeneratorPool } from './loadgen/pool.ts';
import { rssBytes, CpuMeter } from './procfs.ts';
import { summariseProfile } from './profile.ts';
import { sum } from './promText.ts';
import { humanSummary, jsonSummary, stringify, targets, type BenchResult, type SyncFigures } from './report.ts';
import { seedBots } from './seed.ts';
import { startServices } from './services.ts';
import { makeSavedRowsStale, staleRowsLeft, totalRows } from './staleRows.ts';
import { delta, deltaBy, redisCommands, round, Snapshots, type Snapshot } from './snapshots.ts';
import { measure, slowReplyLines, stepSearch, type PhaseReport } from './steps.ts';
import { formatHeapSample, summariseHeapSample, type HeapSampleSummary } from './heapSample.ts';
import { heapGrowth, summariseHeapSnapshot } from './heapSnapshot.ts';
import { adminSave, heapSampleFile, mainThreadProfile, startWorkers, stopWorker, takeHeapSnapshot, type Worker } from './workers.ts';
import { startScriptNodeFlags } from '../test/support/startScript.ts';
import { placementOfBot, prepareWorld } from './world.ts';

const log = (line: string) => {
  console.error(line);
};

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const out = flags.out ?? (await mkdtemp(join(tmpdir(), 'cinder-bench-')));
  await mkdir(out, { recursive: true });
  const profileDir = flags.cpuProf ? join(out, 'profiles') : undefined;
  const heapDir = flags.heapSnapshot ? join(out, 'heap') : undefined;
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  log(`[bench] logs, profiles and result.json go to ${out}`);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => { log(`[bench] cleanup: ${String(error)}`); });
  };
  try {
    const services = await startServices();
    cleanups.push(() => services.dispose());
    log(`[bench] Redis ${services.redis.version} at ${services.redisUrl}, PostgreSQL ${services.postgres.version}`);

    const world = await prepareWorld(flags.world, flags.players, flags.perLocation, out);
    const tokenSecret = randomBytes(32).toString('base64url');
    let started = performance.now();
    const seeded = await seedBots(services.databaseUrl, world, flags.players, tokenSecret);
    const seedMs = Math.round(performance.now() - started);
    log(`[bench] seeded ${seeded.length} players in ${seedMs} ms (world ${flags.world}, ${world.placements.length} locations)`);

    started = performance.now();
    const nodeFlags = flags.nodeFlags ?? startScriptNodeFlags();
    let workers: Worker[] = await startWorkers(flags.workers, {
      nodeFlags,
      redisUrl: services.redisUrl,
      databaseUrl: services.databaseUrl,
      contentDir: world.dir,
      tokenSecret,
      logDir: out,
      cpuProfDir: profileDir,
      heapSnapshotDir: heapDir,
      heapSampleDir: flags.heapSample ? out : undefined,
    });
    const workersStartMs = Math.round(performance.now() - started);
    cleanups.push(() => Promise.all(workers.map((worker) => stopWorker(worker, 5000))));
    log(`[bench] ${workers.length} workers up in ${workersStartMs} ms (pids ${workers.map((w) => w.pid).join(', ')}; node flags: ${nodeFlags.length > 0 ? nodeFlags.join(' ') : 'none'})`);

    let pool: GeneratorPool | undefined;
    let relays: RelayProcess[] = [];
    const cpu = new CpuMeter(() => ({
      ...Object.fromEntries(workers.map((worker) => [`worker${worker.index}`, { pids: [worker.pid] }])),
      ...Object.fromEntries(relays.map((relay) => [`relay${relay.index}`, { pids: [relay.pid] }])),
      redis: { pids: [services.redisPid] },
      postgres: { pids: [services.postgresPid], withChildren: true },
      generators: { pids: pool?.pids ?? [] },
    }));
    const snapshots = new Snapshots(services.admin, () => workers, cpu);

    const cinderBots: BotSpec[] = seeded.map((bot) => {
      const worker = workers[bot.index % workers.length] as Worker;
      const place = placementOfBot(world, bot.index);
      return { index: bot.index, url: worker.wsUrl, token: bot.token, server: worker.index, outbound: place.outbound, inbound: place.inbound };
    });
    pool = await GeneratorPool.start(flags.generators, cinderBots);
    const cinderPool = pool;
    cleanups.push(() => cinderPool.stop());

    // ── memory before anyone connects ──
    await sleep(2000);
    const idleRssBytes = workers.map((worker) => rssBytes(worker.pid));
    const idleHeapBytes = await heapUsed(workers);
    // A snapshot allocates inside the worker: its RSS figures are then too high (see docs/benchmarks.md).
    const idleSnapshot = heapDir === undefined ? undefined : await summariseHeapSnapshot(await takeHeapSnapshot(workers[0] as Worker, heapDir, 120_000));

    // ── connect everyone ──
    let before = await snapshots.take();
    const connect = await pool.connect(0, flags.players, 64);
    let after = await snapshots.take();
    log(`[bench] connected ${connect.connected} players in ${connect.ms} ms (${connect.failed} failed${connect.errors.length > 0 ? `: ${connect.errors.join('; ')}` : ''})`);
    const connectReport = {
      players: flags.players,
      ...connect,
      perSecond: Math.round(connect.connected / (connect.ms / 1000)),
      sqlStatementsPerConnect: round(delta(before, after, 'cinder_sql_statements_total') / Math.max(1, connect.connected), 2),
      redisCommandsPerConnect: round(redisCommands(before, after) / Math.max(1, connect.connected), 1),
    };

    // ── hold everyone at 1 action / holdInterval s ──
    const holdSpec: PhaseSpec = {
      name: 'hold',
      rate: flags.players / flags.holdIntervalS,
      warmupMs: 2000,
      measureMs: flags.holdSeconds * 1000,
      drainMs: 3000,
      mix: flags.holdMix,
      botsBelow: flags.players,
    };
    await waitForQuietMachine(cpu, 60_000);
    const hold = await measure(pool, snapshots, holdSpec);
    const heldRssBytes = workers.map((worker) => rssBytes(worker.pid));
    const heldHeapBytes = await heapUsed(workers);
    const connectedNow = workers.length === 0 ? 0 : hold.after.metrics.reduce((acc, samples) => acc + sum(samples, 'cinder_connected_sockets'), 0);
    const bytesPerPlayer = heldRssBytes.reduce((acc, rss, i) => acc + rss - (idleRssBytes[i] ?? 0), 0) / Math.max(1, connectedNow);
    log(`[bench] hold: ${hold.report.achieved}/s, p99 ${hold.report.latency.p99} ms; ${connectedNow} sockets; RSS ${round(bytesPerPlayer / 1024, 1)} KB per player`);

    // ── what the held players' memory is made of: worker 0's heap now minus before they came ──
    let heap: BenchResult['heap'];
    if (heapDir !== undefined && idleSnapshot !== undefined) {
      const playersThere = sum(hold.after.metrics[0] ?? [], 'cinder_connected_sockets');
      const held = await summariseHeapSnapshot(await takeHeapSnapshot(workers[0] as Worker, heapDir, 180_000));
      const growth = heapGrowth(idleSnapshot, held, 30);
      heap = { worker: 0, players: playersThere, idleLiveBytes: idleSnapshot.liveBytes, heldLiveBytes: held.liveBytes, growth };
      log(`[bench] heap of worker 0: ${round(idleSnapshot.liveBytes / 1048576, 1)} MB live before, ${round(held.liveBytes / 1048576, 1)} MB with ${playersThere} players`);
    }

    // ── batch sync: first under play (every player moves and toggles equipment while the sync
    //    job runs every 5 s), then alone (every player marked dirty at once, one manual save) ──
    await waitForQuietMachine(cpu, 60_000);
    before = await snapshots.take();
    const syncActions = await measure(pool, snapshots, {
      name: 'sync-dirty',
      rate: flags.syncRate,
      warmupMs: 0,
      measureMs: ((2 * flags.players) / flags.syncRate) * 1000 + 1000,
      drainMs: 60_000,
      mix: { move: 1, equip: 1 },
      botsBelow: flags.players,
      maxActions: 2 * flags.players,
    });
    await waitForCleanDirtySets(services.admin, 30_000);
    after = await snapshots.take();
    const underPlay = syncFigures(before, after);
    log(`[bench] sync under play: ${underPlay.rows} rows in ${underPlay.syncs} syncs, ${underPlay.seconds} s → ${underPlay.rowsPerSecond} rows/s`);
    // Everyone away walks home: the steps start from --per-location players in each location.
    const walkedHome = await pool.run({
      name: 'walk-home',
      rate: flags.syncRate,
      warmupMs: 0,
      measureMs: (flags.players / flags.syncRate) * 1000 + 1000,
      drainMs: 60_000,
      mix: { move: 1 },
      botsBelow: flags.players,
      maxActions: flags.players,
      homeward: true,
    });
    log(`[bench] ${walkedHome.okReplies} players walked home (${walkedHome.errorReplies} refused)`);
    await waitForCleanDirtySets(services.admin, 30_000);

    // Every saved slot made to differ from the hot state, so the save rewrites every row.
    const sql = await openPostgres(services.databaseUrl, { max: 1 });
    const savedRows = await makeSavedRowsStale(sql);
    await waitForQuietMachine(cpu, 60_000);
    before = await snapshots.take();
    await markDirty(services.admin, seeded.map((bot) => bot.characterId));
    started = performance.now();
    const saveReport = await adminSave(workers[0] as Worker);
    const adminSaveMs = Math.round(performance.now() - started);
    await waitForCleanDirtySets(services.admin, 30_000);
    after = await snapshots.take();
    const left = await staleRowsLeft(sql);
    await sql.close();
    const alone = syncFigures(before, after);
    const staleLeft = totalRows(left);
    const postgresRows = totalRows(savedRows) - staleLeft;
    const rewritten = { ...savedRows, total: postgresRows, perSecond: round(postgresRows / Math.max(1e-9, alone.seconds), 0), staleLeft };
    const syncWindow = { fromUs: before.atUs, toUs: after.atUs };
    const sync = { actions: syncActions.report, underPlay, alone: { ...alone, adminSaveMs, adminSaveReport: saveReport, rewritten } };
    log(`[bench] sync alone: ${alone.rows} rows in ${alone.syncs} syncs, ${alone.seconds} s → ${alone.rowsPerSecond} rows/s (manual save ${adminSaveMs} ms: ${JSON.stringify(saveReport)})`);
    log(`[bench] sync alone rewrote ${postgresRows} of ${totalRows(savedRows)} PostgreSQL rows ${JSON.stringify(savedRows)} → ${rewritten.perSecond} rows/s; left stale: ${JSON.stringify(left)}`);

    // ── throughput steps and broadcast, with the active players ──
    const cinderPhase = (name: string, rate: number, seconds: number): PhaseSpec => ({
      name,
      rate,
      warmupMs: flags.warmup * 1000,
      measureMs: seconds * 1000,
      drainMs: 3000,
      mix: flags.mix,
      botsBelow: flags.active,
    });
    const quiet = () => waitForQuietMachine(cpu, 60_000);
    // With --heap-sample, each worker samples its allocations for the whole of the steps.
    const signalWorkers = () => {
      if (flags.heapSample) for (const worker of workers) process.kill(worker.pid, 'SIGUSR2');
    };
    signalWorkers();
    const cinder = await stepSearch('cinder', flags.rates, flags.p99BoundMs, async (name, rate) => {
      await quiet();
      return (await measure(cinderPool, snapshots, cinderPhase(name, rate, flags.duration))).report;
    }, log);
    signalWorkers();
    const heapSamples = flags.heapSample ? await Promise.all(workers.map((worker) => readHeapSample(heapSampleFile(out, worker.index)))) : [];
    for (const summary of heapSamples) for (const line of formatHeapSample(summary)) log(`[bench] ${line}`);
    await quiet();
    const broadcast = await measure(pool, snapshots, cinderPhase('cinder-broadcast', flags.broadcastRate, flags.broadcastSeconds));
    log(`[bench] cinder broadcast at ${flags.broadcastRate}/s: cross-worker p50 ${broadcast.report.broadcastCross.p50} ms, p99 ${broadcast.report.broadcastCross.p99} ms`);
    for (const line of slowReplyLines(broadcast.report)) log(`[bench]   ${line}`);
    const runStart = hold.before;
    const runEnd = await snapshots.take();
    // Memory again, the players still connected after minutes of play: the heap has grown to what
    // its collections let it reach, and RSS does not shrink back (see docs/benchmarks.md).
    const playedRssBytes = workers.map((worker) => rssBytes(worker.pid));
    const playedHeapBytes = await heapUsed(workers);
    const connectedAfterPlay = runEnd.metrics.reduce((acc, samples) => acc + sum(samples, 'cinder_connected_sockets'), 0);
    const playedBytesPerPlayer = playedRssBytes.reduce((acc, rss, i) => acc + rss - (idleRssBytes[i] ?? 0), 0) / Math.max(1, connectedAfterPlay);
    log(`[bench] after the steps: ${connectedAfterPlay} sockets; RSS ${round(playedBytesPerPlayer / 1024, 1)} KB per player`);
    const cleanupRuns = delta(runStart, runEnd, 'cinder_job_duration_seconds_count', { job: 'disconnected-cleanup' });
    const cleanupJob = { runs: cleanupRuns, averageSeconds: round(delta(runStart, runEnd, 'cinder_job_duration_seconds_sum', { job: 'disconnected-cleanup' }) / Math.max(1, cleanupRuns), 3) };
    const statementsPerWrittenSync = round(
      delta(runStart, runEnd, 'cinder_sql_statements_total', { operation: 'batch_sync' }) / Math.max(1, delta(runStart, runEnd, 'cinder_sync_runs_total', { result: 'written' })),
      1,
    );

    // ── everyone leaves (each leave is a forced sync of that player), then the workers stop ──
    started = performance.now();
    const closed = await pool.disconnect();
    await waitForQuietWorkers(workers, services.admin, 180_000);
    const disconnectMs = Math.round(performance.now() - started);
    const poolTimeouts = await countInLogs(out, workers, 'timeout exceeded when trying to connect');
    log(`[bench] ${closed} players disconnected; workers quiet after ${disconnectMs} ms (${poolTimeouts} forced syncs timed out waiting for a pooled PostgreSQL connection and were retried)`);
    await pool.stop();
    const workerExitCodes = await Promise.all(workers.map((worker) => stopWorker(worker, 60_000)));
    // Kept for the profiles below, which are found by worker index and pid.
    const stopped = workers.map(({ index, pid }) => ({ index, pid }));
    workers = [];

    // ── the bare baseline, same generators, same active players and mix ──
    let baseline: BenchResult['baseline'];
    if (flags.baseline) {
      relays = await startRelays(flags.workers, services.redisUrl);
      cleanups.push(() => stopRelays(relays));
      const baselineBots: BotSpec[] = cinderBots.slice(0, flags.active).map((bot) => {
        const relay = relays[bot.index % relays.length] as RelayProcess;
        return { ...bot, url: relay.wsUrl, server: relay.index, token: `${Math.floor(bot.index / flags.perLocation)}.${bot.index}` };
      });
      pool = await GeneratorPool.start(flags.generators, baselineBots);
      const baselinePool = pool;
      cleanups.push(() => baselinePool.stop());
      const baseConnect = await pool.connect(0, flags.active, 64);
      log(`[bench] baseline: ${baseConnect.connected} connected (${baseConnect.failed} failed)`);
      const steps = await stepSearch('baseline', flags.baselineRates, flags.p99BoundMs, async (name, rate) => {
        await quiet();
        return (await measure(baselinePool, snapshots, cinderPhase(name, rate, flags.duration))).report;
      }, log);
      await quiet();
      const baseBroadcast = (await measure(pool, snapshots, cinderPhase('baseline-broadcast', flags.broadcastRate, flags.broadcastSeconds))).report;
      baseline = { steps, broadcast: baseBroadcast };
      await pool.stop();
      await stopRelays(relays);
      relays = [];
    }

    // ── CPU profiles: all Cinder steps, the saturated step alone, and the batch sync ──
    const profiles: BenchResult['profiles'] = [];
    if (profileDir !== undefined) {
      const windows: { window: string; fromUs: number; toUs: number }[] = [];
      const first = cinder.steps[0];
      const last = cinder.steps.at(-1);
      if (first && last) windows.push({ window: 'all Cinder throughput steps', fromUs: first.fromUs, toUs: last.toUs });
      const knee: PhaseReport | undefined = cinder.saturated ?? cinder.best;
      if (knee) windows.push({ window: `step ${knee.name} (${knee.pass === true ? 'within' : 'beyond'} the bound)`, fromUs: knee.fromUs, toUs: knee.toUs });
      windows.push({ window: 'batch sync of every player, alone', ...syncWindow });
      for (const { index, pid } of stopped) {
        const path = await mainThreadProfile(profileDir, index, pid);
        if (path === undefined) {
          log(`[bench] no CPU profile for worker ${index} (did it exit cleanly?)`);
          continue;
        }
        for (const { window, fromUs, toUs } of windows) profiles.push({ worker: index, window, summary: await summariseProfile(path, { fromUs, toUs }) });
      }
    }

    const partial: Omit<BenchResult, 'targets'> = {
      flags,
      machine: { cpus: availableParallelism(), node: process.version, redis: services.redis.version, postgres: services.postgres.version },
      setup: { seedMs, workersStartMs, nodeFlags, world: flags.world, locations: world.placements.length },
      connect: connectReport,
      hold: { ...hold.report, players: flags.players },
      memory: {
        idleRssBytes,
        heldRssBytes,
        idleHeapBytes,
        heldHeapBytes,
        players: connectedNow,
        bytesPerPlayer: Math.round(bytesPerPlayer),
        heapBytesPerPlayer: Math.round(heldHeapBytes.reduce((acc, heap, i) => acc + heap - (idleHeapBytes[i] ?? 0), 0) / Math.max(1, connectedNow)),
        afterPlay: {
          seconds: Math.round((runEnd.atUs - hold.before.atUs) / 1e6),
          players: connectedAfterPlay,
          rssBytes: playedRssBytes,
          heapBytes: playedHeapBytes,
          bytesPerPlayer: Math.round(playedBytesPerPlayer),
        },
      },
      heap,
      sync,
      cinder,
      cinderBroadcast: broadcast.report,
      statementsPerWrittenSync,
      cleanupJob,
      disconnect: { ms: disconnectMs, closed, poolTimeouts },
      workerExitCodes,
      baseline,
      ratio: { throughput: baseline?.steps.best && cinder.best ? round(cinder.best.achieved / baseline.steps.best.achieved, 3) : undefined },
      profiles,
      heapSamples,
    };
    const result: BenchResult = { ...partial, targets: targets(partial) };
    await writeFile(join(out, 'result.json'), stringify(result, 1));
    console.log(jsonSummary(result));
    console.log(humanSummary(result));
    console.log(`\n(result.json, worker logs${profileDir === undefined ? '' : ' and CPU profiles'} in ${out})`);
  } finally {
    await cleanup();
  }
}

/**
 * On a shared machine, waits (up to `maxWaitMs`) until other people's processes use less than a
 * quarter of a core, so that a step is not measured while someone's test suite holds the CPUs.
 */
/** The profile a worker writes on its second SIGUSR2 (it appears a moment later), summarised. */
async function readHeapSample(file: string): Promise<HeapSampleSummary> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      return await summariseHeapSample(file);
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`no heap sample in ${file}`, { cause: error });
      await sleep(200);
    }
  }
}

async function waitForQuietMachine(cpu: CpuMeter, maxWaitMs: number): Promise<void> {
  const deadline = performance.now() + maxWaitMs;
  let warned = false;
  for (;;) {
    const before = cpu.sample();
    await sleep(1000);
    const others = CpuMeter.cores(before, cpu.sample()).others ?? 0;
    if (others < 0.25) return;
    if (performance.now() > deadline) {
      log(`[bench] other processes still use ${others} cores; measuring anyway (see "others" in the cpu columns)`);
      return;
    }
    if (!warned) log(`[bench] other processes use ${others} cores; waiting for the machine to calm down`);
    warned = true;
  }
}

/** How many lines of the workers' logs mention `text`. */
async function countInLogs(dir: string, workers: readonly Worker[], text: string): Promise<number> {
  let n = 0;
  for (const worker of workers) {
    const log = await readFile(join(dir, `worker-${worker.index}.log`), 'utf8').catch(() => '');
    for (const line of log.split('\n')) if (line.includes(text)) n++;
  }
  return n;
}

/** V8 heap in use per worker (prom-client's default metrics). */
async function heapUsed(workers: readonly Worker[]): Promise<number[]> {
  return Promise.all(workers.map(async (worker) => sum(await worker.metrics(), 'nodejs_heap_size_used_bytes')));
}

/** What the batch syncs between two snapshots did: rows, time, statements, time waiting on SQL. */
function syncFigures(before: Snapshot, after: Snapshot): SyncFigures {
  const rowsByKind = deltaBy(before, after, 'cinder_sync_rows_total', 'kind');
  const rows = Object.values(rowsByKind).reduce((a, b) => a + b, 0);
  const seconds = delta(before, after, 'cinder_sync_duration_seconds_sum', { result: 'written' });
  const syncs = delta(before, after, 'cinder_sync_runs_total', { result: 'written' });
  const statements = delta(before, after, 'cinder_sql_statements_total', { operation: 'batch_sync' });
  const sqlSeconds = delta(before, after, 'cinder_sql_statement_duration_seconds_sum', { operation: 'batch_sync' });
  return {
    rows,
    rowsByKind,
    syncs,
    seconds: round(seconds, 4),
    rowsPerSecond: round(rows / Math.max(1e-9, seconds), 0),
    statementsPerSync: round(statements / Math.max(1, syncs), 1),
    statementsByName: deltaBy(before, after, 'cinder_sql_statements_total', 'statement', { operation: 'batch_sync' }),
    sqlSeconds: round(sqlSeconds, 4),
    sqlSecondsByStatement: Object.fromEntries(
      Object.entries(deltaBy(before, after, 'cinder_sql_statement_duration_seconds_sum', 'statement', { operation: 'batch_sync' })).map(([name, value]) => [name, round(value, 4)]),
    ),
  };
}

/** Marks characters dirty exactly as play does (position, inventory, equipment sets), in one pipeline. */
async function markDirty(admin: Redis, characterIds: readonly number[]): Promise<void> {
  const members = characterIds.map(String);
  const pipeline = admin.pipeline();
  for (const kind of ['position', 'inventory', 'equipment'] as const) {
    for (let i = 0; i < members.length; i += 1000) pipeline.sadd(keys.dirty(kind), ...members.slice(i, i + 1000));
  }
  await pipeline.exec();
}

/** Waits until the sync has taken every dirty set (and finished with its claims). */
async function waitForCleanDirtySets(admin: Redis, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const sets = DIRTY_KINDS.flatMap((kind) => [keys.dirty(kind), keys.dirtyClaim(kind)]);
  while (performance.now() < deadline) {
    const sizes = await Promise.all(sets.map((key) => admin.scard(key)));
    if (sizes.every((size) => size === 0)) return;
    await sleep(200);
  }
  log('[bench] dirty sets still not empty; the sync figures cover what was written');
}

/**
 * Waits until no worker holds a socket, no player is online in Redis, and the workers' SQL
 * statement counters have stood still for two seconds (the forced syncs of leaving players are
 * done, including those waiting for a pooled connection and retried).
 */
async function waitForQuietWorkers(workers: readonly Worker[], admin: Redis, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let stillSince = performance.now();
  while (performance.now() < deadline) {
    const metrics = await Promise.all(workers.map((worker) => worker.metrics()));
    const sockets = metrics.reduce((acc, samples) => acc + sum(samples, 'cinder_connected_sockets'), 0);
    const statements = metrics.reduce((acc, samples) => acc + sum(samples, 'cinder_sql_statements_total'), 0);
    const online = await admin.scard(keys.presenceOnline());
    if (statements !== last) stillSince = performance.now();
    last = statements;
    if (sockets === 0 && online === 0 && performance.now() - stillSince >= 2000) return;
    await sleep(250);
  }
  log('[bench] workers still busy with leaving players');
}

const startedUs = nowUs();
main().then(
  () => {
    log(`[bench] done in ${round((nowUs() - startedUs) / 1e6, 1)} s`);
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
