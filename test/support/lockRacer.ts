// A process that races others for a data directory's lock: it waits for a line on stdin, tries
// lockDataDir, prints `won` or `refused`, and then keeps what it won until it is killed.
import { once } from 'node:events';
import { DataDirInUse, lockDataDir } from '../../src/adapters/dataDirLock.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: lockRacer.ts DIR');
process.stdout.write('ready\n');
await once(process.stdin, 'data');
try {
  await lockDataDir(dir);
  process.stdout.write('won\n');
} catch (error) {
  if (!(error instanceof DataDirInUse)) throw error;
  process.stdout.write('refused\n');
}
setInterval(() => undefined, 1000);
