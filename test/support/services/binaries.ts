// Finding (and, as root on Debian, installing) the Redis and PostgreSQL server binaries the tests
// run, plus the small process toolkit both server helpers share: free ports, temp dirs, child
// processes with a captured log tail, bounded readiness polling and clean-up at process exit.
//
// Lookup order: redis-server on PATH (then /usr/bin, /usr/local/bin); initdb + postgres from one
// directory, tried in order: $PG_BIN when set, directories on PATH, `pg_config --bindir`, /usr/lib/postgresql/<ver>/bin
// newest version first. When something is missing and we run as root with apt-get available, ONE
// `apt-get update && apt-get install -y redis-server postgresql` (only the missing packages) runs;
// otherwise an Error names exactly what is missing and how to provide it.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, chownSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** An OS account a server must run as (PostgreSQL refuses to run as root). */
export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface PostgresBinaries {
  /** The directory holding initdb and postgres (they must come from the same installation). */
  readonly binDir: string;
  readonly initdb: string;
  readonly postgres: string;
  /** pg_ctl from the same directory, when present (the helpers do not need it). */
  readonly pgCtl: string | undefined;
}

export interface ServiceBinaries {
  readonly redisServer: string;
  readonly postgres: PostgresBinaries;
  /** The account PostgreSQL runs as: `postgres` when we are root, else undefined (the current user). */
  readonly postgresUser: OsUser | undefined;
}

/** Everything resolveServiceBinaries touches outside itself, injectable for tests. */
export interface BinaryResolverDeps {
  readonly findRedisServer: () => string | undefined;
  readonly findPostgresBinaries: () => PostgresBinaries | undefined;
  readonly isRoot: () => boolean;
  readonly hasAptGet: () => boolean;
  /** Installs Debian packages (one apt-get update + one apt-get install for all of them). */
  readonly aptInstall: (packages: readonly string[]) => Promise<void>;
  readonly lookupUser: (name: string) => OsUser | undefined;
  readonly log: (line: string) => void;
}

export interface ResolveOptions extends Partial<BinaryResolverDeps> {
  /** Install missing packages with apt-get when root (default true). Test workers pass false. */
  readonly allowInstall?: boolean;
}

interface Missing {
  readonly binaries: string;
  readonly debianPackage: string;
}

const SEARCHED =
  'searched $PG_BIN, PATH (then /usr/bin and /usr/local/bin for redis-server), `pg_config --bindir` and /usr/lib/postgresql/*/bin';

function describeMissing(missing: readonly Missing[]): string {
  return missing.map((m) => m.binaries).join(', ');
}

function missingError(missing: readonly Missing[], why: string): Error {
  const packages = missing.map((m) => m.debianPackage).join(' ');
  return new Error(
    [
      `Cannot provide the test services: missing ${describeMissing(missing)} (${SEARCHED}).`,
      why,
      'The tests need real servers: Redis 7+ (redis-server) and PostgreSQL 15+ (initdb and postgres from one bin directory).',
      'Provide them by one of:',
      `  - installing them: \`sudo apt-get install -y ${packages}\` on Debian/Ubuntu, \`brew install redis postgresql@16\` on macOS;`,
      '    PostgreSQL\'s bin directory (e.g. /usr/lib/postgresql/16/bin) is found without being on PATH, other locations must be put on PATH;',
      '  - running the tests as root on Debian/Ubuntu, which installs them with apt-get.',
      'REDIS_URL / DATABASE_URL alone are not enough: some tests start dedicated servers to stop and restart them.',
    ].join('\n'),
  );
}

function findMissing(redis: string | undefined, pg: PostgresBinaries | undefined): Missing[] {
  const missing: Missing[] = [];
  if (redis === undefined) missing.push({ binaries: 'redis-server', debianPackage: 'redis-server' });
  if (pg === undefined) missing.push({ binaries: 'initdb and postgres', debianPackage: 'postgresql' });
  return missing;
}

/**
 * Finds the binaries; installs what is missing when allowed, root and apt-get is there; else throws
 * an Error naming the missing binaries and the remedy. Never returns without both servers.
 */
