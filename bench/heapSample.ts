// Summarises a sampling heap profile written by bench/heapSampler.ts: bytes by allocation stack
// (its innermost frames), so that what fills a worker's old generation can be named.
//
// Also a command: `node --import tsx bench/heapSample.ts FILE.json [frames]`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: SampleNode[];
}

export interface AllocationSite {
  /** Innermost frame first. */
  stack: string;
  bytes: number;
}

export interface HeapSampleSummary {
  file: string;
  bytes: number;
  top: AllocationSite[];
}

const REPO = fileURLToPath(new URL('../', import.meta.url));

function frameName({ functionName, url, lineNumber }: SampleNode['callFrame']): string {
  const where = url.replace(/^file:\/\//, '').replace(REPO, '').replace(/^.*node_modules\//, '');
  return `${functionName || '(anonymous)'} ${where || '(native)'}:${lineNumber + 1}`;
}

export async function summariseHeapSample(file: string, frames = 3, top = 12): Promise<HeapSampleSummary> {
  const { head } = JSON.parse(await readFile(file, 'utf8')) as { head: SampleNode };
  const bySite = new Map<string, number>();
  let bytes = 0;
  const walk = (node: SampleNode, stack: string[]) => {
    const here = [...stack, frameName(node.callFrame)];
    if (node.selfSize > 0) {
      const site = here.slice(-frames).reverse().join(' < ');
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      bytes += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child, here);
  };
  walk(head, []);
  const sites = [...bySite].map(([stack, size]) => ({ stack, bytes: size })).sort((a, b) => b.bytes - a.bytes);
  return { file, bytes, top: sites.slice(0, top) };
}

export function formatHeapSample(summary: HeapSampleSummary): string[] {
  const mb = (n: number) => (n / 1048576).toFixed(1).padStart(6);
  return [
    `${summary.file}: ${mb(summary.bytes).trim()} MB sampled (objects still live, or collected by a mark-compact)`,
    ...summary.top.map((site) => `  ${mb(site.bytes)} MB  ${site.stack}`),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, frames] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: node --import tsx bench/heapSample.ts FILE.json [frames]');
  for (const line of formatHeapSample(await summariseHeapSample(file, frames === undefined ? 3 : Number(frames), 25))) console.log(line);
}
