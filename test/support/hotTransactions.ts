// Which of the GameStateManager's hot-store transactions a test is looking at, told apart by what
// they write, so that a test can fail or hold just that one.
import type { HotTransaction } from '../../src/adapters/hot/transaction.ts';

/** The transaction that takes a character for a session (enterWorld). */
export function takes(tx: HotTransaction): boolean {
  return (tx.hset ?? []).some((write) => write.field === 'connected' && write.value === '1');
}

/** The transaction that marks a character disconnected (markDisconnected). */
export function leaves(tx: HotTransaction): boolean {
  return (tx.hset ?? []).some((write) => write.field === 'connected' && write.value === '0') && tx.expect[0]?.field === 'session_id';
}
