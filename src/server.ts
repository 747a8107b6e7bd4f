// Composes one worker: adapters → GameStateManager → services → gateway (REST + WebSocket) and
// background jobs; and takes it down in order on shutdown.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Log } from './log.ts';
import { v7 as uuidv7 } from 'uuid';
import { closeAdapters, type Adapters } from './adapters/Adapters.ts';
import { TokenIssuer } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { Catalog } from './content/catalog.ts';
import type { Rng } from './domain/rng.ts';
import { busEvents } from './gateway/busEvents.ts';
import { registerAdminRoutes } from './gateway/admin.ts';
import { hasBearer } from './gateway/bearer.ts';
import { capPeerConnections } from './gateway/peerConnections.ts';
import { auditSessions, startSessionAudit } from './gateway/sessionAudit.ts';
import { httpServerOptions, registerHttpRoutes, requestDeadlines, sendError } from './gateway/http.ts';
import { LocalFanout } from './gateway/LocalFanout.ts';
import { CLOSE_SHUTDOWN, PlayerConnection, type ConnectionDeps, type RetryWaits } from './gateway/PlayerConnection.ts';
import { clientAddress, limitKey, proxyTrust } from './gateway/clientAddress.ts';
import { startLiveness } from './gateway/liveness.ts';
import { acceptWebSockets } from './gateway/upgrades.ts';
import { DeadlinePassed, withDeadline } from './deadline.ts';
import { Backoff, SYNC_BACKOFF } from './jobs/Backoff.ts';
import { JobScheduler, LeaseBusyError, type JobDefinition } from './jobs/JobScheduler.ts';
import type { GameContext } from './services/context.ts';
import { evictLingering, leaveAsWorker, releaseDeadWorkers } from './services/presence.ts';
import { despawnGround } from './services/despawn.ts';
import { GameStateManager } from './state/GameStateManager.ts';
import { groupMetricsText, inWorkerGroup } from './clusterMetrics.ts';
import { HANDLED_FAILURE, meteredJob, meteredSocket, meteredSync, metricsText, recordForcedSave, registryContentType } from './metrics.ts';

/** How often the final sync asks again for a sync lease another worker holds. */
const LEASE_RETRY_MS = 100;

export interface ServerOptions {
  config: Config;
  catalog: Catalog;
  adapters: Adapters;
  log: Log;
  tokenSecret: string;
  rng?: Rng;
  /** The game's clock (regeneration, cooldowns); tests move it on instead of waiting. */
  now?: () => number;
  /** The monotonic clock of each connection's action budget; tests hold it still. */
  actionClock?: () => number;
  /** Waits between tries to record a disconnect; tests make them short. */
  disconnectRetry?: RetryWaits;
}

export interface CinderServer {
  app: FastifyInstance;
  ctx: GameContext;
  scheduler: JobScheduler;
  /** The background jobs by name, so an operator tool or a test can run one now. */
  jobs: { sync: JobDefinition; cleanup: JobDefinition; deadWorkers: JobDefinition; despawn: JobDefinition; uniqueSweep: JobDefinition };
  workerId: string;
  /** Resolves with the port actually bound (PORT=0 picks a free one). */
  listen(): Promise<number>;
  /** Stop accepting, tell clients, sync everything, close stores. */
  shutdown(): Promise<void>;
}

const STATUS_PAGE = new URL('../public/index.html', import.meta.url);

/** Why the final sync at shutdown did not run, for the operator; in each case nothing is lost. */
const FINAL_SYNC_NOT_RUN = {
  busy: 'final sync not run here: another worker\'s sync holds the lease; dirty state stays marked in Redis for the next sync',
  hot: 'final sync could not run: Redis is unreachable; nothing is lost, the dirty sets stay in Redis for the next sync once it is back',
  durable: 'final sync could not write: PostgreSQL is unreachable; nothing is lost, the dirty sets stay in Redis for the next sync',
  slow: 'final sync did not finish within CINDER_SHUTDOWN_SYNC_TIMEOUT_MS; nothing is lost, what it had not written stays dirty in Redis for the next sync',
} as const;

