// A bound on waiting for work that may hang on a network store (a PostgreSQL that stopped
// answering), for the moments when waiting longer is worse than giving up: shutdown.

export class DeadlinePassed extends Error {
  override name = 'DeadlinePassed';
}

/**
 * Settles as `work` does, or rejects with DeadlinePassed once `ms` have passed. The work itself
 * goes on (nothing can cancel it); a failure of it after the deadline is ignored.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlinePassed(`${what} did not finish within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, passed]).finally(() => {
    clearTimeout(timer);
  });
}
