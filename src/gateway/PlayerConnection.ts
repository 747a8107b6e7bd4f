// One client socket: parses and validates frames, authenticates, applies the client's actions
// strictly in order, and answers each with `ok` or `error` echoing its sequence number.
import { randomUUID } from 'node:crypto';
import type { RawData } from 'ws';
import type { StoreFailure } from '../adapters/Adapters.ts';
import type { Log } from '../log.ts';
import type { TokenIssuer } from '../auth/tokens.ts';
import { GameError, TOKEN_REVOKED } from '../errors.ts';
import type { ActionSession, GameContext } from '../services/context.ts';
import type { Session } from '../state/GameStateManager.ts';
import { look } from '../services/movement.ts';
import { connect, disconnect, sessionEpoch } from '../services/presence.ts';
import { removeIfDeleted, signedOutMessage, tokenRevoked, type SignedOut } from '../services/accounts.ts';
import { actions } from './actions.ts';
import type { LocalFanout, Recipient } from './LocalFanout.ts';
import { errorFrame, eventFrame, isFault, okFrame, readClientFrame, type ClientAction } from './protocol.ts';
import { TokenBucket } from './TokenBucket.ts';
import { toClientError } from './clientError.ts';

export interface ConnectionDeps {
  ctx: GameContext;
  fanout: LocalFanout;
  tokens: TokenIssuer;
  workerId: string;
  log: Log;
  maxMessageBytes: number;
  actionBurst: number;
  actionsPerSecond: number;
  /** Actions waiting their turn beyond this are refused, so a flooding client cannot grow memory. */
  maxQueued: number;
  /** Bytes waiting to be written to a socket beyond which its client counts as not reading, and is dropped. */
  maxSendBuffer: number;
  authAttempts: { limit: number; windowMs: number };
  /** A connection still anonymous this long after it opened is closed (CLOSE_AUTH_TIMEOUT). 0: never. */
  authTimeoutMs: number;
  isShuttingDown: () => boolean;
  failureOf: (error: unknown) => StoreFailure;
  /** The action budget's clock: monotonic (performance.now) unless a test holds it still. */
  actionClock?: () => number;
  /** Waits between tries to record a disconnect (DISCONNECT_RETRY unless a test makes them short). */
  disconnectRetry?: RetryWaits;
}

/** The nth retry waits n × firstMs, at most maxMs. */
export interface RetryWaits {
  firstMs: number;
  maxMs: number;
}

