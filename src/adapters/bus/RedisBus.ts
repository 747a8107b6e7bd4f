// The bus between workers on Redis pub/sub (DESIGN.md §6). A connection in subscriber mode can
// only subscribe, so publishing has its own. The bus keeps the list of channels it wants and
// subscribes the subscriber again itself after a reconnect: ioredis's own resubscription
// (autoResubscribe) sends its SUBSCRIBE with nothing to catch a failure, which would kill the
// process, and forgets the channels it failed.
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, openRedis, type RedisConnectionOptions } from '../hot/RedisHotStore.ts';
import type { Bus, BusHandler } from './Bus.ts';

export interface RedisBusOptions extends RedisConnectionOptions {
  /** A handler threw. By default the error is rethrown outside ioredis, as LocalBus would. */
  onHandlerError?: (error: unknown, channel: string) => void;
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** How soon a refused resubscription after a reconnect is tried again, while connected. */
const RESUBSCRIBE_RETRY_MS = 500;

export class RedisBus implements Bus {
  /**
   * The channels this bus wants, each with its handler in an entry of its own: a SUBSCRIBE counts
   * only if its entry is still the channel's when answered (an unsubscribe, and any later
   * subscribe, replace it). Nothing is kept for a channel no longer wanted.
   */
  private readonly handlers = new Map<string, { handler: BusHandler }>();
  /** Channels Redis has confirmed on the subscriber's current connection. */
  private readonly listening = new Set<string>();
  /** A SUBSCRIBE under way per channel: a second subscribe waits for it instead of trusting it. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly reconnectListeners: (() => void)[] = [];
  /** Bumped by each lost connection: a resubscription retry scheduled on an older one is dropped. */
  private connection = 0;
  private closed = false;

  /** The bus owns both clients: close() quits them. `subscriber` must not be used for anything else. */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly onHandlerError: (error: unknown, channel: string) => void = rethrowLater,
  ) {
    subscriber.options.autoResubscribe = false;
    subscriber.on('message', (channel: string, message: string) => {
      const wanted = this.handlers.get(channel);
      if (!wanted) return;
      try {
        wanted.handler(message);
      } catch (error) {
        onHandlerError(error, channel);
      }
    });
    subscriber.on('close', () => {
      this.connection += 1;
      this.listening.clear();
      this.pending.clear();
    });
    // The first 'ready' came before the bus existed: each one from here on is a reconnect.
    subscriber.on('ready', () => {
      void this.listenAgain();
    });
  }

  static async connect(url: string, options: RedisBusOptions = {}): Promise<RedisBus> {
    const publisher = await connectRedis(url, options);
    try {
      const subscriber = await openRedis(publisher.duplicate(), options.onError);
      return new RedisBus(publisher, subscriber, options.onHandlerError);
    } catch (error) {
      await closeRedis(publisher);
      throw error;
    }
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.publisher.publish(channel, message);
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    let entry = this.handlers.get(channel);
    if (entry?.handler !== handler) this.handlers.set(channel, (entry = { handler }));
    // Refused (Redis away, or slow): the handler stays wanted, so the next reconnect subscribes
    // it, and the caller may try again meanwhile.
    for (;;) {
      if (this.listening.has(channel) || this.handlers.get(channel) !== entry) return;
      const pending = this.pending.get(channel);
      if (pending === undefined) break;
      await pending;
    }
    const attempt = this.subscriber.subscribe(channel).then(() => {
      if (this.handlers.get(channel) === entry) this.listening.add(channel);
    });
    this.pending.set(channel, attempt);
    try {
      await attempt;
    } finally {
      if (this.pending.get(channel) === attempt) this.pending.delete(channel);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.handlers.delete(channel)) return;
    this.listening.delete(channel);
    this.pending.delete(channel);
    // Refused while the connection is down: nothing to undo, the reconnect subscribes only what is wanted.
    await this.subscriber.unsubscribe(channel);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  // Read through a method: TypeScript would otherwise keep the narrowing of `closed` across awaits.
  private isClosed(): boolean {
    return this.closed;
  }

  /** After a reconnect: every wanted channel at once, then the listeners (what was published meanwhile was missed). */
  private async listenAgain(): Promise<void> {
    if (this.closed) return;
    const connection = this.connection;
    const wanted = [...this.handlers];
    const channels = wanted.map(([channel]) => channel);
    try {
      if (channels.length > 0) await this.subscriber.subscribe(...channels);
    } catch {
      // Redis too slow to answer: ask again shortly, on this connection only (a lost one brings
      // its own 'ready').
      setTimeout(() => {
        if (this.connection === connection && this.subscriber.status === 'ready') void this.listenAgain();
      }, RESUBSCRIBE_RETRY_MS).unref();
      return;
    }
    if (this.isClosed() || this.connection !== connection) return;
    for (const [channel, entry] of wanted) if (this.handlers.get(channel) === entry) this.listening.add(channel);
    for (const listener of this.reconnectListeners) {
      try {
        listener();
      } catch (error) {
        this.onHandlerError(error, 'reconnect');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handlers.clear();
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.publisher)]);
  }
}
