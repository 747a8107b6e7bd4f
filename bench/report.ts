// The bench's result: the JSON written to result.json and printed, and the human summary with
// each figure against its target.
import type { Flags } from './flags.ts';
import type { LatencySummary } from './histogram.ts';
import type { HeapSampleSummary } from './heapSample.ts';
import { formatHeap, type HeapSummary } from './heapSnapshot.ts';
import type { ProfileSummary } from './profile.ts';
import { round } from './snapshots.ts';
import type { SavedRows } from './staleRows.ts';
import type { PhaseReport, StepSearch } from './steps.ts';

export interface BenchResult {
  flags: Flags;
  machine: { cpus: number; node: string; redis: string; postgres: string };
  setup: { seedMs: number; workersStartMs: number; nodeFlags: readonly string[]; world: string; locations: number };
  connect: { players: number; connected: number; failed: number; errors: string[]; ms: number; perSecond: number; sqlStatementsPerConnect: number; redisCommandsPerConnect: number };
  hold: PhaseReport & { players: number };
  memory: {
    idleRssBytes: number[];
    heldRssBytes: number[];
    idleHeapBytes: number[];
    heldHeapBytes: number[];
    players: number;
    bytesPerPlayer: number;
    heapBytesPerPlayer: number;
    /** The same players still connected after the sync phases, the steps and the broadcast. */
    afterPlay: { seconds: number; players: number; rssBytes: number[]; heapBytes: number[]; bytesPerPlayer: number };
  };
  /** Worker 0's heap after the hold phase (with --heap-snapshot). */
  heap: { worker: number; players: number; idleLiveBytes: number; heldLiveBytes: number; growth: HeapSummary } | undefined;
  sync: {
    /** The dirtying actions (a move and an equip/unequip per player). */
    actions: PhaseReport;
    /** The syncs that ran while those actions were being served (the job's 5 s schedule). */
    underPlay: SyncFigures;
    /** Every player marked dirty at once, then one manual save, the workers otherwise idle. */
    alone: SyncFigures & { adminSaveMs: number; adminSaveReport: unknown; rewritten: RewrittenRows };
  };
  cinder: StepSearch;
  cinderBroadcast: PhaseReport;
  /** The disconnected-player cleanup job from the hold phase to the end of the Cinder phases. */
  cleanupJob: { runs: number; averageSeconds: number };
  /** Over the whole Cinder run: SQL statements sent by batch syncs / written syncs. */
  statementsPerWrittenSync: number;
  disconnect: { ms: number; closed: number; poolTimeouts: number };
  workerExitCodes: (number | null)[];
  baseline: { steps: StepSearch; broadcast: PhaseReport } | undefined;
  ratio: { throughput: number | undefined };
  profiles: { worker: number; window: string; summary: ProfileSummary }[];
  /** With --heap-sample: per worker, what only a mark-compact collected during the steps, by allocation stack. */
  heapSamples: HeapSampleSummary[];
  targets: TargetRow[];
}

/** The sync alone's PostgreSQL rows: every saved row was made stale before it (bench/staleRows.ts); by table, the rows there were. */
export interface RewrittenRows extends SavedRows {
  /** Rows the save rewrote: those there were, less those still stale. */
  total: number;
  /** total ÷ the sync's duration. */
  perSecond: number;
  /** Rows still stale after the save: 0 when it rewrote every row. */
  staleLeft: number;
}

export interface SyncFigures {
  rows: number;
  rowsByKind: Record<string, number>;
  /** Syncs that wrote something. */
  syncs: number;
  /** Their total duration (claim, read Redis, write PostgreSQL). */
  seconds: number;
  rowsPerSecond: number;
  statementsPerSync: number;
  statementsByName: Record<string, number>;
  /** Of `seconds`, the time spent waiting on SQL statements (BEGIN/COMMIT are not timed). */
  sqlSeconds: number;
  sqlSecondsByStatement: Record<string, number>;
}

export interface TargetRow {
  figure: string;
  target: string;
  measured: string;
  met: boolean;
  /** For a miss: by how much. */
  miss?: string;
}

