// Operator endpoints, enabled by CINDER_ADMIN_TOKEN: a global announcement, a manual save,
// banning accounts or lifting a ban, and deleting accounts.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { GameError } from '../errors.ts';
import { LeaseBusyError } from '../jobs/JobScheduler.ts';
import { deleteAccount, setBanned } from '../services/accounts.ts';
import type { GameContext } from '../services/context.ts';
import { hasBearer } from './bearer.ts';
import { sendError } from './http.ts';

const announcement = z.object({ text: z.string().trim().min(1).max(500) });
const accountName = z.object({ username: z.string() });

export function registerAdminRoutes(app: FastifyInstance, ctx: GameContext, adminToken: string | undefined, save: () => Promise<unknown>): void {
  if (!adminToken) return;
  // The check hangs on the routes themselves (an encapsulated plugin), not on the raw URL: the
  // router decodes %61dmin and absolute-form targets, which a prefix test of request.url misses.
  void app.register(
    (admin, _options, registered) => {
      admin.addHook('onRequest', (request, reply, done) => {
        if (hasBearer(request, adminToken)) {
          done();
          return;
        }
        void sendError(reply, 'E_UNAUTHENTICATED', 'Send Authorization: Bearer <CINDER_ADMIN_TOKEN>.');
      });

      admin.post('/announce', (request, reply) => {
        const body = announcement.safeParse(request.body);
        if (!body.success) throw new GameError('E_INVALID', 'Send {"text": string of 1 to 500 characters}.');
        ctx.events.toEveryone('announcement', { text: body.data.text });
        return reply.status(202).send({ ok: true });
      });

      admin.post('/save', async () => {
        try {
          return { ok: true, synced: await save() };
        } catch (error) {
          if (error instanceof LeaseBusyError) throw new GameError('E_BUSY', 'A sync is under way on another worker and did not finish in time; try again.');
          throw error;
        }
      });

      for (const [path, banned] of [['/ban', true], ['/unban', false]] as const) {
        admin.post(path, async (request) => {
          const body = accountName.safeParse(request.body);
          if (!body.success) throw new GameError('E_INVALID', 'Send {"username": string}.');
          const account = await setBanned(ctx, body.data.username, banned);
          if (!account) throw new GameError('E_NOT_FOUND', 'No account has that username.');
          return { ok: true, account: { username: account.username, characterId: account.characterId, banned: account.banned } };
        });
      }
      admin.post('/delete', async (request) => {
        const body = accountName.safeParse(request.body);
        if (!body.success) throw new GameError('E_INVALID', 'Send {"username": string}.');
        const account = await deleteAccount(ctx, body.data.username);
        if (!account) throw new GameError('E_NOT_FOUND', 'No account has that username.');
        return { ok: true, deleted: { username: account.username, characterId: account.characterId } };
      });
      registered();
    },
    { prefix: '/api/admin' },
  );
}
