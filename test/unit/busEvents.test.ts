// An event this worker could not publish (its publishing connection to Redis failed at that
// moment, while the other workers kept listening) is not lost silently: once publishing works
// again, its channel hears `events_missed`, so that the players there look again.
import { expect, it } from 'vitest';
import type { Bus } from '../../src/adapters/bus/Bus.ts';
import { busEvents } from '../../src/gateway/busEvents.ts';
import { until } from '../support/heldState.ts';

/** A bus whose publishing fails while `down`; what it published, by channel and type. */
function flakyBus(): { bus: Bus; published: { channel: string; type: string }[]; setDown: (down: boolean) => void; failures: () => number } {
  let down = false;
  let failures = 0;
  const published: { channel: string; type: string }[] = [];
  const bus: Bus = {
    publish: (channel, message) => {
      if (down) {
        failures++;
        return Promise.reject(new Error('Connection is closed.'));
      }
      published.push({ channel, type: (JSON.parse(message) as { type: string }).type });
      return Promise.resolve();
    },
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    onReconnect: () => undefined,
    close: () => Promise.resolve(),
  };
  return { bus, published, setDown: (value) => (down = value), failures: () => failures };
}

it('tells each channel whose event was lost that events were missed, once publishing works again', async () => {
  const { bus, published, setDown, failures } = flakyBus();
  const errors: unknown[] = [];
  const events = busEvents(bus, (error) => errors.push(error), Date.now, 5);
  events.toLocation('square', 'said', { text: 'before' });
  setDown(true);
  events.toLocation('market', 'said', { text: 'lost' });
  events.toPlayer(7, 'signed_out', {});
  // Still down when the first notices are tried: they are tried again.
  await until(() => failures() >= 3, 'a notice to be tried while publishing still fails');
  setDown(false);
  await until(() => published.length === 3, 'the notices once publishing works again');
  expect(published).toEqual([
    { channel: 'location:square', type: 'said' },
    { channel: 'location:market', type: 'events_missed' },
    { channel: 'player:7', type: 'events_missed' },
  ]);
  expect(errors).toHaveLength(2);
});