const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? String(round(value, digits)) : 'timeout');
const kb = (bytes: number) => `${round(bytes / 1024, 1)} KB`;

export function targets(result: Omit<BenchResult, 'targets'>): TargetRow[] {
  const rows: TargetRow[] = [];
  const bound = result.flags.p99BoundMs;
  const best = result.cinder.best;
  const throughput = best?.achieved ?? 0;
  rows.push({
    figure: `player actions/s at p99 ≤ ${bound} ms (${result.flags.workers} workers)`,
    target: '≥ 10,000/s',
    measured: best ? `${throughput}/s (offered ${best.offered}/s; p50 ${fmt(best.latency.p50)} / p95 ${fmt(best.latency.p95)} / p99 ${fmt(best.latency.p99)} ms)` : 'no step within the bound',
    met: throughput >= 10_000,
    ...(throughput >= 10_000 ? {} : { miss: `${10_000 - throughput}/s short (${round((throughput / 10_000) * 100, 0)}% of target)` }),
  });
  const ratio = result.ratio.throughput;
  if (ratio !== undefined && result.baseline) {
    const baseBest = result.baseline.steps.best;
    rows.push({
      figure: `throughput vs bare ws + Redis pub/sub baseline at the same p99 bound`,
      target: '≥ 0.67 (2/3)',
      measured: `${fmt(ratio)} (baseline ${baseBest?.achieved ?? 0}/s, p99 ${fmt(baseBest?.latency.p99 ?? Number.NaN)} ms)`,
      met: ratio >= 2 / 3,
      ...(ratio >= 2 / 3 ? {} : { miss: `${fmt(2 / 3 - ratio)} below (Cinder would need ${Math.ceil(((baseBest?.achieved ?? 0) * 2) / 3)}/s)` }),
    });
  }
  const cross: LatencySummary = result.cinderBroadcast.broadcastCross;
  const p50ok = cross.p50 <= 2;
  const p99ok = cross.p99 <= 10;
  rows.push({
    figure: `cross-worker broadcast delivery at ${result.flags.broadcastRate} actions/s (${cross.count} deliveries)`,
    target: 'p50 ≤ 2 ms, p99 ≤ 10 ms',
    measured:
      `p50 ${fmt(cross.p50)} ms, p99 ${fmt(cross.p99)} ms (achieved ${result.cinderBroadcast.achieved}/s)` +
      (best ? `; at ${best.offered}/s, the highest rate within the bound: p50 ${fmt(best.broadcastCross.p50)} ms, p99 ${fmt(best.broadcastCross.p99)} ms` : ''),
    met: p50ok && p99ok && cross.count > 0,
    ...(p50ok && p99ok ? {} : { miss: [p50ok ? '' : `p50 ${fmt(cross.p50 - 2)} ms over`, p99ok ? '' : `p99 ${fmt(cross.p99 - 10)} ms over`].filter(Boolean).join(', ') }),
  });
  const held = result.connect.connected;
  const heldOk = held >= 10_000 && result.hold.achieved >= 0.95 * result.hold.offered;
  rows.push({
    figure: `players connected and held at 1 action / ${result.flags.holdIntervalS} s`,
    target: '≥ 10,000',
    measured: `${held} (${result.hold.achieved}/s served, p99 ${fmt(result.hold.latency.p99)} ms)`,
    met: heldOk,
    ...(heldOk ? {} : { miss: held < 10_000 ? `${10_000 - held} players short` : 'the hold rate was not served' }),
  });
  // Judged on the larger figure: after minutes of play the heap has grown to its collections'
  // limit and RSS keeps that high-water mark, which is what an operator must provision.
  const { afterPlay } = result.memory;
  const perPlayer = Math.max(result.memory.bytesPerPlayer, afterPlay.bytesPerPlayer);
  rows.push({
    figure: 'worker RSS per connected player (the larger of: after the hold, after all the play)',
    target: '≤ 20 KB',
    measured: `${kb(perPlayer)} (after the hold ${kb(result.memory.bytesPerPlayer)}; after ${afterPlay.seconds} s of play with ${afterPlay.players} players connected ${kb(afterPlay.bytesPerPlayer)})`,
    met: perPlayer <= 20 * 1024,
    ...(perPlayer <= 20 * 1024 ? {} : { miss: `${kb(perPlayer - 20 * 1024)} over` }),
  });
  const sqlPerAction = result.hold.sqlStatementsPerAction;
  rows.push({
    figure: 'SQL statements per player action, steady state (hold phase, sync job running)',
    target: '≤ 0.01',
    measured: `${fmt(sqlPerAction, 5)} (${result.hold.sqlStatements} statements / ${result.hold.actionsSent} actions)`,
    met: sqlPerAction <= 0.01,
    ...(sqlPerAction <= 0.01 ? {} : { miss: `${fmt(sqlPerAction / 0.01, 1)}× the target` }),
  });
  const alone = result.sync.alone;
  rows.push({
    figure: 'batch sync to PostgreSQL (dirty rows per second of sync time; every player dirty and every saved row stale, one save)',
    target: '≥ 50,000/s',
    measured:
      `${alone.rowsPerSecond}/s (${alone.rows} rows in ${alone.syncs} sync${alone.syncs === 1 ? '' : 's'}, ${fmt(alone.seconds, 3)} s, of which ${fmt(alone.sqlSeconds, 3)} s SQL; ` +
      `${alone.rewritten.total} PostgreSQL rows rewritten, ${alone.rewritten.perSecond}/s, ${alone.rewritten.staleLeft} left stale)`,
    met: alone.rowsPerSecond >= 50_000 && alone.rewritten.staleLeft === 0,
    ...(alone.rowsPerSecond >= 50_000
      ? alone.rewritten.staleLeft === 0
        ? {}
        : { miss: `${alone.rewritten.staleLeft} rows left unwritten` }
      : { miss: `${50_000 - alone.rowsPerSecond}/s short (${round((alone.rowsPerSecond / 50_000) * 100, 0)}% of target)` }),
  });
  return rows;
}