/** What the connection needs of a socket (a `ws` WebSocket in production). */
export interface ClientSocket {
  readonly readyState: number;
  /** Bytes queued by send() and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  send(frame: string): void;
  close(code: number, reason: string): void;
  /** A WebSocket ping: a live client answers with a pong by itself. */
  ping(): void;
  /** Drops the connection at once, without a closing handshake. */
  terminate(): void;
  on(event: 'message', listener: (raw: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close' | 'pong', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

const OPEN = 1;

/** Replaced by a newer session: an application close code (4000–4999). */
export const CLOSE_REPLACED = 4001;
/** This worker was taken for dead and its players released: the client must reconnect. */
export const CLOSE_RELEASED = 4002;
/** Not authenticated within CINDER_AUTH_TIMEOUT_MS of opening: an idle anonymous socket only holds a descriptor. */
export const CLOSE_AUTH_TIMEOUT = 4003;
/** The account refused the session's token (a password change, a ban): the client must log in again. */
export const CLOSE_SIGNED_OUT = 4004;
/** Between two tries to record a disconnect while a store is unreachable: 1 s more each time, at most 30 s. */
const DISCONNECT_RETRY: RetryWaits = { firstMs: 1000, maxMs: 30_000 };
/** More events than an auth's few reads can see go by; beyond it the oldest are dropped (the view has them). */
const MAX_HELD_EVENTS = 1000;

/** WebSocket's standard "going away". */
export const CLOSE_SHUTDOWN = 1001;

export class PlayerConnection implements Recipient {
  /** A new one for each auth: what a failed auth leaves to clean up can never touch the next one's session. */
  sessionId = randomUUID();
  characterId = 0;
  sessionEpoch = 0;
  tokenGeneration = 0;
  private state: 'anonymous' | 'authenticating' | 'playing' | 'replaced' | 'closed' = 'anonymous';
  /** Set when the socket closes: actions still queued are dropped, not applied. */
  private gone = false;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** False from a liveness ping until the client's pong. */
  private answered = true;
  private readonly bucket: TokenBucket;
  private readonly authDeadline: NodeJS.Timeout | undefined;
  private authOverdue = false;
  /** Heard while authenticating: the auth must not finish. */
  private signedOutWhileAuthenticating = false;
  /** Events heard while authenticating (see send); null otherwise. */
  private held: string[] | null = null;

  constructor(
    private readonly socket: ClientSocket,
    private readonly deps: ConnectionDeps,
    private readonly remoteAddress: string,
  ) {
    this.bucket = new TokenBucket(deps.actionBurst, deps.actionsPerSecond, deps.actionClock);
    if (deps.authTimeoutMs > 0) {
      this.authDeadline = setTimeout(() => {
        this.authOverdue = true;
        this.closeIfOverdue();
      }, deps.authTimeoutMs).unref();
    }
    socket.on('message', (raw, isBinary) => {
      this.receive(raw, isBinary);
    });
    socket.on('close', () => {
      this.closed();
    });
    socket.on('error', (error) => {
      deps.log.debug({ err: error }, 'socket error');
    });
    socket.on('pong', () => {
      this.answered = true;
    });
  }

  get playing(): boolean {
    return this.state === 'playing';
  }

  /**
   * An event for this client (see Recipient). Held while an auth is under way: sent after its
   * reply when it succeeds, dropped when it fails, so that only an authenticated client hears the
   * game, and hears it after the view it draws.
   */
  send(frame: string): void {
    // Replaced: what it still answers is for the actions it had queued, not the game.
    if (this.state === 'replaced') return;
    if (this.held) {
      // The newest matter: the oldest happened before the view was read, which shows them.
      if (this.held.length >= MAX_HELD_EVENTS) this.held.shift();
      this.held.push(frame);
      return;
    }
    this.write(frame);
  }

  private write(frame: string): void {
    if (this.socket.readyState !== OPEN) return;
    // A client that stops reading would otherwise make the worker hold all it is sent. It is
    // dropped without a close frame, which would only wait behind what it does not read.
    if (this.socket.bufferedAmount > this.deps.maxSendBuffer) {
      this.deps.log.info({ characterId: this.characterId, buffered: this.socket.bufferedAmount }, 'client not reading; dropping it');
      this.socket.terminate();
      return;
    }
    this.socket.send(frame);
  }

  /**
   * Called every liveness interval: a client that has not answered the previous ping is gone
   * (a network that dropped without closing) and is dropped, which disconnects its character.
   * `judge` false only pings again: when this worker itself stalled, a pong may be waiting unread.
   */
  probe(judge: boolean): void {
    if (this.socket.readyState !== OPEN) return;
    if (judge && !this.answered) {
      this.deps.log.debug({ characterId: this.characterId }, 'client did not answer a ping; dropping it');
      this.socket.terminate();
      return;
    }
    this.answered = false;
    this.socket.ping();
  }

  replaced(): void {
    // Actions still queued here must not act on the character the new session now owns; an auth
    // still under way must not finish.
    if (this.state !== 'playing' && this.state !== 'authenticating') return;
    this.state = 'replaced';
    this.write(eventFrame('session_replaced', { code: 'E_SESSION_REPLACED', message: new GameError('E_SESSION_REPLACED').message }, Date.now()));
    // Closed once what is queued has been answered (E_SESSION_REPLACED, an auth under way too),
    // so that the client learns what became of each action it sent, those that reach the server
    // while the queue drains included (see receive).
    void this.queue.then(() => {
      this.closeIfReplacedAndDrained();
    });
  }

  private closeIfReplacedAndDrained(): void {
    if (this.state === 'replaced' && this.queued === 0) this.socket.close(CLOSE_REPLACED, 'session replaced');
  }

  /**
   * Other workers took this one for dead (it stalled) and released its players: this session no
   * longer owns its character. Queued actions are dropped; the client's reconnect enters anew.
   */
  released(): void {
    // A socket not playing (anonymous again after a failed auth, or leaving) holds no character.
    if (this.state !== 'playing' && this.state !== 'authenticating') return;
    this.gone = true;
    this.write(eventFrame('session_released', { code: 'E_SESSION_RELEASED', message: new GameError('E_SESSION_RELEASED').message }, Date.now()));
    this.socket.close(CLOSE_RELEASED, 'session released; reconnect');
  }

  /**
   * The account refused this session's token. Queued actions are dropped; the character is left
   * as at any disconnect, and the client learns why before the close.
   */
  signedOut(notice: SignedOut): void {
    if (this.state === 'authenticating') this.signedOutWhileAuthenticating = true;
    if (this.state !== 'playing') return;
    this.gone = true;
    this.write(eventFrame('signed_out', { code: 'E_SIGNED_OUT', message: signedOutMessage(notice.reason), reason: notice.reason }, Date.now()));
    this.socket.close(CLOSE_SIGNED_OUT, 'signed out');
  }

  /** Waits for queued actions, then leaves the world (synced) and closes. Used at shutdown. */
  async shutdown(): Promise<void> {
    this.write(eventFrame('server_shutdown', { message: 'The server is shutting down; your progress is saved.' }, Date.now()));
    await this.queue;
    await this.leave();
    this.socket.close(CLOSE_SHUTDOWN, 'server shutting down');
  }

  private receive(raw: RawData, isBinary: boolean): void {
    const message = readClientFrame(raw, isBinary, this.deps.maxMessageBytes);
    if (isFault(message)) {
      // Charged like an action, so that a flood of junk is limited like a flood of actions.
      if (!this.bucket.take()) this.write(errorFrame(message.seq, 'E_RATE_LIMITED', 'Too many actions; slow down.'));
      else this.write(errorFrame(message.seq, message.code, message.message));
      return;
    }
    if (this.deps.isShuttingDown()) {
      this.write(errorFrame(message.seq, 'E_SHUTTING_DOWN', 'The server is shutting down.'));
      return;
    }
    if (!this.bucket.take() || this.queued >= this.deps.maxQueued) {
      this.write(errorFrame(message.seq, 'E_RATE_LIMITED', 'Too many actions; slow down.'));
      return;
    }
    this.queued++;
    this.queue = this.queue.then(async () => {
      await this.handle(message);
      this.queued--;
      this.closeIfReplacedAndDrained();
    });
  }

  private async handle(action: ClientAction): Promise<void> {
    if (this.gone) return;
    try {
      this.write(okFrame(action.seq, await this.perform(action)));
      this.releaseHeld();
    } catch (error) {
      const { code, message } = toClientError(error, this.deps.log, this.deps.failureOf);
      this.write(errorFrame(action.seq, code, message));
      // What a failed action's move let in (see ActionSession): after its answer.
      if (this.state === 'playing') this.releaseHeld();
      // The character is another session's, or nobody's: end this one as its notice would have.
      if (code === 'E_SESSION_REPLACED') this.replaced();
      else if (code === 'E_SESSION_RELEASED') this.released();
    }
    // An auth still under way at the deadline may finish; one that failed leaves the socket anonymous.
    this.closeIfOverdue();
  }

  private closeIfOverdue(): void {
    if (this.authOverdue && this.state === 'anonymous') this.socket.close(CLOSE_AUTH_TIMEOUT, 'authentication timeout');
  }

  private async perform(action: ClientAction): Promise<unknown> {
    const { ctx, fanout } = this.deps;
    if (action.type === 'ping') return { pong: true };
    if (action.type === 'auth') {
      if (this.state !== 'anonymous') throw new GameError('E_ALREADY_AUTHENTICATED');
      this.state = 'authenticating';
      // What an earlier, failed auth on this socket heard is not about this one's token.
      this.signedOutWhileAuthenticating = false;
      this.sessionId = randomUUID();
      this.held = [];
      let taking = false;
      let attempt: { count: number; giveBack: () => Promise<void> } | undefined;
      try {
        // Only refused tokens stay counted: a wave of players reconnecting at once from behind one
        // address (after a worker crash or a release) must not lock the later ones out.
        const { limit, windowMs } = this.deps.authAttempts;
        attempt = await ctx.gsm.reserveAttempt('ws-auth', this.remoteAddress, windowMs);
        if (attempt.count > limit) throw new GameError('E_RATE_LIMITED', 'Too many authentication attempts; wait a minute.');
        const claims = await this.deps.tokens.verify(action.data.token);
        // Before taking the character: a revoked token must not even unseat its current session.
        if (await tokenRevoked(ctx, claims.characterId, claims.generation)) throw new GameError('E_BAD_TOKEN', TOKEN_REVOKED);
        this.characterId = claims.characterId;
        this.tokenGeneration = claims.generation;
        // From here the character may be taken for this session, even if connect then fails half-way.
        taking = true;
        const { epoch, locationId } = await connect(ctx, claims.characterId, this.session(), claims);
        this.sessionEpoch = epoch;
        await fanout.join(this, locationId);
        // A newer session, or a revocation, announced before this one listened was not heard: ask.
        if (this.isAuthenticating() && (await sessionEpoch(ctx, claims.characterId)) > epoch) this.replaced();
        if (this.isReplaced()) throw new GameError('E_SESSION_REPLACED');
        if (await tokenRevoked(ctx, claims.characterId, claims.generation)) throw new GameError('E_BAD_TOKEN', TOKEN_REVOKED);
        // The token proved good: its count goes back now, before the last checks, so that no wait
        // comes between them and the session starting to play.
        await this.giveBack(attempt);
        attempt = undefined;
        // Where connect found the character is where the view shows them: a move of the session
        // this one replaces cannot land after connect took it (see ActionSession).
        const view = await look(ctx, claims.characterId);
        // Replaced or signed out while the view was read: heard, but only now acted on.
        if (this.isReplaced()) throw new GameError('E_SESSION_REPLACED');
        if (this.heardSignOut()) throw new GameError('E_BAD_TOKEN', TOKEN_REVOKED);
        this.state = 'playing';
        clearTimeout(this.authDeadline);
        return view;
      } catch (error) {
        this.held = null;
        if (this.isAuthenticating()) {
          this.state = 'anonymous';
          // The character may have been taken for this session: leave it as a disconnect would
          // (a no-op when it was not: the disconnect is guarded by the session), or it would stay
          // shown as connected with no socket, never fading.
          if (taking) {
            fanout.leave(this);
            await this.markDisconnected(this.characterId, this.session(), 1);
            await removeIfDeleted(ctx, this.characterId).catch((cleanup: unknown) => {
              this.deps.log.warn({ err: cleanup, characterId: this.characterId }, 'could not check whether the character was deleted');
            });
          }
        }
        // Only now: until the socket has left its location, nothing may wait (events would reach it).
        if (!(error instanceof GameError && error.code === 'E_BAD_TOKEN')) await this.giveBack(attempt);
        throw error;
      }
    }
    if (this.state === 'replaced') throw new GameError('E_SESSION_REPLACED');
    if (this.state !== 'playing') throw new GameError('E_UNAUTHENTICATED');
    const handler = actions[action.type] as (ctx: GameContext, id: number, data: unknown, session: ActionSession) => Promise<unknown>;
    const result = await handler(ctx, this.characterId, action.data, { sessionId: this.sessionId, entering: this.entering });
    const locationId = locationOf(result);
    if (locationId !== undefined) await fanout.place(this, locationId);
    return result;
  }

  /** Placed where the character went before the view is read; what is heard there waits for the reply. */
  private readonly entering: ActionSession['entering'] = async (locationId) => {
    this.held ??= [];
    await this.deps.fanout.place(this, locationId);
  };

  private session(): Session {
    return { workerId: this.deps.workerId, sessionId: this.sessionId };
  }

  // Read through methods: TypeScript would otherwise keep the narrowing of `state` across awaits.
  private isAuthenticating(): boolean {
    return this.state === 'authenticating';
  }

  private isReplaced(): boolean {
    return this.state === 'replaced';
  }

  private heardSignOut(): boolean {
    return this.signedOutWhileAuthenticating;
  }

  private closed(): void {
    clearTimeout(this.authDeadline);
    this.gone = true;
    this.queue = this.queue.then(() => this.leave());
  }

  private async leave(): Promise<void> {
    if (this.state === 'closed') return;
    const wasPlaying = this.state === 'playing';
    this.state = 'closed';
    this.deps.fanout.leave(this);
    if (!wasPlaying) return;
    await this.markDisconnected(this.characterId, this.session(), 1);
  }

  /**
   * Records the disconnect (and its forced sync). While a store is unreachable this retries in
   * the background for as long as the worker runs, however long the outage: nothing else would
   * mark the character disconnected while this worker lives, and they would stay shown connected.
   * A shutdown waits only for the first attempt (other workers release what a stopped one held).
   */
  private async markDisconnected(characterId: number, session: Session, attempt: number): Promise<void> {
    try {
      await disconnect(this.deps.ctx, characterId, session);
    } catch (error) {
      // Not once the server is going down: its stores close, and other workers release what it held.
      const retry = this.deps.failureOf(error) !== null && !this.deps.isShuttingDown();
      // Logged on the first failures, then seldom: an outage of hours must not flood the log.
      if (attempt <= 3 || attempt % 100 === 0) this.deps.log.warn({ err: error, characterId, attempt, retry }, 'disconnect not recorded');
      if (retry) {
        const waits = this.deps.disconnectRetry ?? DISCONNECT_RETRY;
        const delay = Math.min(waits.firstMs * attempt, waits.maxMs);
        setTimeout(() => void this.markDisconnected(characterId, session, attempt + 1), delay).unref();
      }
    }
  }

  /** A store that refuses leaves the attempt counted, which only ever errs on the safe side. */
  private async giveBack(attempt: { giveBack: () => Promise<void> } | undefined): Promise<void> {
    await attempt?.giveBack().catch((error: unknown) => {
      this.deps.log.debug({ err: error }, 'could not give back an auth attempt');
    });
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = null;
    for (const frame of held ?? []) this.write(frame);
  }
}

function locationOf(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null || !('self' in result)) return undefined;
  const self = (result as { self: { locationId?: unknown } }).self;
  return typeof self.locationId === 'string' ? self.locationId : undefined;
}
