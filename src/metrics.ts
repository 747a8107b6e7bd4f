// Operator metrics, served by every worker at GET /metrics in Prometheus text (prom-client), in
// embedded and scaled mode alike: actions by type, replies and errors by code, connected sockets,
// batch syncs (runs, rows, duration) and SQL statements. Counters are per process; a worker of a
// --workers group answers with the series of the whole group, each labelled with its worker's
// slot (src/clusterMetrics.ts), and processes started on their own are each scraped. Nothing here parses a frame fully: the action
// type is read from the frame's first bytes when the client wrote it first, as clients do.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RawData } from 'ws';
import type { ClientSocket } from './gateway/PlayerConnection.ts';
import { actionSchemas, frameBytes, frameText } from './gateway/protocol.ts';
import type { ForcedSaveReport, SyncReport } from './state/dirtySync.ts';

/** The registry GET /metrics serves (one per process, shared by every server in it). */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const actions = new Counter({
  name: 'cinder_actions_total',
  help: 'Client frames received, by action type ("invalid" when the frame names no known action, "too_large" when it is over CINDER_MAX_MESSAGE_BYTES).',
  labelNames: ['type'] as const,
  registers: [registry],
});
const replies = new Counter({
  name: 'cinder_replies_total',
  help: 'Replies sent to clients, ok or error.',
  labelNames: ['result'] as const,
  registers: [registry],
});
const errors = new Counter({
  name: 'cinder_errors_total',
  help: 'Error replies sent to clients, by stable error code.',
  labelNames: ['code'] as const,
  registers: [registry],
});
const events = new Counter({
  name: 'cinder_events_sent_total',
  help: 'Event frames (not replies) sent to clients.',
  registers: [registry],
});
const sockets = new Gauge({
  name: 'cinder_connected_sockets',
  help: 'WebSocket connections open on this worker (authenticated or not).',
  registers: [registry],
});
// Set to 1 in every worker: a --workers group's scrape has one series per worker that answered.
new Gauge({
  name: 'cinder_worker_processes',
  help: 'Worker processes whose figures this scrape holds: 1 for a single process; with --workers N, one series per worker that answered (label worker).',
  registers: [registry],
}).set(1);
const refusedUpgrades = new Counter({
  name: 'cinder_websockets_refused_total',
  help: 'WebSocket upgrades refused before opening, by reason (per_address: the client address holds CINDER_MAX_CONNECTIONS_PER_ADDRESS sockets).',
  labelNames: ['reason'] as const,
  registers: [registry],
});
const refusedConnections = new Counter({
  name: 'cinder_connections_refused_total',
  help: 'TCP connections refused at once because their peer address already held twice CINDER_MAX_CONNECTIONS_PER_ADDRESS (trusted proxies excepted).',
  registers: [registry],
});
const syncRuns = new Counter({
  name: 'cinder_sync_runs_total',
  help: 'Batch syncs of dirty state to the durable store: written (something was dirty), empty, or failed.',
  labelNames: ['result'] as const,
  registers: [registry],
});
const syncRows = new Counter({
  name: 'cinder_sync_rows_total',
  help: 'Dirty entries written by batch syncs, by kind (one per character, inventory, equipment, ground location, unique item).',
  labelNames: ['kind'] as const,
  registers: [registry],
});
/** Seconds, for a durable-store transaction: a few ms when quiet, seconds behind a backlog. */
const TRANSACTION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const syncSkipped = new Counter({
  name: 'cinder_sync_skipped_total',
  help: 'Characters and locations a batch sync left unwritten because PostgreSQL holds a newer version (or no longer has the character). Now and then when a save races a sync; a steady rise means Redis went back in time (restored from an older snapshot) and saves are being lost.',
  labelNames: ['kind'] as const,
  registers: [registry],
});

