// GameEvents over the bus: each event is serialised once and published once; the workers that
// hold recipients fan it out locally (LocalFanout).
import type { Bus } from '../adapters/bus/Bus.ts';
import { channels } from '../adapters/keys.ts';
import type { GameEvents } from '../services/context.ts';

/** What travels on a location, player or broadcast channel. */
export interface BusEvent {
  type: string;
  data: unknown;
  ts: number;
  except?: number;
}

export function busEvents(bus: Bus, onError: (error: unknown) => void, now: () => number = Date.now): GameEvents {
  const publish = (channel: string, event: BusEvent) => {
    bus.publish(channel, JSON.stringify(event)).catch(onError);
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
