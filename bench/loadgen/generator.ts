// One load-generator process (forked by the coordinator, driven over IPC): holds its share of the
// bots' WebSockets and offers actions open-loop, at a fixed rate whatever the replies do, so a
// slow server shows up as latency instead of being hidden by a waiting client. Frames are built
// from fixed text around the seq; replies are never JSON-parsed: the seq, the error code and a
// `said` event's send time are read from the bytes.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket, { type RawData } from 'ws';
import { nowUs, sleep } from '../clock.ts';
import { Histogram } from '../histogram.ts';
import { ACTION_KINDS, type ActionKind, type BotSpec, type ConnectResult, type FromGenerator, type Mix, type PhaseResult, type PhaseSpec, type ToGenerator } from './messages.ts';

interface Bot {
  spec: BotSpec;
  socket: WebSocket | undefined;
  ready: boolean;
  sent: number;
  /** The next move goes outbound (else back). */
  outward: boolean;
  /** The next equip toggle equips (else unequips). */
  equip: boolean;
  /** Seq of the last move / equip sent: one of each in flight at a time keeps `outward` and `equip` true. */
  moveSeq: number;
  equipSeq: number;
  onAuth: ((ok: boolean, detail: string) => void) | undefined;
}

const SLOTS = 1 << 20;
const MASK = SLOTS - 1;
const sentAt = new Float64Array(SLOTS).fill(-1);
const kindAt = new Uint8Array(SLOTS);
const botAt = new Int32Array(SLOTS);

const KIND_INDEX = new Map(ACTION_KINDS.map((kind, index) => [kind, index]));
const MOVE = KIND_INDEX.get('move') ?? -1;
const EQUIP = KIND_INDEX.get('equip') ?? -1;
const LOOK = KIND_INDEX.get('look') ?? 0;

const bots: Bot[] = [];
/** Replies slower than this are placed in time (the step search's default p99 bound). */
const SLOW_US = 20_000;
let nextSeq = 1;

// ── the phase being measured (reply handling reads these) ──────────────────────
let windowStartUs = Number.POSITIVE_INFINITY;
let windowEndUs = Number.NEGATIVE_INFINITY;
let firstMeasured = Number.POSITIVE_INFINITY;
let lastMeasured = Number.NEGATIVE_INFINITY;
let stats = freshStats();

function freshStats() {
  return {
    completed: 0,
    okReplies: 0,
    errorReplies: 0,
    errorsByCode: new Map<string, number>(),
    latency: new Histogram(),
    latencyByKind: new Map<number, Histogram>(),
    scheduleLag: new Histogram(),
    broadcastCross: new Histogram(),
    broadcastSame: new Histogram(),
    eventsByType: new Map<string, number>(),
    /** Replies slower than SLOW_US by tenth of a second of the window they were sent in: [count, max µs]. */
    slow: new Map<number, [number, number]>(),
    /** Replies slower than SLOW_US by the server process that answered. */
    slowByServer: new Map<number, number>(),
    framesReceived: 0,
    bytesReceived: 0,
  };
}

function send(message: FromGenerator): void {
  process.send?.(message);
}

// ── reading frames ────────────────────────────────────────────────────────────

const SAID = Buffer.from('{"type":"said"');
const TEXT_MARK = Buffer.from('"text":"b:');
const CODE_MARK = Buffer.from('"code":"');
const OK_SEQ_AT = '{"type":"ok","seq":'.length;
const ERROR_SEQ_AT = '{"type":"error","seq":'.length;
const CHAR = (c: string) => c.charCodeAt(0);
const [O, K, E, R, QUOTE, COLON, ZERO, NINE, DOT] = ['o', 'k', 'e', 'r', '"', ':', '0', '9', '.'].map(CHAR) as [number, number, number, number, number, number, number, number, number];
const TYPE_AT = '{"type":"'.length;

/** The non-negative number written at `at` (digits and one dot), or -1. */
function numberAt(data: Buffer, at: number): { value: number; end: number } {
  let value = 0;
  let scale = 0;
  let i = at;
  for (; i < data.length; i++) {
    const c = data[i] ?? 0;
    if (c >= ZERO && c <= NINE) {
      value = value * 10 + (c - ZERO);
      if (scale > 0) scale *= 10;
    } else if (c === DOT && scale === 0) {
      scale = 1;
    } else {
      break;
    }
  }
  if (i === at) return { value: -1, end: i };
  return { value: scale > 0 ? value / scale : value, end: i };
}

