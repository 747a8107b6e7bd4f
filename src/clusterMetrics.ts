// With `--workers N` the workers share one port, so a scrape of GET /metrics reaches one of them
// at random. Each worker therefore answers with the figures of the whole group, which the primary
// gathers from every worker over IPC: one scrape address per machine, whichever worker takes it.
// Every series carries its worker's slot (`worker="0"` … `"N-1"`, kept by the worker that replaces
// one that died), so a restarted worker's counters start again in series of their own, which
// Prometheus reads as a counter reset of that series alone, and `sum()` adds the workers up.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { registry } from './metrics.ts';

/** Set by the primary in each worker's environment: the worker's slot. */
export const WORKER_SLOT_ENV = 'CINDER_WORKER_SLOT';

const READY = 'cinder:metrics-ready';
const ASK = 'cinder:metrics-ask';
const COLLECT = 'cinder:metrics-collect';
const PART = 'cinder:metrics-part';
const ANSWER = 'cinder:metrics-answer';

type Metrics = MetricObjectWithValues<MetricValue<string>>[];

interface Ask {
  type: typeof ASK;
  id: string;
}

interface Part {
  type: typeof PART;
  id: string;
  metrics: Metrics;
}

interface Answer {
  type: typeof ANSWER;
  id: string;
  body?: string;
  error?: string;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && Reflect.get(message, 'type') === type;
}

/**
 * In the primary: answers a worker's request for the group's metrics with those of every worker
 * that has said it is ready and answers within `timeoutMs`. A worker starting, stalled or dying
 * is left out (its series are missing from that scrape) rather than holding every scrape back.
 */
export function gatherWorkerMetrics(timeoutMs = 2000): void {
  const ready = new Set<Worker>();
  /** Collections under way: each is told of every part, and of every worker that exits. */
  const collecting = new Map<string, (worker: Worker, metrics: Metrics | null) => void>();

  const collect = async (): Promise<string> => {
    const asked = [...ready].filter((worker) => worker.isConnected());
    const parts: Metrics[] = [];
    const id = randomUUID();
    await new Promise<void>((resolve) => {
      const waiting = new Set(asked);
      const done = () => {
        clearTimeout(timer);
        collecting.delete(id);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      collecting.set(id, (worker, metrics) => {
        if (!waiting.delete(worker)) return;
        if (metrics) parts.push(metrics);
        if (waiting.size === 0) done();
      });
      for (const worker of asked) worker.send({ type: COLLECT, id });
      if (asked.length === 0) done();
    });
    // Not even the asking worker answered: a scrape must fail, not succeed with no series.
    if (parts.length === 0) throw new Error(`no worker answered within ${timeoutMs} ms`);
    // Series of different workers differ by their worker label, so nothing is summed; "sum" also
    // keeps the metrics prom-client would otherwise drop or take from one worker only.
    const labelled = parts.map((metrics) => metrics.map((metric) => ({ ...metric, aggregator: 'sum' as const })));
    return AggregatorRegistry.aggregate(labelled).metrics();
  };

  cluster.on('exit', (worker) => {
    ready.delete(worker);
    // A worker that died is not waited for.
    for (const told of [...collecting.values()]) told(worker, null);
  });
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage<{ type: typeof READY }>(message, READY)) ready.add(worker);
    else if (isMessage<Part>(message, PART)) collecting.get(message.id)?.(worker, message.metrics);
    else if (isMessage<Ask>(message, ASK)) {
      const reply = (answer: Omit<Answer, 'type' | 'id'>) => {
        if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...answer } satisfies Answer);
      };
      collect().then(
        (body) => {
          reply({ body });
        },
        (error: unknown) => {
          reply({ error: error instanceof Error ? error.message : String(error) });
        },
      );
    }
  });
}

/** The slot of this worker of a `--workers` group; undefined in a process started on its own. */
function workerSlot(): string | undefined {
  return cluster.isWorker && process.send !== undefined ? process.env[WORKER_SLOT_ENV] : undefined;
}

/** True in a worker forked by `--workers`, whose GET /metrics answers for the whole group. */
export function inWorkerGroup(): boolean {
  return workerSlot() !== undefined;
}

/** In a worker of a group: labels its series with its slot and answers the primary's collections. */
export function offerMetricsToPrimary(): void {
  const slot = workerSlot();
  const send = process.send?.bind(process);
  if (slot === undefined || !send) return;
  registry.setDefaultLabels({ worker: slot });
  process.on('message', (message: unknown) => {
    if (!isMessage<{ type: typeof COLLECT; id: string }>(message, COLLECT)) return;
    registry.getMetricsAsJSON().then(
      (metrics) => {
        send({ type: PART, id: message.id, metrics } satisfies Part);
      },
      () => undefined,
    );
  });
  send({ type: READY });
}

/**
 * In a worker: the group's metrics, gathered by the primary. Rejects when the primary does not
 * answer within `timeoutMs`.
 */
export function groupMetricsText(timeoutMs = 10_000): Promise<string> {
  const send = process.send?.bind(process);
  if (!send) return Promise.reject(new Error('not a worker of a --workers group'));
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!isMessage<Answer>(message, ANSWER) || message.id !== id) return;
      settle();
      if (message.body !== undefined) resolve(message.body);
      else reject(new Error(`the primary could not gather the workers' metrics: ${message.error ?? 'no reason given'}`));
    };
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`the primary did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    send({ type: ASK, id } satisfies Ask, undefined, {}, (error: Error | null) => {
      if (!error) return;
      settle();
      reject(error);
    });
  });
}
