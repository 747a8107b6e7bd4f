// One worker process: load content, open the adapters for the mode, serve, and shut down
// gracefully on SIGTERM/SIGINT.
import type { Adapters } from './adapters/Adapters.ts';
import { openEmbeddedAdapters } from './adapters/embedded.ts';
import { openScaledAdapters } from './adapters/scaled.ts';
import type { Config } from './config.ts';
import { ContentError, loadContent } from './content/loader.ts';
import type { Log } from './log.ts';
import { createServer } from './server.ts';
import { StartupError, startupStep } from './startupError.ts';

export async function runWorker(config: Config, log: Log): Promise<void> {
  let catalog;
  try {
    catalog = await loadContent(config.contentDir);
  } catch (error) {
    if (error instanceof ContentError) throw new StartupError(`content in ${config.contentDir} is broken; refusing to start:\n${error.message}`);
    throw error;
  }
  const scaled = config.redisUrl !== undefined && config.databaseUrl !== undefined;
  const adapters: Adapters = scaled
    ? await openScaledAdapters(config.redisUrl ?? '', config.databaseUrl ?? '', config.databasePoolSize, log)
    : await openEmbeddedAdapters(config.dataDir);
  const secret = await adapters.durable.sharedSecret('token', config.tokenSecret);
  const server = await createServer({ config, catalog, adapters, log, tokenSecret: secret });
  const port = await startupStep(`Cannot listen on ${config.host}:${config.port} (HOST, PORT)`, () => server.listen());
  const where = scaled ? 'scaled mode' : `data in ${config.dataDir}`;
  log.info(`${catalog.name} is up: open http://localhost:${port} (${where}, pid ${process.pid})`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
}
