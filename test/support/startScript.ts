// The node flags `npm start` runs Cinder with (package.json's start script, up to `--import`), so
// that test servers and the bench's workers run the way an operator's do.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));

export function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  if (words[0] !== 'node') throw new Error(`package.json's start script does not start with node: ${scripts.start}`);
  const end = words.indexOf('--import');
  return words.slice(1, end < 0 ? undefined : end);
}
