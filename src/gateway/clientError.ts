// Turns anything thrown while serving a request into what the client may see: a GameError keeps
// its code; anything else is logged and answered as E_INTERNAL without internals.
import type { Log } from '../log.ts';
import { ERRORS, GameError, type ErrorCode } from '../errors.ts';

export function toClientError(error: unknown, log: Log): { code: ErrorCode; message: string } {
  if (error instanceof GameError) return { code: error.code, message: error.message };
  log.error({ err: error }, 'unexpected error');
  return { code: 'E_INTERNAL', message: ERRORS.E_INTERNAL };
}
