// A scaled Cinder for tests: a dedicated Redis (with an append-only file, so that stopping and
// restarting it keeps its data as a production Redis would), a fresh PostgreSQL database on the
// shared test server (or, with `dedicatedPostgres`, on a PostgreSQL of the world's own that a test
// may stop and restart), and worker processes each listening on its own port, so that a test
// chooses which worker each client talks to.
import { randomBytes } from 'node:crypto';
import { createDatabase, startPostgresServer, type PostgresServerHandle } from './services/postgresServer.ts';
import { startRedisServer, type RedisServerHandle } from './services/redisServer.ts';
import { startServerProcess, tempDataDir, type ServerProcess } from './serverProcess.ts';

export const ADMIN_TOKEN = 'test-admin-token';

/** POSTs to an admin endpoint of `worker` (e.g. `/api/admin/save`) with the world's admin token. */
export function adminPost(worker: ServerProcess, path: string, body?: unknown): Promise<Response> {
  return fetch(`${worker.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

export interface ScaledWorldOptions {
  workers?: number;
  env?: Record<string, string>;
  /**
   * Run the database on a PostgreSQL server of this world's own (exposed as `postgres`), so that
   * a test can stop and restart it without touching the shared server other test files use.
   */
  dedicatedPostgres?: boolean;
}

export interface ScaledWorld {
  redis: RedisServerHandle;
  /** The world's own PostgreSQL when started with `dedicatedPostgres`; undefined on the shared one. */
  postgres: PostgresServerHandle | undefined;
  databaseUrl: string;
  workers: ServerProcess[];
  /** `workers[index]`; throws when there is none. */
  worker(index: number): ServerProcess;
  /** Starts one more worker on its own port. */
  startWorker(env?: Record<string, string>): Promise<ServerProcess>;
  stop(): Promise<void>;
}

function hasExited(worker: ServerProcess): boolean {
  return worker.child.exitCode !== null || worker.child.signalCode !== null;
}

export async function startScaledWorld(options: ScaledWorldOptions = {}): Promise<ScaledWorld> {
  const sharedUrl = process.env.DATABASE_URL;
  if (!sharedUrl) throw new Error('DATABASE_URL is not set: run the tests through npm test (test/setup/services.ts provides it)');
  const cleanups: (() => Promise<unknown>)[] = [];
  const workers: ServerProcess[] = [];
  const stopAll = async () => {
    // A worker killed by the test (SIGKILL) has nothing left to stop: waiting for its exit would hang.
    const stopped = await Promise.allSettled(workers.filter((worker) => !hasExited(worker)).map((worker) => worker.stop()));
    const failures: unknown[] = stopped.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, 'stopping the scaled world failed');
  };
  try {
    const redis = await startRedisServer({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    cleanups.push(() => redis.dispose());
    let postgres: PostgresServerHandle | undefined;
    if (options.dedicatedPostgres === true) {
      const server = await startPostgresServer();
      postgres = server;
      cleanups.push(() => server.dispose());
    }
    const name = `cinder_scaled_${randomBytes(6).toString('hex')}`;
    const databaseUrl = postgres ? await postgres.createDatabase(name) : await createDatabase(sharedUrl, name);
    const data = await tempDataDir();
    cleanups.push(() => data.remove());
    const baseEnv = {
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl,
      CINDER_ADMIN_TOKEN: ADMIN_TOKEN,
      CINDER_HEARTBEAT_INTERVAL_MS: '200',
      CINDER_WORKER_TIMEOUT_MS: '1000',
      CINDER_DEAD_WORKER_CLEANUP_INTERVAL_MS: '300',
      CINDER_SYNC_INTERVAL_MS: '500',
      CINDER_LOGIN_ATTEMPTS: '100000',
      CINDER_ACTION_BURST: '100000',
      CINDER_ACTIONS_PER_SECOND: '100000',
      ...options.env,
    };
    const startWorker = async (env: Record<string, string> = {}) => {
      const worker = await startServerProcess(data.dir, { ...baseEnv, LOG_LEVEL: 'info', ...env });
      workers.push(worker);
      return worker;
    };
    // One after the other: the first applies the migrations, the rest find them applied.
    for (let i = 0; i < (options.workers ?? 2); i++) await startWorker();
    return {
      redis,
      postgres,
      databaseUrl,
      workers,
      worker(index) {
        const worker = workers[index];
        if (!worker) throw new Error(`no worker ${index}`);
        return worker;
      },
      startWorker,
      stop: stopAll,
    };
  } catch (error) {
    // Whatever did start is stopped again, so a failed start leaks no process and no temp dir.
    await stopAll().catch(() => undefined);
    throw error;
  }
}
