// Runs a measured phase (offered open-loop by the load generators) and turns what it measured,
// plus the counters around it, into one row of the report; and climbs a ladder of offered rates
// to find the highest one whose p99 stays within the bound.
import { sleep } from './clock.ts';
import type { LatencySummary } from './histogram.ts';
import type { PhaseSpec } from './loadgen/messages.ts';
import type { GeneratorPool, MergedPhase } from './loadgen/pool.ts';
import { sum } from './promText.ts';
import { cpuCores, delta, deltaBy, redisCommands, round, topRedisCommands, type SlowCommand, type Snapshot, type Snapshots } from './snapshots.ts';

export interface PhaseReport {
  name: string;
  offered: number;
  /** Replies per second received during the measured window. */
  achieved: number;
  latency: LatencySummary;
  latencyByKind: Record<string, LatencySummary>;
  okReplies: number;
  errorReplies: number;
  errorsByCode: Record<string, number>;
  /** p99 of how late the generators sent against their schedule, ms. */
  scheduleLagP99: number;
  broadcastCross: LatencySummary;
  broadcastSame: LatencySummary;
  /** Frames (reply + events) and bytes the players received per action completed, in the window. */
  framesPerAction: number;
  bytesPerAction: number;
  /** Of those frames, the events per action completed, by type. */
  eventsPerAction: Record<string, number>;
  /** Replies slower than 20 ms by when their action was sent: [ms into the window, count, max ms]. */
  slowReplies: [number, number, number][];
  /**
   * Who was held up during the phase, to tell where slow replies came from: each worker's and
   * each generator's longest event-loop delay (ms), Redis's latency events over 5 ms (event →
   * longest ms), and the replies over 20 ms by the process that answered them.
   */
  stalls: { workerLoopMaxMs: number[]; generatorLoopMaxMs: number[]; redis: Record<string, number>; redisSlow: SlowCommand[]; slowByServer: Record<number, number> };
  /** Whole phase (warm-up included): Redis commands and SQL statements per action sent. */
  redisCommandsPerAction: number;
  sqlStatementsPerAction: number;
  sqlStatements: number;
  actionsSent: number;
  topRedisCommands: ReturnType<typeof topRedisCommands>;
  cpuCores: Record<string, number>;
  /** Garbage collection in the workers during the phase: seconds by kind, and pauses of 10 ms or more. */
  gc: { seconds: Record<string, number>; pausesOver10ms: number };
  /** Background jobs the workers ran during the phase: runs and seconds by job (a long one stalls its worker's event loop). */
  jobs: Record<string, { runs: number; seconds: number }>;
  /** The window on the machine's monotonic clock, µs (to cut CPU profiles). */
  fromUs: number;
  toUs: number;
  pass?: boolean;
  /** A failed step that the disconnected-player cleanup landed in, measured again right after. */
  repeated?: boolean;
}

export interface Measured {
  report: PhaseReport;
  before: Snapshot;
  after: Snapshot;
  phase: MergedPhase;
}

export async function measure(pool: GeneratorPool, snapshots: Snapshots, spec: PhaseSpec): Promise<Measured> {
  const before = await snapshots.take();
  const phase = await pool.run(spec);
  const after = await snapshots.take();
  const actions = phase.totalSent;
  const sqlStatements = delta(before, after, 'cinder_sql_statements_total');
  const byKind: Record<string, LatencySummary> = {};
  for (const [kind, histogram] of Object.entries(phase.latencyByKind)) byKind[kind] = histogram.summary();
  const report: PhaseReport = {
    name: spec.name,
    offered: spec.rate,
    achieved: Math.round(phase.completed / (phase.windowMs / 1000)),
    latency: phase.latency.summary(),
    latencyByKind: byKind,
    okReplies: phase.okReplies,
    errorReplies: phase.errorReplies,
    errorsByCode: phase.errorsByCode,
    scheduleLagP99: round(phase.scheduleLag.percentileMs(0.99), 3),
    broadcastCross: phase.broadcastCross.summary(),
    broadcastSame: phase.broadcastSame.summary(),
    framesPerAction: round(phase.framesReceived / Math.max(1, phase.completed), 2),
    bytesPerAction: Math.round(phase.bytesReceived / Math.max(1, phase.completed)),
    slowReplies: [...phase.slow].sort(([a], [b]) => a - b).map(([tenth, [count, maxUs]]) => [tenth * 100, count, round(maxUs / 1000, 1)]),
    stalls: {
      workerLoopMaxMs: after.metrics.map((samples) => round(sum(samples, 'nodejs_eventloop_lag_max_seconds') * 1000, 1)),
      generatorLoopMaxMs: phase.generatorLoopDelayMaxMs.map((ms) => round(ms, 1)),
      redis: after.redisLatency,
      redisSlow: after.redisSlow,
      slowByServer: phase.slowByServer,
    },
    eventsPerAction: Object.fromEntries(Object.entries(phase.eventsByType).map(([type, n]) => [type, round(n / Math.max(1, phase.completed), 3)])),
    redisCommandsPerAction: round(redisCommands(before, after) / Math.max(1, actions), 2),
    sqlStatementsPerAction: round(sqlStatements / Math.max(1, actions), 5),
    sqlStatements,
    actionsSent: actions,
    topRedisCommands: topRedisCommands(before, after, actions),
    cpuCores: cpuCores(before, after),
    gc: gcFigures(before, after),
    jobs: jobFigures(before, after),
    fromUs: before.atUs,
    toUs: after.atUs,
  };
  return { report, before, after, phase };
}

