// One in-process server with the admin API on for a test file: started before its tests, stopped
// after them with every connection the tests opened through `playing`.
import { afterAll, beforeAll } from 'vitest';
import { adminPost } from './accounts.ts';
import { GameClient } from './GameClient.ts';
import { startInProcessServer, type InProcessServer } from './inProcessServer.ts';
import type { PlayView } from './views.ts';

export interface OperatorServer {
  server: () => InProcessServer;
  /** A connection authenticated with `token`, closed after the file's tests. */
  playing: (token: string) => Promise<{ client: GameClient; view: PlayView }>;
  /** A POST to /api/admin/... with the admin token. */
  admin: (path: string, body: unknown) => Promise<{ status: number; json: unknown }>;
  /** Keeps `client` to be closed after the file's tests. */
  keep: (client: GameClient) => GameClient;
}

export function useOperatorServer(adminToken: string): OperatorServer {
  let server: InProcessServer | undefined;
  const clients: GameClient[] = [];
  beforeAll(async () => {
    server = await startInProcessServer({ CINDER_ADMIN_TOKEN: adminToken });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.stop();
  });
  const current = (): InProcessServer => {
    if (!server) throw new Error('the server is not started yet');
    return server;
  };
  const keep = (client: GameClient) => {
    clients.push(client);
    return client;
  };
  return {
    server: current,
    keep,
    playing: async (token) => {
      const client = keep(await GameClient.connect(current().wsUrl));
      return { client, view: await client.ok<PlayView>('auth', { token }) };
    },
    admin: (path, body) => adminPost(current().baseUrl, adminToken, path, body),
  };
}
