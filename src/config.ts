// Every tunable, read from the environment in one place, with its default (documented in README).
import { resolve } from 'node:path';
import { StartupError } from './startupError.ts';

const TEN_YEARS_S = 10 * 365 * 24 * 3600;
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

function int(name: string, fallback: number, env: NodeJS.ProcessEnv, min = 0, max?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Plain digits only: Number() would also take '1e16', '0x10' or ' 5 '.
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new StartupError(`${name} must be ${rangeText(min, max)}, got "${raw}"`);
  }
  return value;
}

/** Node's timers take at most this many milliseconds; a longer delay fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in milliseconds: `min` or more, and no longer than a timer can wait. */
function ms(name: string, fallback: number, env: NodeJS.ProcessEnv, min = 0): number {
  return int(name, fallback, env, min, MAX_TIMER_MS);
}

/** A size in bytes, a count or a rate: 1 or more (0 would refuse everything, or switch a limit off). */
function positive(name: string, fallback: number, env: NodeJS.ProcessEnv, max = MAX_TIMER_MS): number {
  return int(name, fallback, env, 1, max);
}

function rangeText(min: number, max: number | undefined): string {
  if (max !== undefined) return `an integer from ${min} to ${max}`;
  return min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`;
}

/**
 * A heartbeat key must outlive the gap between two beats with room for a late one: at a timeout
 * shorter than that, live workers are taken for dead and their connected players released.
 */
function checkHeartbeat(heartbeatIntervalMs: number, workerTimeoutMs: number): void {
  if (workerTimeoutMs < 2 * heartbeatIntervalMs) {
    throw new StartupError(
      `CINDER_WORKER_TIMEOUT_MS (${workerTimeoutMs}) must be at least twice CINDER_HEARTBEAT_INTERVAL_MS (${heartbeatIntervalMs}): ` +
        'otherwise live workers are taken for dead between two heartbeats.',
    );
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'info';
  if (!LOG_LEVELS.includes(raw)) throw new StartupError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

export interface Config {
  /** Both set: scaled mode on Redis/Valkey + PostgreSQL; neither: embedded mode. */
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  contentDir: string;
  /** HS256 secret for session tokens; when unset, one is generated once and kept in the durable store. */
  tokenSecret: string | undefined;
  tokenTtlSeconds: number;
  /** Bearer token for /api/admin/*; the admin API is off when unset. */
  adminToken: string | undefined;
  /** Bearer token GET /metrics asks for; open to anyone who can reach it when unset. */
  metricsToken: string | undefined;
  syncIntervalMs: number;
  cleanupIntervalMs: number;
  /** How often ground items past their despawn time are taken away; 0 turns the job off. */
  despawnIntervalMs: number;
  /** How often unique items nothing refers to any more (despawned) are deleted from the durable store; 0 turns the job off. */
  uniqueSweepIntervalMs: number;
  disconnectLingerMs: number;
  /** Messages above this size are refused with E_TOO_LARGE; the connection stays open. */
  maxMessageBytes: number;
  /** Frames above this size close the connection (code 1009) before they are buffered. */
  maxFrameBytes: number;
  /** Unsent bytes a client may leave queued before it counts as not reading and is dropped. */
  maxSendBufferBytes: number;
  /** How often each client is pinged; one that has not answered the previous ping is dropped. 0: never. */
  clientPingIntervalMs: number;
  /** How often each session is checked against the hot store for an ending it did not hear (replaced, revoked). 0: never. */
  sessionAuditIntervalMs: number;
  /** WebSockets one client address may hold open on this worker; beyond it an upgrade is refused (429). */
  maxConnectionsPerAddress: number;
  /** How long a new WebSocket may stay without authenticating before it is closed (4003). 0: for ever. */
  authTimeoutMs: number;
  /** How long an HTTP request, headers and body, may take to arrive before it is cut (408). */
  requestTimeoutMs: number;
  /** Per-connection action budget: a burst of this many, refilled at this rate per second. */
  actionBurst: number;
  actionsPerSecond: number;
  loginAttempts: number;
  loginWindowMs: number;
  logLevel: string;
  /** How often a worker refreshes its heartbeat key, and how long the key outlives a silent worker. */
  heartbeatIntervalMs: number;
  workerTimeoutMs: number;
  deadWorkerCleanupIntervalMs: number;
  /** PostgreSQL pool size per worker in scaled mode. */
  databasePoolSize: number;
  /** How long PostgreSQL may take to give a connection, and to answer one statement, before it counts as unreachable. */
  databaseConnectTimeoutMs: number;
  databaseQueryTimeoutMs: number;
  /** How long the final sync at shutdown may take in scaled mode; what it has not written stays dirty in Redis. */
  shutdownSyncTimeoutMs: number;
  /** How long a client may take to answer the close at shutdown before its socket is cut. */
  shutdownCloseTimeoutMs: number;
  /** `--workers`: how long the primary waits for its workers to stop before it kills them (0: for ever). */
  shutdownTimeoutMs: number;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDR ranges or loopback/linklocal/uniquelocal). */
  trustProxy: string[];
}

function list(name: string, env: NodeJS.ProcessEnv): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * A secret from the environment: trimmed (a secret file's newline must not make every bearer
 * token mismatch: HTTP drops it from the header), and refused when too short to resist guessing.
 */
function secret(name: string, env: NodeJS.ProcessEnv, minLength: number): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (value.length < minLength) throw new StartupError(`${name} must be at least ${minLength} characters, got ${value.length}: use a long random value (e.g. openssl rand -base64 32)`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const redisUrl = env.REDIS_URL || undefined;
  const databaseUrl = env.DATABASE_URL || undefined;
  if ((redisUrl === undefined) !== (databaseUrl === undefined)) {
    throw new StartupError('Scaled mode needs both REDIS_URL and DATABASE_URL; set both, or neither for embedded mode.');
  }
  const maxMessageBytes = positive('CINDER_MAX_MESSAGE_BYTES', 16 * 1024, env);
  const maxFrameBytes = positive('CINDER_MAX_FRAME_BYTES', 2 * 1024 * 1024, env);
  if (maxFrameBytes < maxMessageBytes) {
    // A frame over the message limit must still arrive whole, to be answered E_TOO_LARGE on an open connection.
    throw new StartupError(`CINDER_MAX_FRAME_BYTES (${maxFrameBytes}) must be at least CINDER_MAX_MESSAGE_BYTES (${maxMessageBytes})`);
  }
  const heartbeatIntervalMs = ms('CINDER_HEARTBEAT_INTERVAL_MS', 1000, env, 1);
  const workerTimeoutMs = ms('CINDER_WORKER_TIMEOUT_MS', 5000, env, 1);
  checkHeartbeat(heartbeatIntervalMs, workerTimeoutMs);
  return {
    redisUrl,
    databaseUrl,
    port: int('PORT', 3000, env, 0, 65_535),
    host: env.HOST ?? '0.0.0.0',
    dataDir: resolve(env.CINDER_DATA_DIR ?? './data'),
    contentDir: resolve(env.CINDER_CONTENT_DIR ?? './content/ashlands'),
    // HS256: a key shorter than the hash (32 bytes) can be found from one token offline.
    tokenSecret: secret('CINDER_TOKEN_SECRET', env, 32),
    tokenTtlSeconds: int('CINDER_TOKEN_TTL_SECONDS', 24 * 3600, env, 1, TEN_YEARS_S),
    adminToken: secret('CINDER_ADMIN_TOKEN', env, 16),
    metricsToken: secret('CINDER_METRICS_TOKEN', env, 16),
    syncIntervalMs: ms('CINDER_SYNC_INTERVAL_MS', 5000, env),
    cleanupIntervalMs: ms('CINDER_CLEANUP_INTERVAL_MS', 30_000, env),
    despawnIntervalMs: ms('CINDER_DESPAWN_INTERVAL_MS', 10_000, env),
    uniqueSweepIntervalMs: ms('CINDER_UNIQUE_SWEEP_INTERVAL_MS', 600_000, env),
    // Compared with timestamps, never waited on: no timer limit.
    disconnectLingerMs: int('CINDER_DISCONNECT_LINGER_MS', 3600_000, env),
    maxMessageBytes,
    maxFrameBytes,
    maxSendBufferBytes: positive('CINDER_MAX_SEND_BUFFER_BYTES', 1024 * 1024, env),
    clientPingIntervalMs: ms('CINDER_CLIENT_PING_INTERVAL_MS', 30_000, env),
    sessionAuditIntervalMs: ms('CINDER_SESSION_AUDIT_INTERVAL_MS', 30_000, env),
    maxConnectionsPerAddress: int('CINDER_MAX_CONNECTIONS_PER_ADDRESS', 100, env, 1),
    authTimeoutMs: ms('CINDER_AUTH_TIMEOUT_MS', 10_000, env),
    requestTimeoutMs: ms('CINDER_REQUEST_TIMEOUT_MS', 30_000, env, 1),
    actionBurst: positive('CINDER_ACTION_BURST', 40, env),
    actionsPerSecond: positive('CINDER_ACTIONS_PER_SECOND', 20, env),
    loginAttempts: positive('CINDER_LOGIN_ATTEMPTS', 10, env),
    // A Redis expiry, not a timer.
    loginWindowMs: int('CINDER_LOGIN_WINDOW_MS', 60_000, env, 1, ONE_YEAR_MS),
    logLevel: logLevel(env.LOG_LEVEL),
    heartbeatIntervalMs,
    workerTimeoutMs,
    deadWorkerCleanupIntervalMs: ms('CINDER_DEAD_WORKER_CLEANUP_INTERVAL_MS', 2000, env),
    databasePoolSize: positive('CINDER_DATABASE_POOL_SIZE', 4, env, 1000),
    databaseConnectTimeoutMs: ms('CINDER_DATABASE_CONNECT_TIMEOUT_MS', 5000, env, 1),
    databaseQueryTimeoutMs: ms('CINDER_DATABASE_QUERY_TIMEOUT_MS', 5000, env, 1),
    shutdownSyncTimeoutMs: ms('CINDER_SHUTDOWN_SYNC_TIMEOUT_MS', 10_000, env, 1),
    shutdownCloseTimeoutMs: ms('CINDER_SHUTDOWN_CLOSE_TIMEOUT_MS', 3000, env, 1),
    shutdownTimeoutMs: ms('CINDER_SHUTDOWN_TIMEOUT_MS', 60_000, env),
    trustProxy: list('CINDER_TRUST_PROXY', env),
  };
}
