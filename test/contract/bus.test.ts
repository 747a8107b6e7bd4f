// The Bus contract against LocalBus and RedisBus (DESIGN.md §6), plus what only Redis can show:
// a subscriber that lost its connection is subscribed again when it comes back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/adapters/bus/Bus.ts';
import { LocalBus } from '../../src/adapters/bus/LocalBus.ts';
import { RedisBus } from '../../src/adapters/bus/RedisBus.ts';
import { connectRedis, openRedis } from '../../src/adapters/hot/RedisHotStore.ts';

const REDIS_URL = process.env.REDIS_URL;
if (!REDIS_URL) throw new Error('REDIS_URL is not set: the contract tests need a real Redis (test/setup/services.ts starts one).');
const redisUrl: string = REDIS_URL;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; a bounded wait, never a fixed sleep standing in for an event. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function inbox() {
  const messages: string[] = [];
  return { messages, handler: (message: string) => messages.push(message) };
}

interface BusFixture {
  /**
   * `count` buses as separate workers would hold them. One process has one LocalBus, so every
   * "worker" of the local fixture is that same bus.
   */
  workers(count: number): Promise<Bus[]>;
  close(): Promise<void>;
}

const implementations: readonly (readonly [string, () => BusFixture])[] = [
  [
    'LocalBus',
    () => {
      const bus = new LocalBus();
      return {
        workers: (count) => Promise.resolve(Array.from({ length: count }, (): Bus => bus)),
        close: () => bus.close(),
      };
    },
  ],
  [
    'RedisBus',
    () => {
      const opened: Bus[] = [];
      return {
        workers: async (count) => {
          const buses = await Promise.all(Array.from({ length: count }, () => RedisBus.connect(redisUrl)));
          opened.push(...buses);
          return buses;
        },
        close: async () => {
          await Promise.all(opened.map((bus) => bus.close()));
        },
      };
    },
  ],
];

let channelRuns = 0;

