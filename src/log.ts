// The logger type every layer accepts: pino's, as fastify sees it.
import type { FastifyBaseLogger } from 'fastify';

export type Log = FastifyBaseLogger;
