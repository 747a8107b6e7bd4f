// A real, throw-away redis-server child process on 127.0.0.1 and a free port, without persistence
// (`--save '' --appendonly no`), in its own temp dir. Tests stop/kill and restart it (same port) to
// simulate Redis outages; after a restart it is empty, as a Redis that lost its data would be.
import { Redis } from 'ioredis';
import {
  launchOnFreePort,
  getServiceBinaries,
  makeTempDir,
  pollUntilReady,
  removeTempDir,
  serverControls,
  spawnServer,
  type ServerProcess,
} from './binaries.ts';

export interface RedisServerOptions {
  /** The redis-server executable; default: found by binaries.ts. */
  readonly binary?: string;
  /** A fixed port; default: a free one (retried on a collision). */
  readonly port?: number;
  /** How long to wait for PING to answer, per start (default 20 s). */
  readonly readyTimeoutMs?: number;
  /** Extra `--name value` arguments for redis-server. */
  readonly extraArgs?: readonly string[];
}

export interface RedisServerHandle {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** redis_version as reported by the server. */
  readonly version: string;
  readonly running: boolean;
  /** Milliseconds from spawn to the first PONG, for the first start. */
  readonly startupMs: number;
  /** SIGTERM, then waits for the process to exit. No-op when not running. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), then waits for the process to exit. No-op when not running. */
  kill(): Promise<void>;
  /** Starts it again on the SAME port and waits until it answers PING (stops it first if running). */
  restart(): Promise<void>;
  /** SIGSTOP to the server and its child processes: it hangs, connections and port open (see ServerControls). */
  pause(): void;
  /** SIGCONT to what pause() stopped. */
  resume(): void;
  /** Stops it and removes its temp dir. Idempotent; the handle is unusable afterwards. */
  dispose(): Promise<void>;
}

/**
 * PINGs `url` once (no retries) and returns redis_version. Throws when it does not answer — with the
 * socket error (e.g. code ECONNREFUSED) when it could not connect.
 */
export async function probeRedis(url: string, timeoutMs = 2000): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  let connectError: unknown;
  client.on('error', (error: unknown) => {
    connectError ??= error; // connect() itself only rejects with "Connection is closed."
  });
  try {
    await client.connect().catch((error: unknown) => {
      throw connectError ?? error;
    });
    await client.ping();
    const info = await client.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  } finally {
    client.disconnect();
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? (await getServiceBinaries()).redisServer;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const dir = makeTempDir('cinder-redis-');
  let proc: ServerProcess | undefined;

  const launch = async (port: number): Promise<string> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--dir', dir,
      '--logfile', '',
      ...(options.extraArgs ?? []),
    ];
    proc = spawnServer(`redis-server on port ${port}`, binary, args, { cwd: dir });
    return pollUntilReady(proc, 'answering PING', () => probeRedis(`redis://127.0.0.1:${port}`, 1000), readyTimeoutMs);
  };

  const started = performance.now();
  let port: number;
  let version: string;
  try {
    ({ port, launched: version } = await launchOnFreePort(launch, options.port));
  } catch (error) {
    await proc?.terminate('SIGKILL', 5000).catch(() => undefined);
    await removeTempDir(dir);
    throw error;
  }
  const startupMs = Math.round(performance.now() - started);
  const fixedPort = port;
  const controls = serverControls({
    name: `redis-server on port ${fixedPort}`,
    current: () => proc,
    relaunch: () => launch(fixedPort),
    stopSignal: 'SIGTERM',
    killSignal: 'SIGKILL',
    exitTimeoutMs: 10_000,
    tempDir: dir,
  });
  return Object.assign(controls, { url: `redis://127.0.0.1:${fixedPort}`, port: fixedPort, version, startupMs });
}