function onFrame(bot: Bot, data: Buffer): void {
  const now = nowUs();
  if (now >= windowStartUs && now <= windowEndUs) {
    stats.framesReceived++;
    stats.bytesReceived += data.length;
  }
  const first = data[TYPE_AT];
  if (first === O && data[TYPE_AT + 1] === K && data[TYPE_AT + 2] === QUOTE) {
    onReply(bot, numberAt(data, OK_SEQ_AT).value, true, data, now);
  } else if (first === E && data[TYPE_AT + 1] === R && data[TYPE_AT + 2] === R) {
    onReply(bot, numberAt(data, ERROR_SEQ_AT).value, false, data, now);
  } else if (now >= windowStartUs && now <= windowEndUs) {
    if (data.compare(SAID, 0, SAID.length, 0, SAID.length) === 0) onSaid(bot, data, now);
    const type = data.toString('latin1', TYPE_AT, data.indexOf(QUOTE, TYPE_AT));
    stats.eventsByType.set(type, (stats.eventsByType.get(type) ?? 0) + 1);
  }
}

function errorCode(data: Buffer): string {
  const at = data.indexOf(CODE_MARK);
  if (at < 0) return 'unknown';
  const end = data.indexOf(QUOTE, at + CODE_MARK.length);
  return data.toString('latin1', at + CODE_MARK.length, end);
}

function onReply(bot: Bot, seq: number, ok: boolean, data: Buffer, now: number): void {
  if (seq === 0) {
    bot.onAuth?.(ok, ok ? '' : errorCode(data));
    return;
  }
  const inWindow = now >= windowStartUs && now <= windowEndUs;
  if (inWindow) stats.completed++;
  if (seq < 0) return;
  const slot = seq & MASK;
  const at = sentAt[slot] ?? -1;
  if (at < 0) return;
  sentAt[slot] = -1;
  const kind = kindAt[slot] ?? 0;
  if (ok && kind === MOVE) bot.outward = !bot.outward;
  if (ok && kind === EQUIP) bot.equip = !bot.equip;
  if (seq < firstMeasured || seq > lastMeasured) return;
  const micros = now - at;
  stats.latency.add(micros);
  if (micros > SLOW_US) {
    const tenth = Math.floor((at - windowStartUs) / 100_000);
    const bucket = stats.slow.get(tenth);
    if (bucket) {
      bucket[0]++;
      bucket[1] = Math.max(bucket[1], micros);
    } else {
      stats.slow.set(tenth, [1, micros]);
    }
    stats.slowByServer.set(bot.spec.server, (stats.slowByServer.get(bot.spec.server) ?? 0) + 1);
  }
  let byKind = stats.latencyByKind.get(kind);
  if (byKind === undefined) stats.latencyByKind.set(kind, (byKind = new Histogram()));
  byKind.add(micros);
  if (ok) {
    stats.okReplies++;
  } else {
    stats.errorReplies++;
    const code = errorCode(data);
    stats.errorsByCode.set(code, (stats.errorsByCode.get(code) ?? 0) + 1);
  }
}

function onSaid(bot: Bot, data: Buffer, now: number): void {
  const at = data.indexOf(TEXT_MARK);
  if (at < 0) return;
  const server = numberAt(data, at + TEXT_MARK.length);
  if (data[server.end] !== COLON) return;
  const sentUs = numberAt(data, server.end + 1).value;
  if (sentUs < 0) return;
  (server.value === bot.spec.server ? stats.broadcastSame : stats.broadcastCross).add(now - sentUs);
}

// ── building frames ───────────────────────────────────────────────────────────

/** `scheduledUs`: when the action was due; a `say` carries it, so a broadcast's delivery counts from then too. */
function frame(bot: Bot, kind: ActionKind, seq: number, scheduledUs: number): string {
  switch (kind) {
    case 'look':
      return `{"type":"look","seq":${seq}}`;
    case 'inventory':
      return `{"type":"inventory","seq":${seq}}`;
    case 'ping':
      return `{"type":"ping","seq":${seq}}`;
    case 'say':
      return `{"type":"say","seq":${seq},"data":{"text":"b:${bot.spec.server}:${scheduledUs.toFixed(1)}"}}`;
    case 'move':
      return `{"type":"move","seq":${seq},"data":{"direction":"${bot.outward ? bot.spec.outbound : bot.spec.inbound}"}}`;
    case 'equip':
      return bot.equip ? `{"type":"equip","seq":${seq},"data":{"slot":0}}` : `{"type":"unequip","seq":${seq},"data":{"slot":"mainHand"}}`;
  }
}

/** The mix as a repeating sequence of kinds (weights in whole numbers, at most a few hundred long). */
function cycleOf(mix: Mix): number[] {
  const entries = ACTION_KINDS.flatMap((kind) => {
    const weight = mix[kind] ?? 0;
    return weight > 0 ? [[KIND_INDEX.get(kind) ?? 0, Math.round(weight)] as const] : [];
  });
  // Interleave so that a short stretch of the cycle already has the mix's proportions.
  const cycle: number[] = [];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  const credit = entries.map(() => 0);
  for (let i = 0; i < total; i++) {
    entries.forEach(([, weight], j) => {
      credit[j] = (credit[j] ?? 0) + weight;
    });
    let best = 0;
    credit.forEach((value, j) => {
      if (value > (credit[best] ?? 0)) best = j;
    });
    credit[best] = (credit[best] ?? 0) - total;
    cycle.push(entries[best]?.[0] ?? 0);
  }
  if (cycle.length === 0) throw new Error('the mix has no action with a positive weight');
  return cycle;
}

