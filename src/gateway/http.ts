// REST entry points: registration, login, password change, account deletion, health. Bodies are validated here; rules live in services.
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { TokenIssuer } from '../auth/tokens.ts';
import { GameError, type ErrorCode } from '../errors.ts';
import { changePassword, deleteOwnAccount, isUsername, login, register } from '../services/accounts.ts';
import type { AccountRecord } from '../adapters/durable/DurableStore.ts';
import type { GameContext } from '../services/context.ts';
import { limitKey } from './clientAddress.ts';
import { toClientError } from './clientError.ts';
import type { StoreFailure } from '../adapters/Adapters.ts';

// Lengths are the service's rules (with their own codes); the body limit bounds the rest.
const credentials = z.object({ username: z.string(), password: z.string() });
const passwordChange = credentials.extend({ newPassword: z.string() });

const STATUS: Partial<Record<ErrorCode, number>> = {
  E_BAD_JSON: 400,
  E_INVALID: 400,
  E_INVALID_USERNAME: 400,
  E_WEAK_PASSWORD: 400,
  E_TOO_LARGE: 413,
  E_BAD_CREDENTIALS: 401,
  E_UNAUTHENTICATED: 401,
  E_USERNAME_TAKEN: 409,
  E_RATE_LIMITED: 429,
  E_NOT_FOUND: 404,
  E_STORAGE_UNAVAILABLE: 503,
  E_DEGRADED: 503,
  E_SHUTTING_DOWN: 503,
  E_BUSY: 503,
};

export interface HttpDeps {
  ctx: GameContext;
  tokens: TokenIssuer;
  loginAttempts: number;
  loginWindowMs: number;
  worldName: string;
  workerId: string;
  onlineCount: () => number;
  /** Why the hot store refused this worker's heartbeat, asked again now; undefined when it takes it. */
  hotStoreRefusal: () => Promise<string | undefined>;
  failureOf: (error: unknown) => StoreFailure;
}

/** What a client error on the connection itself (before any route) is answered with. */
function connectionError(code: string | undefined): { status: number; reason: string; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'Request Timeout', message: 'The request took too long to arrive.' };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'Request Header Fields Too Large', message: 'The request headers are too large.' };
  return { status: 400, reason: 'Bad Request', message: 'The request is not valid HTTP.' };
}

/**
 * Fastify options for what never reaches a route, so that every refusal has the same
 * `{"error": {code, message}}` body as the routes' own.
 */
export const httpServerOptions = {
  bodyLimit: 64 * 1024,
  // A "__proto__" key is dropped, as JSON.parse of a WebSocket frame makes it a harmless own key
  // that validation ignores: valid JSON is never called invalid.
  onProtoPoisoning: 'remove',
  onConstructorPoisoning: 'remove',
  frameworkErrors: (error: Error, _request: unknown, reply: FastifyReply) => {
    void sendError(reply, 'E_INVALID', `The request is malformed: ${error.message}`);
  },
  clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
    // A reset socket has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, reason, message } = connectionError(error.code);
    const body = JSON.stringify({ error: { code: 'E_INVALID', message } });
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  },
} as const;

/**
 * Fastify options that cut a request whose headers or body take longer than `requestTimeoutMs`
 * to arrive (408), so that a client trickling bytes in cannot hold a socket for ever. An upgraded
 * WebSocket is no longer a request and is not affected.
 */
export function requestDeadlines(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      // Node cuts a request at the longer of the two (its headersTimeout defaults to 60 s).
      headersTimeout: requestTimeoutMs,
      // How often Node looks for requests past their deadline; its default of 30 s could double it.
      connectionsCheckingInterval: Math.min(1000, Math.ceil(requestTimeoutMs / 4)),
    },
  };
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, status = STATUS[code] ?? 500): FastifyReply {
  return reply.status(status).send({ error: { code, message } });
}

