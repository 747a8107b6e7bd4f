// Summarises a V8 CPU profile (`node --cpu-prof` writes one .cpuprofile per process at exit):
// self time per function, per file and per package, optionally only for samples taken inside a
// time window (the profile's timestamps are microseconds of CLOCK_MONOTONIC, the bench's clock).
//
// Also a command: `node --import tsx bench/profile.ts FILE.cpuprofile [fromUs toUs]`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time in the window, in %. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  windowMs: number;
  busyMs: number;
  /** busy / window: how much of one core the process used. */
  cores: number;
  topFunctions: SelfTime[];
  topFiles: SelfTime[];
  packages: SelfTime[];
}

const REPO = fileURLToPath(new URL('../', import.meta.url));

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  let path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path.startsWith(REPO)) path = path.slice(REPO.length);
  return path;
}

function packageOf(file: string, functionName: string): string {
  if (file === '(native)') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (modules) return `node_modules/${modules[1] ?? ''}`;
  if (file.startsWith('node:')) return 'node: (Node.js built-ins)';
  const own = /^(src|bench)\/([^/]+)/.exec(file);
  if (own) return own[2]?.includes('.') === true ? `${own[1] ?? ''}/` : `${own[1] ?? ''}/${own[2] ?? ''}/`;
  return file;
}

function top(map: Map<string, number>, busy: number, n: number): SelfTime[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((us / busy) * 1000) / 10 }));
}

export async function summariseProfile(file: string, window?: { fromUs: number; toUs: number }, n = 25): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const from = window?.fromUs ?? profile.startTime;
  const to = window?.toUs ?? profile.endTime;
  let at = profile.startTime;
  let idle = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) return;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    total += us;
    const node = nodes.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      return;
    }
    const source = shortUrl(url);
    const name = `${functionName === '' ? '(anonymous)' : functionName}  ${source}${url === '' ? '' : `:${lineNumber + 1}`}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(source, (byFile.get(source) ?? 0) + us);
    const pkg = packageOf(source, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  });
  const busy = Math.max(1, total - idle);
  const windowMs = (to - from) / 1000;
  return {
    file,
    windowMs: Math.round(windowMs),
    busyMs: Math.round(busy / 1000),
    cores: Math.round((busy / 1000 / windowMs) * 100) / 100,
    topFunctions: top(byFunction, busy, n),
    topFiles: top(byFile, busy, 15),
    packages: top(byPackage, busy, 15),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const rows = (items: SelfTime[]) => items.map((item) => `  ${item.percent.toFixed(1).padStart(5)}%  ${item.ms.toFixed(0).padStart(7)} ms  ${item.name}`).join('\n');
  return [
    `${summary.file}: ${summary.busyMs} ms busy in a ${summary.windowMs} ms window (${summary.cores} of a core)`,
    'self time by package / directory:',
    rows(summary.packages),
    'self time by file:',
    rows(summary.topFiles),
    'top functions by self time:',
    rows(summary.topFunctions),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, fromUs, toUs] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: node --import tsx bench/profile.ts FILE.cpuprofile [fromUs toUs]');
    process.exit(2);
  }
  const window = fromUs !== undefined && toUs !== undefined ? { fromUs: Number(fromUs), toUs: Number(toUs) } : undefined;
  console.log(formatProfile(await summariseProfile(file, window)));
}
