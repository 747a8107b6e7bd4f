// Reads one content file and checks it against its schema, reporting every way it falls short.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { DIRECTIONS } from './schema.ts';
import { parseJson } from './jsonSyntax.ts';
import { CONTENT_FILES, type ContentFile, type Report } from './problemList.ts';

/** The file's validated content, or undefined when it has problems (already reported). */
export async function readContentFile<Schema extends z.ZodType>(
  dir: string,
  file: ContentFile,
  schema: Schema,
  report: Report,
): Promise<z.output<Schema> | undefined> {
  let source: string;
  try {
    source = await readFile(join(dir, CONTENT_FILES[file]), 'utf8');
  } catch (error) {
    report(file, [], isMissing(error) ? 'file not found' : `cannot read the file: ${String(error)}`);
    return undefined;
  }
  const json = parseJson(source);
  if (!json.ok) {
    report(file, [], json.reason);
    return undefined;
  }
  const result = schema.safeParse(json.value, { error: explainMissingField });
  if (result.success) return result.data;
  for (const issue of result.error.issues) reportIssue(file, issue, report);
  return undefined;
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

// zod's default reads "expected string, received undefined", which hides that the field is absent.
const explainMissingField: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? `required field is missing (expected ${issue.expected})` : undefined;

function reportIssue(file: ContentFile, issue: z.core.$ZodIssue, report: Report): void {
  if (issue.code !== 'unrecognized_keys') {
    report(file, issue.path, issue.message);
    return;
  }
  // One problem per stray key, at the key itself, so a misspelt field is easy to find.
  const inExits = issue.path.at(-1) === 'exits';
  for (const key of issue.keys) {
    report(file, [...issue.path, key], inExits ? `unknown direction (use one of ${DIRECTIONS.join(', ')})` : 'unknown field');
  }
}
