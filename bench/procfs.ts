// What the kernel says about a process: resident memory (VmRSS) and CPU time used, from /proc.
import { readdirSync, readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  /** user + system CPU seconds. */
  cpuSeconds: number;
  /** user + system CPU seconds of its children that have exited (and been waited for). */
  exitedChildrenSeconds: number;
}

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces: the fields that follow start after its ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    ppid: Number(fields[1]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    exitedChildrenSeconds: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND,
  };
}

/** CPU seconds used so far by `pid` (and, with `withChildren`, by its child processes, live or exited, as PostgreSQL's backends are). */
export function cpuSeconds(pid: number, withChildren = false): number {
  const own = stat(pid);
  let total = own?.cpuSeconds ?? 0;
  if (!withChildren) return total;
  total += own?.exitedChildrenSeconds ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = stat(Number(entry));
    if (child?.ppid === pid) total += child.cpuSeconds;
  }
  return total;
}

/** CPU seconds the whole machine has been busy (all cores; idle and iowait excluded), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * A set of named process groups whose CPU use is compared between two moments, plus `others`:
 * whatever else kept the machine's cores busy meanwhile (other people's jobs on a shared machine
 * make every figure of the run worse; the report shows how much there was).
 */
export class CpuMeter {
  constructor(private readonly groups: () => Record<string, { pids: number[]; withChildren?: boolean }>) {}

  sample(): { at: number; seconds: Record<string, number> } {
    const seconds: Record<string, number> = {};
    for (const [name, group] of Object.entries(this.groups())) {
      seconds[name] = group.pids.reduce((sum, pid) => sum + cpuSeconds(pid, group.withChildren), 0);
    }
    seconds.machine = machineBusySeconds();
    seconds.bench = cpuSeconds(process.pid);
    return { at: performance.now(), seconds };
  }

  /** Cores used by each group between two samples (1.0 = one core fully busy). */
  static cores(before: { at: number; seconds: Record<string, number> }, after: { at: number; seconds: Record<string, number> }): Record<string, number> {
    const elapsed = (after.at - before.at) / 1000;
    const cores: Record<string, number> = {};
    let ours = 0;
    for (const [name, value] of Object.entries(after.seconds)) {
      const used = (value - (before.seconds[name] ?? 0)) / elapsed;
      if (name !== 'machine') ours += used;
      cores[name] = Math.round(used * 100) / 100;
    }
    const machine = cores.machine ?? 0;
    delete cores.machine;
    cores.others = Math.max(0, Math.round((machine - ours) * 100) / 100);
    return cores;
  }
}