export async function createServer(options: ServerOptions): Promise<CinderServer> {
  const { config, catalog, adapters, log } = options;
  const workerId = randomUUID();
  const gsm = new GameStateManager(adapters.hot, adapters.durable, catalog, Date.now, recordForcedSave, config.tokenTtlSeconds * 1000);
  const onError = (error: unknown) => {
    // While Redis is away one warning per outage says so (adapters/scaled.ts), not every publish.
    if (adapters.failureOf(error) === 'hot') log.debug({ err: error }, 'bus error');
    else log.error({ err: error }, 'bus error');
  };
  const ctx: GameContext = {
    gsm,
    catalog,
    events: busEvents(adapters.bus, onError),
    rng: options.rng ?? Math.random,
    now: options.now ?? Date.now,
    newId: uuidv7,
  };
  const fanout = new LocalFanout(adapters.bus, onError);
  await fanout.start();
  // Whatever ended one of this worker's sessions while its bus was away was missed: ask at once
  // (and the audit below asks again later, should this fail).
  adapters.bus.onReconnect(() => {
    // What other workers published meanwhile was lost: every client here should look again.
    fanout.missed();
    auditSessions(ctx, fanout.recipients(), log).catch((error: unknown) => {
      log.warn({ err: error }, 'could not check the sessions after the bus reconnected');
    });
  });
  const loaded = await gsm.loadWorld();
  log.info({ groundItems: loaded }, 'world loaded');

  const tokens = new TokenIssuer(options.tokenSecret, config.tokenTtlSeconds);
  const connections = new Set<PlayerConnection>();
  let shuttingDown = false;

  const trust = proxyTrust(config.trustProxy);
  const app: FastifyInstance = Fastify({
    loggerInstance: log,
    ...(trust ? { trustProxy: trust } : {}),
    ...httpServerOptions,
    ...requestDeadlines(config.requestTimeoutMs),
    // One log line per HTTP request would drown the game's own logs.
    logController: new LogController({ disableRequestLogging: true }),
    // Refused by the hook below instead, in the shape of every other error.
    return503OnClosing: false,
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (shuttingDown) void sendError(reply, 'E_SHUTTING_DOWN', 'The server is shutting down; try another or try again shortly.');
    else done();
  });
  registerHttpRoutes(app, {
    ctx,
    tokens,
    loginAttempts: config.loginAttempts,
    loginWindowMs: config.loginWindowMs,
    worldName: catalog.name,
    workerId,
    onlineCount: () => fanout.size,
    // Asked again at once when the last beat failed: Redis may be back (or have room again) since.
    hotStoreRefusal: async () => {
      if (heartbeatRefused !== undefined && !shuttingDown) await beatNow();
      return heartbeatRefused;
    },
    failureOf: adapters.failureOf,
  });
  // A manual save is a forced sync of everything dirty, under the sync lease like the job.
  registerAdminRoutes(app, ctx, config.adminToken, async () => {
    let report: unknown;
    await scheduler.runNow({ ...syncJob, run: async () => {
      report = await meteredSync(() => gsm.syncDirty());
    } });
    return report;
  });
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(await readFile(STATUS_PAGE, 'utf8')));
  app.get('/metrics', async (request, reply) => {
    if (config.metricsToken !== undefined && !hasBearer(request, config.metricsToken)) {
      return sendError(reply, 'E_UNAUTHENTICATED', 'Send Authorization: Bearer <CINDER_METRICS_TOKEN>.');
    }
    if (inWorkerGroup()) {
      // A scrape lands on any worker of the group: each answers for all of them.
      const body = await groupMetricsText().catch((error: unknown) => {
        log.warn({ err: error }, 'could not gather the metrics of the worker group');
        return error instanceof Error ? error : new Error(String(error));
      });
      if (body instanceof Error) return sendError(reply, 'E_INTERNAL', `The metrics of the workers could not be gathered: ${body.message}.`, 503);
      return reply.type(registryContentType()).send(body);
    }
    const { contentType, body } = await metricsText();
    return reply.type(contentType).send(body);
  });
  const connectionDeps: ConnectionDeps = {
    ctx,
    fanout,
    tokens,
    workerId,
    log,
    maxMessageBytes: config.maxMessageBytes,
    actionBurst: config.actionBurst,
    actionsPerSecond: config.actionsPerSecond,
    maxQueued: 64,
    maxSendBuffer: config.maxSendBufferBytes,
    // Token guessing over WebSockets is limited per address, like logins, across all workers.
    authAttempts: { limit: config.loginAttempts * 5, windowMs: config.loginWindowMs },
    authTimeoutMs: config.authTimeoutMs,
    isShuttingDown: () => shuttingDown,
    failureOf: adapters.failureOf,
    ...(options.actionClock ? { actionClock: options.actionClock } : {}),
    ...(options.disconnectRetry ? { disconnectRetry: options.disconnectRetry } : {}),
  };
  // Per-address limits count an IPv6 client by its /64 (limitKey).
  const addressOf = (request: IncomingMessage) => limitKey(clientAddress(request, trust));
  const upgrades = acceptWebSockets(app.server, '/ws', config.maxFrameBytes, config.maxConnectionsPerAddress, addressOf, (socket, remoteAddress) => {
    const connection = new PlayerConnection(meteredSocket(socket, config.maxMessageBytes), connectionDeps, remoteAddress);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
  });
  // Room beside a client's WebSockets for its HTTP requests; a trusted proxy carries everyone's.
  capPeerConnections(app.server, 2 * config.maxConnectionsPerAddress, (address) => trust?.(address, 0) ?? false);
  app.addHook('preClose', (done) => {
    upgrades.close();
    done();
  });
  // A client whose network vanished without a close (a dropped Wi-Fi) is found by its silence.
  const stopLiveness = startLiveness(() => connections, config.clientPingIntervalMs);
  // A session whose ending was published while this worker was not listening is found within an interval.
  const stopAudit = startSessionAudit(ctx, () => fanout.recipients(), config.sessionAuditIntervalMs, log);

  const scheduler = new JobScheduler(adapters.locks, log);
  // While the durable store is down, play goes on in the hot store and the sync backs off.
  const syncBackoff = new Backoff({ ...SYNC_BACKOFF, baseMs: Math.min(Math.max(config.syncIntervalMs, 500), SYNC_BACKOFF.maxMs) });
  const syncJob: JobDefinition = {
    name: 'sync',
    intervalMs: config.syncIntervalMs,
    // A worker backing off leaves the tick to the others: PostgreSQL may be out of reach of this
    // worker alone (its pool, its network path).
    ready: () => syncBackoff.shouldRunAt(Date.now()),
    run: async () => {
      try {
        const report = await meteredSync(() => gsm.syncDirty());
        syncBackoff.succeeded();
        if (report.skippedCharacters + report.skippedLocations > 0) {
          log.info({ report }, 'PostgreSQL holds newer versions of some of what this sync read; they were left unwritten (now and then a save races a sync; if this repeats, Redis went back in time and the changes since are not being saved)');
        } else if (report.characters + report.inventories + report.equipment + report.ground > 0) log.debug({ report }, 'synced');
        if (report.detachedUniqueItems > 0) {
          log.warn({ report }, 'some unique items had no data left in Redis when this sync read them and were saved as plain items; a despawn or a break during the sync does this once (the next sync saves their places again); if it repeats, the hot state holds items whose data is gone');
        }
      } catch (error) {
        if (adapters.failureOf(error) !== 'durable') throw error;
        const delay = syncBackoff.failed(Date.now());
        log.warn({ err: error, retryInMs: delay }, 'durable store unreachable; sync retries later');
        return HANDLED_FAILURE;
      }
    },
  };
  const cleanupJob: JobDefinition = {
    name: 'disconnected-cleanup',
    intervalMs: config.cleanupIntervalMs,
    run: () => evictLingering(ctx, config.disconnectLingerMs),
  };
  const deadWorkersJob: JobDefinition = {
    name: 'dead-worker-cleanup',
    intervalMs: config.deadWorkerCleanupIntervalMs,
    run: () => releaseDeadWorkers(ctx, workerId, config.workerTimeoutMs),
  };
  const despawnJob: JobDefinition = {
    name: 'ground-despawn',
    intervalMs: config.despawnIntervalMs,
    run: () => despawnGround(ctx),
  };
  const uniqueSweepJob: JobDefinition = {
    name: 'unique-item-sweep',
    intervalMs: config.uniqueSweepIntervalMs,
    // Answers how many it deleted.
    run: async () => {
      try {
        const deleted = await gsm.sweepUniqueItems();
        if (deleted > 0) log.debug({ deleted }, 'unique items nothing refers to deleted');
        return deleted;
      } catch (error) {
        if (adapters.failureOf(error) !== 'durable') throw error;
        log.warn({ err: error }, 'durable store unreachable; the unique-item sweep runs again next tick');
        return HANDLED_FAILURE;
      }
    },
  };
  scheduler.start(meteredJob(syncJob));
  scheduler.start(meteredJob(cleanupJob));
  scheduler.start(meteredJob(deadWorkersJob));
  scheduler.start(meteredJob(despawnJob));
  scheduler.start(meteredJob(uniqueSweepJob));

  // Each worker proves it is alive; when it stops (or is killed) its key expires and the
  // dead-worker job releases its players. It registers once it listens: a worker that cannot
  // listen never had players and must leave no id behind.
  let registered = false;
  /** Why the last heartbeat failed, while Redis answers PING but refuses writes (see /api/health). */
  let heartbeatRefused: string | undefined;
  let heartbeatFailing = false;
  const beat = async () => {
    try {
      const wasRegistered = await gsm.heartbeat(workerId, { pid: String(process.pid), connections: String(fanout.size) }, config.workerTimeoutMs);
      if (registered && !wasRegistered && !shuttingDown) {
        await releasedAsDead();
        // Also what a Redis that restarted empty looks like: its ground is loaded again now,
        // not at the next sync (which may be off) or the next ground change.
        await gsm.loadWorld().catch((error: unknown) => {
          log.warn({ err: error }, 'could not load the ground into the hot store; the next sync or ground change tries again');
        });
      }
      registered = true;
      if (heartbeatFailing) log.info('heartbeat written again');
      heartbeatFailing = false;
      heartbeatRefused = undefined;
    } catch (error) {
      // Said once per failing spell, not at every beat or health check.
      if (!heartbeatFailing) log.warn({ err: error }, 'heartbeat failed');
      heartbeatFailing = true;
      if (adapters.failureOf(error) === 'hot') heartbeatRefused = error instanceof Error ? error.message : String(error);
    }
  };
  /** One beat at a time: a health check asking while the timer's beat is under way shares it. */
  let beating: Promise<void> | undefined;
  const beatNow = (): Promise<void> => (beating ??= beat().finally(() => (beating = undefined)));
  // Gone from the registry: this worker stalled (GC, a paused VM, a network cut from Redis) long
  // enough that another began releasing its players. Sockets whose session no longer owns its
  // character are closed, and each client reconnects and enters the world anew, here or on
  // another worker; sessions taken since (a reconnect to this worker) own theirs and stay. The
  // releasing worker unlists this one when it starts and again when it is done, so both are seen.
  const releasedAsDead = async () => {
    const playing = [...connections].filter((connection) => connection.playing);
    const owners = await gsm.sessionsOf(playing.map((connection) => connection.characterId));
    const lost = playing.filter((connection) => owners.get(connection.characterId) !== connection.sessionId);
    log.warn({ connections: playing.length, released: lost.length }, 'this worker was taken for dead; closing the connections whose players were released, so that they reconnect');
    for (const connection of lost) connection.released();
  };
  let heartbeat: NodeJS.Timeout | undefined;

  return {
    app,
    ctx,
    scheduler,
    jobs: { sync: syncJob, cleanup: cleanupJob, deadWorkers: deadWorkersJob, despawn: despawnJob, uniqueSweep: uniqueSweepJob },
    workerId,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      await beatNow();
      heartbeat = setInterval(() => void beatNow(), config.heartbeatIntervalMs);
      heartbeat.unref();
      const address = app.server.address();
      return typeof address === 'object' && address ? address.port : config.port;
    },
    async shutdown() {
      if (shuttingDown) return;
      shuttingDown = true;
      // First of all: a socket opened later would get no goodbye, and hold app.close() open.
      upgrades.close();
      log.info({ connections: connections.size }, 'shutting down');
      clearInterval(heartbeat);
      stopLiveness();
      stopAudit();
      await scheduler.stop();
      await Promise.all([...connections].map((connection) => connection.shutdown()));
      // Every worker of a stopping group syncs at the end: each waits its turn for the lease, up
      // to the deadline, rather than giving up after a few seconds with changes still dirty.
      const finalSync = scheduler.runNow({ ...syncJob, run: async () => {
        log.info({ report: await meteredSync(() => gsm.syncDirty()) }, 'final sync done');
      } }, Math.max(1, Math.ceil(config.shutdownSyncTimeoutMs / LEASE_RETRY_MS)), LEASE_RETRY_MS);
      try {
        // A PostgreSQL that hangs must not hold the exit back for ever: in scaled mode what the
        // sync has not written stays dirty in Redis.
        await (adapters.sharedHotStore ? withDeadline(finalSync, config.shutdownSyncTimeoutMs, 'the final sync') : finalSync);
      } catch (error) {
        // Another worker's sync holds the lease, a store is away or too slow: what is still
        // dirty stays marked in the shared hot store for the next sync. (Embedded mode's hot
        // store dies with the process, so there a failure must fail the exit.)
        const why = error instanceof LeaseBusyError ? 'busy' : error instanceof DeadlinePassed ? 'slow' : adapters.failureOf(error);
        if (why === null || !adapters.sharedHotStore) throw error;
        const unsynced = why === 'hot' ? undefined : await gsm.unsynced().catch(() => undefined);
        log.warn({ err: error, unsynced }, FINAL_SYNC_NOT_RUN[why]);
      }
      const redisAway = (error: unknown) => {
        if (adapters.failureOf(error) !== 'hot') throw error;
        log.warn({ err: error }, 'could not deregister: Redis is unreachable; once it is back, other workers release this worker\'s players when its heartbeat key has expired');
      };
      try {
        const released = await leaveAsWorker(ctx, workerId);
        if (released > 0) log.warn({ players: released }, 'released players whose disconnect could not be recorded, as a dead worker\'s are');
      } catch (error) {
        if (adapters.failureOf(error) !== 'durable') redisAway(error);
        else {
          // Released and marked dirty, not saved: the next sync anywhere writes them.
          log.warn({ err: error }, 'players released at shutdown could not be saved: PostgreSQL is unreachable; they stay dirty in Redis for the next sync');
          await gsm.deregisterWorker(workerId).catch(redisAway);
        }
      }
      // app.close() waits for every socket: none may stay open, whatever its client does.
      const cut = await upgrades.closeOpen(CLOSE_SHUTDOWN, 'server shutting down', config.shutdownCloseTimeoutMs);
      if (cut > 0) log.warn({ sockets: cut }, 'cut sockets whose clients did not answer the close within CINDER_SHUTDOWN_CLOSE_TIMEOUT_MS');
      await app.close();
      await closeAdapters(adapters);
    },
  };
}