function inFlight(bot: Bot, seq: number): boolean {
  const slot = seq & MASK;
  return seq > 0 && (sentAt[slot] ?? -1) >= 0 && botAt[slot] === bot.spec.index;
}

/**
 * Latency counts from `scheduledUs`, when the open loop meant the action to leave, not from when
 * this process got round to it: a generator held up (by a full machine, or by the replies it
 * reads) would otherwise hide that wait, and the server's share of it, from the figures.
 */
function sendAction(bot: Bot, cycle: number[], scheduledUs: number): void {
  const socket = bot.socket;
  if (socket?.readyState !== WebSocket.OPEN) return;
  let kind = cycle[(bot.sent + bot.spec.index) % cycle.length] ?? 0;
  bot.sent++;
  // A second move (or equip) sent before the first is answered could go the wrong way: look instead.
  if ((kind === MOVE && inFlight(bot, bot.moveSeq)) || (kind === EQUIP && inFlight(bot, bot.equipSeq))) kind = LOOK;
  const seq = nextSeq++;
  if (kind === MOVE) bot.moveSeq = seq;
  if (kind === EQUIP) bot.equipSeq = seq;
  const slot = seq & MASK;
  if ((sentAt[slot] ?? -1) >= 0) stats.latency.addMissing();
  kindAt[slot] = kind;
  botAt[slot] = bot.spec.index;
  const text = frame(bot, ACTION_KINDS[kind] ?? 'ping', seq, scheduledUs);
  sentAt[slot] = scheduledUs;
  socket.send(text);
}

// ── phases ────────────────────────────────────────────────────────────────────

async function runPhase(phase: PhaseSpec): Promise<PhaseResult> {
  const cycle = cycleOf(phase.mix);
  const members = bots.filter((bot) => bot.ready && bot.spec.index < phase.botsBelow && !(phase.homeward && bot.outward));
  if (members.length === 0 && !phase.homeward) throw new Error(`phase ${phase.name}: no connected bot below ${phase.botsBelow}`);
  stats = freshStats();
  const startUs = nowUs();
  windowStartUs = startUs + phase.warmupMs * 1000;
  windowEndUs = windowStartUs + phase.measureMs * 1000;
  firstMeasured = Number.POSITIVE_INFINITY;
  lastMeasured = Number.POSITIVE_INFINITY;
  const maxActions = Math.min(phase.maxActions ?? Number.POSITIVE_INFINITY, phase.homeward ? members.length : Number.POSITIVE_INFINITY);
  const intervalUs = 1e6 / phase.rate;
  let sentInPhase = 0;
  let sentInWindow = 0;
  let next = 0;
  // This generator's own stalls: a late read here would look like a slow server.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowUs();
      const over = now >= windowEndUs;
      // What fell due before the window closed is still sent (late, and timed from when it was
      // due), so that a stall across the window's end shows rather than drops the slowest actions.
      const dueBy = over ? windowEndUs - 1 : now;
      const due = Math.min(maxActions, Math.max(0, Math.floor((dueBy - startUs) / intervalUs) + 1));
      while (sentInPhase < due) {
        const scheduled = startUs + sentInPhase * intervalUs;
        const measured = scheduled >= windowStartUs;
        if (measured && firstMeasured === Number.POSITIVE_INFINITY) firstMeasured = nextSeq;
        if (measured) {
          sentInWindow++;
          stats.scheduleLag.add(Math.max(1, now - scheduled));
        }
        const bot = members[next] as Bot;
        next = (next + 1) % members.length;
        sendAction(bot, cycle, scheduled);
        sentInPhase++;
      }
      if (over || sentInPhase >= maxActions) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  loopDelay.disable();
  lastMeasured = nextSeq - 1;
  const drainUntil = nowUs() + phase.drainMs * 1000;
  while (nowUs() < drainUntil && outstanding(firstMeasured, lastMeasured) > 0) await sleep(20);
  windowEndUs = Math.min(windowEndUs, nowUs());
  const missing = outstanding(firstMeasured, lastMeasured, true);
  stats.latency.addMissing(missing);
  const windowMs = (windowEndUs - windowStartUs) / 1000;
  windowStartUs = Number.POSITIVE_INFINITY;
  windowEndUs = Number.NEGATIVE_INFINITY;
  const latencyByKind: PhaseResult['latencyByKind'] = {};
  for (const [kind, histogram] of stats.latencyByKind) latencyByKind[ACTION_KINDS[kind] ?? 'ping'] = histogram.toSparse();
  return {
    name: phase.name,
    sent: sentInWindow,
    completed: stats.completed,
    okReplies: stats.okReplies,
    errorReplies: stats.errorReplies,
    errorsByCode: Object.fromEntries(stats.errorsByCode),
    latency: stats.latency.toSparse(),
    latencyByKind,
    scheduleLag: stats.scheduleLag.toSparse(),
    broadcastCross: stats.broadcastCross.toSparse(),
    broadcastSame: stats.broadcastSame.toSparse(),
    eventsByType: Object.fromEntries(stats.eventsByType),
    slow: [...stats.slow].map(([tenth, [count, maxUs]]) => [tenth, count, maxUs]),
    slowByServer: Object.fromEntries(stats.slowByServer),
    loopDelayMaxMs: loopDelay.max / 1e6,
    framesReceived: stats.framesReceived,
    bytesReceived: stats.bytesReceived,
    windowMs,
    totalSent: sentInPhase,
  };
}

