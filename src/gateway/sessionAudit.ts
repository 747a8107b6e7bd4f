// Pub/sub delivers a message only to those listening when it is published: what ends a session
// elsewhere (another session takes the character, a password change or a ban revokes its token)
// is lost to a worker whose bus is reconnecting, or when the publish itself fails. So each worker
// asks the hot store what its sessions should have heard: all of them when its bus listens again,
// and a slice of them every second the rest of the time, each once per interval.
import type { Log } from '../log.ts';
import type { GameContext } from '../services/context.ts';
import { sessionEndings } from '../services/presence.ts';
import type { Recipient } from './LocalFanout.ts';
import { spreadOver } from './spread.ts';

/** Sessions asked about in one read. */
const BATCH = 500;

/** Ends the sessions among `recipients` that a lost message should have ended; answers how many. */
export async function auditSessions(ctx: GameContext, recipients: readonly Recipient[], log: Log): Promise<number> {
  const playing = recipients.filter((recipient) => recipient.playing);
  let ended = 0;
  for (let start = 0; start < playing.length; start += BATCH) {
    const batch = playing.slice(start, start + BATCH);
    const endings = await sessionEndings(ctx, batch);
    batch.forEach((recipient, index) => {
      const ending = endings[index];
      if (ending === 'replaced') recipient.replaced();
      if (ending === 'released') recipient.released();
      if (ending === 'revoked') recipient.signedOut({ reason: 'revoked', generation: recipient.tokenGeneration + 1 });
      if (ending) ended++;
    });
  }
  if (ended > 0) log.info({ ended }, 'ended sessions whose ending this worker had not heard');
  return ended;
}

/** Audits every session once per `intervalMs`, a slice each second; returns the stop. */
export function startSessionAudit(ctx: GameContext, recipients: () => Iterable<Recipient>, intervalMs: number, log: Log): () => void {
  let running = false;
  return spreadOver(recipients, intervalMs, (due) => {
    // A slow Redis must not pile audits up: a slice skipped comes round again next interval.
    if (running) return;
    running = true;
    auditSessions(ctx, due, log)
      .catch((error: unknown) => {
        log.debug({ err: error }, 'session audit failed');
      })
      .finally(() => {
        running = false;
      });
  });
}
