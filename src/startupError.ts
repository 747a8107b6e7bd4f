// Start-up failures an operator fixes outside the code (a URL, a password, a port in use): one
// line naming the setting and the cause, rather than a bare "connect ECONNREFUSED".

/** A start-up failure whose message is the whole story: main prints it alone and exits 1. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** `url` with its password masked, for messages that end up in logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@]*?):[^/@]*@/, '//$1:***@');
}

/**
 * The cause of `error` in a few words: its message with its code when the message lacks it, and
 * for a message-less AggregateError (Node's refused connection to every address of a host) the
 * causes inside.
 */
export function causeText(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') {
    return [...new Set((error.errors as unknown[]).map(causeText))].join('; ');
  }
  if (!(error instanceof Error)) return String(error);
  const code: unknown = Reflect.get(error, 'code');
  const message = error.message || (typeof code === 'string' ? code : error.name);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/** Runs one start-up step; a failure becomes a StartupError saying `what` failed, and why. */
export async function startupStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new StartupError(`${what}: ${causeText(error)}`, { cause: error });
  }
}
