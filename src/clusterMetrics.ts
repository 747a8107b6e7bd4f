// With `--workers N` the workers share one port, so a scrape of GET /metrics reaches one of them
// at random. Each worker therefore answers with the figures of the whole group, which the primary
// gathers from every worker over IPC and sums (prom-client's AggregatorRegistry): one scrape
// address per machine, whichever worker takes it.
import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { registry } from './metrics.ts';

const ASK = 'cinder:metrics-ask';
const ANSWER = 'cinder:metrics-answer';

interface Ask {
  type: typeof ASK;
  id: string;
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

/** In the primary: answers a worker's request for the group's metrics. */
export function gatherWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage<Ask>(message, ASK)) return;
    const reply = (answer: Omit<Answer, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, ...answer } satisfies Answer);
    };
    aggregator.clusterMetrics().then(
      (body) => {
        reply({ body });
      },
      (error: unknown) => {
        reply({ error: error instanceof Error ? error.message : String(error) });
      },
    );
  });
}

/** In a worker of a group: lets the primary read this process's registry. */
export function offerMetricsToPrimary(): void {
  // Constructing one makes prom-client answer the primary's requests in this process.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** True in a worker forked by `--workers`, whose GET /metrics answers for the whole group. */
export function inWorkerGroup(): boolean {
  return cluster.isWorker && process.send !== undefined;
}

/**
 * In a worker: the group's metrics, summed by the primary. Rejects when the primary does not
 * answer within `timeoutMs` (prom-client itself gives up on a worker silent for 5 s).
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