/** Measured actions still waiting for a reply; `forget` gives up on them (a late reply is then ignored). */
function outstanding(from: number, to: number, forget = false): number {
  if (!Number.isFinite(from)) return 0;
  let waiting = 0;
  for (let seq = from; seq <= to; seq++) {
    const slot = seq & MASK;
    if ((sentAt[slot] ?? -1) >= 0) {
      waiting++;
      if (forget) sentAt[slot] = -1;
    }
  }
  return waiting;
}

// ── connecting ────────────────────────────────────────────────────────────────

function connectBot(bot: Bot, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(bot.spec.url, { perMessageDeflate: false, skipUTF8Validation: true });
    bot.socket = socket;
    const timer = setTimeout(() => {
      fail(new Error('no auth reply in time'));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      bot.onAuth = undefined;
      socket.terminate();
      reject(error);
    };
    bot.onAuth = (ok, detail) => {
      clearTimeout(timer);
      bot.onAuth = undefined;
      if (!ok) {
        fail(new Error(`auth refused: ${detail}`));
        return;
      }
      bot.ready = true;
      resolve();
    };
    socket.on('open', () => {
      socket.send(`{"type":"auth","seq":0,"data":{"token":"${bot.spec.token}"}}`);
    });
    // Text frames arrive as one Buffer (the default binaryType, no fragmentation at these sizes).
    socket.on('message', (data: RawData) => {
      onFrame(bot, data as Buffer);
    });
    socket.on('error', (error) => {
      if (!bot.ready) fail(error);
    });
    socket.on('close', () => {
      bot.ready = false;
      if (bot.onAuth) fail(new Error('closed before auth'));
    });
  });
}

async function connectAll(concurrency: number, from: number, below: number): Promise<ConnectResult> {
  const started = performance.now();
  const waiting = bots.filter((bot) => !bot.ready && bot.spec.index >= from && bot.spec.index < below);
  let connected = 0;
  let failed = 0;
  const errors: string[] = [];
  let cursor = 0;
  const lane = async () => {
    for (let bot = waiting[cursor++]; bot !== undefined; bot = waiting[cursor++]) {
      try {
        await connectBot(bot, 60_000);
        connected++;
      } catch (error) {
        failed++;
        if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return { connected, failed, errors, ms: Math.round(performance.now() - started) };
}

async function disconnectAll(): Promise<number> {
  const open = bots.filter((bot) => bot.socket !== undefined && bot.socket.readyState !== WebSocket.CLOSED);
  await Promise.all(
    open.map(
      (bot) =>
        new Promise<void>((resolve) => {
          const socket = bot.socket;
          if (socket === undefined) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            socket.terminate();
            resolve();
          }, 10_000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.close();
        }),
    ),
  );
  return open.length;
}

// ── IPC ───────────────────────────────────────────────────────────────────────

async function handle(message: ToGenerator): Promise<void> {
  switch (message.kind) {
    case 'init':
      bots.length = 0;
      for (const spec of message.bots) bots.push({ spec, socket: undefined, ready: false, sent: 0, outward: true, equip: true, moveSeq: 0, equipSeq: 0, onAuth: undefined });
      send({ kind: 'ready' });
      return;
    case 'connect':
      send({ kind: 'connected', result: await connectAll(message.concurrency, message.botsFrom, message.botsBelow) });
      return;
    case 'run':
      send({ kind: 'result', result: await runPhase(message.phase) });
      return;
    case 'disconnect':
      send({ kind: 'disconnected', closed: await disconnectAll() });
      return;
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (message: ToGenerator) => {
  handle(message).catch((error: unknown) => {
    send({ kind: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
process.on('disconnect', () => {
  process.exit(0);
});