function latencyLine(l: LatencySummary): string {
  return `p50 ${fmt(l.p50)}  p95 ${fmt(l.p95)}  p99 ${fmt(l.p99)}  max ${fmt(l.max)} ms${l.missing > 0 ? `  (${l.missing} without reply)` : ''}`;
}

function stepTable(search: StepSearch): string[] {
  const lines = ['  offered/s  achieved/s    p50 ms    p95 ms    p99 ms  errors  redis cmd/act  sql/act  lag p99  x-bcast p50/p99 ms  gc s / ≥10ms  cleanup s  cpu cores'];
  for (const step of search.steps) {
    const cpu = Object.entries(step.cpuCores)
      .filter(([, cores]) => cores >= 0.01)
      .map(([name, cores]) => `${name} ${cores}`)
      .join(', ');
    lines.push(
      `  ${String(step.offered).padStart(9)}  ${String(step.achieved).padStart(10)}  ${fmt(step.latency.p50).padStart(8)}  ${fmt(step.latency.p95).padStart(8)}  ${fmt(step.latency.p99).padStart(8)}` +
        `  ${String(step.errorReplies).padStart(6)}  ${String(step.redisCommandsPerAction).padStart(13)}  ${fmt(step.sqlStatementsPerAction, 4).padStart(7)}  ${fmt(step.scheduleLagP99).padStart(7)}` +
        `  ${`${fmt(step.broadcastCross.p50)}/${fmt(step.broadcastCross.p99)}`.padStart(17)}` +
        `  ${`${fmt(Object.values(step.gc.seconds).reduce((a, b) => a + b, 0))} / ${step.gc.pausesOver10ms}`.padStart(12)}` +
        `  ${fmt(step.jobs['disconnected-cleanup']?.seconds ?? 0, 3).padStart(9)}  ${step.pass === true ? '✓' : step.repeated === true ? '↻' : '✗'} ${cpu}`,
    );
  }
  return lines;
}

