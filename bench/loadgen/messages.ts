// What the bench coordinator and its load-generator processes tell each other over IPC.
import type { SparseHistogram } from '../histogram.ts';

/** The actions a bot can send. equip/unequip alternate (equip slot 0, then unequip mainHand); move alternates there and back. */
export const ACTION_KINDS = ['look', 'inventory', 'say', 'move', 'equip', 'ping'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Relative weights of each action kind; kinds left out are not sent. */
export type Mix = Partial<Record<ActionKind, number>>;

export interface BotSpec {
  /** Global bot number (0 … players-1): decides location, worker and whether it is active. */
  index: number;
  url: string;
  token: string;
  /** Which server process (worker or baseline process) the bot talks to. */
  server: number;
  /** The way to walk first, and the way back. */
  outbound: string;
  inbound: string;
}

export interface PhaseSpec {
  name: string;
  /** Actions per second this generator offers, spread evenly over its bots in the phase. */
  rate: number;
  warmupMs: number;
  measureMs: number;
  /** After the last send, how long replies still count (later ones are "missing"). */
  drainMs: number;
  mix: Mix;
  /** Only bots with index below this take part. */
  botsBelow: number;
  /** Stop sending after this many actions (default: no limit). */
  maxActions?: number;
  /** Only bots away from home take part, each sending one action (mix: move) to walk back. */
  homeward?: boolean;
}

export type ToGenerator =
  | { kind: 'init'; bots: BotSpec[] }
  | { kind: 'connect'; concurrency: number; botsBelow: number; botsFrom: number }
  | { kind: 'run'; phase: PhaseSpec }
  | { kind: 'disconnect' }
  | { kind: 'exit' };

export interface ConnectResult {
  connected: number;
  failed: number;
  /** A few error texts, for the report. */
  errors: string[];
  ms: number;
}

export interface PhaseResult {
  name: string;
  /** Actions sent inside the measured window. */
  sent: number;
  /** Replies received inside the measured window (to any action). */
  completed: number;
  okReplies: number;
  errorReplies: number;
  errorsByCode: Record<string, number>;
  /** Action → reply latency of actions sent in the window. */
  latency: SparseHistogram;
  latencyByKind: Partial<Record<ActionKind, SparseHistogram>>;
  /** How late sends were against the open-loop schedule (generator saturation shows here). */
  scheduleLag: SparseHistogram;
  /** `said` events received in the window whose sender is on another server process / the same one. */
  broadcastCross: SparseHistogram;
  broadcastSame: SparseHistogram;
  /** Event frames received in the window, by their type. */
  eventsByType: Record<string, number>;
  /** Replies slower than 20 ms, by the tenth of a second of the window they were sent in: [tenth, count, max µs]. */
  slow: [number, number, number][];
  /** Those slow replies by the server process that answered (worker or baseline process index). */
  slowByServer: Record<number, number>;
  /** The longest this generator's event loop was held up while it sent (a late read looks like a slow reply). */
  loopDelayMaxMs: number;
  /** Every frame received in the window (replies and events), and their bytes. */
  framesReceived: number;
  bytesReceived: number;
  windowMs: number;
  /** Sends of the whole phase (warm-up included). */
  totalSent: number;
}

export type FromGenerator =
  | { kind: 'ready' }
  | { kind: 'connected'; result: ConnectResult }
  | { kind: 'result'; result: PhaseResult }
  | { kind: 'disconnected'; closed: number }
  | { kind: 'failed'; error: string };