export async function resolveServiceBinaries(options: ResolveOptions = {}): Promise<ServiceBinaries> {
  const deps: BinaryResolverDeps = { ...defaultDeps, ...options };
  const allowInstall = options.allowInstall ?? true;
  let redis = deps.findRedisServer();
  let pg = deps.findPostgresBinaries();
  const missing = findMissing(redis, pg);
  const root = deps.isRoot();
  if (missing.length > 0) {
    if (!allowInstall) {
      throw missingError(missing, 'Installing was not attempted here (the vitest global setup test/setup/services.ts does that).');
    }
    if (!root) throw missingError(missing, 'Not running as root, so they were not installed automatically.');
    if (!deps.hasAptGet()) throw missingError(missing, 'Running as root, but apt-get is not available to install them.');
    const packages = missing.map((m) => m.debianPackage);
    deps.log(
      `[services] ${describeMissing(missing)} not found; running \`apt-get update && apt-get install -y ${packages.join(' ')}\` (DEBIAN_FRONTEND=noninteractive)`,
    );
    const started = performance.now();
    await deps.aptInstall(packages);
    deps.log(`[services] apt-get installed ${packages.join(' ')} in ${Math.round(performance.now() - started)} ms`);
    redis = deps.findRedisServer();
    pg = deps.findPostgresBinaries();
    const still = findMissing(redis, pg);
    if (still.length > 0) {
      throw missingError(still, `apt-get install ${packages.join(' ')} succeeded, but they are still not found.`);
    }
  }
  if (redis === undefined || pg === undefined) throw new Error('unreachable: binaries checked above');
  let postgresUser: OsUser | undefined;
  if (root) {
    postgresUser = deps.lookupUser('postgres');
    if (postgresUser === undefined) {
      throw new Error(
        'Running as root, and PostgreSQL refuses to run as root, so the tests run initdb/postgres as the OS user ' +
          '"postgres" — which does not exist. Create it (Debian\'s postgresql package does; or ' +
          '`useradd --system --user-group --no-create-home postgres`), or run the tests as a non-root user.',
      );
    }
  }
  return { redisServer: redis, postgres: pg, postgresUser };
}

let cached: Promise<ServiceBinaries> | undefined;

/** Lookup only (no install), memoised per process: what the server helpers use by default. */
export function getServiceBinaries(): Promise<ServiceBinaries> {
  cached ??= resolveServiceBinaries({ allowInstall: false });
  return cached;
}

// ---------------------------------------------------------------------------------------------
// Real lookups

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pathDirs(pathEnv: string | undefined): string[] {
  return (pathEnv ?? '').split(delimiter).filter((dir) => dir !== '');
}

/** The first executable `name` on PATH (or in the given PATH string). */
export function findOnPath(name: string, pathEnv: string | undefined = process.env.PATH): string | undefined {
  for (const dir of pathDirs(pathEnv)) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export function findRedisServerOnSystem(): string | undefined {
  return (
    findOnPath('redis-server') ??
    ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((path) => isExecutableFile(path))
  );
}

/** Version directory names ("15", "16", "9.6") sorted newest first. */
export function sortVersionsNewestFirst(versions: readonly string[]): string[] {
  const key = (v: string): number[] => v.split('.').map((part) => Number.parseInt(part, 10) || 0);
  return [...versions].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const diff = (kb[i] ?? 0) - (ka[i] ?? 0);
      if (diff !== 0) return diff;
    }
    return 0;
  });
}

function pgConfigBinDir(): string | undefined {
  const pgConfig = findOnPath('pg_config');
  if (pgConfig === undefined) return undefined;
  try {
    const out = execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    const dir = out.trim();
    return dir === '' ? undefined : dir;
  } catch {
    return undefined;
  }
}

/** Candidate PostgreSQL bin directories, in lookup order (PG_BIN first when set), without duplicates. */
export function postgresBinDirCandidates(): string[] {
  const dirs: string[] = [];
  const configured = process.env.PG_BIN;
  if (configured !== undefined && configured !== '') dirs.push(configured);
  for (const dir of pathDirs(process.env.PATH)) {
    const initdb = join(dir, 'initdb');
    if (!isExecutableFile(initdb)) continue;
    // /usr/local/bin/initdb may be a symlink into the real bin dir, which then also has postgres.
    try {
      dirs.push(dirname(realpathSync(initdb)));
    } catch {
      // fall through to the directory itself
    }
    dirs.push(dir);
  }
  const fromPgConfig = pgConfigBinDir();
  if (fromPgConfig !== undefined) dirs.push(fromPgConfig);
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    versions = [];
  }
  for (const version of sortVersionsNewestFirst(versions)) dirs.push(join(root, version, 'bin'));
  return [...new Set(dirs)];
}