export function humanSummary(result: BenchResult): string {
  const { flags } = result;
  const out: string[] = [];
  out.push('', '══ Cinder bench ══════════════════════════════════════════════════════════');
  out.push(
    `${result.machine.cpus} CPUs, Node ${result.machine.node}, Redis ${result.machine.redis}, PostgreSQL ${result.machine.postgres}; ` +
      `${flags.workers} workers, ${flags.generators} load generators, world ${result.setup.world} (${result.setup.locations} locations, ${flags.perLocation} players each)`,
  );
  out.push(`seeded ${flags.players} players in ${result.setup.seedMs} ms; workers up in ${result.setup.workersStartMs} ms, node flags: ${result.setup.nodeFlags.join(' ') || 'none'}`);
  out.push('');
  out.push(`connect: ${result.connect.connected} players authenticated in ${result.connect.ms} ms (${result.connect.perSecond}/s, ${result.connect.failed} failed); ` +
    `${result.connect.sqlStatementsPerConnect} SQL statements and ${result.connect.redisCommandsPerConnect} Redis commands per connect`);
  const hold = result.hold;
  out.push(`hold: ${hold.players} players at 1 action / ${flags.holdIntervalS} s → ${hold.achieved}/s, ${latencyLine(hold.latency)}`);
  out.push(`      ${hold.redisCommandsPerAction} Redis commands and ${hold.sqlStatementsPerAction} SQL statements per action; errors ${JSON.stringify(hold.errorsByCode)}`);
  out.push(`      background jobs ${JSON.stringify(hold.jobs)}; GC ${JSON.stringify(hold.gc)}; cpu ${JSON.stringify(hold.cpuCores)}`);
  out.push(`      disconnected-player cleanup with ${result.connect.connected} players in the world: ${result.cleanupJob.runs} runs, ${fmt(result.cleanupJob.averageSeconds, 3)} s each on average (the worker running it answers nothing meanwhile)`);
  const memory = result.memory;
  out.push(`memory: worker RSS idle ${memory.idleRssBytes.map(kb).join(' + ')}, with ${memory.players} players ${memory.heldRssBytes.map(kb).join(' + ')} → ${kb(memory.bytesPerPlayer)} per player ` +
    `(V8 heap in use ${memory.idleHeapBytes.map(kb).join(' + ')} → ${memory.heldHeapBytes.map(kb).join(' + ')}: ${kb(memory.heapBytesPerPlayer)} per player)`);
  out.push(`        after ${memory.afterPlay.seconds} s of play (the sync phases, the steps and the broadcast), ${memory.afterPlay.players} players still connected: ` +
    `RSS ${memory.afterPlay.rssBytes.map(kb).join(' + ')} → ${kb(memory.afterPlay.bytesPerPlayer)} per player (V8 heap in use ${memory.afterPlay.heapBytes.map(kb).join(' + ')})`);
  if (result.heap) {
    const h = result.heap;
    out.push(
      `heap snapshots of worker ${h.worker} (after a full GC each): ${kb(h.idleLiveBytes)} live before, ${kb(h.heldLiveBytes)} with ${h.players} players → ` +
        `${kb((h.heldLiveBytes - h.idleLiveBytes) / Math.max(1, h.players))} live per player; growth by kind (RSS figures of this run are inflated by the snapshots):`,
    );
    out.push(formatHeap({ ...h.growth, top: h.growth.top.slice(0, 20) }, h.players).split('\n').slice(1).map((line) => `  ${line}`).join('\n'));
  }
  const syncLine = (label: string, f: SyncFigures) =>
    `${label}: ${f.rows} dirty rows ${JSON.stringify(f.rowsByKind)} by ${f.syncs} syncs in ${fmt(f.seconds, 3)} s → ${f.rowsPerSecond} rows/s; ` +
    `${f.statementsPerSync} SQL statements per sync, ${fmt(f.sqlSeconds, 3)} s waiting on SQL ${JSON.stringify(f.sqlSecondsByStatement)}; the rest is claiming, the first read from Redis (the next part's read overlaps each write) and building the statements' parameters`;
  out.push(syncLine('sync under play', result.sync.underPlay));
  const rewritten = result.sync.alone.rewritten;
  out.push(
    syncLine('sync alone', result.sync.alone) +
      ` (manual save answered in ${result.sync.alone.adminSaveMs} ms); every saved row was stale: ${rewritten.total} PostgreSQL rows rewritten ` +
      `of ${rewritten.characters + rewritten.inventory + rewritten.equipment + rewritten.unique_items} (characters ${rewritten.characters}, inventory slots ${rewritten.inventory}, equipment ${rewritten.equipment}, unique items ${rewritten.unique_items}) → ${rewritten.perSecond} rows/s, ${rewritten.staleLeft} left stale`,
  );
  out.push('');
  out.push(`Cinder, ${flags.active} active players, mix ${JSON.stringify(flags.mix)} (open loop, ${flags.duration} s per step after ${flags.warmup} s warm-up):`);
  out.push(...stepTable(result.cinder));
  out.push('  (✓ within the bound, ✗ beyond it, ↻ beyond it while the cleanup job stalled a worker: measured again on the next line)');
  const best = result.cinder.best;
  if (best) {
    out.push(`  by action at ${best.offered}/s: ${Object.entries(best.latencyByKind).map(([kind, l]) => `${kind} p50 ${fmt(l.p50)} p99 ${fmt(l.p99)}`).join('; ')}`);
    out.push(`  players received ${best.framesPerAction} frames (${best.bytesPerAction} bytes) per action at ${best.offered}/s; baseline: ${result.baseline?.steps.best?.framesPerAction ?? '–'} frames (${result.baseline?.steps.best?.bytesPerAction ?? '–'} bytes)`);
    out.push(`  events per action at ${best.offered}/s: ${eventMix(best.eventsPerAction)}; baseline: ${eventMix(result.baseline?.steps.best?.eventsPerAction)}`);
    out.push(`  Redis commands per action at ${best.offered}/s: ${best.topRedisCommands.map((c) => `${c.command} ${c.perAction} (${c.usecPerCall} µs)`).join(', ')}`);
  }
  const bc = result.cinderBroadcast;
  out.push(`Cinder broadcast at ${bc.offered}/s → ${bc.achieved}/s: cross-worker ${latencyLine(bc.broadcastCross)} (${bc.broadcastCross.count}); same worker ${latencyLine(bc.broadcastSame)} (${bc.broadcastSame.count})`);
  out.push(`SQL statements per written batch sync (whole run): ${result.statementsPerWrittenSync}`);
  out.push(
    `disconnect of all players: ${result.disconnect.closed} closed, workers quiet after ${result.disconnect.ms} ms ` +
      `(${result.disconnect.poolTimeouts} forced syncs timed out waiting for a pooled PostgreSQL connection and were retried); worker exit codes ${JSON.stringify(result.workerExitCodes)}`,
  );
  if (result.baseline) {
    out.push('', `Bare baseline (ws + Redis pub/sub relay, ${flags.workers} processes, same generators and mix):`);
    out.push(...stepTable(result.baseline.steps));
    const bb = result.baseline.broadcast;
    out.push(`baseline broadcast at ${bb.offered}/s: cross-process ${latencyLine(bb.broadcastCross)}; same process ${latencyLine(bb.broadcastSame)}`);
    out.push(`Cinder / baseline throughput at p99 ≤ ${flags.p99BoundMs} ms: ${result.ratio.throughput === undefined ? 'n/a' : fmt(result.ratio.throughput)}`);
  }
  // Per window, the busier worker's profile (the JSON has every worker's).
  const windows = [...new Set(result.profiles.map((p) => p.window))];
  for (const window of windows) {
    const busiest = result.profiles.filter((p) => p.window === window).sort((a, b) => b.summary.busyMs - a.summary.busyMs)[0];
    if (!busiest) continue;
    const s = busiest.summary;
    out.push('', `CPU profile, worker ${busiest.worker}, ${window}: ${s.busyMs} ms busy of ${s.windowMs} ms (${s.cores} cores)`);
    out.push('  by package:   ' + s.packages.slice(0, 8).map((p) => `${p.name} ${p.percent}%`).join(', '));
    out.push('  by file:      ' + s.topFiles.slice(0, 8).map((p) => `${p.name} ${p.percent}%`).join(', '));
    out.push('  top self time:');
    for (const f of s.topFunctions.slice(0, 15)) out.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  }
  out.push('', 'Targets:');
  for (const row of result.targets) {
    out.push(`  ${row.met ? 'MET   ' : 'MISSED'}  ${row.figure}: ${row.measured}  [target ${row.target}]${row.miss === undefined ? '' : ` — ${row.miss}`}`);
  }
  return out.join('\n');
}

