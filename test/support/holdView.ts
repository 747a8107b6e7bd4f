// Holding a server's next view read (an auth's last read, or a look) until the test lets it go:
// what happens meanwhile (a replacement, a sign-out, events) can then be staged.
import type { HotStore } from '../../src/adapters/hot/HotStore.ts';
import { deferred } from './hookedDurable.ts';

/** `reached` resolves when the next readView waits; `release` lets it read. */
export function holdNextView(hot: HotStore): { reached: Promise<void>; release: () => void } {
  const readView = hot.readView.bind(hot);
  const reached = deferred();
  const held = deferred();
  hot.readView = async (view) => {
    hot.readView = readView;
    reached.resolve();
    await held.promise;
    return readView(view);
  };
  return { reached: reached.promise, release: held.resolve };
}
