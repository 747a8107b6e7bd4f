// The embedded data directory's lock file: refused while the process that wrote it runs, taken
// over once it is gone, including when its pid has since gone to another (node) process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DataDirInUse, holderLine, lockDataDir, startTimeOf } from '../../src/adapters/dataDirLock.ts';
import { lockDirs } from '../support/lockDirs.ts';

const { dir, lockFile, otherNodeProcess, killOthers } = lockDirs('cinder-lock-');

/** The pid of a node process that has exited. */
async function goneProcess(): Promise<number> {
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(gone, 'exit');
  if (gone.pid === undefined) throw new Error('no pid');
  return gone.pid;
}

/** A process ready to race for the directory's lock once it reads a line (test/support/lockRacer.ts). */
async function racer(target: string): Promise<{ process: ChildProcessWithoutNullStreams; outcome: Promise<string> }> {
  const racing = spawn(process.execPath, ['--import', 'tsx', new URL('../support/lockRacer.ts', import.meta.url).pathname, target]);
  const lines = createInterface({ input: racing.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`the racer said ${String(first.value)}`);
  const outcome = lines.next().then((line) => String(line.value));
  return { process: racing, outcome };
}

describe('lockDataDir', () => {
  it('refuses a directory whose lock names a live process started when the lock says', async () => {
    const pid = await otherNodeProcess();
    const started = await startTimeOf(pid);
    expect(started).toMatch(/^\d+$/);
    await writeFile(lockFile(), holderLine(pid, started));
    await expect(lockDataDir(dir())).rejects.toThrow(DataDirInUse);
    await expect(lockDataDir(dir())).rejects.toThrow(`is in use by another Cinder process (pid ${String(pid)})`);
  });

  it('takes over a lock whose pid now belongs to a process started later (the holder was killed, the pid reused)', async () => {
    const pid = await otherNodeProcess();
    await writeFile(lockFile(), holderLine(pid, '1'));
    const release = await lockDataDir(dir());
    expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(process.pid, await startTimeOf(process.pid)));
    await release();
    await expect(readFile(lockFile(), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const pid = await otherNodeProcess();
    const started = await startTimeOf(pid);
    await killOthers();
    await writeFile(lockFile(), holderLine(pid, started));
    const release = await lockDataDir(dir());
    await release();
  });

  // Starters racing one another, e.g. a process manager and a manual start at the same moment.
  it.each([
    ['no lock', false],
    ['the lock of a process that is gone', true],
  ])('lets exactly one of several starters racing over %s take the directory', async (_, stale) => {
    for (let round = 0; round < 4; round++) {
      if (stale) await writeFile(lockFile(), holderLine(await goneProcess(), '1'));
      const racers = await Promise.all(Array.from({ length: 6 }, () => racer(dir())));
      try {
        for (const r of racers) r.process.stdin.write('go\n');
        const outcomes = await Promise.all(racers.map((r) => r.outcome));
        expect(outcomes.filter((outcome) => outcome === 'won'), `round ${String(round)}: ${outcomes.join(' ')}`).toHaveLength(1);
        const holder = racers[outcomes.indexOf('won')];
        expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(holder?.process.pid ?? 0, await startTimeOf(holder?.process.pid ?? 0)));
        // Nothing else left behind: each racer's draft, and the removal's lock, are gone.
        expect(await readdir(dir())).toEqual(['cinder.pid']);
      } finally {
        await Promise.all(racers.map(async (r) => {
          r.process.kill('SIGKILL');
          if (r.process.exitCode === null && r.process.signalCode === null) await once(r.process, 'exit');
        }));
        await rm(lockFile(), { force: true });
      }
    }
  }, 60_000);

  it('leaves alone, at release, a lock another process has taken since', async () => {
    const release = await lockDataDir(dir());
    await writeFile(lockFile(), '4242 99');
    await release();
    expect(await readFile(lockFile(), 'utf8')).toBe('4242 99');
  });
});