/** The headline figures as JSON (result.json holds everything: histograms summaries, per-kind latencies, profiles). */
export function jsonSummary(result: BenchResult): string {
  const steps = (search: StepSearch) => search.steps.map((s) => [s.offered, s.achieved, s.latency.p50, s.latency.p95, s.latency.p99, s.pass === true]);
  const best = result.cinder.best;
  const summary = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: result.machine,
    workers: result.flags.workers,
    throughput: {
      actionsPerSecond: best?.achieved ?? 0,
      p99BoundMs: result.flags.p99BoundMs,
      atBest: best ? { offered: best.offered, p50: best.latency.p50, p95: best.latency.p95, p99: best.latency.p99 } : null,
      baselineActionsPerSecond: result.baseline?.steps.best?.achieved ?? null,
      ratioToBaseline: result.ratio.throughput ?? null,
    },
    broadcastCrossWorker: {
      offered: result.cinderBroadcast.offered,
      achieved: result.cinderBroadcast.achieved,
      p50: result.cinderBroadcast.broadcastCross.p50,
      p99: result.cinderBroadcast.broadcastCross.p99,
      atBest: best ? { offered: best.offered, p50: best.broadcastCross.p50, p99: best.broadcastCross.p99 } : null,
      baseline: result.baseline ? { p50: result.baseline.broadcast.broadcastCross.p50, p99: result.baseline.broadcast.broadcastCross.p99 } : null,
    },
    redisCommandsPerAction: { steps: best?.redisCommandsPerAction ?? null, hold: result.hold.redisCommandsPerAction, perConnect: result.connect.redisCommandsPerConnect },
    sqlStatementsPerAction: { hold: result.hold.sqlStatementsPerAction, steps: best?.sqlStatementsPerAction ?? null, perConnect: result.connect.sqlStatementsPerConnect },
    sqlStatementsPerSync: { alone: result.sync.alone.statementsPerSync, underPlay: result.sync.underPlay.statementsPerSync, wholeRun: result.statementsPerWrittenSync },
    batchSyncRowsPerSecond: { alone: result.sync.alone.rowsPerSecond, underPlay: result.sync.underPlay.rowsPerSecond },
    held: { players: result.connect.connected, rate: result.hold.achieved, p50: result.hold.latency.p50, p99: result.hold.latency.p99 },
    cleanupJob: result.cleanupJob,
    rssBytesPerPlayer: { afterHold: result.memory.bytesPerPlayer, afterPlay: result.memory.afterPlay.bytesPerPlayer },
    heapLiveBytesPerPlayer: result.heap ? Math.round((result.heap.heldLiveBytes - result.heap.idleLiveBytes) / Math.max(1, result.heap.players)) : null,
    stepColumns: ['offered/s', 'achieved/s', 'p50 ms', 'p95 ms', 'p99 ms', 'within bound'],
    cinderSteps: steps(result.cinder),
    baselineSteps: result.baseline ? steps(result.baseline.steps) : null,
    targets: result.targets.map((t) => ({ figure: t.figure, target: t.target, measured: t.measured, met: t.met, ...(t.miss === undefined ? {} : { miss: t.miss }) })),
  };
  return stringify(summary);
}

/** JSON with numbers that are not finite as null (a latency with no reply is Infinity). */
export function stringify(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent ?? 2).replace(
    /\[\n\s+([^[\]{}]*?)\n\s+\]/g,
    (_match, inner: string) => `[${inner.replace(/\s*\n\s*/g, ' ')}]`,
  );
}

function eventMix(events: Record<string, number> | undefined): string {
  const entries = Object.entries(events ?? {}).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? '–' : entries.map(([type, n]) => `${type} ${n}`).join(', ');
}
