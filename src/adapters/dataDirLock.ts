// One embedded server per data directory: two would each open their own PGlite on the same files
// and one's accounts would be lost. The first to start writes its pid (and, on Linux, when that
// process started) in the directory; a second refuses to start while that process lives. A file
// left by a process that died is taken over, even when its pid now belongs to another process.
// Starters racing one another (a process manager and a manual start) must not both win: the lock
// is never seen half written, and a stale one is removed by one starter at a time.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StartupError } from '../startupError.ts';

const LOCK_FILE = 'cinder.pid';
/**
 * How long a lock file may stay empty while its writer fills it (see beingWritten): above FAT's
 * 2 s steps of modification time, and a little clock skew of a network mount.
 */
const EMPTY_LOCK_GRACE_MS = 3000;
/** How long a starter goes on trying: past an empty lock's grace, and another's removal of a stale one. */
const TRYING_MS = EMPTY_LOCK_GRACE_MS + 2000;

export class DataDirInUse extends StartupError {
  override name = 'DataDirInUse';
}

/** Takes the directory for this process; resolves with the release. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine = holderLine(process.pid, await startTimeOf(process.pid));
  // Written whole under a name of this process's own, then linked in place: a link fails when the
  // lock exists, and the lock appears with its content (opening it exclusively, then writing,
  // let a racer read it empty in between, take it for stale and delete it).
  const draft = `${path}.${randomUUID()}`;
  await writeFile(draft, mine);
  try {
    for (const giveUpAt = Date.now() + TRYING_MS; Date.now() < giveUpAt; ) {
      if (await linked(draft, path)) {
        return async () => {
          if ((await readFile(path, 'utf8').catch(() => '')) === mine) await unlink(path).catch(() => undefined);
        };
      }
      const seen = await readFile(path, 'utf8').catch(() => null);
      if (seen === null) continue; // removed meanwhile: try again
      if (await beingWritten(path, seen)) {
        await delay(10);
        continue;
      }
      const [pid, started] = parseHolder(seen);
      if (await holds(pid, started)) {
        throw new DataDirInUse(
          `CINDER_DATA_DIR ${dir} is in use by another Cinder process (pid ${String(pid)}): stop it, or give this one its own CINDER_DATA_DIR.`,
        );
      }
      if (!(await removeStale(draft, path, seen))) await delay(10);
    }
  } finally {
    await unlink(draft).catch(() => undefined);
  }
  throw new DataDirInUse(
    `CINDER_DATA_DIR ${dir}: another process kept its lock file ${LOCK_FILE} there changing or empty while this one started; if no other Cinder process uses this directory, delete that file.`,
  );
}

/**
 * An empty lock file is one being written where hard links are missing (see linked), unless it
 * has been empty for seconds: its writer was killed between creating and filling it (FAT keeps
 * such files after a power cut), and it is stale.
 */
async function beingWritten(file: string, content: string): Promise<boolean> {
  if (content !== '') return false;
  // Gone since it was read: not stale, changed; the caller reads again.
  const modified = await stat(file).then((found) => found.mtimeMs, () => Date.now());
  return Date.now() - modified < EMPTY_LOCK_GRACE_MS;
}

/** Errors of a filesystem without hard links (FAT, exFAT, some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Makes `to` a copy of `from` unless `to` exists; false when it does. A hard link makes it appear
 * whole; where there are none, it is created exclusively and then filled, and readers take an
 * empty file for one being written.
 */
async function linked(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw error;
  }
  try {
    await copyFile(from, to, constants.COPYFILE_EXCL);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
}

/**
 * Removes the stale lock `seen`, holding a second lock meanwhile: a starter that read the stale
 * lock before another replaced it would otherwise delete the fresh one. False when another
 * starter holds the removal (the caller tries again shortly).
 */
async function removeStale(draft: string, path: string, seen: string): Promise<boolean> {
  const removal = `${path}.removal`;
  if (!(await linked(draft, removal))) {
    // Its holder was killed in those few milliseconds: no one else would ever remove it. (Two
    // starters doing this at once could both go on; that takes a kill and a race together.)
    const other = await readFile(removal, 'utf8').catch(() => null);
    if (other !== null && !(await holds(...parseHolder(other))) && (await unchanged(removal, other))) {
      await unlink(removal).catch(() => undefined);
    }
    return false;
  }
  try {
    if (await unchanged(path, seen)) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(removal).catch(() => undefined);
  }
  return true;
}

/**
 * Whether `file` still holds `seen`, and is not an empty one a writer has just made: every empty
 * file reads alike, so only its age tells a stale one from another starter's new lock.
 */
async function unchanged(file: string, seen: string): Promise<boolean> {
  return (await readFile(file, 'utf8').catch(() => null)) === seen && !(await beingWritten(file, seen));
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
