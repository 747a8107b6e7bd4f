// A Cinder worker inside the test process (embedded adapters, in-memory PGlite, unless told
// otherwise), listening on a free port: faster to start than a child process, same gateway and
// services, and its stores can be hooked.
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { openEmbeddedAdapters } from '../../src/adapters/embedded.ts';
import type { Adapters } from '../../src/adapters/Adapters.ts';
import { loadConfig } from '../../src/config.ts';
import { loadContent } from '../../src/content/loader.ts';
import { seededRng } from '../../src/domain/rng.ts';
import { createServer, type CinderServer } from '../../src/server.ts';
import type { RetryWaits } from '../../src/gateway/PlayerConnection.ts';
import type { GameClient } from './GameClient.ts';

/** The secret the in-process server signs tokens with, for a test that issues one itself. */
export const TEST_TOKEN_SECRET = 'test-secret-test-secret-test-secret';

export interface InProcessServer {
  server: CinderServer;
  adapters: Adapters;
  baseUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** Receives every log line the server writes (parsed, level debug and up); without it only warnings and errors go to stderr. */
  logs?: Record<string, unknown>[];
  /** The game's clock, for a test that moves time on rather than waiting. */
  now?: () => number;
  /** The clock of each connection's action budget (monotonic), for a test that must not see it refill. */
  actionClock?: () => number;
  /** Changes the embedded adapters before the server gets them (e.g. which errors count as a store failure). */
  adapt?: (adapters: Adapters) => Adapters;
  /** Opens the stores the server runs on instead of the embedded ones (e.g. scaled ones on a test's Redis and PostgreSQL). */
  open?: () => Promise<Adapters>;
  /** Waits between tries to record a disconnect while a store fails. */
  disconnectRetry?: RetryWaits;
}

export async function startInProcessServer(env: Record<string, string> = {}, options: InProcessOptions = {}): Promise<InProcessServer> {
  const { logs, now, actionClock, disconnectRetry, adapt = (adapters: Adapters) => adapters, open = () => openEmbeddedAdapters(undefined) } = options;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', CINDER_LOGIN_ATTEMPTS: '1000', CINDER_SYNC_INTERVAL_MS: '0', ...env });
  const catalog = await loadContent(config.contentDir);
  const adapters = adapt(await open());
  const server = await createServer({
    config,
    catalog,
    adapters,
    log: logs ? pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) }) : pino({ level: 'warn' }),
    tokenSecret: TEST_TOKEN_SECRET,
    rng: seededRng(42),
    ...(now ? { now } : {}),
    ...(actionClock ? { actionClock } : {}),
    ...(disconnectRetry ? { disconnectRetry } : {}),
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

/**
 * For a file whose tests each start a server of their own: `start` starts it, and after each test
 * every client put in `clients` is closed and the server stopped.
 */
export function serverPerTest(): { start: (env?: Record<string, string>) => Promise<InProcessServer>; clients: { close(): Promise<void> }[] } {
  let server: InProcessServer | undefined;
  const clients: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.stop();
    server = undefined;
  });
  return {
    start: async (env = {}) => (server = await startInProcessServer(env)),
    clients,
  };
}

/**
 * For a file whose tests share one server: started before the first test, stopped after the
 * last, with every client put in `clients` closed first. `server()` is the running server.
 */
export function serverForFile(
  env: Record<string, string> | (() => Promise<Record<string, string>>) = {},
  options: InProcessOptions = {},
): { server: () => InProcessServer; clients: GameClient[] } {
  let running: InProcessServer | undefined;
  const clients: GameClient[] = [];
  beforeAll(async () => {
    running = await startInProcessServer(typeof env === 'function' ? await env() : env, options);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await running?.stop();
  });
  return {
    server: () => {
      if (!running) throw new Error('the server is not running (used outside a test?)');
      return running;
    },
    clients,
  };
}
