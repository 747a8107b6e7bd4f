// Pub/sub delivers a message only to those listening when it is published. A worker whose bus
// lost its connection missed whatever ended one of its sessions meanwhile (another session took
// the character, a password change or a ban revoked its token), so once it listens again it asks
// the hot store, for each of its sessions, what it would have heard.
import type { Log } from '../log.ts';
import type { GameContext } from '../services/context.ts';
import { missedEnding } from '../services/presence.ts';
import type { Recipient } from './LocalFanout.ts';

/** Sessions asked about at a time: a few reads each, so a worker's thousands do not flood Redis. */
const AT_ONCE = 50;

export async function endWhatWasMissed(ctx: GameContext, recipients: readonly Recipient[], log: Log): Promise<number> {
  let ended = 0;
  for (let start = 0; start < recipients.length; start += AT_ONCE) {
    await Promise.all(
      recipients.slice(start, start + AT_ONCE).map(async (recipient) => {
        const ending = await missedEnding(ctx, recipient.characterId, recipient.sessionId, recipient.tokenGeneration);
        if (ending === 'replaced') recipient.replaced();
        if (ending === 'released') recipient.released();
        if (ending === 'revoked') recipient.signedOut({ reason: 'revoked', generation: recipient.tokenGeneration + 1 });
        if (ending !== null) ended++;
      }),
    );
  }
  if (ended > 0) log.info({ ended }, 'ended sessions whose ending was published while the bus was away');
  return ended;
}
