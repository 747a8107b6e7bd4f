// A scaled Cinder for tests: a dedicated Redis (with an append-only file, so that stopping and
// restarting it keeps its data as a production Redis would), a fresh PostgreSQL database on the
// shared test server, and worker processes each listening on its own port, so that a test
// chooses which worker each client talks to.
import { randomBytes } from 'node:crypto';
import { createDatabase } from './services/postgresServer.ts';
import { startRedisServer, type RedisServerHandle } from './services/redisServer.ts';
import { startServerProcess, tempDataDir, type ServerProcess } from './serverProcess.ts';

export const ADMIN_TOKEN = 'test-admin-token';

export interface ScaledWorld {
  redis: RedisServerHandle;
  databaseUrl: string;
  workers: ServerProcess[];
  /** Starts one more worker on its own port. */
  startWorker(env?: Record<string, string>): Promise<ServerProcess>;
  stop(): Promise<void>;
}

export async function startScaledWorld(options: { workers?: number; env?: Record<string, string> } = {}): Promise<ScaledWorld> {
  const sharedUrl = process.env.DATABASE_URL;
  if (!sharedUrl) throw new Error('DATABASE_URL is not set: run the tests through npm test (test/setup/services.ts provides it)');
  const redis = await startRedisServer({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const databaseUrl = await createDatabase(sharedUrl, `cinder_scaled_${randomBytes(6).toString('hex')}`);
  const data = await tempDataDir();
  const workers: ServerProcess[] = [];
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
    databaseUrl,
    workers,
    startWorker,
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await redis.dispose();
      await data.remove();
    },
  };
}
