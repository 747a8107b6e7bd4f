// What a scaled server process of a test's own needs: its own Redis, a fresh database on the
// shared PostgreSQL and a data dir. Each is registered in `cleanups` for the test file's afterAll.
import { randomBytes } from 'node:crypto';
import { tempDataDir } from './serverProcess.ts';
import { createDatabase } from './services/postgresServer.ts';
import { startRedisServer } from './services/redisServer.ts';

export type Cleanups = (() => Promise<unknown>)[];

export async function ownScaledEnv(name: string, cleanups: Cleanups): Promise<{ dataDir: string; env: { REDIS_URL: string; DATABASE_URL: string } }> {
  const sharedUrl = process.env.DATABASE_URL;
  if (!sharedUrl) throw new Error('DATABASE_URL is not set: run through npm test');
  const redis = await startRedisServer();
  cleanups.push(() => redis.dispose());
  const databaseUrl = await createDatabase(sharedUrl, `cinder_${name}_${randomBytes(6).toString('hex')}`);
  const data = await tempDataDir();
  cleanups.push(data.remove);
  return { dataDir: data.dir, env: { REDIS_URL: redis.url, DATABASE_URL: databaseUrl } };
}
