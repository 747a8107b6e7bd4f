// Summarises a V8 heap snapshot (a worker started with --heapsnapshot-signal writes one when sent
// the signal, after a full garbage collection): live heap size and self size by constructor, so
// memory per player can be read from what is actually alive rather than guessed. Snapshots of a
// few hundred MB are too large for one JSON.parse string, so the two big arrays (`nodes`,
// `strings`) are read straight from the bytes.
//
// Also a command: `node --import tsx bench/heapSnapshot.ts FILE.heapsnapshot [players]`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface SnapshotMeta {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
    node_count: number;
  };
}

export interface HeapGroup {
  name: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  file: string;
  liveBytes: number;
  nodes: number;
  /** Groups by self size, largest first. */
  top: HeapGroup[];
}

/** What `held` has more of than `idle`, group by group, largest growth first. */
export function heapGrowth(idle: HeapSummary, held: HeapSummary, n = 25): HeapSummary {
  const before = new Map(idle.top.map((group) => [group.name, group]));
  const grown = held.top
    .map((group) => ({ name: group.name, count: group.count - (before.get(group.name)?.count ?? 0), bytes: group.bytes - (before.get(group.name)?.bytes ?? 0) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
  return { file: `${held.file} minus ${idle.file}`, liveBytes: held.liveBytes - idle.liveBytes, nodes: held.nodes - idle.nodes, top: grown };
}

const COMMA = 0x2c;
const CLOSE = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function indexAfter(data: Buffer, marker: string, from = 0): number {
  const at = data.indexOf(marker, from);
  if (at < 0) throw new Error(`heap snapshot: no ${marker}`);
  return at + marker.length;
}

function readInts(data: Buffer, from: number, count: number): Float64Array {
  const values = new Float64Array(count);
  let n = 0;
  let value = 0;
  let inNumber = false;
  for (let i = from; i < data.length; i++) {
    const c = data[i] ?? 0;
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      inNumber = true;
    } else {
      if (inNumber) {
        if (n < count) values[n] = value;
        n++;
        value = 0;
        inNumber = false;
      }
      if (c === CLOSE) break;
    }
  }
  if (n !== count) throw new Error(`heap snapshot: expected ${count} node fields, read ${n}`);
  return values;
}

function readStrings(data: Buffer, from: number): string[] {
  const strings: string[] = [];
  let i = from;
  for (;;) {
    while (i < data.length && data[i] !== QUOTE && data[i] !== CLOSE) i++;
    if (i >= data.length || data[i] === CLOSE) return strings;
    const start = i;
    i++;
    while (i < data.length && data[i] !== QUOTE) i += data[i] === BACKSLASH ? 2 : 1;
    strings.push(JSON.parse(data.toString('utf8', start, i + 1)) as string);
    i++;
    while (i < data.length && data[i] !== COMMA && data[i] !== CLOSE) i++;
  }
}

/**
 * Groups objects by constructor name; strings by their first characters (digits as #, so that
 * "player:{p:17}" and "player:{p:42}" fall together); arrays, code and the rest by V8 type.
 */
function groupName(type: string, name: string): string {
  switch (type) {
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return `(${type}) ${JSON.stringify(name.slice(0, 32).replace(/[0-9]+/g, '#'))}`;
    case 'object':
    case 'closure':
    case 'native':
      return type === 'closure' ? `(closure) ${name}` : name;
    case 'array':
      return `(array) ${name}`;
    case 'hidden':
    case 'synthetic':
      return `(${type}) ${name}`;
    default:
      return `(${type})`;
  }
}

/** Every group (pass `n` to keep only the largest). */
export async function summariseHeapSnapshot(file: string, n = Number.POSITIVE_INFINITY): Promise<HeapSummary> {
  const data = await readFile(file);
  const nodesAt = data.indexOf('"nodes":');
  const meta = JSON.parse(`${data.toString('utf8', 0, nodesAt).replace(/,\s*$/, '')}}`) as SnapshotMeta;
  const fields = meta.snapshot.meta.node_fields;
  const types = meta.snapshot.meta.node_types[0];
  const width = fields.length;
  const TYPE = fields.indexOf('type');
  const NAME = fields.indexOf('name');
  const SIZE = fields.indexOf('self_size');
  const nodes = readInts(data, indexAfter(data, '[', nodesAt), meta.snapshot.node_count * width);
  const strings = readStrings(data, indexAfter(data, '[', data.lastIndexOf('"strings":')));
  const groups = new Map<string, HeapGroup>();
  let live = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const bytes = nodes[i + SIZE] ?? 0;
    live += bytes;
    const name = groupName(types[nodes[i + TYPE] ?? 0] ?? '?', strings[nodes[i + NAME] ?? 0] ?? '?');
    const group = groups.get(name) ?? { name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += bytes;
    groups.set(name, group);
  }
  return { file, liveBytes: live, nodes: meta.snapshot.node_count, top: [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, n) };
}

export function formatHeap(summary: HeapSummary, players: number): string {
  const perPlayer = (bytes: number) => (players > 0 ? `${(bytes / players / 1024).toFixed(2).padStart(6)} KB/player` : '');
  return [
    `${summary.file}: ${(summary.liveBytes / 1048576).toFixed(1)} MB live in ${summary.nodes} objects${players > 0 ? ` (${perPlayer(summary.liveBytes).trim()} over ${players} players)` : ''}`,
    ...summary.top.map((g) => `  ${(g.bytes / 1048576).toFixed(1).padStart(7)} MB  ${String(g.count).padStart(8)} ×  ${perPlayer(g.bytes)}  ${g.name}`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, players] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: node --import tsx bench/heapSnapshot.ts FILE.heapsnapshot [players]');
    process.exit(2);
  }
  console.log(formatHeap(await summariseHeapSnapshot(file, 40), Number(players ?? 0)));
}
