// `npm start`: embedded mode by default; scaled mode when REDIS_URL and DATABASE_URL are set,
// with `-- --workers N` to run N worker processes sharing the port.
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { reportStartupFailure, runPrimary } from './cluster.ts';
import { offerMetricsToPrimary } from './clusterMetrics.ts';
import { loadConfig } from './config.ts';
import { StartupError } from './startupError.ts';
import { runWorker } from './worker.ts';

function workerCount(): number {
  let workers: string | undefined;
  try {
    ({ workers } = parseArgs({ options: { workers: { type: 'string', short: 'w' } }, strict: true }).values);
  } catch (error) {
    throw new StartupError(`${error instanceof Error ? error.message : String(error)} (npm start takes only --workers N)`);
  }
  if (workers === undefined) return 0;
  const count = Number(workers);
  if (!Number.isInteger(count) || count < 1) throw new StartupError(`--workers takes a whole number of at least 1, got "${workers}"`);
  return count;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel });
  const workers = cluster.isPrimary ? workerCount() : 0;
  if (workers > 0) {
    if (config.redisUrl === undefined) {
      throw new StartupError('--workers needs scaled mode: set REDIS_URL and DATABASE_URL (workers share state through them).');
    }
    runPrimary(workers, log, { shutdownTimeoutMs: config.shutdownTimeoutMs });
    return;
  }
  if (cluster.isWorker) offerMetricsToPrimary();
  await runWorker(config, log);
}

main().catch(async (error: unknown) => {
  // A StartupError says all an operator needs; anything else is a fault, shown with its stack.
  const message = error instanceof StartupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  // A worker's primary prints it, once for all the workers that fail alike.
  if (cluster.isWorker) await reportStartupFailure(message);
  else console.error(message);
  process.exit(1);
});
