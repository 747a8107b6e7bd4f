// Turns anything thrown while serving a request into what the client may see: a GameError keeps
// its code; an unreachable store becomes E_DEGRADED (hot) or E_STORAGE_UNAVAILABLE (durable);
// anything else is logged and answered as E_INTERNAL without internals.
import type { StoreFailure } from '../adapters/Adapters.ts';
import { ERRORS, GameError, type ErrorCode } from '../errors.ts';
import type { Log } from '../log.ts';

export function toClientError(error: unknown, log: Log, failureOf: (error: unknown) => StoreFailure = () => null): { code: ErrorCode; message: string } {
  if (error instanceof GameError) return { code: error.code, message: error.message };
  const failure = failureOf(error);
  if (failure === 'hot') return { code: 'E_DEGRADED', message: ERRORS.E_DEGRADED };
  if (failure === 'durable') return { code: 'E_STORAGE_UNAVAILABLE', message: ERRORS.E_STORAGE_UNAVAILABLE };
  log.error({ err: error }, 'unexpected error');
  return { code: 'E_INTERNAL', message: ERRORS.E_INTERNAL };
}
