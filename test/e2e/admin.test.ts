// The operator endpoints under /api/admin answer only to CINDER_ADMIN_TOKEN, however the path is
// spelled: the router decodes percent-escapes and accepts absolute-form request targets.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

const ADMIN_TOKEN = 'operator-token-for-tests';
const METRICS_TOKEN = 'monitoring-token-for-tests';

let server: InProcessServer;
let listener: GameClient;

beforeAll(async () => {
  server = await startInProcessServer({ CINDER_ADMIN_TOKEN: ADMIN_TOKEN, CINDER_METRICS_TOKEN: METRICS_TOKEN });
  const { token } = await registerPlayer(server.baseUrl);
  listener = await GameClient.connect(server.wsUrl);
  await listener.ok('auth', { token });
}, 60_000);

afterAll(async () => {
  await listener.close();
  await server.stop();
});

/** POSTs with the request target exactly as given (node:http sends `path` verbatim). */
function postRaw(target: string, body: unknown, authorization?: string): Promise<{ status: number; json: unknown }> {
  const { hostname, port } = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        hostname,
        port,
        method: 'POST',
        path: target,
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) as unknown });
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

const refused = { status: 401, json: { error: { code: 'E_UNAUTHENTICATED', message: expect.stringContaining('Bearer') as unknown } } };

describe('admin endpoints', () => {
  it('refuse every spelling of their paths without the token, and announce with it', async () => {
    for (const target of [
      '/api/admin/announce',
      '/api/%61dmin/announce',
      '/%61pi/admin/announce',
      '/api/admin/%61nnounce',
      `http://${new URL(server.baseUrl).host}/api/admin/announce`,
    ]) {
      expect(await postRaw(target, { text: `sneaked in by ${target}` }), target).toEqual(refused);
      expect(await postRaw(target, { text: 'wrong token' }, 'Bearer not-the-token'), target).toEqual(refused);
    }
    expect(await postRaw('/api/%61dmin/save', {}), 'save').toEqual(refused);

    expect(await postRaw('/api/admin/announce', { text: '  The bell rings.  ' }, `Bearer ${ADMIN_TOKEN}`)).toEqual({ status: 202, json: { ok: true } });
    expect(await listener.event('announcement')).toEqual({ text: 'The bell rings.' });
    // Announcements arrive in order: none of the refused ones came before it.
    expect(listener.events('announcement')).toEqual([{ text: 'The bell rings.' }]);
  });

  it('refuse a blank announcement and save on demand', async () => {
    expect(await postRaw('/api/admin/announce', { text: '   ' }, `Bearer ${ADMIN_TOKEN}`)).toEqual({
      status: 400,
      json: { error: { code: 'E_INVALID', message: 'Send {"text": string of 1 to 500 characters}.' } },
    });
    expect(await postRaw('/api/admin/save', {}, `Bearer ${ADMIN_TOKEN}`)).toMatchObject({ status: 200, json: { ok: true } });
  });

  it('answer a save that cannot get the sync lease (another worker keeps syncing) with 503 E_BUSY', async () => {
    const locks = server.adapters.locks;
    const lease = await locks.acquire('sync', 60_000);
    expect(lease).not.toBeNull();
    try {
      expect(await postRaw('/api/admin/save', {}, `Bearer ${ADMIN_TOKEN}`)).toEqual({
        status: 503,
        json: { error: { code: 'E_BUSY', message: 'A sync is under way on another worker and did not finish in time; try again.' } },
      });
    } finally {
      if (lease) await locks.release(lease);
    }
    expect(await postRaw('/api/admin/save', {}, `Bearer ${ADMIN_TOKEN}`)).toMatchObject({ status: 200, json: { ok: true } });
  });

  it('serve /metrics only with its own token when CINDER_METRICS_TOKEN is set', async () => {
    const scrape = (authorization?: string) => fetch(new URL('/metrics', server.baseUrl), authorization ? { headers: { authorization } } : {});
    for (const authorization of [undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${METRICS_TOKEN}x`, METRICS_TOKEN]) {
      const refusal = await scrape(authorization);
      expect(refusal.status, String(authorization)).toBe(401);
      expect(await refusal.json()).toEqual({ error: { code: 'E_UNAUTHENTICATED', message: 'Send Authorization: Bearer <CINDER_METRICS_TOKEN>.' } });
    }
    const scraped = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^cinder_connected_sockets \d+/m);
  });
});
