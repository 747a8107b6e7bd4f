// Operator endpoints, enabled by CINDER_ADMIN_TOKEN: a global announcement and a manual save.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GameError } from '../errors.ts';
import type { GameContext } from '../services/context.ts';
import { sendError } from './http.ts';

const announcement = z.object({ text: z.string().trim().min(1).max(500) });

function authorised(request: FastifyRequest, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function registerAdminRoutes(app: FastifyInstance, ctx: GameContext, adminToken: string | undefined, save: () => Promise<unknown>): void {
  if (!adminToken) return;
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url.startsWith('/api/admin/') && !authorised(request, adminToken)) {
      void sendError(reply, 'E_UNAUTHENTICATED', 'Send Authorization: Bearer <CINDER_ADMIN_TOKEN>.');
      return;
    }
    done();
  });

  app.post('/api/admin/announce', (request, reply) => {
    const body = announcement.safeParse(request.body);
    if (!body.success) throw new GameError('E_INVALID', 'Send {"text": string of 1 to 500 characters}.');
    ctx.events.toEveryone('announcement', { text: body.data.text });
    return reply.status(202).send({ ok: true });
  });

  app.post('/api/admin/save', async () => ({ ok: true, synced: await save() }));
}
