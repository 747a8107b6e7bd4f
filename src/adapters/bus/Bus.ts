// Publish/subscribe between workers (DESIGN.md §6). Messages are strings serialised once by the
// publisher; each worker fans them out to its own sockets.

export type BusHandler = (message: string) => void;

export interface Bus {
  publish(channel: string, message: string): Promise<void>;
  /** At most one handler per channel per bus; subscribing again replaces it. */
  subscribe(channel: string, handler: BusHandler): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /**
   * Calls `listener` each time the bus listens again after losing its connection (subscribed to
   * all its channels again): whatever was published meanwhile was missed.
   */
  onReconnect(listener: () => void): void;
  close(): Promise<void>;
}