for (const [name, makeFixture] of implementations) {
  describe(`Bus contract: ${name}`, () => {
    let fixture: BusFixture;
    let channel: (name: string) => string;

    beforeEach(() => {
      fixture = makeFixture();
      channelRuns += 1;
      const prefix = `contract-bus:${String(process.pid)}-${String(channelRuns)}-${String(Date.now())}`;
      channel = (suffix) => `${prefix}:${suffix}`;
    });

    afterEach(async () => {
      await fixture.close();
    });

    it('delivers a published message to the subscriber of its channel only', async () => {
      const [bus] = await fixture.workers(1);
      if (!bus) throw new Error('no bus');
      const here = inbox();
      const elsewhere = inbox();
      await bus.subscribe(channel('here'), here.handler);
      await bus.subscribe(channel('elsewhere'), elsewhere.handler);
      await bus.publish(channel('here'), 'hello');
      await bus.publish(channel('elsewhere'), 'end');
      await eventually(() => elsewhere.messages.length === 1, 'the message after it');
      expect(here.messages).toEqual(['hello']);
      expect(elsewhere.messages).toEqual(['end']);
    });

    it('replaces the handler of a channel subscribed again', async () => {
      const [bus] = await fixture.workers(1);
      if (!bus) throw new Error('no bus');
      const first = inbox();
      const second = inbox();
      await bus.subscribe(channel('c'), first.handler);
      await bus.subscribe(channel('c'), second.handler);
      await bus.publish(channel('c'), 'one');
      await bus.publish(channel('c'), 'two');
      await eventually(() => second.messages.length === 2, 'both messages');
      expect(second.messages).toEqual(['one', 'two']);
      expect(first.messages).toEqual([]);
    });

    it('delivers nothing more after unsubscribe, and again after a new subscribe', async () => {
      const [bus] = await fixture.workers(1);
      if (!bus) throw new Error('no bus');
      const gone = inbox();
      const marker = inbox();
      await bus.subscribe(channel('c'), gone.handler);
      await bus.subscribe(channel('marker'), marker.handler);
      await bus.unsubscribe(channel('c'));
      await bus.unsubscribe(channel('never-subscribed'));
      await bus.publish(channel('c'), 'lost');
      await bus.publish(channel('marker'), 'after');
      await eventually(() => marker.messages.length === 1, 'the marker');
      expect(gone.messages).toEqual([]);
      const back = inbox();
      await bus.subscribe(channel('c'), back.handler);
      await bus.publish(channel('c'), 'found');
      await eventually(() => back.messages.length === 1, 'the message after subscribing again');
      expect(back.messages).toEqual(['found']);
      expect(gone.messages).toEqual([]);
    });

    it('hears a channel subscribed again after an unsubscribe sent before the first subscribe was answered', async () => {
      const [bus] = await fixture.workers(1);
      if (!bus) throw new Error('no bus');
      const first = inbox();
      // The first SUBSCRIBE is answered after the UNSUBSCRIBE was sent: that answer must not
      // count as listening, or the next subscribe would trust it and send nothing.
      await Promise.all([bus.subscribe(channel('c'), first.handler), bus.unsubscribe(channel('c'))]);
      const again = inbox();
      await bus.subscribe(channel('c'), again.handler);
      await bus.publish(channel('c'), 'heard');
      await eventually(() => again.messages.length === 1, 'the message after subscribing again');
      expect(first.messages).toEqual([]);
    });

    it("delivers a message published by one worker to another worker's subscriber exactly once", async () => {
      const [publisher, subscriber] = await fixture.workers(2);
      if (!publisher || !subscriber) throw new Error('no buses');
      const received = inbox();
      await subscriber.subscribe(channel('c'), received.handler);
      await publisher.publish(channel('c'), 'once');
      await publisher.publish(channel('c'), 'end');
      // Ordering per publisher: once 'end' is in, any copy of 'once' would be in as well.
      await eventually(() => received.messages.includes('end'), 'the closing message');
      expect(received.messages).toEqual(['once', 'end']);
    });

    it('keeps the order of one publisher over 1,000 messages', async () => {
      const [publisher, subscriber] = await fixture.workers(2);
      if (!publisher || !subscriber) throw new Error('no buses');
      const received = inbox();
      await subscriber.subscribe(channel('c'), received.handler);
      const sent = Array.from({ length: 1_000 }, (_, i) => `message ${String(i)}`);
      await Promise.all(sent.map((message) => publisher.publish(channel('c'), message)));
      await eventually(() => received.messages.length >= sent.length, 'all 1,000 messages', 10_000);
      expect(received.messages).toEqual(sent);
    });
  });
}

