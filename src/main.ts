// `npm start`: one Cinder worker in embedded mode, serving the game on PORT.
import { pino } from 'pino';
import { openEmbeddedAdapters } from './adapters/embedded.ts';
import { tokenSecret } from './auth/secret.ts';
import { loadConfig } from './config.ts';
import { ContentError, loadContent } from './content/loader.ts';
import { createServer } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel });
  let catalog;
  try {
    catalog = await loadContent(config.contentDir);
  } catch (error) {
    if (error instanceof ContentError) {
      log.fatal(`content in ${config.contentDir} is broken; refusing to start:\n${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const adapters = await openEmbeddedAdapters(config.dataDir);
  const server = await createServer({
    config,
    catalog,
    adapters,
    log,
    tokenSecret: await tokenSecret(config.tokenSecret, config.dataDir),
  });
  const port = await server.listen();
  log.info(`${catalog.name} is up: open http://localhost:${port} (data in ${config.dataDir})`);

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
  process.on('SIGTERM', () => { stop('SIGTERM'); });
  process.on('SIGINT', () => { stop('SIGINT'); });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