const syncDuration = new Histogram({
  name: 'cinder_sync_duration_seconds',
  help: 'Duration of batch syncs (claim dirty sets, read hot values, write one transaction), by result.',
  labelNames: ['result'] as const,
  buckets: TRANSACTION_BUCKETS,
  registers: [registry],
});
const forcedSavePlayers = new Counter({
  name: 'cinder_forced_saves_total',
  help: 'Players saved at once (disconnect, eviction, dead worker) rather than by the batch sync, by result (written, failed).',
  labelNames: ['result'] as const,
  registers: [registry],
});
const forcedSaveDuration = new Histogram({
  name: 'cinder_forced_save_duration_seconds',
  help: 'Duration of each transaction of forced saves (saves asked for while one is written share the next), by result.',
  labelNames: ['result'] as const,
  buckets: TRANSACTION_BUCKETS,
  registers: [registry],
});
const jobRuns = new Counter({
  name: 'cinder_job_runs_total',
  help: 'Background job runs on this worker (the worker that won the tick), by job and result: failed also when the job handled its failure (a durable store out of reach; it retries later). A worker backing off sits ticks out and counts nothing.',
  labelNames: ['job', 'result'] as const,
  registers: [registry],
});
const jobDuration = new Histogram({
  name: 'cinder_job_duration_seconds',
  help: 'Duration of background job runs on this worker, by job.',
  labelNames: ['job'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const sqlStatements = new Counter({
  name: 'cinder_sql_statements_total',
  help: 'SQL statements sent to the durable store, by statement name (sql.ts constant, BEGIN/COMMIT/ROLLBACK, script, other) and by operation (batch_sync or other).',
  labelNames: ['statement', 'operation'] as const,
  registers: [registry],
});

const sqlSeconds = new Histogram({
  name: 'cinder_sql_statement_duration_seconds',
  help: 'Time from sending a SQL statement to its result (BEGIN/COMMIT are counted, not timed), by statement and operation.',
  labelNames: ['statement', 'operation'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

// ── actions, replies, errors, sockets ─────────────────────────────────────────────

const actionTypes = new Set<string>(Object.keys(actionSchemas));
// Label children made once: the hot path then skips prom-client's label hashing.
const byType = new Map([...actionTypes, 'invalid', 'too_large'].map((type) => [type, actions.labels(type)]));
const okReplies = replies.labels('ok');
const errorReplies = replies.labels('error');

function actionCounter(type: string) {
  const counter = byType.get(type);
  if (counter === undefined) throw new Error(`no counter for action type ${type}`);
  return counter;
}
const TYPE_PREFIX = Buffer.from('{"type":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The action a frame names: from its first bytes when it starts with `{"type":"` (the first `type`
 * key; JSON.parse would keep the last of duplicate keys), else by parsing it. A frame over the
 * message limit is refused unread, and is never parsed here either: 2 MB of nested brackets take
 * JSON.parse a third of a second.
 */
export function actionTypeOf(raw: RawData, maxMessageBytes: number): string {
  if (frameBytes(raw) > maxMessageBytes) return 'too_large';
  if (Buffer.isBuffer(raw) && raw.length > TYPE_PREFIX.length && raw.compare(TYPE_PREFIX, 0, TYPE_PREFIX.length, 0, TYPE_PREFIX.length) === 0) {
    const end = raw.indexOf(QUOTE, TYPE_PREFIX.length);
    const escape = raw.indexOf(BACKSLASH, TYPE_PREFIX.length);
    // A name with an escape in it (`\u006cook`) is left to the parser.
    if (end > 0 && end - TYPE_PREFIX.length <= 64 && (escape < 0 || escape > end)) {
      const type = raw.toString('latin1', TYPE_PREFIX.length, end);
      return actionTypes.has(type) ? type : 'invalid';
    }
  }
  try {
    const parsed: unknown = JSON.parse(frameText(raw) ?? '');
    const type = typeof parsed === 'object' && parsed !== null && 'type' in parsed ? parsed.type : undefined;
    return typeof type === 'string' && actionTypes.has(type) ? type : 'invalid';
  } catch {
    return 'invalid';
  }
}

const OK_PREFIX = '{"type":"ok"';
const ERROR_PREFIX = '{"type":"error"';
const CODE_MARK = '"code":"';

/** Counts one frame the server sends: a reply (ok, or error by code) or an event. */
export function countSent(frame: string): void {
  if (frame.startsWith(OK_PREFIX)) {
    okReplies.inc();
  } else if (frame.startsWith(ERROR_PREFIX)) {
    errorReplies.inc();
    const at = frame.indexOf(CODE_MARK);
    const end = at < 0 ? -1 : frame.indexOf('"', at + CODE_MARK.length);
    errors.inc({ code: end < 0 ? 'unknown' : frame.slice(at + CODE_MARK.length, end) });
  } else {
    events.inc();
  }
}

/** Counts an upgrade refused before a socket opened. */
export function countRefusedUpgrade(reason: 'per_address'): void {
  refusedUpgrades.inc({ reason });
}

export function countRefusedConnection(): void {
  refusedConnections.inc();
}

type MessageListener = (raw: RawData, isBinary: boolean) => void;

/** A client socket that counts what passes through it; the connection uses it as the socket itself. */
class MeteredSocket implements ClientSocket {
  constructor(
    private readonly socket: ClientSocket,
    private readonly maxMessageBytes: number,
  ) {
    sockets.inc();
    socket.on('close', () => {
      sockets.dec();
    });
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  ping(): void {
    this.socket.ping();
  }

  terminate(): void {
    this.socket.terminate();
  }

  send(frame: string): void {
    countSent(frame);
    this.socket.send(frame);
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  on(event: 'message', listener: MessageListener): unknown;
  on(event: 'close' | 'pong', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'message' | 'close' | 'pong' | 'error', listener: MessageListener | (() => void) | ((error: Error) => void)): unknown {
    if (event === 'message') {
      const onMessage = listener as MessageListener;
      return this.socket.on('message', (raw, isBinary) => {
        actionCounter(isBinary ? 'invalid' : actionTypeOf(raw, this.maxMessageBytes)).inc();
        onMessage(raw, isBinary);
      });
    }
    if (event === 'close' || event === 'pong') return this.socket.on(event, listener as () => void);
    return this.socket.on('error', listener as (error: Error) => void);
  }
}

export function meteredSocket(socket: ClientSocket, maxMessageBytes: number): ClientSocket {
  return new MeteredSocket(socket, maxMessageBytes);
}

// ── batch sync and SQL statements ──────────────────────────────────────────────

// Statements sent while a batch sync runs in this process are labelled batch_sync. (An
// AsyncLocalStorage would attribute them exactly, but on Node 20 it hooks every promise of the
// process, a cost every action would pay; a forced sync or a character load that happens to run
// during a batch sync is counted with it, which in steady state is rare.)
let syncsRunning = 0;

function operation(): string {
  return syncsRunning > 0 ? 'batch_sync' : 'other';
}

export function countSqlStatement(statement: string): void {
  sqlStatements.inc({ statement, operation: operation() });
}

/** Counts a statement and records how long it took, however it ended. */
export async function timeSqlStatement<T>(statement: string, send: () => Promise<T>): Promise<T> {
  const labels = { statement, operation: operation() };
  sqlStatements.inc(labels);
  const started = performance.now();
  try {
    return await send();
  } finally {
    sqlSeconds.observe(labels, (performance.now() - started) / 1000);
  }
}

/** Runs one batch sync, recording its result, rows and duration; SQL statements sent meanwhile count as batch_sync. */
export async function meteredSync(sync: () => Promise<SyncReport>): Promise<SyncReport> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let report: SyncReport;
  syncsRunning++;
  try {
    report = await sync();
  } catch (error) {
    syncRuns.inc({ result: 'failed' });
    syncDuration.observe({ result: 'failed' }, seconds());
    throw error;
  } finally {
    syncsRunning--;
  }
  const { skippedCharacters, skippedLocations } = report;
  const rows = [report.characters, report.inventories, report.equipment, report.ground, report.uniqueItems];
  const result = rows.some((count) => count > 0) ? 'written' : 'empty';
  syncRuns.inc({ result });
  syncDuration.observe({ result }, seconds());
  syncRows.inc({ kind: 'characters' }, report.characters);
  syncRows.inc({ kind: 'inventories' }, report.inventories);
  syncRows.inc({ kind: 'equipment' }, report.equipment);
  syncRows.inc({ kind: 'ground' }, report.ground);
  syncRows.inc({ kind: 'unique_items' }, report.uniqueItems);
  syncSkipped.inc({ kind: 'characters' }, skippedCharacters);
  syncSkipped.inc({ kind: 'ground' }, skippedLocations);
  return report;
}

/** Counts the players of one transaction of forced saves and times it. */
export function recordForcedSave({ players, seconds, ok }: ForcedSaveReport): void {
  const result = ok ? 'written' : 'failed';
  forcedSavePlayers.inc({ result }, players);
  forcedSaveDuration.observe({ result }, seconds);
}

/** What a job's run answers when it failed and handled the failure itself (logged, backed off). */
export const HANDLED_FAILURE = Symbol('handled failure');

/** A background job whose runs are counted and timed (the job's own name labels them). */
export function meteredJob<T extends { name: string; run: () => Promise<unknown> }>(job: T): T {
  return {
    ...job,
    run: async () => {
      const started = performance.now();
      try {
        const result = await job.run();
        jobRuns.inc({ job: job.name, result: result === HANDLED_FAILURE ? 'failed' : 'ok' });
        return result;
      } catch (error) {
        jobRuns.inc({ job: job.name, result: 'failed' });
        throw error;
      } finally {
        jobDuration.observe({ job: job.name }, (performance.now() - started) / 1000);
      }
    },
  };
}

export function registryContentType(): string {
  return registry.contentType;
}

/** The Prometheus text exposition of every metric, and its content type. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
