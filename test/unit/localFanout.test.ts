// A worker's local fan-out: which of two sessions of one character keeps it, and a location whose
// subscription the bus refused at first. The in-process bus stands for Redis pub/sub.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalBus } from '../../src/adapters/bus/LocalBus.ts';
import type { BusHandler } from '../../src/adapters/bus/Bus.ts';
import { channels } from '../../src/adapters/keys.ts';
import { LocalFanout, type Recipient } from '../../src/gateway/LocalFanout.ts';
import type { SignedOut } from '../../src/services/accounts.ts';

interface TestRecipient extends Recipient {
  frames: string[];
  replacedTimes: number;
  signedOutBy: SignedOut[];
  releasedTimes: number;
}

function recipient(characterId: number, sessionEpoch: number, tokenGeneration = 0): TestRecipient {
  return {
    characterId,
    sessionId: `session-${String(sessionEpoch)}`,
    sessionEpoch,
    tokenGeneration,
    playing: true,
    frames: [],
    replacedTimes: 0,
    signedOutBy: [],
    releasedTimes: 0,
    send(frame) {
      this.frames.push(frame);
    },
    replaced() {
      this.replacedTimes += 1;
    },
    signedOut(notice) {
      this.signedOutBy.push(notice);
    },
    released() {
      this.releasedTimes += 1;
    },
  };
}

/** The bus delivers on a microtask: let it. */
const delivered = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function event(type: string, data: unknown): string {
  return JSON.stringify({ type, data, ts: 1 });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LocalFanout: two sessions of one character on this worker', () => {
  it('keeps the newer session whichever joins last, and only a newer announcement unseats it', async () => {
    const bus = new LocalBus();
    const fanout = new LocalFanout(bus, (error) => {
      throw error;
    });
    const older = recipient(7, 1);
    const newer = recipient(7, 2);

    // The newer session joins first; the older one, slower, joins after it and loses.
    expect(await fanout.join(newer, 'square')).toBe(true);
    expect(await fanout.join(older, 'square')).toBe(false);
    expect(older.replacedTimes).toBe(1);
    expect(newer.replacedTimes).toBe(0);

    // The older session's late announcement changes nothing; the newer one's own neither.
    await bus.publish(channels.player(7), event('session_replaced', { sessionId: older.sessionId, epoch: 1 }));
    await bus.publish(channels.player(7), event('session_replaced', { sessionId: newer.sessionId, epoch: 2 }));
    await delivered();
    expect(newer.replacedTimes).toBe(0);

    // Events of the location reach the session that stayed, once.
    await bus.publish(channels.location('square'), event('said', { text: 'hello' }));
    await delivered();
    expect(newer.frames).toHaveLength(1);
    expect(older.frames).toHaveLength(0);

    // A session taken later, elsewhere, unseats it.
    await bus.publish(channels.player(7), event('session_replaced', { sessionId: 'session-3', epoch: 3 }));
    await delivered();
    expect(newer.replacedTimes).toBe(1);
  });

  it('replaces the older session when the newer joins after it', async () => {
    const fanout = new LocalFanout(new LocalBus(), (error) => {
      throw error;
    });
    const older = recipient(8, 4);
    const newer = recipient(8, 5);
    expect(await fanout.join(older, 'square')).toBe(true);
    expect(await fanout.join(newer, 'square')).toBe(true);
    expect(older.replacedTimes).toBe(1);
    expect(newer.replacedTimes).toBe(0);
  });
});

describe('LocalFanout: a sign-out', () => {
  it('ends only a session whose token is older than the new generation, and is no frame', async () => {
    const bus = new LocalBus();
    const fanout = new LocalFanout(bus, (error) => {
      throw error;
    });
    const before = recipient(11, 1, 2);
    await fanout.join(before, 'square');
    await bus.publish(channels.player(11), event('signed_out', { reason: 'password_changed', generation: 3 }));
    await delivered();
    expect(before.signedOutBy).toEqual([{ reason: 'password_changed', generation: 3 }]);
    expect(before.frames).toEqual([]);

    // Logged in again with the new password before the notice arrived: stays.
    const after = recipient(11, 2, 3);
    await fanout.join(after, 'square');
    await bus.publish(channels.player(11), event('signed_out', { reason: 'password_changed', generation: 3 }));
    await delivered();
    expect(after.signedOutBy).toEqual([]);
  });
});

describe('LocalFanout: a location subscription under way', () => {
  it('keeps a second arrival waiting until the location is heard, as the first', async () => {
    const bus = new LocalBus();
    const subscribe = bus.subscribe.bind(bus);
    let confirm: () => void = () => undefined;
    vi.spyOn(bus, 'subscribe').mockImplementation(async (channel: string, handler: BusHandler) => {
      if (channel === channels.location('gate')) await new Promise<void>((resolve) => (confirm = resolve));
      return subscribe(channel, handler);
    });
    const fanout = new LocalFanout(bus, (error) => {
      throw error;
    });
    const placed: string[] = [];
    const first = fanout.place(recipient(1, 1), 'gate').then(() => placed.push('first'));
    const second = fanout.place(recipient(2, 1), 'gate').then(() => placed.push('second'));
    await delivered();
    expect(placed).toEqual([]);
    confirm();
    await Promise.all([first, second]);
    expect(placed.sort()).toEqual(['first', 'second']);
  });
});

describe('LocalFanout: a location subscription the bus refuses', () => {
  it('keeps one retry loop per location, however often players come and go meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bus = new LocalBus();
    let attempts = 0;
    vi.spyOn(bus, 'subscribe').mockImplementation((channel: string) => {
      if (channel === channels.location('gate')) attempts += 1;
      return Promise.reject(new Error('Connection is closed.'));
    });
    const fanout = new LocalFanout(bus, () => undefined, 500);
    for (let visit = 0; visit < 5; visit++) {
      const visitor = recipient(20 + visit, 1);
      await fanout.place(visitor, 'gate');
      fanout.leave(visitor);
    }
    await fanout.place(recipient(30, 1), 'gate');
    expect(attempts).toBe(6);
    await vi.advanceTimersByTimeAsync(500);
    expect(attempts).toBe(7);
    await vi.advanceTimersByTimeAsync(500);
    expect(attempts).toBe(8);
  });


  it('places the player anyway and subscribes again until it holds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bus = new LocalBus();
    let refusals = 2;
    const subscribe = bus.subscribe.bind(bus);
    vi.spyOn(bus, 'subscribe').mockImplementation((channel: string, handler: BusHandler) => {
      if (channel === channels.location('gate') && refusals > 0) {
        refusals -= 1;
        return Promise.reject(new Error('Connection is closed.'));
      }
      return subscribe(channel, handler);
    });
    const errors: unknown[] = [];
    const fanout = new LocalFanout(bus, (error) => errors.push(error), 500);
    const walker = recipient(9, 1);
    const arriving = recipient(10, 1);

    await fanout.join(walker, 'gate');
    await fanout.join(arriving, 'gate');
    expect(errors).toHaveLength(1);
    await bus.publish(channels.location('gate'), event('said', { text: 'lost while Redis was away' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(walker.frames).toEqual([]);

    await vi.advanceTimersByTimeAsync(500);
    expect(errors).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(500);
    await bus.publish(channels.location('gate'), event('said', { text: 'heard' }));
    await vi.advanceTimersByTimeAsync(0);
    // Told, once the subscription holds, that something was missed; then they hear again.
    for (const placed of [walker, arriving]) {
      expect(placed.frames.map((frame) => (JSON.parse(frame) as { type: string }).type)).toEqual(['events_missed', 'said']);
    }
  });
});
