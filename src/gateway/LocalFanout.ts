// This worker's index of its own sockets by location and by character. A worker subscribes to a
// location's channel only while it holds a player there, and delivers each message to its local
// recipients from this index: no store round trip per recipient.
import type { Bus } from '../adapters/bus/Bus.ts';
import { channels } from '../adapters/keys.ts';
import type { BusEvent } from './busEvents.ts';
import { eventFrame } from './protocol.ts';

export interface Recipient {
  readonly characterId: number;
  readonly sessionId: string;
  send(frame: string): void;
  /** Told when the character connected elsewhere (on any worker). */
  replaced(bySessionId: string): void;
}

export class LocalFanout {
  private readonly byLocation = new Map<string, Set<Recipient>>();
  private readonly locationOf = new Map<Recipient, string>();
  private readonly byCharacter = new Map<number, Recipient>();

  constructor(
    private readonly bus: Bus,
    private readonly onError: (error: unknown) => void,
  ) {}

  async start(): Promise<void> {
    await this.bus.subscribe(channels.broadcast(), (message) => {
      this.deliver(this.byCharacter.values(), message);
    });
  }

  get size(): number {
    return this.byCharacter.size;
  }

  recipients(): Recipient[] {
    return [...this.byCharacter.values()];
  }

  async join(recipient: Recipient, locationId: string): Promise<void> {
    const previous = this.byCharacter.get(recipient.characterId);
    if (previous && previous !== recipient) {
      this.leaveLocation(previous);
      previous.replaced(recipient.sessionId);
    }
    this.byCharacter.set(recipient.characterId, recipient);
    await this.bus.subscribe(channels.player(recipient.characterId), (message) => {
      this.onPlayerMessage(recipient.characterId, message);
    });
    await this.place(recipient, locationId);
  }

  /** Moves a recipient's entry to `locationId`, subscribing and unsubscribing channels as needed. */
  async place(recipient: Recipient, locationId: string): Promise<void> {
    if (this.locationOf.get(recipient) === locationId) return;
    this.leaveLocation(recipient);
    let here = this.byLocation.get(locationId);
    if (!here) {
      this.byLocation.set(locationId, (here = new Set()));
      await this.bus.subscribe(channels.location(locationId), (message) => {
        this.deliver(this.byLocation.get(locationId) ?? [], message);
      });
    }
    here.add(recipient);
    this.locationOf.set(recipient, locationId);
  }

  leave(recipient: Recipient): void {
    this.leaveLocation(recipient);
    if (this.byCharacter.get(recipient.characterId) === recipient) {
      this.byCharacter.delete(recipient.characterId);
      this.bus.unsubscribe(channels.player(recipient.characterId)).catch(this.onError);
    }
  }

  private leaveLocation(recipient: Recipient): void {
    const locationId = this.locationOf.get(recipient);
    if (locationId === undefined) return;
    this.locationOf.delete(recipient);
    const here = this.byLocation.get(locationId);
    here?.delete(recipient);
    if (here?.size === 0) {
      this.byLocation.delete(locationId);
      this.bus.unsubscribe(channels.location(locationId)).catch(this.onError);
    }
  }

  private deliver(recipients: Iterable<Recipient>, message: string): void {
    const event = JSON.parse(message) as BusEvent;
    const frame = eventFrame(event.type, event.data, event.ts);
    for (const recipient of recipients) {
      if (recipient.characterId !== event.except) recipient.send(frame);
    }
  }

  private onPlayerMessage(characterId: number, message: string): void {
    const recipient = this.byCharacter.get(characterId);
    if (!recipient) return;
    const event = JSON.parse(message) as BusEvent;
    if (event.type === 'session_replaced') {
      const { sessionId } = event.data as { sessionId: string };
      if (sessionId !== recipient.sessionId) recipient.replaced(sessionId);
      return;
    }
    recipient.send(eventFrame(event.type, event.data, event.ts));
  }
}