export function registerHttpRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { ctx, tokens } = deps;

  app.setErrorHandler((error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    const fastifyCode = (error as { code?: string }).code;
    if (error instanceof SyntaxError || fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyCode === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return sendError(reply, 'E_BAD_JSON', 'The request body is not valid JSON.');
    }
    if (status === 413) return sendError(reply, 'E_TOO_LARGE', 'The request body is too large.');
    if (status === 415) return sendError(reply, 'E_INVALID', 'Send a JSON body (Content-Type: application/json).');
    // The client went away mid-request: nobody reads an answer, and nothing went wrong here.
    if (request.raw.socket.destroyed) {
      request.log.debug({ err: error }, 'request aborted by the client');
      return reply;
    }
    // Fastify's own refusals of a malformed request (a wrong Content-Length, …) keep their status.
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(reply, 'E_INVALID', `The request is malformed: ${(error as Error).message}`, status);
    }
    const { code, message } = toClientError(error, request.log, deps.failureOf);
    return sendError(reply, code, message);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 'E_NOT_FOUND', 'No such route.'));

  const tooMany = () => new GameError('E_RATE_LIMITED', 'Too many attempts; wait a minute and try again.');
  // Per address, loosely since players share NATs: every attempt counts.
  const limited = async (scope: string, address: string, limit: number) => {
    if ((await ctx.gsm.countAttempt(scope, address, deps.loginWindowMs)) > limit) throw tooMany();
  };

  const issue = async (account: AccountRecord) => ({
    token: await tokens.issue({ characterId: account.characterId, accountId: account.id, name: account.username, generation: account.tokenGeneration }),
    character: { id: account.characterId, name: account.username },
  });

  /**
   * Runs `proving` (which checks the account's password) under the login limits: per address,
   * loosely since players share NATs, and per name against guessing its password, counting only
   * failures, so that logging in (or trying from an address already refused) locks nobody out.
   */
  const guarded = async (address: string, username: string, proving: () => Promise<AccountRecord>) => {
    // No account has such a name: refused as a wrong password would be, before anything is
    // counted (a name of any length would otherwise be a key in the hot store).
    if (!isUsername(username)) throw new GameError('E_BAD_CREDENTIALS');
    // The address first: a request refused for its address counts against no name.
    await limited('login', `ip:${address}`, deps.loginAttempts * 5);
    // Counted before the slow hash check, so that guesses sent all at once cannot all pass a
    // count none of them has added to yet; given back unless it turns out a wrong password.
    const attempt = await ctx.gsm.reserveAttempt('login', `name:${username.toLowerCase()}`, deps.loginWindowMs);
    const giveBack = () =>
      attempt.giveBack().catch((error: unknown) => {
        // The store went away: the attempt stays counted, which only ever errs on the safe side.
        app.log.warn({ err: error }, 'could not give back a login attempt');
      });
    if (attempt.count > deps.loginAttempts) {
      await giveBack();
      throw tooMany();
    }
    let account: AccountRecord;
    try {
      account = await proving();
    } catch (error) {
      if (!(error instanceof GameError && error.code === 'E_BAD_CREDENTIALS')) await giveBack();
      throw error;
    }
    await giveBack();
    return account;
  };

  app.post('/api/auth/register', async (request, reply) => {
    const body = credentials.safeParse(request.body);
    if (!body.success) return sendError(reply, 'E_INVALID', 'Send {"username": string, "password": string}.');
    await limited('register', limitKey(request.ip), deps.loginAttempts);
    const account = await register(ctx, body.data.username, body.data.password);
    return reply.status(201).send(await issue(account));
  });

  app.post('/api/auth/login', async (request, reply) => {
    const body = credentials.safeParse(request.body);
    if (!body.success) return sendError(reply, 'E_INVALID', 'Send {"username": string, "password": string}.');
    const { username, password } = body.data;
    const account = await guarded(limitKey(request.ip), username, () => login(ctx, username, password));
    return reply.send(await issue(account));
  });

  // Every token issued before stops working, and the open session is signed out: the reply's
  // token is the one that works from now on.
  app.post('/api/auth/password', async (request, reply) => {
    const body = passwordChange.safeParse(request.body);
    if (!body.success) return sendError(reply, 'E_INVALID', 'Send {"username": string, "password": string, "newPassword": string}.');
    const { username, password, newPassword } = body.data;
    const account = await guarded(limitKey(request.ip), username, () => changePassword(ctx, username, password, newPassword));
    return reply.send(await issue(account));
  });

  // For good: the account, the character and what they carry. Proven like a login, so that a
  // stolen token alone cannot do it.
  app.post('/api/auth/delete', async (request, reply) => {
    const body = credentials.safeParse(request.body);
    if (!body.success) return sendError(reply, 'E_INVALID', 'Send {"username": string, "password": string}.');
    const { username, password } = body.data;
    const account = await guarded(limitKey(request.ip), username, () => deleteOwnAccount(ctx, username, password));
    return reply.send({ ok: true, deleted: { username: account.username, characterId: account.characterId } });
  });

  // What a load balancer asks: while the hot store is unreachable, or answers but refuses writes
  // (out of memory, say: PING still answers then), every change answers E_DEGRADED, so this worker
  // says it should get no players until it is back.
  app.get('/api/health', async (_request, reply) => {
    const about = { world: deps.worldName, worker: deps.workerId, pid: process.pid, connected: deps.onlineCount() };
    try {
      await ctx.gsm.pingHotStore();
    } catch (error) {
      if (deps.failureOf(error) !== 'hot') throw error;
      return reply.status(503).send({ status: 'degraded', unreachable: 'hot', ...about });
    }
    const refusal = await deps.hotStoreRefusal();
    if (refusal !== undefined) return reply.status(503).send({ status: 'degraded', unreachable: 'hot', refusing: refusal, ...about });
    return { status: 'ok', ...about };
  });
}
