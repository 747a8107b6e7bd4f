// Vitest global setup: provides the real Redis and PostgreSQL the tests use, once per run.
//
// 1. Resolves the server binaries (binaries.ts) — always, even when both URLs are given, because
//    some tests start dedicated servers to stop and restart them; installs them with apt-get when
//    missing and root; otherwise fails with what is missing and how to provide it.
// 2. REDIS_URL set → checks that it answers PING; unset → starts a shared redis-server and sets it.
// 3. DATABASE_URL set → checks that it answers; unset → starts a shared PostgreSQL and sets it.
//    (2 and 3 run concurrently.) Forked test workers are spawned after this returns and inherit
//    process.env, so they see both URLs.
// 4. Prints one line naming the servers used. The returned teardown stops what it started, removes
//    the temp dirs and unsets the variables it set.
import { redactUrl, resolveServiceBinaries, binaryVersion, type ServiceBinaries } from '../support/services/binaries.ts';
import { probePostgres, startPostgresServer } from '../support/services/postgresServer.ts';
import { probeRedis, startRedisServer } from '../support/services/redisServer.ts';

interface Provided {
  readonly description: string;
  readonly dispose?: () => Promise<void>;
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

function givenUrl(name: 'REDIS_URL' | 'DATABASE_URL'): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function provideRedis(binaries: ServiceBinaries): Promise<Provided> {
  const external = givenUrl('REDIS_URL');
  if (external !== undefined) {
    let version: string;
    try {
      version = await probeRedis(external, 5000);
    } catch (error) {
      throw new Error(
        `REDIS_URL=${redactUrl(external)} is set but does not answer PING (${errorText(error)}). ` +
          'Start that Redis, or unset REDIS_URL to let the tests start their own.',
        { cause: error },
      );
    }
    return { description: `Redis ${version} external (REDIS_URL=${redactUrl(external)})` };
  }
  const started = performance.now();
  const server = await startRedisServer({ binary: binaries.redisServer });
  process.env.REDIS_URL = server.url;
  return {
    description: `Redis ${server.version} started (${server.url}, ${elapsed(started)} ms)`,
    dispose: async () => {
      if (process.env.REDIS_URL === server.url) delete process.env.REDIS_URL;
      await server.dispose();
    },
  };
}

async function providePostgres(binaries: ServiceBinaries): Promise<Provided> {
  const external = givenUrl('DATABASE_URL');
  if (external !== undefined) {
    let version: string;
    try {
      version = await probePostgres(external, 5000);
    } catch (error) {
      throw new Error(
        `DATABASE_URL=${redactUrl(external)} is set but does not answer (${errorText(error)}). ` +
          'Start that PostgreSQL, or unset DATABASE_URL to let the tests start their own.',
        { cause: error },
      );
    }
    return { description: `PostgreSQL ${version} external (DATABASE_URL=${redactUrl(external)})` };
  }
  const started = performance.now();
  const server = await startPostgresServer({ binaries: binaries.postgres, user: binaries.postgresUser });
  process.env.DATABASE_URL = server.url;
  const { initdbMs, readyMs } = server.timings;
  return {
    description: `PostgreSQL ${server.version} started (${server.url}, ${elapsed(started)} ms: initdb ${initdbMs} + start ${readyMs})`,
    dispose: async () => {
      if (process.env.DATABASE_URL === server.url) delete process.env.DATABASE_URL;
      await server.dispose();
    },
  };
}

async function disposeAll(provided: readonly Provided[]): Promise<void> {
  const results = await Promise.allSettled(
    provided.map(async (p) => {
      await p.dispose?.();
    }),
  );
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f): unknown => f.reason),
      `[services] teardown: ${failures.map((f) => errorText(f.reason)).join('; ')}`,
    );
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const setupStarted = performance.now();
  const binariesStarted = performance.now();
  const binaries = await resolveServiceBinaries({ allowInstall: true });
  const [redisBinaryVersion, postgresBinaryVersion] = await Promise.all([
    binaryVersion(binaries.redisServer),
    binaryVersion(binaries.postgres.postgres),
  ]);
  const binariesMs = elapsed(binariesStarted);

  const results = await Promise.allSettled([provideRedis(binaries), providePostgres(binaries)]);
  const provided = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) {
    await disposeAll(provided).catch(() => undefined);
    throw failure.reason;
  }

  const as = binaries.postgresUser === undefined ? '' : ` as OS user ${binaries.postgresUser.name}`;
  console.log(
    `[services] ${provided.map((p) => p.description).join(' · ')} · ` +
      `binaries for dedicated servers: ${binaries.redisServer} ${redisBinaryVersion}, ` +
      `${binaries.postgres.binDir} ${postgresBinaryVersion}${as} (${binariesMs} ms) · ready in ${elapsed(setupStarted)} ms`,
  );
  return () => disposeAll(provided);
}
