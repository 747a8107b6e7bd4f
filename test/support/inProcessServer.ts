// A Cinder worker inside the test process (embedded adapters, in-memory PGlite), listening on a
// free port: faster to start than a child process, same gateway and services.
import { pino } from 'pino';
import { openEmbeddedAdapters } from '../../src/adapters/embedded.ts';
import type { Adapters } from '../../src/adapters/Adapters.ts';
import { loadConfig } from '../../src/config.ts';
import { loadContent } from '../../src/content/loader.ts';
import { seededRng } from '../../src/domain/rng.ts';
import { createServer, type CinderServer } from '../../src/server.ts';

export interface InProcessServer {
  server: CinderServer;
  adapters: Adapters;
  baseUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

export async function startInProcessServer(env: Record<string, string> = {}): Promise<InProcessServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', CINDER_LOGIN_ATTEMPTS: '1000', CINDER_SYNC_INTERVAL_MS: '0', ...env });
  const catalog = await loadContent(config.contentDir);
  const adapters = await openEmbeddedAdapters(undefined);
  const server = await createServer({
    config,
    catalog,
    adapters,
    log: pino({ level: 'warn' }),
    tokenSecret: 'test-secret-test-secret-test-secret',
    rng: seededRng(42),
  });
  const port = await server.listen();
  return {
    server,
    adapters,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    stop: () => server.shutdown(),
  };
}
