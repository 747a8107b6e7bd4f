// W Cinder workers in scaled mode, each its own `node --import tsx src/main.ts` process on its own
// port (rather than `--workers W` behind one port): the bench then chooses which worker each bot
// talks to, so the cross-worker pairs are known and balanced, and it can read each worker's RSS
// (/proc/<pid>), its /metrics and its CPU profile separately. Through node:cluster the kernel
// and the primary would pick the worker, and a /metrics request would reach any one of them.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../test/support/services/binaries.ts';
import { sleep } from './clock.ts';
import { parsePrometheus, type Sample } from './promText.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
export const ADMIN_TOKEN = 'bench-admin-token';

export interface Worker {
  index: number;
  port: number;
  pid: number;
  child: ChildProcess;
  wsUrl: string;
  baseUrl: string;
  metrics(): Promise<Sample[]>;
}

export interface WorkerOptions {
  /** Node/V8 flags before everything else (by default those of `npm start`: test/support/startScript.ts). */
  nodeFlags: readonly string[];
  redisUrl: string;
  databaseUrl: string;
  contentDir: string;
  tokenSecret: string;
  logDir: string;
  /** Write V8 CPU profiles (node --cpu-prof) into DIR/worker-N/ when the worker exits. */
  cpuProfDir: string | undefined;
  /** Let SIGUSR2 write a heap snapshot into DIR/worker-N/ (node --heapsnapshot-signal). */
  heapSnapshotDir: string | undefined;
  /** Preload bench/heapSampler.ts: SIGUSR2 starts sampling, the next writes DIR/worker-N.heapsample.json. */
  heapSampleDir: string | undefined;
}

async function waitForHealth(baseUrl: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} before answering (see its log)`);
    try {
      const response = await fetch(`${baseUrl}/api/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`worker at ${baseUrl} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export function heapSampleFile(dir: string, index: number): string {
  return join(dir, `worker-${index}.heapsample.json`);
}

export async function startWorker(index: number, options: WorkerOptions): Promise<Worker> {
  const port = await getFreePort();
  const log = openSync(join(options.logDir, `worker-${index}.log`), 'a');
  // One directory per worker: besides the main thread, tsx's module-loader thread writes a profile too.
  const profile = options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfDir, `worker-${index}`)}`];
  const heap = options.heapSnapshotDir === undefined ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${join(options.heapSnapshotDir, `worker-${index}`)}`];
  if (options.heapSnapshotDir !== undefined) await mkdir(join(options.heapSnapshotDir, `worker-${index}`), { recursive: true });
  const sampler = options.heapSampleDir === undefined ? [] : ['--import', './bench/heapSampler.ts'];
  const child = spawn(process.execPath, [...options.nodeFlags, ...profile, ...heap, '--import', 'tsx', ...sampler, 'src/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: options.redisUrl,
      DATABASE_URL: options.databaseUrl,
      CINDER_CONTENT_DIR: options.contentDir,
      CINDER_TOKEN_SECRET: options.tokenSecret,
      CINDER_ADMIN_TOKEN: ADMIN_TOKEN,
      // Bots act far faster than people; every bot connects from 127.0.0.1.
      CINDER_ACTION_BURST: '1000000',
      CINDER_ACTIONS_PER_SECOND: '1000000',
      CINDER_LOGIN_ATTEMPTS: '1000000',
      CINDER_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      LOG_LEVEL: 'warn',
      ...(options.heapSampleDir === undefined ? {} : { CINDER_BENCH_HEAP_SAMPLE: heapSampleFile(options.heapSampleDir, index) }),
    },
    stdio: ['ignore', log, log],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHealth(baseUrl, child, 60_000);
  return {
    index,
    port,
    pid: child.pid ?? 0,
    child,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    baseUrl,
    async metrics() {
      const response = await fetch(`${baseUrl}/metrics`);
      return parsePrometheus(await response.text());
    },
  };
}

export function startWorkers(count: number, options: WorkerOptions): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startWorker(index, options)));
}

/** POST /api/admin/save: a forced sync of everything dirty; returns its report. */
export async function adminSave(worker: Worker): Promise<unknown> {
  const response = await fetch(`${worker.baseUrl}/api/admin/save`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!response.ok) throw new Error(`admin save answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { synced: unknown }).synced;
}

/** SIGTERM (graceful: saves everyone, writes the CPU profile), SIGKILL after `timeoutMs`. */
export async function stopWorker(worker: Worker, timeoutMs: number): Promise<number | null> {
  if (worker.child.exitCode !== null) return worker.child.exitCode;
  const exited = once(worker.child, 'exit') as Promise<[number | null]>;
  worker.child.kill('SIGTERM');
  const result = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (result !== 'timeout') return result[0];
  worker.child.kill('SIGKILL');
  await exited;
  return null;
}

/**
 * The main thread's profile among those a worker wrote (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile;
 * thread 0 is the main one). Matched by pid: an --out directory reused from an earlier run holds its profiles too.
 */
export async function mainThreadProfile(cpuProfDir: string, index: number, pid: number): Promise<string | undefined> {
  const dir = join(cpuProfDir, `worker-${index}`);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return undefined;
  }
  const main = files.find((name) => new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.0\\.\\d+\\.cpuprofile$`).test(name));
  return main === undefined ? undefined : join(dir, main);
}

/** Sends SIGUSR2 (see heapSnapshotDir) and waits until the snapshot file is complete; returns its path. */
export async function takeHeapSnapshot(worker: Worker, heapSnapshotDir: string, timeoutMs: number): Promise<string> {
  const dir = join(heapSnapshotDir, `worker-${worker.index}`);
  const existing = new Set(await readdir(dir));
  worker.child.kill('SIGUSR2');
  const deadline = performance.now() + timeoutMs;
  let lastSize = -1;
  while (performance.now() < deadline) {
    await sleep(500);
    const file = (await readdir(dir)).find((name) => name.endsWith('.heapsnapshot') && !existing.has(name));
    if (file === undefined) continue;
    const path = join(dir, file);
    // V8 writes the snapshot while the worker is paused: done once the worker answers again and the size holds.
    const size = (await stat(path)).size;
    if (size > 0 && size === lastSize && (await fetch(`${worker.baseUrl}/api/health`)).ok) return path;
    lastSize = size;
  }
  throw new Error(`no complete heap snapshot from worker ${worker.index} within ${timeoutMs} ms`);
}
