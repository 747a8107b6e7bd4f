// One embedded server per data directory: two would each open their own PGlite on the same files
// and one's accounts would be lost. The first to start writes its pid in the directory; a second
// refuses to start while that process lives. A file left by a process that died is taken over.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const LOCK_FILE = 'cinder.pid';

export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
}

/** Takes the directory for this process; resolves with the release. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(String(process.pid));
      await file.close();
      return async () => {
        if ((await readFile(path, 'utf8').catch(() => '')) === String(process.pid)) await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (await isCinder(holder)) {
      throw new DataDirInUse(
        `CINDER_DATA_DIR ${dir} is in use by another Cinder process (pid ${holder}): stop it, or give this one its own CINDER_DATA_DIR.`,
      );
    }
    await unlink(path).catch(() => undefined);
  }
  throw new DataDirInUse(`CINDER_DATA_DIR ${dir}: another process took it while this one started.`);
}

/** Whether `pid` is a live node process (a pid reused after a reboot by something else is not). */
async function isCinder(pid: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return command === undefined || command.includes('node');
}