function gcFigures(before: Snapshot, after: Snapshot): PhaseReport['gc'] {
  const seconds = Object.fromEntries(Object.entries(deltaBy(before, after, 'nodejs_gc_duration_seconds_sum', 'kind')).map(([kind, value]) => [kind, round(value, 3)]));
  const all = delta(before, after, 'nodejs_gc_duration_seconds_count');
  const short = delta(before, after, 'nodejs_gc_duration_seconds_bucket', { le: '0.01' });
  return { seconds, pausesOver10ms: all - short };
}

function jobFigures(before: Snapshot, after: Snapshot): PhaseReport['jobs'] {
  const runs = deltaBy(before, after, 'cinder_job_duration_seconds_count', 'job');
  const seconds = deltaBy(before, after, 'cinder_job_duration_seconds_sum', 'job');
  return Object.fromEntries(Object.entries(runs).map(([job, n]) => [job, { runs: n, seconds: round(seconds[job] ?? 0, 3) }]));
}

/** When a phase had replies over 20 ms: when their actions were sent, and who was held up. */
export function slowReplyLines(report: PhaseReport): string[] {
  if (report.slowReplies.length === 0) return [];
  const worst = [...report.slowReplies].sort((a, b) => b[1] - a[1]).slice(0, 8);
  const { workerLoopMaxMs, generatorLoopMaxMs, redis, redisSlow, slowByServer } = report.stalls;
  const redisEvents = Object.entries(redis).map(([event, ms]) => `${event} ${ms}`);
  const slowCommands = redisSlow.slice(0, 6).map((slow) => `${slow.command} ×${slow.count} (max ${slow.maxMs} ms)`);
  return [
    `replies over 20 ms, busiest tenths of a second (ms into the window: count, max ms): ${worst.map(([at, count, max]) => `${at}: ${count}, ${max}`).join('; ')}`,
    // The baseline's relays have no /metrics: no worker delays to show then.
    `  by server process ${JSON.stringify(slowByServer)}; longest event-loop delay, ${workerLoopMaxMs.length > 0 ? `workers ${workerLoopMaxMs.join(', ')} ms, ` : ''}` +
      `generators ${generatorLoopMaxMs.join(', ')} ms; Redis latency events over 5 ms: ${redisEvents.length > 0 ? redisEvents.join(', ') : 'none'}`,
    `  Redis commands over 5 ms (slow log): ${slowCommands.length > 0 ? slowCommands.join(', ') : 'none'}`,
  ];
}

export interface StepSearch {
  steps: PhaseReport[];
  /** The highest achieved rate among steps within the bound (0 when none was). */
  best: PhaseReport | undefined;
  /** The first step beyond the bound (the saturated one), if the ladder reached it. */
  saturated: PhaseReport | undefined;
}

function passes(report: PhaseReport, p99BoundMs: number): boolean {
  // An error reply is quick and counts as served; a step with any is not a step served well.
  return report.latency.p99 <= p99BoundMs && report.achieved >= 0.95 * report.offered && report.errorReplies === 0;
}

/**
 * Offers each rate of the ladder in turn, upwards, until two steps in a row fail (p99 above the
 * bound, fewer than 95% of the offered actions completed, or any error reply): one failure alone may be a single
 * long GC pause landing in a short step. Then, when the ladder left a gap of 1,000/s or more
 * between the best pass and the step above it, tries once halfway.
 */
export async function stepSearch(
  label: string,
  rates: readonly number[],
  p99BoundMs: number,
  run: (name: string, rate: number) => Promise<PhaseReport>,
  log: (line: string) => void,
): Promise<StepSearch> {
  const steps: PhaseReport[] = [];
  let best: PhaseReport | undefined;
  const attempt = async (rate: number, again = false): Promise<PhaseReport> => {
    const report = await run(`${label}-${rate}${again ? '-again' : ''}`, rate);
    report.pass = passes(report, p99BoundMs);
    steps.push(report);
    log(
      `[bench] ${label} offered ${rate}/s → ${report.achieved}/s, p50 ${report.latency.p50} ms, p95 ${report.latency.p95} ms, p99 ${report.latency.p99} ms ` +
        `(${report.pass ? 'within' : 'beyond'} ${p99BoundMs} ms), cpu ${JSON.stringify(report.cpuCores)}, gc ${JSON.stringify(report.gc)}, jobs ${JSON.stringify(report.jobs)}`,
    );
    for (const line of slowReplyLines(report)) log(`[bench]   ${line}`);
    if (report.pass) {
      if (best === undefined || report.achieved > best.achieved) best = report;
      return report;
    }
    // Let a saturated server work off its queue before the next step.
    await sleep(3000);
    // The disconnected-player cleanup (every 30 s, on one worker) reads every player in the
    // world at once and stalls that worker: a step it lands in is repeated once, so that the
    // ladder finds what the action path sustains; the stall is reported on its own.
    const cleanup = report.jobs['disconnected-cleanup']?.seconds ?? 0;
    if (!again && cleanup >= 0.05) {
      report.repeated = true;
      log(`[bench] ${label} ${rate}/s: the cleanup job ran ${cleanup} s during the step; repeating it once`);
      return attempt(rate, true);
    }
    return report;
  };
  let failures = 0;
  for (const rate of rates) {
    const report = await attempt(rate);
    failures = report.pass ? 0 : failures + 1;
    if (failures >= 2) break;
  }
  const low = best?.offered ?? 0;
  const above = rates.find((rate) => rate > low);
  if (above !== undefined && above - low >= 1000 && steps.some((step) => step.offered === above)) {
    const mid = Math.round((low + above) / 2 / 250) * 250;
    if (mid > low && mid < above) await attempt(mid);
  }
  // The saturation point: the lowest failing rate above the best pass.
  const saturated = steps
    .filter((step) => step.pass !== true && step.offered > (best?.offered ?? 0))
    .sort((a, b) => a.offered - b.offered)[0];
  return { steps, best, saturated };
}
