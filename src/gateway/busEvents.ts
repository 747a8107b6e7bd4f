// GameEvents over the bus: each event is serialised once and published once; the workers that
// hold recipients fan it out locally (LocalFanout).
import type { Bus } from '../adapters/bus/Bus.ts';
import { channels } from '../adapters/keys.ts';
import type { GameEvents } from '../services/context.ts';
import { EVENTS_MISSED } from './LocalFanout.ts';

/** What travels on a location, player or broadcast channel. */
export interface BusEvent {
  type: string;
  data: unknown;
  ts: number;
  except?: number;
}

export function busEvents(bus: Bus, onError: (error: unknown) => void, now: () => number = Date.now, retryMs = 500): GameEvents {
  // Channels an event could not be published on (the publishing connection failed at that
  // moment, while the other workers may still be listening): once publishing works again, each
  // hears `events_missed`, so that its players look again rather than trust a stale view.
  const missed = new Set<string>();
  let retry: NodeJS.Timeout | undefined;
  const tellMissed = () => {
    retry ??= setTimeout(() => {
      retry = undefined;
      void (async () => {
        for (const channel of [...missed]) {
          const notice: BusEvent = { type: 'events_missed', data: { message: EVENTS_MISSED }, ts: now() };
          try {
            await bus.publish(channel, JSON.stringify(notice));
            missed.delete(channel);
          } catch {
            tellMissed();
            return;
          }
        }
      })();
    }, retryMs);
    retry.unref();
  };
  const publish = (channel: string, event: BusEvent) => {
    bus.publish(channel, JSON.stringify(event)).catch((error: unknown) => {
      onError(error);
      missed.add(channel);
      tellMissed();
    });
  };
  return {
    toLocation: (locationId, type, data, except) => {
      publish(channels.location(locationId), { type, data, ts: now(), ...(except === undefined ? {} : { except }) });
    },
    toPlayer: (characterId, type, data) => {
      publish(channels.player(characterId), { type, data, ts: now() });
    },
    toEveryone: (type, data) => {
      publish(channels.broadcast(), { type, data, ts: now() });
    },
  };
}
