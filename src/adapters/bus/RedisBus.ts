// The bus between workers on Redis pub/sub (DESIGN.md §6). A connection in subscriber mode can
// only subscribe, so publishing has its own; ioredis subscribes the subscriber again by itself
// after a reconnect (autoResubscribe), and the contract suite checks that it does.
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

/** How soon a re-subscription is confirmed again when Redis did not answer the ping. */
const PING_RETRY_MS = 500;

export class RedisBus implements Bus {
  private readonly handlers = new Map<string, BusHandler>();

  /** The bus owns both clients: close() quits them. `subscriber` must not be used for anything else. */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    onHandlerError: (error: unknown, channel: string) => void = rethrowLater,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const handler = this.handlers.get(channel);
      if (!handler) return;
      try {
        handler(message);
      } catch (error) {
        onHandlerError(error, channel);
      }
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
    const subscribed = this.handlers.has(channel);
    this.handlers.set(channel, handler);
    if (subscribed) return;
    try {
      await this.subscriber.subscribe(channel);
    } catch (error) {
      if (this.handlers.get(channel) === handler) this.handlers.delete(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.handlers.delete(channel)) return;
    await this.subscriber.unsubscribe(channel);
  }

  onReconnect(listener: () => void): void {
    const confirm = (): void => {
      this.subscriber.ping().then(listener, () => {
        // Refused or timed out on a live connection (a busy Redis): ask again shortly. Lost
        // again: a 'ready' follows.
        if (this.subscriber.status === 'ready') setTimeout(confirm, PING_RETRY_MS).unref();
      });
    };
    this.subscriber.on('ready', () => {
      // 'ready' comes just before ioredis subscribes again; a ping sent after those commands is
      // answered after them, once every channel is listened to again.
      void Promise.resolve().then(confirm);
    });
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.publisher)]);
  }
}
