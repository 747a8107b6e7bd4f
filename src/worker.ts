// One worker process: load content, open the adapters for the mode, serve, and shut down
// gracefully on SIGTERM/SIGINT, also when the signal comes while it is still starting.
import { closeAdapters, type Adapters } from './adapters/Adapters.ts';
import { openEmbeddedAdapters } from './adapters/embedded.ts';
import { openScaledAdapters } from './adapters/scaled.ts';
import { REPEATED_SIGNAL_MS } from './cluster.ts';
import type { Config } from './config.ts';
import type { Catalog } from './content/catalog.ts';
import { ContentError, loadContent } from './content/loader.ts';
import type { Log } from './log.ts';
import { createServer, type CinderServer } from './server.ts';
import { StartupError, startupStep } from './startupError.ts';

export async function runWorker(config: Config, log: Log): Promise<void> {
  // Listening from the first line: a signal must not kill a start half-way (mid-migration, say).
  const request = { stop: false };
  let onStop: () => void = () => undefined;
  let stoppingSince = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (request.stop) {
      // A second request (not the same one delivered twice, as npm forwards a terminal's Ctrl-C)
      // ends a shutdown that hangs, as the primary of --workers does.
      if (performance.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
      log.error({ signal }, 'a second signal came while stopping: exiting now, without waiting for the saves and the final sync (scaled mode: what they did not write stays dirty in Redis; embedded mode: it is lost)');
      process.exit(1);
    }
    request.stop = true;
    stoppingSince = performance.now();
    log.info({ signal }, 'stopping');
    onStop();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  log.info('starting');

  const started = await start(config, log, () => request.stop);
  if (!started) {
    log.info('stopped before it was up');
    process.exit(0);
  }
  const { server, port, where, name } = started;
  log.info(`${name} is up: open http://localhost:${port} (${where}, pid ${process.pid})`);
  onStop = () => {
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  if (request.stop) onStop();
}

/**
 * Loads, connects and listens. Between steps it checks `stopAsked`: asked to stop before it
 * listens (nobody can have played yet), it closes what it opened and returns undefined.
 */
async function start(config: Config, log: Log, stopAsked: () => boolean): Promise<{ server: CinderServer; port: number; where: string; name: string } | undefined> {
  const catalog = await loadCatalog(config);
  if (stopAsked()) return undefined;
  const scaled = config.redisUrl !== undefined && config.databaseUrl !== undefined;
  const adapters: Adapters = scaled
    ? await openScaledAdapters({
      redisUrl: config.redisUrl ?? '',
      databaseUrl: config.databaseUrl ?? '',
      poolSize: config.databasePoolSize,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      queryTimeoutMs: config.databaseQueryTimeoutMs,
    }, log)
    : await openEmbeddedAdapters(config.dataDir);
  if (stopAsked()) {
    await closeAdapters(adapters);
    return undefined;
  }
  const secret = await adapters.durable.sharedSecret('token', config.tokenSecret);
  // Saves outlive a change of world: say so, rather than let another world's characters appear.
  const savedIn = await adapters.durable.recordOnce('world', catalog.name);
  if (savedIn !== catalog.name) {
    log.warn({ world: catalog.name, savesOf: savedIn }, `these saves were made in "${savedIn}", not "${catalog.name}": its characters and items are kept (docs/content.md: Changing a world that has been played)`);
  }
  const server = await createServer({ config, catalog, adapters, log, tokenSecret: secret });
  if (stopAsked()) {
    await server.shutdown();
    return undefined;
  }
  const port = await startupStep(`Cannot listen on ${config.host}:${config.port} (HOST, PORT)`, () => server.listen());
  return { server, port, where: scaled ? 'scaled mode' : `data in ${config.dataDir}`, name: catalog.name };
}

async function loadCatalog(config: Config): Promise<Catalog> {
  try {
    return await loadContent(config.contentDir);
  } catch (error) {
    if (error instanceof ContentError) throw new StartupError(`content in ${config.contentDir} is broken; refusing to start:\n${error.message}`);
    throw error;
  }
}
