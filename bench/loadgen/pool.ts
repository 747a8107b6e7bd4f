// The coordinator's side of the load generators: forks them, deals the bots out, runs a phase on
// all of them at once (each offering its share of the rate) and merges what they measured.
import { fork, type ChildProcess } from 'node:child_process';
import { Histogram } from '../histogram.ts';
import type { ActionKind, BotSpec, ConnectResult, FromGenerator, PhaseResult, PhaseSpec, ToGenerator } from './messages.ts';

const GENERATOR = new URL('./generator.ts', import.meta.url);

/** What every generator measured in a phase, merged: the same fields, with histograms to merge into. */
export type MergedPhase = Omit<PhaseResult, 'latency' | 'latencyByKind' | 'scheduleLag' | 'broadcastCross' | 'broadcastSame' | 'slow' | 'loopDelayMaxMs'> & {
  offeredRate: number;
  latency: Histogram;
  latencyByKind: Partial<Record<ActionKind, Histogram>>;
  scheduleLag: Histogram;
  broadcastCross: Histogram;
  broadcastSame: Histogram;
  /** Tenth of a second of the window → [replies slower than 20 ms, the slowest µs]. */
  slow: Map<number, [number, number]>;
  /** Each generator's longest event-loop delay, ms. */
  generatorLoopDelayMaxMs: number[];
};

class Generator {
  private waiting: ((message: FromGenerator) => void) | undefined;

  constructor(readonly child: ChildProcess) {
    child.on('message', (message: FromGenerator) => {
      const waiter = this.waiting;
      this.waiting = undefined;
      waiter?.(message);
    });
  }

  request(message: ToGenerator): Promise<FromGenerator> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => {
        reject(new Error(`load generator ${this.child.pid ?? '?'} exited (${code ?? 'signal'})`));
      };
      this.child.once('exit', onExit);
      this.waiting = (reply) => {
        this.child.off('exit', onExit);
        if (reply.kind === 'failed') reject(new Error(`load generator ${this.child.pid ?? '?'}: ${reply.error}`));
        else resolve(reply);
      };
      this.child.send(message);
    });
  }
}

export class GeneratorPool {
  private constructor(private readonly generators: Generator[]) {}

  /** Forks `count` generators (node --import tsx) and deals `bots` out round-robin. */
  static async start(count: number, bots: readonly BotSpec[]): Promise<GeneratorPool> {
    const generators = Array.from({ length: count }, () => {
      const child = fork(GENERATOR, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return new Generator(child);
    });
    const pool = new GeneratorPool(generators);
    await Promise.all(
      generators.map((generator, g) => generator.request({ kind: 'init', bots: bots.filter((_, i) => i % count === g) })),
    );
    return pool;
  }

  get pids(): number[] {
    return this.generators.flatMap((generator) => (generator.child.pid === undefined ? [] : [generator.child.pid]));
  }

  /** Connects (and authenticates) bots with index in [from, below) that are not connected yet. */
  async connect(from: number, below: number, concurrency: number): Promise<ConnectResult> {
    const replies = await Promise.all(
      this.generators.map((generator) => generator.request({ kind: 'connect', botsFrom: from, botsBelow: below, concurrency })),
    );
    const merged: ConnectResult = { connected: 0, failed: 0, errors: [], ms: 0 };
    for (const reply of replies) {
      if (reply.kind !== 'connected') throw new Error(`unexpected ${reply.kind}`);
      merged.connected += reply.result.connected;
      merged.failed += reply.result.failed;
      merged.errors.push(...reply.result.errors);
      merged.ms = Math.max(merged.ms, reply.result.ms);
    }
    return merged;
  }

  /** Runs one phase on every generator at once, `phase.rate` being the total offered rate. */
  async run(phase: PhaseSpec): Promise<MergedPhase> {
    const share = phase.rate / this.generators.length;
    const maxActions = phase.maxActions === undefined ? undefined : Math.ceil(phase.maxActions / this.generators.length);
    const replies = await Promise.all(
      this.generators.map((generator) => generator.request({ kind: 'run', phase: { ...phase, rate: share, ...(maxActions === undefined ? {} : { maxActions }) } })),
    );
    const results = replies.map((reply) => {
      if (reply.kind !== 'result') throw new Error(`unexpected ${reply.kind}`);
      return reply.result;
    });
    return merge(phase, results);
  }

  async disconnect(): Promise<number> {
    const replies = await Promise.all(this.generators.map((generator) => generator.request({ kind: 'disconnect' })));
    return replies.reduce((sum, reply) => sum + (reply.kind === 'disconnected' ? reply.closed : 0), 0);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.generators.map(
        (generator) =>
          new Promise<void>((resolve) => {
            if (generator.child.exitCode !== null) {
              resolve();
              return;
            }
            generator.child.once('exit', () => {
              resolve();
            });
            generator.child.send({ kind: 'exit' } satisfies ToGenerator);
          }),
      ),
    );
  }
}

function merge(phase: PhaseSpec, results: PhaseResult[]): MergedPhase {
  const merged: MergedPhase = {
    name: phase.name,
    offeredRate: phase.rate,
    sent: 0,
    completed: 0,
    windowMs: 0,
    okReplies: 0,
    errorReplies: 0,
    errorsByCode: {},
    latency: new Histogram(),
    latencyByKind: {},
    scheduleLag: new Histogram(),
    broadcastCross: new Histogram(),
    broadcastSame: new Histogram(),
    eventsByType: {},
    slow: new Map(),
    slowByServer: {},
    generatorLoopDelayMaxMs: [],
    framesReceived: 0,
    bytesReceived: 0,
    totalSent: 0,
  };
  for (const result of results) {
    merged.totalSent += result.totalSent;
    merged.sent += result.sent;
    merged.completed += result.completed;
    merged.windowMs = Math.max(merged.windowMs, result.windowMs);
    merged.okReplies += result.okReplies;
    merged.errorReplies += result.errorReplies;
    for (const [code, n] of Object.entries(result.errorsByCode)) merged.errorsByCode[code] = (merged.errorsByCode[code] ?? 0) + n;
    merged.latency.merge(result.latency);
    for (const [kind, sparse] of Object.entries(result.latencyByKind) as [ActionKind, PhaseResult['latency']][]) {
      const histogram = (merged.latencyByKind[kind] ??= new Histogram());
      histogram.merge(sparse);
    }
    merged.scheduleLag.merge(result.scheduleLag);
    merged.broadcastCross.merge(result.broadcastCross);
    merged.broadcastSame.merge(result.broadcastSame);
    for (const [tenth, count, maxUs] of result.slow) {
      const bucket = merged.slow.get(tenth) ?? [0, 0];
      merged.slow.set(tenth, [bucket[0] + count, Math.max(bucket[1], maxUs)]);
    }
    for (const [server, n] of Object.entries(result.slowByServer)) merged.slowByServer[Number(server)] = (merged.slowByServer[Number(server)] ?? 0) + n;
    merged.generatorLoopDelayMaxMs.push(result.loopDelayMaxMs);
    for (const [type, n] of Object.entries(result.eventsByType)) merged.eventsByType[type] = (merged.eventsByType[type] ?? 0) + n;
    merged.framesReceived += result.framesReceived;
    merged.bytesReceived += result.bytesReceived;
  }
  return merged;
}