export function findPostgresBinariesOnSystem(): PostgresBinaries | undefined {
  for (const binDir of postgresBinDirCandidates()) {
    const initdb = join(binDir, 'initdb');
    const postgres = join(binDir, 'postgres');
    if (isExecutableFile(initdb) && isExecutableFile(postgres)) {
      const pgCtl = join(binDir, 'pg_ctl');
      return { binDir, initdb, postgres, pgCtl: isExecutableFile(pgCtl) ? pgCtl : undefined };
    }
  }
  return undefined;
}

export function lookupOsUser(name: string): OsUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { name, uid, gid };
  } catch {
    return undefined;
  }
}

function runLogged(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail = new OutputTail(16_384);
    child.once('error', (error: Error) => {
      reject(error);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      tail.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      tail.push(chunk);
    });
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`\`${[file, ...args].join(' ')}\` failed (${signal ?? `exit ${code ?? '?'}`}):\n${tail.text()}`));
    });
  });
}

export async function aptGetInstall(packages: readonly string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runLogged('apt-get', ['update', '-q'], env);
  await runLogged('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], env);
}

const defaultDeps: BinaryResolverDeps = {
  findRedisServer: findRedisServerOnSystem,
  findPostgresBinaries: findPostgresBinariesOnSystem,
  isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
  hasAptGet: () => findOnPath('apt-get') !== undefined,
  aptInstall: aptGetInstall,
  lookupUser: lookupOsUser,
  log: (line) => {
    console.log(line);
  },
};

/** `redis-server --version` → "7.0.15"; `postgres --version` → "15.18". */
export function binaryVersion(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, ['--version'], { encoding: 'utf8', timeout: 10_000 }, (error, stdout) => {
      if (error) {
        reject(new Error(`\`${file} --version\` failed: ${error.message}`, { cause: error }));
        return;
      }
      const match = /v=(\S+)/.exec(stdout) ?? /\(PostgreSQL\)\s+(\S+)/.exec(stdout);
      resolve(match?.[1] ?? stdout.trim());
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Process toolkit shared by redisServer.ts and postgresServer.ts

/** A port that was free on 127.0.0.1 a moment ago (callers retry on the rare collision). */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not obtain a free port'));
      });
    });
  });
}

const PORT_ATTEMPTS = 5;

/**
 * Launches a server on `requested`, or on a free port when none was requested. Another process can
 * take a free port before the server binds it: then it tries again on a new one, up to 5 times.
 */
export async function launchOnFreePort<T>(launch: (port: number) => Promise<T>, requested: number | undefined): Promise<{ port: number; launched: T }> {
  let port = requested ?? (await getFreePort());
  for (let attempt = 1; ; attempt++) {
    try {
      return { port, launched: await launch(port) };
    } catch (error) {
      const collision = error instanceof ServerExitedError && /address already in use/i.test(error.message);
      if (!collision || requested !== undefined || attempt >= PORT_ATTEMPTS) throw error;
      port = await getFreePort();
    }
  }
}

/** What a test does to a running server: redisServer.ts and postgresServer.ts both hand these out. */
export interface ServerControls {
  readonly running: boolean;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
  /**
   * SIGSTOP to the server and every process it started (PostgreSQL's backends): a hung server,
   * whose connections stay open and whose port still accepts, but which answers nothing.
   */
  pause(): void;
  /** SIGCONT to what pause() stopped. stop, kill, restart and dispose resume a paused server first. */
  resume(): void;
}

/** `pid` and its descendants, parents before children (from `ps`, so it works on Linux and macOS). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  for (const line of table.split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (child === undefined || parent === undefined || !Number.isInteger(child) || !Number.isInteger(parent)) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const tree: number[] = [];
  const pending = [pid];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    tree.push(next);
    pending.push(...(children.get(next) ?? []));
  }
  return tree;
}

/**
 * The controls of a server whose process is `current()` (a restart replaces it): stop and kill send
 * their signal and wait for the exit; restart stops it and launches it again; dispose stops it
 * and removes `tempDir`, once.
 */
