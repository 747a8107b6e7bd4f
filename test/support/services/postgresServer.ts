// A real, throw-away PostgreSQL: `initdb` into a temp dir, then `postgres` on 127.0.0.1 and a free
// port with durability switched off (fsync, synchronous_commit, full_page_writes) for speed. As root
// both run as the `postgres` OS user (PostgreSQL refuses to run as root): the child is spawned with
// that uid/gid directly (no runuser/su in between, so signals reach the postmaster itself).
// stop() is a fast shutdown (SIGINT: disconnects clients, checkpoints); restart() starts it again on
// the same port and data dir, so data committed before the stop is still there.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  launchOnFreePort,
  getServiceBinaries,
  makeTempDir,
  pollUntilReady,
  removeTempDir,
  serverControls,
  spawnServer,
  type OsUser,
  type PostgresBinaries,
  type ServerProcess,
} from './binaries.ts';

export interface PostgresServerOptions {
  /** initdb/postgres to use; default: found by binaries.ts. */
  readonly binaries?: PostgresBinaries;
  /** The OS user to run as; default: `postgres` when root, else the current user. */
  readonly user?: OsUser;
  /** A fixed port; default: a free one (retried on a collision). */
  readonly port?: number;
  /** Extra server settings, passed as `-c name=value`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for `SELECT 1` to answer, per start (default 30 s). */
  readonly readyTimeoutMs?: number;
}

export interface PostgresServerHandle {
  /** postgres://postgres@127.0.0.1:PORT/postgres (superuser, trust authentication) */
  readonly url: string;
  readonly port: number;
  /** server_version as reported by the server, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  readonly version: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** Milliseconds spent in initdb and from spawn to the first `SELECT 1`, for the first start. */
  readonly timings: { readonly initdbMs: number; readonly readyMs: number };
  /** CREATE DATABASE name; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT), then waits for the exit. No-op when not running. */
  stop(): Promise<void>;
  /**
   * Immediate shutdown (SIGQUIT, like a crash: no checkpoint, the next start recovers from WAL).
   * With synchronous_commit=off, commits of the last few hundred ms may be lost, as after a real
   * crash of such a server; a transaction that runs `SET LOCAL synchronous_commit = on` is kept.
   */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir, waits until it answers (stops it first if running). */
  restart(): Promise<void>;
  /** SIGSTOP to the server and its child processes: it hangs, connections and port open (see ServerControls). */
  pause(): void;
  /** SIGCONT to what pause() stopped. */
  resume(): void;
  /** Stops it and removes its temp dir (data included). Idempotent. */
  dispose(): Promise<void>;
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connects to `url` once, runs SHOW server_version and returns it. Throws when it does not answer. */
export async function probePostgres(url: string, timeoutMs = 2000): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {
    // reported through the rejected promise below
  });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * CREATE DATABASE `name` on the server `adminUrl` points at (any database there, as a role allowed
 * to create databases) and returns the URL of the new database. Works for external servers too.
 */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!DATABASE_NAME.test(name)) {
    throw new Error(`database name ${JSON.stringify(name)} must match ${String(DATABASE_NAME)}`);
  }
  const client = new Client({ connectionString: adminUrl });
  client.on('error', () => {
    // reported through the rejected promise below
  });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function runInitdb(binaries: PostgresBinaries, dataDir: string, cwd: string, user: OsUser | undefined): Promise<void> {
  const args = ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'];
  return new Promise((resolve, reject) => {
    execFile(
      binaries.initdb,
      args,
      { cwd, encoding: 'utf8', timeout: 120_000, ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }) },
      (error, stdout, stderr) => {
        if (error) {
          const as = user === undefined ? '' : ` as OS user ${user.name}`;
          reject(new Error(`initdb${as} failed: ${error.message}\n${stdout}${stderr}`));
          return;
        }
        resolve();
      },
    );
  });
}

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServerHandle> {
  const resolved = options.binaries === undefined || options.user === undefined ? await getServiceBinaries() : undefined;
  const binaries = options.binaries ?? resolved?.postgres;
  const user = options.user ?? resolved?.postgresUser;
  if (binaries === undefined) throw new Error('unreachable: PostgreSQL binaries resolved above');
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  const baseDir = makeTempDir('cinder-pg-', user);
  const dataDir = join(baseDir, 'data');
  let proc: ServerProcess | undefined;

  const launch = async (port: number): Promise<string> => {
    const settings = {
      listen_addresses: '127.0.0.1',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    };
    const args = ['-D', dataDir, '-p', String(port), '-k', baseDir];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
    proc = spawnServer(`postgres on port ${port}`, binaries.postgres, args, { cwd: baseDir, user });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return pollUntilReady(proc, 'answering SELECT 1', () => probePostgres(url, 1000), readyTimeoutMs);
  };

  let port: number;
  let version: string;
  let initdbMs: number;
  let readyMs: number;
  try {
    const initStarted = performance.now();
    await runInitdb(binaries, dataDir, baseDir, user);
    initdbMs = Math.round(performance.now() - initStarted);
    const started = performance.now();
    ({ port, launched: version } = await launchOnFreePort(launch, options.port));
    readyMs = Math.round(performance.now() - started);
  } catch (error) {
    await proc?.terminate('SIGKILL', 5000).catch(() => undefined);
    await removeTempDir(baseDir);
    throw error;
  }

  const fixedPort = port;
  const url = `postgres://postgres@127.0.0.1:${fixedPort}/postgres`;
  const controls = serverControls({
    name: `postgres on port ${fixedPort}`,
    current: () => proc,
    relaunch: () => launch(fixedPort),
    stopSignal: 'SIGINT',
    killSignal: 'SIGQUIT',
    exitTimeoutMs: 30_000,
    tempDir: baseDir,
  });
  return Object.assign(controls, {
    url,
    port: fixedPort,
    version,
    dataDir,
    timings: { initdbMs, readyMs },
    createDatabase: (name: string) => createDatabase(url, name),
  });
}
