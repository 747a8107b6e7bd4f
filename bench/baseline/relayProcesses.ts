// Starts the bare baseline: `count` relayServer.ts processes on their own ports, one Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../../test/support/services/binaries.ts';
import { sleep } from '../clock.ts';

const RELAY = fileURLToPath(new URL('./relayServer.ts', import.meta.url));

export interface RelayProcess {
  index: number;
  pid: number;
  wsUrl: string;
  child: ChildProcess;
}

async function startRelay(index: number, redisUrl: string): Promise<RelayProcess> {
  const port = await getFreePort();
  const child = spawn(process.execPath, ['--import', 'tsx', RELAY], {
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, BASELINE_ID: String(index) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`baseline relay ${index} did not start`));
    }, 30_000);
    lines.on('line', (line) => {
      if (line.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`baseline relay ${index} exited with ${code ?? 'a signal'}`));
    });
  });
  return { index, pid: child.pid ?? 0, wsUrl: `ws://127.0.0.1:${port}/`, child };
}

export function startRelays(count: number, redisUrl: string): Promise<RelayProcess[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => startRelay(index, redisUrl)));
}

export async function stopRelays(relays: readonly RelayProcess[]): Promise<void> {
  await Promise.all(
    relays.map(async (relay) => {
      if (relay.child.exitCode !== null) return;
      const exited = once(relay.child, 'exit').then(() => true);
      relay.child.kill('SIGTERM');
      if (!(await Promise.race([exited, sleep(5000).then(() => false)]))) relay.child.kill('SIGKILL');
    }),
  );
}
