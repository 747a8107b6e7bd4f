// One embedded server per data directory: two would each open their own PGlite on the same files
// and one's accounts would be lost. The first to start writes its pid (and, on Linux, when that
// process started) in the directory; a second refuses to start while that process lives. A file
// left by a process that died is taken over, even when its pid now belongs to another process.
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
  const mine = holderLine(process.pid, await startTimeOf(process.pid));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(mine);
      await file.close();
      return async () => {
        if ((await readFile(path, 'utf8').catch(() => '')) === mine) await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [pid, started] = parseHolder(await readFile(path, 'utf8').catch(() => ''));
    if (await holds(pid, started)) {
      throw new DataDirInUse(
        `CINDER_DATA_DIR ${dir} is in use by another Cinder process (pid ${pid}): stop it, or give this one its own CINDER_DATA_DIR.`,
      );
    }
    await unlink(path).catch(() => undefined);
  }
  throw new DataDirInUse(`CINDER_DATA_DIR ${dir}: another process took it while this one started.`);
}

/** "pid" or "pid start-time": what the lock file holds. */
export function holderLine(pid: number, started: string | undefined): string {
  return started === undefined ? String(pid) : `${String(pid)} ${started}`;
}

function parseHolder(text: string): [number, string | undefined] {
  const [pid = '', started] = text.trim().split(' ');
  return [Number(pid), started];
}

/**
 * Whether the process that wrote the lock still runs. With its start time recorded, the pid
 * must still belong to a process started at that moment: after a kill -9 and a reboot or a long
 * uptime, the pid may have gone to any other process, a node one included. Without it (no /proc),
 * a live node process under that pid counts as the holder.
 */
async function holds(pid: number, started: string | undefined): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = await startTimeOf(pid);
  if (started !== undefined && now !== undefined) return now === started;
  const command = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8').catch(() => undefined);
  return command === undefined || command.includes('node');
}

/** When a process started, in clock ticks since boot (field 22 of /proc/PID/stat); undefined without /proc. */
export async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}
