// Checks report problems by file and path; the list turns them into ContentProblems in file order.
import { join } from 'node:path';
import type { ContentProblem } from './contentError.ts';

/** The files of a content directory, in the order their problems are listed. */
export const CONTENT_FILES = {
  world: 'world.json',
  locations: 'locations.json',
  items: 'items.json',
  npcs: 'npcs.json',
  lootTables: 'loot-tables.json',
} as const;
export type ContentFile = keyof typeof CONTENT_FILES;

export type ProblemPath = readonly PropertyKey[];
export type Report = (file: ContentFile, path: ProblemPath, reason: string) => void;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `['locations', 3, 'exits', 'north']` → `locations[3].exits.north`; the empty path is `$`. */
export function formatPath(path: ProblemPath): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text === '' ? '$' : text;
}

export class ProblemList {
  private readonly byFile = new Map<ContentFile, ContentProblem[]>();

  constructor(private readonly dir: string) {}

  readonly report: Report = (file, path, reason) => {
    const problems = this.byFile.get(file) ?? [];
    problems.push({ file: join(this.dir, CONTENT_FILES[file]), path: formatPath(path), reason });
    this.byFile.set(file, problems);
  };

  get isEmpty(): boolean {
    return this.byFile.size === 0;
  }

  list(): ContentProblem[] {
    const order = Object.keys(CONTENT_FILES) as ContentFile[];
    return order.flatMap((file) => this.byFile.get(file) ?? []);
  }
}
