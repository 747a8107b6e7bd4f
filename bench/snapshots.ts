// Counters read before and after each phase — Redis INFO, every worker's /metrics, CPU time of
// every process involved — and the differences the report is made of.
import type { Redis } from 'ioredis';
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
}

export class Snapshots {
  constructor(
    private readonly admin: Redis,
    private readonly workers: () => readonly Worker[],
    private readonly cpu: CpuMeter,
  ) {}

  async take(): Promise<Snapshot> {
    const [redis, metrics, redisLatency] = await Promise.all([
      redisCounters(this.admin),
      Promise.all(this.workers().map((worker) => worker.metrics())),
      redisLatencyEvents(this.admin),
    ]);
    return { atUs: nowUs(), redis, metrics, cpu: this.cpu.sample(), redisLatency };
  }
}

/** `LATENCY LATEST` (events over the server's latency-monitor-threshold), then `LATENCY RESET`. */
async function redisLatencyEvents(admin: Redis): Promise<Record<string, number>> {
  const latest = (await admin.call('LATENCY', 'LATEST')) as [string, number, number, number][];
  await admin.call('LATENCY', 'RESET');
  return Object.fromEntries(latest.map(([event, , , maxMs]) => [event, maxMs]));
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