describe('RedisBus across a lost connection', () => {
  const toClose: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((closable) => closable.close()));
  });

  /** A bus whose subscriber connection the test can cut (CLIENT KILL ID), and a connection to do it with. */
  async function busAndAdmin() {
    const publisher = await connectRedis(redisUrl);
    const subscriber = await openRedis(publisher.duplicate());
    const subscriberId = String(await subscriber.call('CLIENT', 'ID'));
    const bus = new RedisBus(publisher, subscriber);
    toClose.push(bus);
    const admin = await connectRedis(redisUrl);
    toClose.push({ close: () => admin.quit() });
    return { bus, subscriber, subscriberId, admin };
  }

  it('subscribes again by itself once its subscriber connection is back', async () => {
    const { bus, subscriber, subscriberId, admin } = await busAndAdmin();
    const ch = `reconnect:${String(process.pid)}-${String(Date.now())}`;
    const received = inbox();
    await bus.subscribe(ch, received.handler);

    await admin.call('CLIENT', 'KILL', 'ID', subscriberId);
    await eventually(() => subscriber.status !== 'ready', 'the subscriber to notice the kill');
    // Until the subscription is back, messages go nowhere: keep publishing until one arrives.
    for (let attempt = 1; received.messages.length === 0; attempt += 1) {
      if (attempt > 100) throw new Error('no message after the reconnect');
      await admin.publish(ch, `ping ${String(attempt)}`);
      await eventually(() => received.messages.length > 0, 'a message', 100).catch(() => undefined);
    }
    expect(received.messages[0]).toMatch(/^ping \d+$/);
    expect(subscriber.status).toBe('ready');
  });

  it('says when it listens again, every channel subscribed by then, and only after a lost connection', async () => {
    const { bus, subscriberId, admin } = await busAndAdmin();
    const channels = Array.from({ length: 50 }, (_, index) => `again:${String(process.pid)}-${String(Date.now())}-${String(index)}`);
    const received = inbox();
    for (const ch of channels) await bus.subscribe(ch, received.handler);
    let reconnects = 0;
    const published: Promise<number>[] = [];
    bus.onReconnect(() => {
      reconnects += 1;
      // At this moment every channel must be listened to again: nothing published now is lost.
      for (const ch of channels) published.push(admin.publish(ch, ch));
    });
    await admin.publish(channels[0] ?? '', 'before');
    await eventually(() => received.messages.length === 1, 'the first message');
    expect(reconnects).toBe(0);

    await admin.call('CLIENT', 'KILL', 'ID', subscriberId);
    await eventually(() => reconnects === 1, 'the bus to say it listens again');
    expect(await Promise.all(published)).toEqual(channels.map(() => 1));
    await eventually(() => received.messages.length === 1 + channels.length, 'every message published then');
    expect(received.messages.slice(1).sort()).toEqual([...channels].sort());
  });

  it('survives a resubscription Redis refuses after a reconnect, and subscribes again until it holds', async () => {
    const { bus, subscriber, subscriberId, admin } = await busAndAdmin();
    const ch = `refused:${String(process.pid)}-${String(Date.now())}`;
    const received = inbox();
    await bus.subscribe(ch, received.handler);
    let reconnects = 0;
    bus.onReconnect(() => (reconnects += 1));
    // The first SUBSCRIBE after the reconnect fails, as one that times out on a busy Redis does.
    const subscribe = subscriber.subscribe.bind(subscriber);
    let refused = 0;
    subscriber.subscribe = ((...args: Parameters<typeof subscriber.subscribe>) => {
      if (refused++ === 0) return Promise.reject(new Error('Command timed out'));
      return subscribe(...args);
    }) as typeof subscriber.subscribe;

    await admin.call('CLIENT', 'KILL', 'ID', subscriberId);
    await eventually(() => reconnects === 1, 'the bus to listen again after the refusal');
    expect(refused).toBe(2);
    await admin.publish(ch, 'after');
    await eventually(() => received.messages.length === 1, 'the message after the reconnect');
    expect(received.messages).toEqual(['after']);
  });

  it('never takes a subscribe still under way for a subscription: when it fails, the next one subscribes', async () => {
    const { bus, subscriber, admin } = await busAndAdmin();
    const ch = `racing:${String(process.pid)}-${String(Date.now())}`;
    const subscribe = subscriber.subscribe.bind(subscriber);
    let fail: (error: Error) => void = () => undefined;
    subscriber.subscribe = () => {
      subscriber.subscribe = subscribe;
      return new Promise<number>((_resolve, reject) => (fail = reject));
    };
    const first = inbox();
    const second = inbox();
    const firstSubscribe = bus.subscribe(ch, first.handler);
    const secondSubscribe = bus.subscribe(ch, second.handler);
    fail(new Error('Connection is closed.'));
    await expect(firstSubscribe).rejects.toThrow('Connection is closed.');
    await expect(secondSubscribe).rejects.toThrow('Connection is closed.');
    // The caller tries again (LocalFanout does): this time Redis listens.
    await bus.subscribe(ch, second.handler);
    await admin.publish(ch, 'heard');
    await eventually(() => second.messages.length === 1, 'the message');
  });

  it('keeps delivering after a handler throws, reporting the error', async () => {
    const publisher = await connectRedis(redisUrl);
    const subscriber = await openRedis(publisher.duplicate());
    const errors: unknown[] = [];
    const bus = new RedisBus(publisher, subscriber, (error) => errors.push(error));
    toClose.push(bus);
    const ch = `throwing:${String(process.pid)}-${String(Date.now())}`;
    const received: string[] = [];
    await bus.subscribe(ch, (message) => {
      received.push(message);
      if (message === 'bad') throw new Error('handler failed');
    });
    await bus.publish(ch, 'bad');
    await bus.publish(ch, 'good');
    await eventually(() => received.length === 2, 'both messages');
    expect(received).toEqual(['bad', 'good']);
    expect(errors).toEqual([new Error('handler failed')]);
  });
});