export function serverControls(server: {
  name: string;
  current: () => ServerProcess | undefined;
  relaunch: () => Promise<unknown>;
  stopSignal: NodeJS.Signals;
  killSignal: NodeJS.Signals;
  exitTimeoutMs: number;
  tempDir: string;
}): ServerControls {
  let disposed = false;
  let paused: number[] = [];
  const resume = () => {
    for (const pid of paused) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone meanwhile
      }
    }
    paused = [];
  };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = server.current();
    if (proc === undefined || proc.hasExited) return;
    resume();
    await proc.terminate(signal, server.exitTimeoutMs);
  };
  return {
    get running() {
      const proc = server.current();
      return proc !== undefined && !proc.hasExited;
    },
    stop: () => stopWith(server.stopSignal),
    kill: () => stopWith(server.killSignal),
    pause() {
      const proc = server.current();
      if (proc === undefined || proc.hasExited) throw new Error(`${server.name} is not running`);
      // The parent first, so that it starts nothing new while its children are being stopped.
      for (const pid of processTree(proc.pid)) {
        process.kill(pid, 'SIGSTOP');
        paused.push(pid);
      }
    },
    resume,
    async restart() {
      if (disposed) throw new Error(`${server.name} was disposed`);
      await stopWith(server.stopSignal);
      await server.relaunch();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await stopWith(server.stopSignal);
      } finally {
        await removeTempDir(server.tempDir);
      }
    },
  };
}

/** Keeps the last `limit` bytes of a process's output, for error messages. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      const dropped = this.chunks.shift();
      this.size -= dropped?.length ?? 0;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks).toString('utf8');
    return all.length > this.limit ? all.slice(-this.limit) : all;
  }
}

// Children and temp dirs still alive when this process exits (a crash, a failed hook) are killed
// and removed synchronously from the 'exit' handler, so nothing outlives the test run.
const liveChildren = new Set<ChildProcess>();
const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of liveTempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort at exit
      }
    }
  });
}

/** A fresh temp dir (owned by `owner` when given), removed at the latest when this process exits. */
export function makeTempDir(prefix: string, owner?: OsUser): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  liveTempDirs.add(dir);
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  liveTempDirs.delete(dir);
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  readonly hasExited: boolean;
  /** The last 32 KB of its stdout and stderr. */
  output(): string;
  /** Sends `signal`, waits for the exit; after `timeoutMs` SIGKILLs it and throws. */
  terminate(signal: NodeJS.Signals, timeoutMs: number): Promise<ProcessExit>;
}

export interface SpawnServerOptions {
  readonly cwd: string;
  /** Run as this OS user (needs root); undefined runs as the current user. */
  readonly user?: OsUser | undefined;
}

export function spawnServer(name: string, file: string, args: readonly string[], options: SpawnServerOptions): ServerProcess {
  installExitHook();
  const child = spawn(file, args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
  });
  const tail = new OutputTail(32_768);
  child.stdout.on('data', (chunk: Buffer) => {
    tail.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    tail.push(chunk);
  });
  liveChildren.add(child);
  let hasExited = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    const done = (exit: ProcessExit): void => {
      if (hasExited) return;
      hasExited = true;
      liveChildren.delete(child);
      resolve(exit);
    };
    child.once('exit', (code, signal) => {
      done({ code, signal });
    });
    child.once('error', (error) => {
      tail.push(Buffer.from(`\n[spawn error] ${error.message}\n`));
      done({ code: null, signal: null });
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    exited,
    get hasExited() {
      return hasExited;
    },
    output: () => tail.text(),
    async terminate(signal, timeoutMs) {
      if (hasExited) return exited;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, timeoutMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result !== 'timeout') return result;
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${name} (pid ${child.pid ?? '?'}) did not exit within ${timeoutMs} ms of ${signal}; SIGKILLed it.\n${tail.text()}`);
    },
  };
}

export class ServerExitedError extends Error {}

/**
 * Polls `probe` until it resolves, at most `timeoutMs`, trying again every `intervalMs`. Fails at
 * once (ServerExitedError, with the server's output) if `server` exits, and with a timeout error
 * naming the last probe error otherwise.
 */
export async function pollUntilReady<T>(
  server: ServerProcess,
  what: string,
  probe: () => Promise<T>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (server.hasExited) {
      const exit = await server.exited;
      throw new ServerExitedError(
        `${server.name} exited (${exit.signal ?? `code ${exit.code ?? '?'}`}) before ${what}:\n${server.output()}`,
      );
    }
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`${server.name} not ${what} within ${timeoutMs} ms (last attempt: ${reason}).\n${server.output()}`);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, intervalMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** "redis://:secret@host:6379/0" → "redis://:***@host:6379/0", for log lines. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}
