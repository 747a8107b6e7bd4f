// The data directory's lock on a filesystem without hard links (FAT, exFAT, some network mounts),
// where link() fails with EPERM: the lock is then created exclusively and filled, and a lock file
// found empty counts as one being written, never as stale.
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { expect, it, vi } from 'vitest';
import { holderLine, lockDataDir, startTimeOf } from '../../src/adapters/dataDirLock.ts';
import { lockDirs } from '../support/lockDirs.ts';

vi.mock('node:fs/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:fs/promises')>()),
  link: () => Promise.reject(Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' })),
}));

const { dir, lockFile, otherNodeProcess, killOthers } = lockDirs('cinder-lock-nolinks-');

it('takes a free directory, leaving only its lock, and releases it', async () => {
  const release = await lockDataDir(dir());
  expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(process.pid, await startTimeOf(process.pid)));
  expect(await readdir(dir())).toEqual(['cinder.pid']);
  await release();
  expect(await readdir(dir())).toEqual([]);
});

it('refuses a directory held by a live process, and takes over one whose holder is gone', async () => {
  const pid = await otherNodeProcess();
  await writeFile(lockFile(), holderLine(pid, await startTimeOf(pid)));
  await expect(lockDataDir(dir())).rejects.toThrow(`is in use by another Cinder process (pid ${String(pid)})`);
  await killOthers();
  const release = await lockDataDir(dir());
  expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(process.pid, await startTimeOf(process.pid)));
  await release();
});

it('waits for a lock file just created empty to be written, and refuses the directory once it names a live holder', async () => {
  const pid = await otherNodeProcess();
  await writeFile(lockFile(), '');
  // Its writer fills it a moment later.
  setTimeout(() => void writeFile(lockFile(), holderLine(pid, undefined)), 100);
  await expect(lockDataDir(dir())).rejects.toThrow(`is in use by another Cinder process (pid ${String(pid)})`);
});

it('takes over a lock file left empty for seconds (its writer was killed before filling it)', async () => {
  await writeFile(lockFile(), '');
  const longAgo = new Date(Date.now() - 60_000);
  await utimes(lockFile(), longAgo, longAgo);
  const release = await lockDataDir(dir());
  expect(await readFile(lockFile(), 'utf8')).toBe(holderLine(process.pid, await startTimeOf(process.pid)));
  await release();
});
