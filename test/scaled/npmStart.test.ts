// `npm start` as an operator runs it, under a process manager that stops it with SIGTERM: the
// signal reaches the server through npm (and the shell npm runs the script in), every process
// stops gracefully with its final sync, and npm exits 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { ownScaledEnv, type Cleanups } from '../support/scaledEnv.ts';
import { isAlive } from '../support/serverProcess.ts';

const cleanups: Cleanups = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The parent of `pid`, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('npm start', () => {
  it('stops the primary and its workers gracefully on SIGTERM to npm, and exits 0', async () => {
    const { dataDir, env } = await ownScaledEnv('npm', cleanups);

    const npm = spawn('npm', ['start', '--', '--workers', '2'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CINDER_DATA_DIR: dataDir, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // Should the start fail or time out, npm goes too (the server's own processes below, once known).
    cleanups.push(() => Promise.resolve(npm.exitCode === null && npm.signalCode === null && npm.kill('SIGKILL')));
    const lines: string[] = [];
    const workers: number[] = [];
    const bothUp = new Promise<void>((resolve) => {
      for (const stream of [npm.stdout, npm.stderr]) {
        createInterface({ input: stream }).on('line', (line) => {
          lines.push(line);
          const up = / is up: open .*, pid (\d+)\)/.exec(line);
          if (up) workers.push(Number(up[1]));
          if (workers.length === 2) resolve();
        });
      }
    });
    await Promise.race([bothUp, exited.then(() => Promise.reject(new Error(`npm start exited before the workers were up:\n${lines.join('\n')}`)))]);
    const primary = parentOf(workers[0] ?? -1);
    // Whatever the outcome, nothing of this server outlives the test.
    cleanups.push(() => {
      for (const pid of [primary, ...workers]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      return Promise.resolve();
    });

    npm.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect([primary, ...workers].filter(isAlive), 'server processes still running').toEqual([]);
    expect(lines.filter((line) => line.includes('"msg":"final sync done"'))).toHaveLength(2);
  }, 60_000);
});
