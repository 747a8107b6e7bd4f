// Test helpers: a throwaway copy of the shipped Ashlands that a test breaks on purpose.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ContentError, loadContent } from '../../src/content/loader.ts';
import type { ItemTemplate, Location, LootTable, NpcTemplate, Rules } from '../../src/content/schema.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const ASHLANDS_DIR = join(REPO_ROOT, 'content', 'ashlands');

/** What each file holds, as the JSON reads once parsed. */
export interface ContentJson {
  'world.json': { name: string; description: string; rules: Rules };
  'locations.json': { locations: Location[] };
  'items.json': { items: ItemTemplate[] };
  'npcs.json': { npcs: NpcTemplate[] };
  'loot-tables.json': { lootTables: LootTable[] };
}
export type ContentFileName = keyof ContentJson;

const copies: string[] = [];

export async function copyAshlands(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cinder-content-'));
  copies.push(dir);
  await cp(ASHLANDS_DIR, dir, { recursive: true });
  return dir;
}

export async function removeCopies(): Promise<void> {
  await Promise.all(copies.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Parses one file of a copy, lets `change` break it, and writes it back. */
export async function editFile<F extends ContentFileName>(
  dir: string,
  file: F,
  change: (json: ContentJson[F]) => void,
): Promise<void> {
  const path = join(dir, file);
  const json = JSON.parse(await readFile(path, 'utf8')) as ContentJson[F];
  change(json);
  await writeFile(path, JSON.stringify(json, null, 2));
}

/** The index of the entry with this id, failing the test if there is none. */
export function indexOf(entries: readonly { id: string }[], id: string): number {
  const index = entries.findIndex((entry) => entry.id === id);
  expect(index, `no entry "${id}"`).toBeGreaterThanOrEqual(0);
  return index;
}

export function byId<T extends { id: string }>(entries: readonly T[], id: string): T {
  const entry = entries[indexOf(entries, id)];
  if (entry === undefined) throw new Error(`no entry "${id}"`);
  return entry;
}

export async function loadError(dir: string): Promise<ContentError> {
  const outcome = await loadContent(dir).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof ContentError)) throw new Error(`expected a ContentError, got ${String(outcome)}`);
  return outcome;
}

/**
 * Asserts that loading `dir` fails with exactly these problems (file names relative to dir),
 * and that the error message lists each as `<file>: <path>: <reason>`.
 */
export async function expectProblems(
  dir: string,
  expected: readonly { file: ContentFileName; path: string; reason: RegExp }[],
): Promise<void> {
  const error = await loadError(dir);
  expect(error.problems, error.message).toEqual(
    expected.map(({ file, path, reason }) => ({ file: join(dir, file), path, reason: expect.stringMatching(reason) as unknown })),
  );
  for (const problem of error.problems) {
    expect(error.message).toContain(`${problem.file}: ${problem.path}: ${problem.reason}`);
  }
}
