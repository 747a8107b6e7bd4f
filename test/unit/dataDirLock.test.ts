// The embedded data directory's lock file: refused while the process that wrote it runs, taken
// over once it is gone, including when its pid has since gone to another (node) process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUse, holderLine, lockDataDir, startTimeOf } from '../../src/adapters/dataDirLock.ts';

let dir: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cinder-lock-'));
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Another live node process: what a second Cinder server, or an unrelated node program, looks like. */
async function otherNodeProcess(): Promise<number> {
  child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

const lockFile = () => join(dir, 'cinder.pid');

describe('lockDataDir', () => {
  it('refuses a directory whose lock names a live process started when the lock says', async () => {
    const pid = await otherNodeProcess();
    const started = await startTimeOf(pid);
    expect(started).toMatch(/^\d+$/);
    await writeFile(lockFile(), holderLine(pid, started));
    await expect(lockDataDir(dir)).rejects.toThrow(DataDirInUse);
    await expect(lockDataDir(dir)).rejects.toThrow(`is in use by another Cinder process (pid ${String(pid)})`);
  });

  it('takes over a lock whose pid now belongs to a process started later (the holder was killed, the pid reused)', async () => {
    const pid = await otherNodeProcess();
    await writeFile(lockFile(), holderLine(pid, '1'));
    const release = await lockDataDir(dir);
    expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(process.pid, await startTimeOf(process.pid)));
    await release();
    await expect(readFile(lockFile(), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const pid = await otherNodeProcess();
    const started = await startTimeOf(pid);
    child?.kill('SIGKILL');
    if (child) await once(child, 'exit');
    await writeFile(lockFile(), holderLine(pid, started));
    const release = await lockDataDir(dir);
    await release();
  });

  it('leaves alone, at release, a lock another process has taken since', async () => {
    const release = await lockDataDir(dir);
    await writeFile(lockFile(), '4242 99');
    await release();
    expect(await readFile(lockFile(), 'utf8')).toBe('4242 99');
  });
});
