// Counters read before and after each phase — Redis INFO, every worker's /metrics, CPU time of
// every process involved — and the differences the report is made of.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { claimSetOp, incrWindowOp, raiseCounterOp, returnClaimOp, transactOp } from '../src/adapters/hot/atomicOps.ts';
import { readViewOp } from '../src/adapters/hot/readView.ts';
import { nowUs } from './clock.ts';
import { CpuMeter } from './procfs.ts';
import { sum, sumBy, type Sample } from './promText.ts';
import { redisCounters, type RedisCounters } from './services.ts';
import type { Worker } from './workers.ts';

export interface Snapshot {
  atUs: number;
  redis: RedisCounters;
  /** One list of samples per worker (empty when no worker is up). */
  metrics: Sample[][];
  cpu: ReturnType<CpuMeter['sample']>;
  /** Redis's latency monitor since the snapshot before (each take resets it): event → longest ms. */
  redisLatency: Record<string, number>;
  /** Redis's slow log since the snapshot before (each take resets it): what ran over 5 ms. */
  redisSlow: SlowCommand[];
}

/** Commands of the slow log alike (a script by name and key count), how often and how long at most. */
export interface SlowCommand {
  command: string;
  count: number;
  maxMs: number;
}

export class Snapshots {
  constructor(
    private readonly admin: Redis,
    private readonly workers: () => readonly Worker[],
    private readonly cpu: CpuMeter,
  ) {}

  async take(): Promise<Snapshot> {
    const [redis, metrics, redisLatency, redisSlow] = await Promise.all([
      redisCounters(this.admin),
      Promise.all(this.workers().map((worker) => worker.metrics())),
      redisLatencyEvents(this.admin),
      redisSlowLog(this.admin),
    ]);
    return { atUs: nowUs(), redis, metrics, cpu: this.cpu.sample(), redisLatency, redisSlow };
  }
}

/** `LATENCY LATEST` (events over the server's latency-monitor-threshold), then `LATENCY RESET`. */
async function redisLatencyEvents(admin: Redis): Promise<Record<string, number>> {
  const latest = (await admin.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  await admin.call('LATENCY', 'RESET');
  return Object.fromEntries(latest.map(([event, , , maxMs]) => [event, maxMs]));
}

/** Cinder's Lua scripts by the SHA1 that EVALSHA names them with. */
const SCRIPTS = new Map(
  [transactOp, claimSetOp, returnClaimOp, incrWindowOp, raiseCounterOp, readViewOp].map((op) => [createHash('sha1').update(op.lua).digest('hex'), op.name]),
);

/** `SLOWLOG GET` (commands over slowlog-log-slower-than, 5 ms here), then `SLOWLOG RESET`. */
async function redisSlowLog(admin: Redis): Promise<SlowCommand[]> {
  const entries = (await admin.call('SLOWLOG', 'GET', '1024')) as [number, number, number, string[]][];
  await admin.call('SLOWLOG', 'RESET');
  const byCommand = new Map<string, SlowCommand>();
  for (const [, , micros, args] of entries) {
    const [name = '?', sha = '', keys = '0'] = args;
    // A script is told by its name and how many keys it was given (a view of one player, or a
    // sync's read of two thousand); any other command by its name alone.
    const command = name.toLowerCase() === 'evalsha' ? `${SCRIPTS.get(sha) ?? `script ${sha.slice(0, 8)}`} (${keys} keys)` : name.toLowerCase();
    const seen = byCommand.get(command) ?? { command, count: 0, maxMs: 0 };
    seen.count++;
    seen.maxMs = Math.max(seen.maxMs, Math.round(micros / 100) / 10);
    byCommand.set(command, seen);
  }
  return [...byCommand.values()].sort((a, b) => b.count - a.count);
}

/** A counter summed over all workers, after minus before. */
export function delta(before: Snapshot, after: Snapshot, name: string, where: Record<string, string> = {}): number {
  const total = (snapshot: Snapshot) => snapshot.metrics.reduce((acc, samples) => acc + sum(samples, name, where), 0);
  return total(after) - total(before);
}

export function deltaBy(before: Snapshot, after: Snapshot, name: string, label: string, where: Record<string, string> = {}): Record<string, number> {
  const total = (snapshot: Snapshot) => {
    const out: Record<string, number> = {};
    for (const samples of snapshot.metrics) {
      for (const [key, value] of Object.entries(sumBy(samples, name, label, where))) out[key] = (out[key] ?? 0) + value;
    }
    return out;
  };
  const a = total(after);
  const b = total(before);
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(a)) {
    const d = value - (b[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

export function redisCommands(before: Snapshot, after: Snapshot): number {
  return after.redis.totalCommands - before.redis.totalCommands;
}

/** The commands that grew the most, with calls per action and Redis CPU µs per call. */
export function topRedisCommands(before: Snapshot, after: Snapshot, actions: number, n = 8): { command: string; perAction: number; usecPerCall: number }[] {
  return Object.entries(after.redis.commands)
    .map(([command, stats]) => {
      const was = before.redis.commands[command] ?? { calls: 0, usec: 0 };
      const calls = stats.calls - was.calls;
      return { command, calls, usec: stats.usec - was.usec };
    })
    .filter((entry) => entry.calls > 0)
    .sort((a, b) => b.calls - a.calls)
    .slice(0, n)
    .map(({ command, calls, usec }) => ({ command, perAction: round(calls / Math.max(1, actions), 3), usecPerCall: round(usec / calls, 2) }));
}

export function cpuCores(before: Snapshot, after: Snapshot): Record<string, number> {
  return CpuMeter.cores(before.cpu, after.cpu);
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
