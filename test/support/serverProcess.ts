// A real Cinder server in a child process, started as `npm start` starts it (its node flags, then
// `--import tsx src/main.ts`), on a free port.
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { startScriptNodeFlags } from './startScript.ts';

export interface ServerProcess {
  baseUrl: string;
  wsUrl: string;
  dataDir: string;
  child: ChildProcess;
  logs: string[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, no shutdown work. */
  kill(): Promise<void>;
}

/** Whether a process of this pid is running (or a zombie not yet reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function tempDataDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cinder-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What a server process that was expected to stop by itself printed, and how it ended. */
export interface ExitedServer {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string[];
  stderr: string[];
}

/**
 * Spawns the server as startServerProcess does (the same env), and waits for it to exit.
 * `onLine` sees each line it prints as it comes (e.g. to signal it at a given point).
 */
export async function runServerUntilExit(
  dataDir: string,
  env: Record<string, string> = {},
  args: string[] = [],
  onLine: (line: string, child: ChildProcess) => void = () => undefined,
): Promise<ExitedServer> {
  const child = spawnServer(dataDir, env, args);
  // A test that times out waiting must not leave a server (and its workers) behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout.push(line);
    onLine(line, child);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    onLine(line, child);
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  process.off('exit', reap);
  return { code, signal, stdout, stderr };
}

function spawnServer(dataDir: string, env: Record<string, string>, args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [...startScriptNodeFlags(), '--import', 'tsx', 'src/main.ts', ...args], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      CINDER_DATA_DIR: dataDir,
      // Embedded unless a test asks for scaled mode: the test run's own servers are not the game's.
      REDIS_URL: '',
      DATABASE_URL: '',
      CINDER_LOGIN_ATTEMPTS: '1000',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function startServerProcess(dataDir: string, env: Record<string, string> = {}, args: string[] = []): Promise<ServerProcess> {
  const child = spawnServer(dataDir, env, args);
  // A test that fails before stopping it must not leave a server (and its workers) behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  const logs: string[] = [];
  const stderr = createInterface({ input: child.stderr });
  stderr.on('line', (line) => {
    logs.push(line);
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start:\n${logs.join('\n')}`));
    }, 60_000);
    lines.on('line', (line) => {
      logs.push(line);
      const match = /open http:\/\/localhost:(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dataDir,
    child,
    logs,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
    async stop() {
      // A child killed by a signal has a signalCode and no exitCode: it is gone all the same.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
