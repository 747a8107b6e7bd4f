// This worker's index of its own sockets by location and by character. A worker subscribes to a
// location's channel only while it holds a player there, and delivers each message to its local
// recipients from this index: no store round trip per recipient.
import type { Bus } from '../adapters/bus/Bus.ts';
import type { SignedOut } from '../services/accounts.ts';
import { channels } from '../adapters/keys.ts';
import type { BusEvent } from './busEvents.ts';
import { eventFrame } from './protocol.ts';

export const EVENTS_MISSED = 'The server lost touch with the other servers for a moment, and what happened meanwhile did not reach you; look again to see where things stand.';

export interface Recipient {
  readonly characterId: number;
  readonly sessionId: string;
  /** Orders the sessions of one character: the higher epoch is the newer session (enterWorld). */
  readonly sessionEpoch: number;
  /** The generation of the token the session authenticated with (see services/accounts.ts). */
  readonly tokenGeneration: number;
  /** Authenticated and not ended: what a session audit looks at (gateway/sessionAudit.ts). */
  readonly playing: boolean;
  send(frame: string): void;
  /** Told when a newer session of the character took over (on any worker). */
  replaced(): void;
  /** Told when the account refused the session's token (a password change, a ban). */
  signedOut(notice: SignedOut): void;
  /** Told when the session no longer holds its character and nobody else does: the client must reconnect. */
  released(): void;
}

/** What a session that took a character publishes on the character's channel. */
export interface SessionTaken {
  sessionId: string;
  epoch: number;
}

export class LocalFanout {
  private readonly byLocation = new Map<string, Set<Recipient>>();
  private readonly locationOf = new Map<Recipient, string>();
  private readonly byCharacter = new Map<number, Recipient>();
  /** Locations whose refused subscription waits to be tried again: one retry loop each. */
  private readonly retrying = new Set<string>();
  /** Locations whose subscription is under way (see place). */
  private readonly subscribing = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: Bus,
    private readonly onError: (error: unknown) => void,
    /** How soon a refused location subscription is tried again. */
    private readonly retryMs = 500,
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

  /**
   * Registers a recipient for its character and location. Of two sessions of one character on
   * this worker, the newer (higher epoch) stays, whichever joined last: the other is replaced.
   * False when `recipient` itself was the older one.
   */
  async join(recipient: Recipient, locationId: string): Promise<boolean> {
    const previous = this.byCharacter.get(recipient.characterId);
    if (previous && previous !== recipient) {
      if (previous.sessionEpoch > recipient.sessionEpoch) {
        recipient.replaced();
        return false;
      }
      this.leaveLocation(previous);
      previous.replaced();
    }
    this.byCharacter.set(recipient.characterId, recipient);
    await this.bus.subscribe(channels.player(recipient.characterId), (message) => {
      this.onPlayerMessage(recipient.characterId, message);
    });
    await this.place(recipient, locationId);
    return true;
  }

  /**
   * Moves a recipient's entry to `locationId`, subscribing and unsubscribing channels as needed.
   * Never fails: the move it follows has happened. A subscription the bus refuses (Redis away) is
   * tried again until it holds or nobody here needs it; meanwhile other workers' events there are
   * missed, as during any Redis outage.
   */
  async place(recipient: Recipient, locationId: string): Promise<void> {
    if (this.locationOf.get(recipient) === locationId) return;
    this.leaveLocation(recipient);
    let here = this.byLocation.get(locationId);
    const first = !here;
    if (!here) this.byLocation.set(locationId, (here = new Set()));
    here.add(recipient);
    this.locationOf.set(recipient, locationId);
    if (first) {
      const listening = this.listen(locationId).finally(() => {
        if (this.subscribing.get(locationId) === listening) this.subscribing.delete(locationId);
      });
      this.subscribing.set(locationId, listening);
      await listening;
    } else {
      // A second arrival while the first one's subscription is under way waits for it too: its
      // view must not be read before this worker hears the location.
      await this.subscribing.get(locationId);
    }
  }

  /** `refused`: an earlier try failed, so those placed here meanwhile missed what happened. */
  private async listen(locationId: string, refused = false): Promise<void> {
    try {
      await this.bus.subscribe(channels.location(locationId), (message) => {
        this.deliver(this.byLocation.get(locationId) ?? [], message);
      });
      if (refused) this.missed(this.byLocation.get(locationId) ?? []);
    } catch (error) {
      this.onError(error);
      if (this.retrying.has(locationId)) return;
      this.retrying.add(locationId);
      setTimeout(() => {
        this.retrying.delete(locationId);
        if (this.byLocation.has(locationId)) void this.listen(locationId, true);
      }, this.retryMs).unref();
    }
  }

  /**
   * Tells recipients that events meant for them were lost while the bus was away (`events_missed`),
   * so that their clients look again; every playing one by default (after the bus reconnected).
   */
  missed(recipients: Iterable<Recipient> = this.byCharacter.values()): void {
    const frame = eventFrame('events_missed', { message: EVENTS_MISSED }, Date.now());
    for (const recipient of recipients) if (recipient.playing) recipient.send(frame);
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
      // An older session's late announcement must not unseat the newer one.
      const { epoch } = event.data as SessionTaken;
      if (epoch > recipient.sessionEpoch) recipient.replaced();
      return;
    }
    if (event.type === 'signed_out') {
      // A session that logged in since (with the new password) holds a token of the new generation.
      const notice = event.data as SignedOut;
      if (notice.generation > recipient.tokenGeneration) recipient.signedOut(notice);
      return;
    }
    recipient.send(eventFrame(event.type, event.data, event.ts));
  }
}
