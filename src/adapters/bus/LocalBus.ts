// In-process bus for embedded mode. Delivery is deferred to a microtask so that publishers
// observe the same ordering and asynchrony as with Redis pub/sub.
import type { Bus, BusHandler } from './Bus.ts';

export class LocalBus implements Bus {
  private readonly handlers = new Map<string, BusHandler>();

  publish(channel: string, message: string): Promise<void> {
    queueMicrotask(() => this.handlers.get(channel)?.(message));
    return Promise.resolve();
  }

  subscribe(channel: string, handler: BusHandler): Promise<void> {
    this.handlers.set(channel, handler);
    return Promise.resolve();
  }

  unsubscribe(channel: string): Promise<void> {
    this.handlers.delete(channel);
    return Promise.resolve();
  }

  /** In one process nothing is ever missed. */
  onReconnect(): void {
    // Never called.
  }

  close(): Promise<void> {
    this.handlers.clear();
    return Promise.resolve();
  }
}
