// What the data-directory lock tests share: a fresh directory per test, and other node processes
// (a live holder, or one to kill) that are gone after each test.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface LockDirs {
  /** This test's directory. */
  dir: () => string;
  /** Its lock file. */
  lockFile: () => string;
  /** Starts another live node process (killed after the test); answers its pid. */
  otherNodeProcess: () => Promise<number>;
  /** Kills the processes started so far and waits until they are gone. */
  killOthers: () => Promise<void>;
}

export function lockDirs(prefix: string): LockDirs {
  let dir = '';
  const others: ChildProcess[] = [];
  const killOthers = async () => {
    await Promise.all(others.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    }));
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await killOthers();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    lockFile: () => join(dir, 'cinder.pid'),
    otherNodeProcess: async () => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      others.push(child);
      await once(child, 'spawn');
      if (child.pid === undefined) throw new Error('no pid');
      return child.pid;
    },
    killOthers,
  };
}
