// The node flags `npm start` runs Cinder with (package.json's start script, up to `--import`), so
// that test servers and the bench's workers run the way an operator's do. The script starts with
// `exec node`: the shell npm runs it in is replaced by node, so npm's signals reach the server.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));

export function startScriptNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  if (words[0] !== 'exec' || words[1] !== 'node') throw new Error(`package.json's start script does not start with exec node: ${scripts.start}`);
  const end = words.indexOf('--import');
  return words.slice(2, end < 0 ? undefined : end);
}
